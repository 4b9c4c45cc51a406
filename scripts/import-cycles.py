#!/usr/bin/env python3
"""Reports import cycles between the source files of the workspace's crates.

Style rule: no import cycles between files. If two files need each other,
one of them holds a concept that belongs in a third.

The graph: one node per source file of a crate (its root, `src/lib.rs`,
`src/main.rs` or `src/bin/*.rs`, and every file reached from it by `mod`
declarations). File A has an edge to file B when A names an item that is
defined in B:

- `use` trees starting with `crate::`, `super::`, `self::` or the name of a
  module A declares (`use a::{b, c::d}` expands to each leaf);
- paths written in code that start with `crate::`, `super::` or `self::`
  (`super::route::handle(..)`), and paths through a module that A declares
  or imported (`state::Shared::new()`).

A path is resolved segment by segment through the module tree (inline
`mod x { .. }` blocks, such as `mod tests`, stay in their file and are
tracked, so `super::` inside them is the file's own module). The file a path
ends in is where its last module segment lives; a name that file only
re-exports (`pub use child::X;`, `pub use child::*;`) is followed to the
file that defines it, so importing through a re-export is an edge to the
definition, not to the re-exporting file.

A `mod child;` declaration is not an edge by itself: declaring a child is
how a module is split into files. The parent's own uses of the child
(`pub use child::X`, `child::f()`) are edges like any other, so a parent
that uses a child which uses the parent is a cycle.

Comments and string literals are stripped before parsing; macros are not
expanded, so a path built by a macro is invisible (none of the crates does
that for module paths).

Usage: scripts/import-cycles.py [crate dirs...]   (default: every member)
Exit status 1 when a cycle exists; each cycle is printed with the lines
that make its edges.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = ["core", "transports", "std-runner", "cli", "tests", "examples/wasi-produce"]

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """Blanks comments and string/char literals, keeping line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            j = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]) if j - i >= 2 else text[i:j])
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4] if text[i + 1:i + 2] != "\\" else text[i:i + 8]):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'])'", text[i:])
            j = i + (len(m.group(0)) if m else 1)
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use(tree):
    """`a::{b, c::{d as e, self}}` -> [["a","b"], ["a","c","d@e"], ["a","c"]].

    A leaf renamed with `as` carries its local name after an `@`."""
    tree = re.sub(r"\s+as\s+(" + IDENT + ")", r"@\1", tree)
    tree = re.sub(r"\s+", "", tree)

    def parse(s, i, prefix):
        paths = []
        seg = ""
        while i < len(s):
            c = s[i]
            if s.startswith("::{", i):
                parts = prefix + [x for x in seg.split("::") if x]
                i += 3
                while True:
                    sub, i = parse(s, i, parts)
                    paths.extend(sub)
                    if i < len(s) and s[i] == ",":
                        i += 1
                        continue
                    break
                if i < len(s) and s[i] == "}":
                    i += 1
                return paths, i
            if c in ",}":
                break
            seg += c
            i += 1
        if seg:
            parts = [x for x in seg.split("::") if x]
            if parts == ["self"]:
                paths.append(list(prefix))
            else:
                paths.append(prefix + parts)
        return paths, i

    paths, _ = parse(tree, 0, [])
    return paths


class Module:
    def __init__(self, path, file, parent):
        self.path = path  # tuple of names from the crate root
        self.file = file
        self.parent = parent
        self.children = {}  # name -> Module
        self.reexports = {}  # name -> list of path segments (relative spec)
        self.globs = []  # re-exported globs


