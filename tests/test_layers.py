"""The house rules of the code, checked from its source with `ast`: no module imports itself back
through others (no import cycle, imports inside functions included), imports flow down the layers
(core → ingest and store → encode → rank → tools, evaluation, CLI, web), and no product module
outgrows 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# package -> folder, as pyproject.toml maps them
ROOTS = {"lawkb": REPO / "lawkb", "lawkb.ingest": REPO / "ingest", "lawkb.search": REPO / "search",
         "lawkb.web": REPO / "web", "lawkb.corpus": REPO / "corpus"}
# Lower layers never import higher ones. Longest prefix wins.
LAYERS = [
    ("lawkb.core", 0), ("lawkb", 0),
    ("lawkb.ingest", 1), ("lawkb.search.contract", 1), ("lawkb.search.profile", 1), ("lawkb.corpus", 1),
    ("lawkb.search.store", 2),
    ("lawkb.search.encode", 3),
    ("lawkb.search.rank", 4), ("lawkb.search.lookup", 4),
    ("lawkb.search", 5), ("lawkb.search.evaluate", 5),
    ("lawkb.tools", 6),
    ("lawkb.cli", 7), ("lawkb.web", 7), ("lawkb.esnode", 7),
]


def modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package, folder in ROOTS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            if package == "lawkb" and rel and rel[0] in ("ingest", "search", "web", "corpus"):
                continue
            name = ".".join((package, *rel))
            out[name.removesuffix(".__init__")] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that the module imports anywhere in its body (functions included)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
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
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def layer(module: str) -> int:
    best = max((p for p, _ in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return dict(LAYERS)[best]


def test_the_graph_sees_the_project():
    g = graph()
    assert len(g) > 80
    assert "lawkb.search.rank.searcher" in g["lawkb.search"]            # a function-level import is seen
    assert "lawkb.core.errors" in g["lawkb.search.store.embedded.kb"]   # an absolute one
    assert "lawkb.search.store.embedded.snapshot" in g["lawkb.search.store.embedded.retrieve"]  # a relative one


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_a_cycle_would_be_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_flow_down_the_layers():
    upward = [f"{a} -> {b}" for a, targets in graph().items() for b in sorted(targets) if layer(b) > layer(a)]
    assert upward == []


def test_no_product_module_over_500_lines():
    big = {name: n for name, path in modules().items()
           if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500}
    assert big == {}
