#!/usr/bin/env bash
# The OpenTelemetry Collector as a peer of kotel: builds it from test/otelcol/builder.yaml
# with a pinned OpenTelemetry Collector Builder, and installs the contrib's telemetrygen at
# the same release. Everything goes to a cache outside the work tree, keyed by a hash of
# the manifest and the pins, so a second run (or another checkout) reuses the binaries.
#
#   scripts/otelcol.sh build        builds (or finds) both; prints the Collector's path
#   scripts/otelcol.sh telemetrygen prints telemetrygen's path (builds when missing)
#   scripts/otelcol.sh dir          prints the cache directory of this manifest
#
# KT_CACHE (default ~/.cache/kotel) moves the cache. Go modules come from the Go module
# proxy into Go's own module cache.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$here/test/otelcol/builder.yaml"
BUILDER_VERSION=v0.165.0      # go.opentelemetry.io/collector/cmd/builder
TELEMETRYGEN_VERSION=v0.161.0 # the contrib processors' release (see test/otelcol/builder.yaml)
cache_root="${KT_CACHE:-$HOME/.cache/kotel}/otelcol"

command -v go >/dev/null || { echo "otelcol: 'go' not found (a Go toolchain is needed)" >&2; exit 2; }

key=$( (cat "$manifest"; echo "$BUILDER_VERSION $TELEMETRYGEN_VERSION"; go env GOVERSION) |
  sha256sum | cut -c1-16)
dir="$cache_root/$key"
collector="$dir/otelcol-kotel-peer"
tgen="$dir/telemetrygen"

builder() {
  local b="$cache_root/builder-$BUILDER_VERSION/builder"
  if [ ! -x "$b" ]; then
    echo "otelcol: installing the Collector Builder $BUILDER_VERSION" >&2
    GOBIN="$(dirname "$b")" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2
  fi
  echo "$b"
}

build_collector() {
  [ -x "$collector" ] && return 0
  local b work
  b="$(builder)"
  work="$dir/src"
  rm -rf "$work"
  mkdir -p "$work"
  sed "s|^\(  output_path:\).*|\1 $work|" "$manifest" >"$dir/builder.yaml"
  echo "otelcol: building the Collector ($(grep -c 'gomod:' "$manifest") components) into $dir" >&2
  local t0=$SECONDS
  (cd "$dir" && "$b" --config="$dir/builder.yaml") >"$dir/build.log" 2>&1 || {
    echo "otelcol: the Collector Builder failed; last lines of $dir/build.log:" >&2
    tail -20 "$dir/build.log" >&2
    exit 1
  }
  mv "$work/otelcol-kotel-peer" "$collector"
  rm -rf "$work"
  echo "otelcol: built in $((SECONDS - t0)) s" >&2
}

build_telemetrygen() {
  [ -x "$tgen" ] && return 0
  echo "otelcol: installing telemetrygen $TELEMETRYGEN_VERSION" >&2
  GOBIN="$dir" go install \
    "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION" >&2
}

mkdir -p "$dir"
case "${1:-}" in
  build)
    build_collector
    build_telemetrygen
    echo "$collector"
    ;;
  telemetrygen)
    build_telemetrygen
    echo "$tgen"
    ;;
  dir) echo "$dir" ;;
  *)
    echo "usage: scripts/otelcol.sh build|telemetrygen|dir" >&2
    exit 2
    ;;
esac
