"""Developer report on hccrad's structure (not a test): the package import graph, module-level import cycles
and the functions of `hccrad.pipeline` above a cyclomatic complexity of 20.

    .venv/bin/python tools/architecture_report.py            # text report
    .venv/bin/python tools/architecture_report.py --mermaid  # the graph for docs/architecture.md

The graph is read from the code with grimp (the library behind import-linter, whose contracts in
`.importlinter` CI enforces); complexity with radon (`pip install radon==6.0.1`, a dev tool, not a
dependency of hccrad).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
COMPLEXITY_LIMIT = 20


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


if __name__ == "__main__":
    main()
