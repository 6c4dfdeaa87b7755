#!/usr/bin/env python3
"""The gateway's import graph: import circles and upward imports.

Reads every `crate::…` path in `crates/gateway/src` (use declarations and inline paths),
resolves it to the module file it names, and checks two things:

1. no import circle spans more than a file and its own submodules (`foo.rs` with
   `foo/…`): the strongly connected components of the file graph, after folding each
   top-level module's files into one node, must all be single nodes;
2. every import goes down the floors of ARCHITECTURE.md ("Floors"), never up and never
   sideways between faces.

`--report` prints the figures (circles, largest file and function, users of `State`)
instead of failing. Exits 1 naming each offending import otherwise.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "gateway", "src")

# Floor of each top-level module: an import may only go to a lower floor, or within
# its own top-level module. The faces share a floor and so may not import each other.
FLOORS = {
    # 0: leaves, knowing nothing of calls.
    "blocking": 0, "body": 0, "problem": 0, "peer": 0, "secrets": 0, "metrics": 0,
    "datadir": 0, "keys": 0, "notify": 0, "upstream": 0, "throttle": 0, "sessions": 0,
    "config_map": 0, "tls": 0, "mcp_upstream": 0, "mcp_sessions": 0, "trace": 0,
    "access_log": 0,
    # 1: the state a call reads and changes, and the events it leaves.
    "credential": 1, "revocations": 1, "quarantines": 1, "workflows": 1, "journal": 1,
    "baselines": 1,
    "events": 1, "approvals": 1, "anonymous": 1, "mcp_state": 1, "feed": 1,
    "policies": 1, "observe": 1, "admissions": 1,
    "events": 1, "approvals": 1, "anonymous": 1, "mcp_state": 1, "feed": 1, "forensics": 1,
    # Delivery and live tails of the stored events, reading the store as an outbox.
    "sinks": 1, "tail": 1,
    # 2: the handles every face is given, built once at start-up.
    "state": 2,
    # 3: the transport-neutral call pipeline, and its counterpart for control-plane
    # actions (audit events).
    "pipeline": 3, "audit": 3,
    # Reloading the policy set and the observe flags, from the watcher or `policy apply`.
    "policy_reload": 3,
    # 4: the faces: each speaks one transport to one audience.
    "dataplane": 4, "mcp": 4, "broker": 4, "control": 4,
    # 5: the composition root: routes requests to faces, runs approved calls through
    # the face that parked them, starts and stops everything.
    "approved": 5, "router": 5, "server": 5,
    # Background services the server starts: following other replicas, pruning events.
    "replicas": 5, "retention": 5,
}
# Floors whose modules may import peers on the same floor (leaves using leaves, state
# using state): the faces' floor forbids it.
PEER_FLOORS = {0, 1, 5}
# Known upward imports, each with why it is still there. The check fails on any other,
# and on an entry here that no longer occurs (so the list only shrinks).
ALLOWED = {
}

USE_RE = re.compile(r"crate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*|\{)")
GROUP_RE = re.compile(r"use crate::\{([^;]*)\};", re.S)


def module_files():
    """Maps a module path (tuple) to its file, relative to src."""
    files = {}
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
            parts = rel[:-3].split(os.sep)
            if parts == ["lib"]:
                parts = []
            files[tuple(parts)] = rel
    return files


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def test_module(text):
    """Cuts `#[cfg(test)] mod tests { … }` bodies: tests may import anything."""
    index = text.find("#[cfg(test)]")
    return text if index < 0 else text[:index]


def referenced_paths(text):
    paths = []
    for group in GROUP_RE.findall(text):
        for item in re.split(r",", re.sub(r"\{[^{}]*\}", "", group)):
            item = item.strip()
            if item:
                paths.append(item.split(" as ")[0].strip())
    for match in USE_RE.findall(text):
        if match != "{":
            paths.append(match)
    return paths


def resolve(path, files):
    parts = tuple(p for p in path.split("::") if p)
    while parts and parts not in files:
        parts = parts[:-1]
    return parts


def graph():
    files = module_files()
    edges = {}
    for module, rel in files.items():
        if module and module[-1] == "tests":
            continue
        with open(os.path.join(ROOT, rel), encoding="utf-8") as handle:
            text = test_module(strip_comments(handle.read()))
        targets = set()
        for path in referenced_paths(text):
            target = resolve(path, files)
            if target and target != module:
                targets.add(target)
        edges[module] = targets
    return files, edges


def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(component)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def name(module):
    return "::".join(module) or "lib"


def circles(edges, fold):
    key = (lambda m: m[:1]) if fold else (lambda m: m)
    folded = {}
    for source, targets in edges.items():
        if not source:
            continue
        folded.setdefault(key(source), set()).update(
            key(t) for t in targets if t and key(t) != key(source))
    return [c for c in sccs(list(folded), folded) if len(c) > 1]


def within_one_file(component):
    """Whether a circle is one file and its own submodules (`foo.rs` and `foo/…`)."""
    root = min(component, key=len)
    return all(member[: len(root)] == root for member in component)


def upward(edges):
    bad = []
    for source, targets in sorted(edges.items()):
        if not source:
            continue
        top = source[0]
        floor = FLOORS.get(top)
        for target in sorted(targets):
            other = target[0]
            if other == top:
                continue
            if floor is None or other not in FLOORS:
                bad.append((source, target, "module has no floor in scripts/layering.py"))
                continue
            to = FLOORS[other]
            upward_or_sideways = to > floor or (to == floor and floor not in PEER_FLOORS)
            if upward_or_sideways and (top, other) not in ALLOWED:
                bad.append((source, target, f"floor {floor} imports floor {to}"))
    return bad


def largest_function(files):
    best = (0, "", "")
    fn_re = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))? )?(?:async )?fn (\w+)", re.M)
    for rel in files.values():
        with open(os.path.join(ROOT, rel), encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        for number, line in enumerate(lines):
            match = fn_re.match(line)
            if not match:
                continue
            indent = match.group(1)
            for end in range(number + 1, len(lines)):
                if lines[end] == indent + "}":
                    if end - number > best[0]:
                        best = (end - number + 1, rel, match.group(2))
                    break
    return best


def report(files, edges):
    file_circles = circles(edges, fold=False)
    biggest = max(len(c) for c in file_circles) if file_circles else 0
    print(f"files: {len(files)}")
    print(f"file-level import circles: {len(file_circles)}, largest {biggest} files, "
          f"{sum(1 for c in file_circles if not within_one_file(c))} beyond a file and its submodules")
    print(f"module-level import circles: {len(circles(edges, fold=True))}")
    sizes = []
    for rel in files.values():
        with open(os.path.join(ROOT, rel), encoding="utf-8") as handle:
            sizes.append((sum(1 for _ in handle), rel))
    sizes.sort(reverse=True)
    print(f"largest file: {sizes[0][1]} ({sizes[0][0]} lines)")
    lines, rel, function = largest_function(files)
    print(f"largest function: {rel}::{function} ({lines} lines)")
    users = sorted(name(m) for m, t in edges.items() if ("state",) in t)
    print(f"users of crate::state: {len(users)}: {' '.join(users)}")
    print(f"upward imports: {len(upward(edges))}, known and listed: {len(ALLOWED)}")


def main():
    files, edges = graph()
    if "--report" in sys.argv:
        report(files, edges)
        return 0
    failures = []
    known = {
        source: {t for t in targets if (source[:1] + t[:1]) not in ALLOWED}
        for source, targets in edges.items()
    }
    for component in circles(known, fold=True):
        failures.append("import circle: " + " -> ".join(sorted(name(m) for m in component)))
    for component in circles(known, fold=False):
        if not within_one_file(component):
            failures.append("import circle: " + " -> ".join(sorted(name(m) for m in component)))
    for source, target, why in upward(edges):
        failures.append(f"{name(source)} imports {name(target)}: {why}")
    used = {(s[0], t[0]) for s, ts in edges.items() if s for t in ts}
    for pair, why in ALLOWED.items():
        if pair not in used:
            failures.append(f"{pair[0]} no longer imports {pair[1]}: remove it from ALLOWED")
    for line in failures:
        print(line, file=sys.stderr)
    if failures:
        print(f"layering: {len(failures)} problem(s); see ARCHITECTURE.md, Floors", file=sys.stderr)
        return 1
    print("layering: no import circles, no upward imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
