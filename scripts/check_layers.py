#!/usr/bin/env python3
"""Checks the compiler's layering on the built static libraries (run by the build and by ctest).

Stages, in pipeline order (compiler/CMakeLists.txt, docs/architecture.md); the runtime sits below all:
    xairt < front < import < ir < sema < explain < opt < codegen < driver < tools
Two rules:
  1. A library uses only symbols of its own stage and of earlier ones (calls never go up the stack).
  2. Source files never call each other in a circle (the file-level call graph is acyclic).
Symbols are read with `nm` from the archives, so the check sees exactly what the linker sees.

usage: check_layers.py BUILD_DIR
"""
import os
import subprocess
import sys

STAGES = ["front", "import", "ir", "sema", "explain", "opt", "codegen", "driver", "tools"]


def archive_symbols(path):
    """{object: (defined set, undefined set)} of a static library."""
    out = subprocess.run(["nm", "-A", "--defined-only", "-g", path], capture_output=True, text=True, check=True)
    objs = {}
    for line in out.stdout.splitlines():
        # libx.a:file.c.o:0000000000000000 T name
        head, _, rest = line.rpartition(":")
        obj = head.split(":")[-1]
        parts = rest.split()
        if len(parts) >= 3:
            objs.setdefault(obj, (set(), set()))[0].add(parts[2])
    out = subprocess.run(["nm", "-A", "-u", path], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        head, _, rest = line.rpartition(":")
        obj = head.split(":")[-1]
        parts = rest.split()
        if parts:
            objs.setdefault(obj, (set(), set()))[1].add(parts[-1])
    return objs


def source_name(obj):
    name = obj[:-2] if obj.endswith(".o") else obj
    # flex's scanner and bison's parser call each other by design: one generated unit
    if name in ("xai.lex.c", "xai.tab.c"):
        return "xai.y + xai.l (generated parser)"
    return name


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    libs = [("xairt", os.path.join(build, "libxairt.a"))]
    libs += [(s, os.path.join(build, "compiler", *([s] if s == "import" else []), "libxai_%s.a" % s)) for s in STAGES]
    rank, owner = {}, {}
    files = {}
    for i, (stage, path) in enumerate(libs):
        if not os.path.exists(path):
            print("check_layers: missing %s (build first)" % path, file=sys.stderr)
            return 2
        rank[stage] = i
        for obj, (defined, undefined) in archive_symbols(path).items():
            key = (stage, source_name(obj))
            files[key] = (defined, undefined)
            for sym in defined:
                owner[sym] = key
    problems = []
    edges = {key: set() for key in files}
    for key, (_, undefined) in files.items():
        for sym in sorted(undefined):
            target = owner.get(sym)
            if not target or target == key:
                continue
            if rank[target[0]] > rank[key[0]]:
                problems.append("%s/%s uses %s of %s/%s, a later stage" % (key[0], key[1], sym, target[0], target[1]))
            edges[key].add(target)
    # circles between files: Tarjan's strongly connected components
    index, low, on_stack, stack, sccs, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(files):
        if v not in index:
            visit(v)
    for comp in sccs:
        members = set(comp)
        detail = []
        for a in sorted(comp):
            for b in sorted(edges[a] & members):
                syms = sorted(s for s in files[a][1] if owner.get(s) == b)
                detail.append("    %s/%s -> %s/%s (%s)" % (a[0], a[1], b[0], b[1], ", ".join(syms[:4])))
        problems.append("files call each other in a circle:\n" + "\n".join(detail))
    for p in problems:
        print("check_layers: " + p, file=sys.stderr)
    if problems:
        print("check_layers: %d problem(s); see docs/architecture.md" % len(problems), file=sys.stderr)
        return 1
    print("check_layers: %d files in %d libraries, calls go one way, no circles" % (len(files), len(libs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
