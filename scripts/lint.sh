#!/usr/bin/env bash
# make lint: formatting, static analysis, and a warning-free build.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h')
echo "lint: clang-format"
clang-format --dry-run --Werror $files
echo "lint: cppcheck"
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
  --inline-suppr --suppress=missingIncludeSystem -Icommon -Ibuild/gen \
  -D__GNUC__ -DKT_VERSION='"lint"' -DPROTOBUF_C_VERSION_NUMBER=1004001 \
  -DPROTOBUF_C_MIN_COMPILER_VERSION=1000000 common ingest process test/devbroker test/bench test/kafka
echo "lint: build binaries and tests with -Wall -Wextra -Werror"
make -s all unit-bins
echo "lint: ok"
