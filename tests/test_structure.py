"""The package's import graph has no cycles and no upward imports (imports inside functions count;
typing-only ones do not). The layers are those drawn in docs/design/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "geoelf"


def modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(("geoelf", *path.relative_to(SRC).with_suffix("").parts))
        out[name.removesuffix(".__init__")] = path
    return out


def _typing_only(tree: ast.AST) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:``."""
    return {id(n) for t in ast.walk(tree) if isinstance(t, ast.If) and getattr(t.test, "id", "") == "TYPE_CHECKING"
            for b in t.body for n in ast.walk(b)}


def import_graph() -> dict[str, set[str]]:
    """Module → the geoelf modules it imports anywhere in its file (the package root aside)."""
    mods = modules()

    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name if name and name != "geoelf" else None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        skip = _typing_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("geoelf"):
                targets = [owner(f"{node.module}.{a.name}") or owner(node.module) for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [owner(a.name) for a in node.names if a.name.startswith("geoelf")]
            else:
                continue
            graph[mod].update(t for t in targets if t and t != mod)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_geoelf_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40 and "geoelf.model.predict" in graph["geoelf.model.baselines"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


# Lowest first: a module may import modules of its own layer or below, never above.
LAYERS: list[tuple[str, ...]] = [
    ("geoelf.errors", "geoelf.units", "geoelf.provenance", "geoelf.resources", "geoelf.field", "geoelf.interp",
     "geoelf.neighbours", "geoelf.lattice", "geoelf.io", "geoelf.data.sample", "geoelf.plots"),
    ("geoelf.topology",),
    ("geoelf.analysis", "geoelf.dft", "geoelf.data", "geoelf.electronic"),
    ("geoelf.model",),
    ("geoelf.train", "geoelf.screen"),
    ("geoelf.cli",),
]


def layer(module: str) -> int:
    """The layer of a module: that of the longest prefix listed in LAYERS."""
    best, rank = "", -1
    for k, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best):
                best, rank = name, k
    if rank < 0:
        raise KeyError(f"{module} is in no layer: add it to LAYERS (and to the architecture page)")
    return rank


def test_no_module_imports_from_a_higher_layer():
    graph = import_graph()
    assert layer("geoelf.data.sample") == 0 and layer("geoelf.data.dataset") == 2
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() if m != "geoelf" for d in deps if layer(d) > layer(m))
    assert not upward, "\n".join(upward)
