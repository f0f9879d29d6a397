#!/usr/bin/env bash
# make lint: formatting, static analysis, a warning-free build with the lint warnings, and the
# dependency rules between source files (scripts/deps-graph.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# The lint build has a directory of its own (Makefile, LINT=1): its flags differ from the
# release build's, and sharing build/ would rebuild that every time.
build=build/lint
files=$(git ls-files '*.c' '*.h')
echo "lint: clang-format"
clang-format --dry-run --Werror $files
echo "lint: cppcheck"
make -s LINT=1 BUILD=$build gen
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
  --inline-suppr --suppress=missingIncludeSystem -Icommon -I$build/gen \
  -D__GNUC__ -DKT_VERSION='"lint"' -DPROTOBUF_C_VERSION_NUMBER=1004001 \
  -DPROTOBUF_C_MIN_COMPILER_VERSION=1000000 common ingest process test/devbroker test/bench test/kafka
echo "lint: build binaries and tests with -Werror and the lint warnings (make LINT=1)"
make -s LINT=1 BUILD=$build all unit-bins
echo "lint: dependencies between source files"
test/scripts/test-deps-graph.sh
scripts/deps-graph.sh $build
echo "lint: ok"
