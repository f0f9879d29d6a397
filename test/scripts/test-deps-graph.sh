#!/usr/bin/env bash
# scripts/deps-graph.sh on tiny trees of objects built here: each rule must fail on a tree that
# breaks it, and a tree that keeps them all must pass. Run by make lint.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0

# tree NAME FILE=SOURCE...: writes each SOURCE to $tmp/NAME/FILE and compiles it into
# $tmp/NAME/obj/, as make does into build/obj/.
tree() {
  local name=$1; shift
  for spec in "$@"; do
    local file=${spec%%=*}
    mkdir -p "$tmp/$name/$(dirname "$file")" "$tmp/$name/obj/$(dirname "$file")"
    printf '%s\n' "${spec#*=}" >"$tmp/$name/$file"
    cc -std=c11 -c -o "$tmp/$name/obj/${file%.c}.o" "$tmp/$name/$file"
  done
}

# graph ARGS... NAME: the script on tree NAME.
graph() {
  local name=${*: -1}
  "$here/scripts/deps-graph.sh" --src "$tmp/$name" "${@:1:$#-1}" "$tmp/$name"
}

# expect NAME RC PATTERN...: the script exits RC on tree NAME and prints every PATTERN.
expect() {
  local name=$1 rc=$2 got=0 out; shift 2
  out=$(graph "$name" 2>&1) || got=$?
  if [ "$got" -ne "$rc" ]; then
    printf 'test-deps-graph: %s: exit %d, want %d\n%s\n' "$name" "$got" "$rc" "$out" >&2
    exit 1
  fi
  for pat in "$@"; do
    if ! grep -qF -- "$pat" <<<"$out"; then
      printf 'test-deps-graph: %s: no "%s" in\n%s\n' "$name" "$pat" "$out" >&2
      exit 1
    fi
  done
  passed=$((passed + 1))
}

# A library call (strlen, lib_call: no object of ours defines it globally, although http1.c has
# a static of that name) makes no edge; a chain without a cycle passes; no process/ottl/ is fine.
tree acyclic \
  'common/kt_a.c=#include <string.h>
int lib_call(void); int kt_a(const char *s) { return (int)strlen(s) + lib_call(); }' \
  'ingest/server.c=int kt_a(const char *); int h1_feed(void);
int srv_run(void) { return h1_feed() + kt_a("x"); }' \
  'ingest/http1.c=int kt_a(const char *); static int lib_call(void) { return 2; }
int h1_feed(void) { return kt_a("y") + lib_call(); }'
expect acyclic 0 "deps-graph: ok" "3 files, 3 edges"

tree ingest_cycle \
  'ingest/server.c=int h1_feed(void); int srv_write(void) { return 1; }
int srv_run(void) { return h1_feed(); }' \
  'ingest/http1.c=int srv_write(void); int h1_feed(void) { return srv_write(); }'
expect ingest_cycle 1 "error: cycle in ingest/: http1.c -> server.c -> http1.c" \
  "http1.c -> server.c: srv_write" "server.c -> http1.c: h1_feed" "1 error(s)"

# A cycle of three through data as well as functions.
tree ottl_cycle \
  'process/ottl/parse.c=extern const int ottl_funcs[]; int ottl_parse(void) { return ottl_funcs[0]; }' \
  'process/ottl/funcs.c=int ottl_eval(void); const int ottl_funcs[] = { 1 };
int ottl_call(void) { return ottl_eval(); }' \
  'process/ottl/eval.c=int ottl_parse(void); int ottl_eval(void) { return ottl_parse(); }'
expect ottl_cycle 1 "error: cycle in process/ottl/: eval.c -> parse.c -> funcs.c -> eval.c" \
  "parse.c -> funcs.c: ottl_funcs"

tree common_up \
  'common/kt_log.c=int srv_run(void); int kt_log(void) { return srv_run(); }' \
  'ingest/server.c=int srv_run(void) { return 0; }'
expect common_up 1 "error: common/ uses ingest/: common/kt_log.c -> ingest/server.c: srv_run"

# Elsewhere in process/ a cycle is information, and a name ingest/ and process/ both define
# resolves to the user's own module, as each binary links it.
tree process_cycle \
  'process/a.c=int pb(void); int conf_load(void); int pa(void) { return pb() + conf_load(); }' \
  'process/b.c=int pa(void); int pb(void) { return pa(); }' \
  'process/conf.c=int conf_load(void) { return 0; }' \
  'ingest/conf.c=int conf_load(void) { return 1; }' \
  'ingest/main.c=int conf_load(void); int main(void) { return conf_load(); }'
expect process_cycle 0 "info: cycle in process/ and common/: process/a.c -> process/b.c -> process/a.c" \
  "deps-graph: ok" "5 files, 4 edges"
list=$(graph --list process_cycle)
for edge in "ingest/main.c -> ingest/conf.c: conf_load" "process/a.c -> process/conf.c: conf_load"; do
  grep -qxF "$edge" <<<"$list" || { printf 'test-deps-graph: --list: no "%s" in\n%s\n' "$edge" "$list" >&2; exit 1; }
done
passed=$((passed + 1))

# An object whose source is gone (a file moved away) is not linked any more: its cycle is not.
tree moved \
  'ingest/server.c=int h1_feed(void); int srv_write(void) { return 1; }
int srv_run(void) { return h1_feed(); }' \
  'ingest/http1.c=int srv_write(void); int h1_feed(void) { return srv_write(); }'
rm "$tmp/moved/ingest/http1.c"
expect moved 0 "left out, no source in $tmp/moved: ingest/http1.o" "1 files, 0 edges"

mkdir -p "$tmp/empty/obj"
expect empty 2 "no objects"

echo "test-deps-graph: $passed passed"