class Crate:
    def __init__(self, name, root_file):
        self.name = name
        self.files = {}  # file -> list of (line, kind, segments, module)
        self.root = Module((), root_file, None)
        self.load(self.root, root_file, is_dir_owner=True)

    def load(self, module, file, is_dir_owner):
        try:
            text = open(file, encoding="utf-8").read()
        except OSError:
            return
        text = strip(text)
        self.files[file] = []
        base = os.path.dirname(file) if is_dir_owner else os.path.splitext(file)[0]
        # Walk the file, tracking inline modules by brace depth.
        stack = [(module, -1)]
        depth = 0
        pending_path = None
        token = re.compile(
            r"#\[path\s*=\s*\"\"[^\]]*\]"  # stripped #[path] (unsupported, noted)
            r"|(?P<mod>\b(?:pub(?:\([^)]*\))?\s+)?mod\s+(?P<modname>" + IDENT + r")\s*(?P<modend>[;{]))"
            r"|(?P<use>\b(?:pub(?:\([^)]*\))?\s+)?use\s+(?P<tree>[^;]+);)"
            r"|(?P<open>\{)|(?P<close>\})"
            r"|(?P<path>(?<![A-Za-z0-9_:])(?:" + IDENT + r")(?:\s*::\s*(?:" + IDENT + r"|\*))+)"
        )
        # The file without its `use` statements, to tell whether a name a
        # re-export brings in is also used by the file's own code.
        code = re.sub(r"\buse\s+[^;]+;", lambda u: re.sub(r"[^\n]", " ", u.group(0)), text)
        for m in token.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            current = stack[-1][0]
            if m.group("mod"):
                name = m.group("modname")
                if m.group("modend") == ";":
                    child_file = None
                    for cand in (os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")):
                        if os.path.exists(cand):
                            child_file = cand
                            break
                    child = Module(current.path + (name,), child_file, current)
                    current.children[name] = child
                    if child_file:
                        self.load(child, child_file, child_file.endswith("mod.rs"))
                else:
                    child = Module(current.path + (name,), file, current)
                    current.children[name] = child
                    depth += 1
                    stack.append((child, depth))
            elif m.group("use"):
                public = m.group("use").lstrip().startswith("pub")
                for segs in expand_use(m.group("tree")):
                    if segs and segs[0] == "":
                        segs = segs[1:]
                    if not segs:
                        continue
                    local = segs[-1]
                    if "@" in local:
                        name, local = local.split("@")
                        segs = segs[:-1] + [name]
                    # A re-export is the module's public face, not a use by
                    # its code: an edge only if the file also names it.
                    used = not public or local == "*" or re.search(r"\b" + re.escape(local) + r"\b", code) is not None
                    self.files[file].append((line, "use" if used else "reexport", segs, current, local))
                    if public:
                        if segs[-1] == "*":
                            current.globs.append(segs[:-1])
                        else:
                            current.reexports[local] = segs
            elif m.group("open"):
                depth += 1
            elif m.group("close"):
                if len(stack) > 1 and stack[-1][1] == depth:
                    stack.pop()
                depth -= 1
            elif m.group("path"):
                segs = [s.strip() for s in m.group("path").split("::")]
                self.files[file].append((line, "path", segs, current, segs[-1]))

    def start(self, module, first):
        """The module a path's first segment names, or None (external)."""
        if first == "crate":
            return self.root
        if first == "super":
            return module.parent
        if first == "self":
            return module
        if first in module.children:
            return module.children[first]
        return None

    def resolve(self, module, segs, seen=None):
        """The file that defines what `segs` (relative to `module`) names."""
        if not segs:
            return None
        seen = seen or set()
        target = self.start(module, segs[0])
        if target is None:
            # A name imported into `module` (e.g. `use super::produce::{self}` then `produce::x`).
            alias = self.imported(module, segs[0])
            if alias is None:
                return None
            return self.resolve(module, alias + segs[1:], seen)
        for seg in segs[1:]:
            if seg == "super":
                target = target.parent
                if target is None:
                    return None
            elif seg in target.children:
                target = target.children[seg]
            else:
                key = (id(target), seg)
                if key in seen:
                    return target.file
                seen.add(key)
                if seg in target.reexports:
                    got = self.resolve(target, target.reexports[seg], seen)
                    return got or target.file
                for glob in target.globs:
                    got = self.resolve(target, glob + [seg], seen)
                    if got and got != self.module_file(target, glob):
                        return got
                return target.file
        return target.file

    def module_file(self, module, segs):
        t = self.start(module, segs[0]) if segs else module
        for seg in segs[1:]:
            if t is None or seg not in t.children:
                return None
            t = t.children[seg]
        return t.file if t else None

    def imported(self, module, name):
        for (_, kind, segs, mod, local) in self.files.get(module.file, []):
            if kind in ("use", "reexport") and mod is module and local == name and len(segs) > 1:
                if self.start(module, segs[0]) is not None:
                    return segs
        return None

    def edges(self):
        out = {}
        for file, refs in self.files.items():
            for (line, kind, segs, module, _) in refs:
                if not segs or kind == "reexport":
                    continue
                if kind == "path" and self.start(module, segs[0]) is None and self.imported(module, segs[0]) is None:
                    continue
                target = self.resolve(module, segs)
                if target and target != file:
                    out.setdefault(file, {}).setdefault(target, (line, "::".join(segs)))
        return out


def cycles(edges):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, on, stack, result = {}, {}, set(), [], []
    counter = [0]
    nodes = set(edges) | {t for ts in edges.values() for t in ts}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                result.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return result


def shortest_cycle(edges, comp):
    """One concrete cycle through the component's first file (BFS)."""
    members = set(comp)
    start = comp[0]
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def roots(crate_dir):
    src = os.path.join(ROOT, crate_dir, "src")
    found = [os.path.join(src, f) for f in ("lib.rs", "main.rs") if os.path.exists(os.path.join(src, f))]
    bins = os.path.join(src, "bin")
    if os.path.isdir(bins):
        found += [os.path.join(bins, f) for f in sorted(os.listdir(bins)) if f.endswith(".rs")]
    return found


def main(argv):
    crates = argv[1:] or CRATES
    found = 0
    files = 0
    for crate_dir in crates:
        for root in roots(crate_dir):
            crate = Crate(crate_dir, root)
            files += len(crate.files)
            edges = crate.edges()
            for comp in cycles(edges):
                found += 1
                rel = lambda f: os.path.relpath(f, ROOT)
                print(f"cycle in {crate_dir} ({rel(root)}): " + ", ".join(rel(f) for f in comp))
                path = shortest_cycle(edges, comp)
                for a, b in zip(path, path[1:]):
                    line, what = edges[a][b]
                    print(f"  {rel(a)}:{line} -> {rel(b)}  ({what})")
    if found:
        print(f"{found} import cycle(s) between files; see scripts/import-cycles.py for the rules")
        return 1
    print(f"no import cycles between files ({files} files checked, counted once per crate root)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
