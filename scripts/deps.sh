#!/usr/bin/env bash
# Installs what kotel needs to build, test and run its demo on Debian. Idempotent and quick
# when everything is present: apt-get runs only for packages that are missing, and
# `apt-get update` runs first on a machine that has never fetched package lists.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang clang-format cppcheck
  librdkafka-dev libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev libmbedtls-dev
  libinih-dev libcmocka-dev zlib1g-dev libdeflate-dev libev-dev libhttp-parser-dev libjansson-dev libyaml-dev
  libpcre2-dev libxxhash-dev libclang-rt-14-dev
  libzstd-dev libsnappy-dev  # [exporter] compression = zstd | snappy
  kcat nghttp2-client curl wrk nodejs npm openssl python3
  jq  # the --dump test pipes kotel-process into it
  prometheus  # promtool checks what /metrics serves
  groff-base man-db systemd  # the install test renders the man pages, verifies the units
  chromium  # the /status test renders the page headless (playwright-core drives it)
  valgrind  # make bench-instr counts instructions per span under callgrind
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node and npm may come from outside Debian's packages on some images; accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
# The real-Kafka tests run Apache Kafka's broker (Java 17, jars fetched by Maven; see
# scripts/kafka.sh). Images that bring their own JDK and Maven keep them.
command -v java >/dev/null || want+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || want+=(maven)

if [ ${#want[@]} -gt 0 ]; then
  echo "deps: installing ${want[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi

# Node packages for the integration tests: the lockfile pins them.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$here/test/package-lock.json" ]; then
  stamp="$here/test/node_modules/.kotel-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$here/test/package-lock.json"; then
    echo "deps: npm ci (test/)"
    (cd "$here/test" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/test/package-lock.json" "$stamp"
  fi
fi
