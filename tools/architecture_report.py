"""Developer report on hccrad's structure (not a test): the package import graph, module-level import cycles,
the functions of `hccrad.pipeline` above a cyclomatic complexity of 20, and the imports inside functions that
lack a `# lazy: <why>` comment (issue 25: lazy imports only for optional or heavy dependencies, each saying
why; tests/test_architecture_lazy_imports.py fails on them).

    .venv/bin/python tools/architecture_report.py            # text report
    .venv/bin/python tools/architecture_report.py --mermaid  # the graph for docs/architecture.md

The graph is read from the code with grimp (the library behind import-linter, whose contracts in
`.importlinter` CI enforces); complexity with radon (`pip install radon==6.0.1`, a dev tool, not a
dependency of hccrad).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
COMPLEXITY_LIMIT = 20
LAZY_MARK = "# lazy:"
_INDENTED_IMPORT = re.compile(r"^[ \t]+(?:import|from)\s", re.MULTILINE)


def package_graph() -> dict[str, set[str]]:
    """{package: packages it imports} for hccrad's first-level packages (imports inside a package left out)."""
    graph = grimp.build_graph("hccrad")
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        src = _package(module)
        for imported in graph.find_modules_directly_imported_by(module):
            dst = _package(imported)
            if imported.startswith("hccrad.") and src != dst:
                edges[src].add(dst)
    return dict(edges)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan 1972), i.e. import cycles."""
    graph = grimp.build_graph("hccrad")
    edges = {m: [i for i in graph.find_modules_directly_imported_by(m) if i.startswith("hccrad")]
             for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return cycles


def complex_functions(folder: Path, limit: int = COMPLEXITY_LIMIT) -> list[tuple[str, str, int]]:
    """(file, function, cyclomatic complexity) for every function above `limit` under `folder` (radon)."""
    try:
        from radon.complexity import cc_visit  # dev tool, optional
    except ImportError:
        return [("(radon not installed: pip install radon==6.0.1)", "", 0)]
    rows = []
    for path in sorted(folder.rglob("*.py")):
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if block.complexity > limit:
                rows.append((str(path.relative_to(ROOT)), block.name, block.complexity))
    return sorted(rows, key=lambda r: -r[2])


def unmarked_lazy_imports(folder: Path = ROOT / "src" / "hccrad") -> list[tuple[str, int, str]]:
    """(file, line, statement) for every import inside a function without a `# lazy:` comment (AST only).

    The comment sits on the import's own line(s), or on the comment line(s) just above a run of consecutive
    import statements, which it then covers as a group."""
    rows = []
    for path in sorted(folder.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if not _INDENTED_IMPORT.search(source):  # no indented import at all: nothing to parse
            continue
        lines = source.splitlines()
        for stmt in _imports_in_functions(ast.parse(source), lines):
            rows.append((str(path.relative_to(ROOT)), stmt.lineno, lines[stmt.lineno - 1].strip()))
    return rows


def _imports_in_functions(tree: ast.AST, lines: list[str]) -> list[ast.stmt]:
    """The unmarked import statements inside functions of one module."""
    unmarked: list[ast.stmt] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt) and in_function:
                unmarked.extend(_unmarked_in_body(value, lines))
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(tree, False)
    return unmarked


def _unmarked_in_body(body: list[ast.stmt], lines: list[str]) -> list[ast.stmt]:
    unmarked, group_marked, previous = [], False, None
    for stmt in body:
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            previous = None
            continue
        if previous is None:  # first of a run of imports: a comment block just above marks the run
            group_marked = any(LAZY_MARK in c for c in _comments_above(stmt.lineno, lines))
        own = any(LAZY_MARK in lines[i - 1] for i in range(stmt.lineno, stmt.end_lineno + 1))
        if not (group_marked or own):
            unmarked.append(stmt)
        previous = stmt
    return unmarked


def _comments_above(lineno: int, lines: list[str]) -> list[str]:
    found, i = [], lineno - 2
    while i >= 0 and lines[i].strip().startswith("#"):
        found.append(lines[i])
        i -= 1
    return found


def mermaid(edges: dict[str, set[str]]) -> str:
    lines = ["```mermaid", "graph TD"]
    for src in sorted(edges):
        for dst in sorted(edges[src] - {"core"}):  # everything imports core: drawn once below
            lines.append(f"  {src} --> {dst}")
    lines.append("  %% every package imports core")
    lines.append("```")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mermaid", action="store_true", help="print the package graph as a Mermaid block")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    edges = package_graph()
    if args.mermaid:
        print(mermaid(edges))
        return
    print("package imports (package -> packages it imports):")
    for src in sorted(edges):
        print(f"  {src:14s} -> {', '.join(sorted(edges[src]))}")
    cycles = module_cycles()
    print(f"\nmodule import cycles: {len(cycles)}")
    for cycle in cycles:
        print("  " + " <-> ".join(cycle))
    rows = complex_functions(ROOT / "src" / "hccrad" / "pipeline")
    print(f"\nfunctions in hccrad.pipeline above cyclomatic complexity {COMPLEXITY_LIMIT}: {len(rows)}")
    for file, name, cc in rows:
        print(f"  {cc:3d}  {file}:{name}")
    lazy = unmarked_lazy_imports()
    print(f"\nimports inside functions without a '{LAZY_MARK} <why>' comment: {len(lazy)}")
    for file, line, text in lazy:
        print(f"  {file}:{line}: {text}")


if __name__ == "__main__":
    main()
