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

What it cannot see: method calls (`self.refill()` resolves through a type,
which needs the compiler), so a child file that adds `impl` blocks to its
parent's type depends on the parent and not the other way round, unless
the parent names one of the child's items; and paths built by macros.
Comments and string literals are stripped before parsing.

Usage: scripts/import-cycles.py [crate dirs...]   (default: every member)
       scripts/import-cycles.py --self-test      (the checker on made-up crates)
Each cycle is printed with the lines that make its edges. Exit status 1
when a cycle exists that `scripts/import-cycles.allow` does not list, or
when a line of that file names a cycle that no longer exists (delete the
line: the list says what is still to fix, nothing else).
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOW = os.path.join(ROOT, "scripts", "import-cycles.allow")
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
        # `pub(in crate::a)` restricts who sees an item; it names an
        # ancestor module without depending on it.
        text = re.sub(r"\bpub\s*\(\s*in\s+[^)]*\)", lambda v: "pub(" + " " * (len(v.group(0)) - 5) + ")", text)
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


def allowed():
    """The cycles still to fix: one per line, its files separated by spaces."""
    try:
        lines = open(ALLOW, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        return {}
    out = {}
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if line:
            out[frozenset(line.split())] = number
    return out


def main(argv):
    crates = argv[1:] or CRATES
    allow = allowed()
    seen = set()
    new = 0
    files = 0
    rel = lambda f: os.path.relpath(f, ROOT)
    for crate_dir in crates:
        for root in roots(crate_dir):
            crate = Crate(crate_dir, root)
            files += len(crate.files)
            edges = crate.edges()
            for comp in cycles(edges):
                key = frozenset(rel(f) for f in comp)
                if key in seen:
                    continue
                seen.add(key)
                known = key in allow
                new += not known
                label = f"known cycle (import-cycles.allow:{allow[key]})" if known else "cycle"
                print(f"{label} in {crate_dir}: " + " ".join(sorted(key)))
                path = shortest_cycle(edges, comp)
                for a, b in zip(path, path[1:]):
                    line, what = edges[a][b]
                    print(f"  {rel(a)}:{line} -> {rel(b)}  ({what})")
    stale = [(n, k) for k, n in allow.items() if k not in seen and any(f.startswith(c + "/") for f in k for c in crates)]
    for number, key in sorted(stale):
        print(f"import-cycles.allow:{number} is no longer a cycle, delete the line: " + " ".join(sorted(key)))
    print(f"{files} files: {new} new import cycle(s), {len(seen) - new} known, {len(stale)} stale allow line(s)")
    return 1 if new or stale else 0


def self_test():
    """Runs the checker on small crates written to a temporary directory."""
    import tempfile

    def found(files):
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in files.items():
                path = os.path.join(tmp, "src", name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
            crate = Crate("t", os.path.join(tmp, "src", "lib.rs"))
            return sorted(sorted(os.path.relpath(f, tmp) for f in c) for c in cycles(crate.edges()))

    cases = [
        # Siblings that import each other, through `use` and a code path.
        ("siblings", {"lib.rs": "mod a;\nmod b;\n",
                      "a.rs": "use super::b::B;\npub struct A;\n",
                      "b.rs": "pub struct B;\nfn f() { crate::a::A; }\n"},
         [["src/a.rs", "src/b.rs"]]),
        # A parent that only re-exports its children, which use its type: no cycle.
        ("re-export", {"lib.rs": "mod p;\n",
                       "p/mod.rs": "mod c;\npub use c::C;\npub struct P;\n",
                       "p/c.rs": "use super::P;\npub struct C;\nimpl P { fn c(&self) {} }\n"},
         []),
        # The same parent using the child's item in its own code: a cycle.
        ("parent uses child", {"lib.rs": "mod p;\n",
                               "p/mod.rs": "mod c;\npub use c::C;\npub struct P(C);\n",
                               "p/c.rs": "use super::P;\npub struct C;\n"},
         [["src/p/c.rs", "src/p/mod.rs"]]),
        # Through a re-export: a -> (lib re-exports b's item) -> b; b -> a.
        ("through re-export", {"lib.rs": "mod a;\nmod b;\npub use b::{B as Bee};\n",
                               "a.rs": "use crate::Bee;\npub struct A;\n",
                               "b.rs": "use crate::a::{self, A};\npub struct B;\n"},
         [["src/a.rs", "src/b.rs"]]),
        # `super` inside an inline `mod tests` is the file's own module;
        # comments and strings do not count.
        ("inline module", {"lib.rs": "mod a;\nmod b;\n",
                           "a.rs": "pub struct A;\n#[cfg(test)]\nmod tests {\n    use super::A;\n}\n",
                           "b.rs": "// use crate::a::A;\nconst S: &str = \"crate::a::A\";\nuse crate::a::A;\n"},
         []),
        # A module path imported with `self`, then used in code.
        ("self import", {"lib.rs": "mod a;\nmod b;\n",
                         "a.rs": "use super::b::{self};\nfn f() { b::g(); }\npub fn h() {}\n",
                         "b.rs": "pub fn g() { super::a::h(); }\n"},
         [["src/a.rs", "src/b.rs"]]),
        # `pub(in crate::p)` in a child is visibility, not a use of the parent.
        ("visibility path", {"lib.rs": "mod p;\n",
                             "p/mod.rs": "mod c;\nuse c::C;\npub struct P(C);\n",
                             "p/c.rs": "pub(in crate::p) struct C;\n"},
         []),
        # A `crate::a::b` path through a module directory to a nested file.
        ("nested crate path", {"lib.rs": "mod a;\nmod d;\n",
                               "a/mod.rs": "pub mod b;\n",
                               "a/b.rs": "pub fn f() { crate::d::g(); }\n",
                               "d.rs": "pub fn g() {}\nfn h() { crate::a::b::f(); }\n"},
         [["src/a/b.rs", "src/d.rs"]]),
    ]
    failed = 0
    for name, files, expected in cases:
        got = found(files)
        if got != expected:
            failed += 1
            print(f"self-test {name}: expected {expected}, found {got}")
    print(f"self-test: {len(cases) - failed} of {len(cases)} cases pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(self_test() if sys.argv[1:] == ["--self-test"] else main(sys.argv))
