#!/usr/bin/env bash
# make demo: see scripts/demo.js. The Node harness of the integration tests starts every
# process on free loopback ports and stops them all on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export KT_BUILD=${KT_BUILD:-build}
exec node scripts/demo.js
