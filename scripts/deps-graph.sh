#!/usr/bin/env bash
# Which source file uses which, read from the symbols of a build's objects (nm): file A -> file
# B when A's object leaves undefined a global symbol that B's object defines. Symbols no object
# of ours defines (libc, librdkafka, ...) and static ones do not count.
#
# The rules (make lint fails on each, printing the files and the symbols of every edge):
#   - no cycle between the files of ingest/
#   - no cycle between the files of process/ottl/ (when it exists)
#   - common/ uses nothing defined in ingest/ or process/
# Cycles elsewhere between the files of process/ and common/ are printed as information.
#
# Usage: scripts/deps-graph.sh [--list | --dot] [--src DIR] [BUILD]
#   BUILD      the build directory whose obj/ to read (default $KT_BUILD, else build; make lint
#              gives build/lint)
#   --list     print every edge, "A -> B: symbols", instead of checking the rules
#   --dot      print the graph for Graphviz (`... --dot | dot -Tsvg >deps.svg`), a box a folder
#   --src DIR  the source tree (default this repository): an object whose source file is gone
#              there (moved, renamed) is left out, as the build no longer links it
# Exit status: 0 when the rules hold, 1 when one is broken, 2 when there is nothing to read.
set -euo pipefail

mode=check
src="$(cd "$(dirname "$0")/.." && pwd)"
while [ $# -gt 0 ]; do
  case "$1" in
  --list | --dot) mode=${1#--}; shift ;;
  --src) src=${2:?--src needs a directory}; shift 2 ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  -*) echo "deps-graph: unknown option $1 (--list, --dot, --src DIR)" >&2; exit 2 ;;
  *) break ;;
  esac
done
build=${1:-${KT_BUILD:-build}}

objs=()
stale=()
for dir in common ingest process; do
  [ -d "$build/obj/$dir" ] || continue
  while IFS= read -r o; do
    rel=${o#"$build/obj/"}
    if [ -f "$src/${rel%.o}.c" ]; then objs+=("$o"); else stale+=("$rel"); fi
  done < <(find "$build/obj/$dir" -name '*.o' | sort)
done
[ ${#stale[@]} -eq 0 ] || echo "deps-graph: left out, no source in $src: ${stale[*]}" >&2
if [ ${#objs[@]} -eq 0 ]; then
  echo "deps-graph: no objects under $build/obj/{common,ingest,process}: build first (make)" >&2
  exit 2
fi

python3 - "$mode" "$build/obj" "${objs[@]}" <<'PY'
import signal
import subprocess
import sys
from collections import defaultdict, deque

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # --list | head
mode, objdir, objs = sys.argv[1], sys.argv[2].rstrip("/") + "/", sys.argv[3:]

def source(obj):
    return obj[len(objdir):-2] + ".c"

def folder(f):
    return f.rsplit("/", 1)[0] + "/"

def module(f):
    return f.split("/", 1)[0]

defs = defaultdict(list)  # symbol -> files defining it
undefs = defaultdict(set)  # file -> symbols it leaves undefined
files = {source(o) for o in objs}
nm = subprocess.run(["nm", "-P", "-A", *objs], check=True, capture_output=True, text=True)
for line in nm.stdout.splitlines():
    obj, _, rest = line.partition(": ")
    fields = rest.split()
    if len(fields) < 2:
        continue
    f, (sym, kind) = source(obj), fields[:2]
    if kind in ("U", "w", "v"):
        undefs[f].add(sym)
    elif kind in ("A", "B", "C", "D", "G", "R", "S", "T", "V", "W", "i", "u"):  # global, defined
        defs[sym].append(f)

def provider(user, sym):
    """The file whose definition the linker picks for user: its own module (ingest/ and
    process/ link into different binaries and may both define a name), then common/."""
    cands = defs.get(sym)
    if not cands:
        return None
    for want in (module(user), "common"):
        for c in cands:
            if module(c) == want:
                return c
    return sorted(cands)[0]

edges = defaultdict(set)  # (from, to) -> symbols
for f in sorted(undefs):
    for sym in undefs[f]:
        p = provider(f, sym)
        if p and p != f:
            edges[(f, p)].add(sym)
succ = defaultdict(set)
for a, b in edges:
    succ[a].add(b)

if mode == "list":
    for (a, b), syms in sorted(edges.items()):
        print(f"{a} -> {b}: {', '.join(sorted(syms))}")
    sys.exit(0)
if mode == "dot":
    print("digraph kotel_deps {\n  rankdir=LR; node [shape=box, fontsize=10];")
    groups = defaultdict(list)
    for f in sorted(files):
        groups[folder(f)].append(f)
    for i, (d, fs) in enumerate(sorted(groups.items())):
        print(f'  subgraph cluster_{i} {{ label="{d}";')
        for f in fs:
            print(f'    "{f}" [label="{f[len(d):]}"];')
        print("  }")
    for (a, b), syms in sorted(edges.items()):
        tip = " ".join(sorted(syms))
        print(f'  "{a}" -> "{b}" [tooltip="{tip}"];')
    print("}")
    sys.exit(0)

def sccs(nodes):
    """Strongly connected components of more than one file in the graph restricted to nodes
    (Tarjan, iterative: no recursion limit to meet)."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(succ[root] & nodes)))]
        index[root] = low[root] = n; n += 1; stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop(); on.discard(x); comp.append(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        out.append(frozenset(comp))
            elif w not in index:
                index[w] = low[w] = n; n += 1; stack.append(w); on.add(w)
                work.append((w, iter(sorted(succ[w] & nodes))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out

def shortest_cycle(start, comp):
    prev, queue = {start: None}, deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(succ[v] & comp):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return path[::-1] + [start]
            if w not in prev:
                prev[w] = v; queue.append(w)

def show_symbols(syms, most=8):
    s = sorted(syms)
    return ", ".join(s[:most]) + (f" (+{len(s) - most} more)" if len(s) > most else "")

def report(comp, where, level, prefix):
    """One line per cycle until every file of the component is on one, each edge with the
    symbols that make it. Returns the number of cycles printed."""
    covered, n = set(), 0
    for start in sorted(comp):
        if start in covered:
            continue
        cyc = shortest_cycle(start, comp)
        covered.update(cyc)
        n += 1
        short = lambda f: f[len(prefix):]
        print(f"deps-graph: {level}: cycle in {where}: {' -> '.join(map(short, cyc))}")
        for a, b in zip(cyc, cyc[1:]):
            print(f"    {short(a)} -> {short(b)}: {show_symbols(edges[(a, b)])}")
    return n

errors, seen = 0, set()
for where in ("ingest/", "process/ottl/"):
    for comp in sccs({f for f in files if f.startswith(where)}):
        errors += report(comp, where, "error", where)
        seen.add(comp)
for (a, b), syms in sorted(edges.items()):
    if module(a) == "common" and module(b) in ("ingest", "process"):
        print(f"deps-graph: error: common/ uses {module(b)}/: {a} -> {b}: {show_symbols(syms)}")
        errors += 1
for comp in sccs({f for f in files if module(f) in ("process", "common")}):
    if comp not in seen:
        report(comp, "process/ and common/", "info", "")

summary = f"{len(files)} files, {len(edges)} edges"
if errors:
    print(f"deps-graph: {errors} error(s) ({summary})")
    sys.exit(1)
print(f"deps-graph: ok: no cycle in ingest/ or process/ottl/, common/ uses neither ingest/ nor process/ ({summary})")
PY
