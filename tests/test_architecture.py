"""The layer rule: imports inside ``cnn`` point down the layers, and no module imports itself
back through others (no import circle, late imports inside functions included).

Layers, top to bottom (docs/tour.md draws them)::

    cnn.cli (argparse, subcommands, menu)
    cnn.server (FastAPI app, static page)
    cnn.tasks (training loop, evaluation, prediction, ensembles, the gate, visualization)
    cnn.io (weights, ONNX)   cnn.data (MNIST, CSV, folders)   cnn.vision (photo pipeline)
    cnn.nn (modules, layers, model, model strings, losses, optimizers, data parallelism)
    cnn.parallel (threads, allocator)
    cnn, cnn.errors, cnn.files, cnn.faults, cnn.progress (the package root and its helpers)

A module may import from its own layer (no circle) and from the layers below it, never above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnn"
LAYERS = {  # top-level part of a module name -> its floor (higher floors may import lower)
    "cli": 6, "server": 5, "tasks": 4, "io": 3, "data": 3, "vision": 3, "nn": 2, "parallel": 1,
    "": 0, "errors": 0, "files": 0, "faults": 0, "progress": 0, "text": 0, "_moved": 0,
    "__main__": 7,
}
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every cnn module that ``path`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t == "cnn" or t.startswith("cnn."))
    return found - {name}


def floor(name: str) -> int:
    parts = name.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def test_every_module_has_a_layer(graph):
    unknown = sorted(n for n in graph if n.split(".")[1:2] and n.split(".")[1] not in LAYERS)
    assert unknown == []


def test_imports_point_down_the_layers(graph):
    upward = sorted(f"{a} (floor {floor(a)}) imports {b} (floor {floor(b)})"
                    for a, deps in graph.items() for b in deps if floor(b) > floor(a))
    assert upward == []


def test_no_import_circle(graph):
    """Tarjan's strongly connected components: every component must be a single module."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert circles == []


def test_no_library_file_over_600_lines():
    long = sorted(f"{p.relative_to(PACKAGE.parent)}: {n}" for p in PACKAGE.rglob("*.py")
                  if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES)
    assert long == []


def test_the_rule_sees_an_upward_import(tmp_path):
    """The checker itself: a made-up engine module importing the command line is caught."""
    fake = tmp_path / "cnn" / "nn"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from cnn.cli.main import main\n")
    deps = imports_of("cnn.nn.bad", fake / "bad.py", {"cnn.cli.main"})
    assert deps == {"cnn.cli.main"} and floor("cnn.cli.main") > floor("cnn.nn.bad")


@pytest.mark.parametrize("old, new, name", [
    ("cnn.model", "cnn.nn.model", "Sequential"),
    ("cnn.parse", "cnn.nn.model_string", "parse_model"),
    ("cnn.weights", "cnn.io.weights", "load_model"),
    ("cnn.train", "cnn.tasks.train", "fit"),
])
def test_an_old_module_name_warns_and_is_the_new_module(old, new, name):
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new) and hasattr(module, name)


@pytest.mark.parametrize("old, name, home", [
    ("cnn.layers", "Conv2D", "cnn.nn.conv"),
    ("cnn.preprocess", "to_mnist", "cnn.vision.pipeline"),
    ("cnn.commands.common", "default_weights", "cnn.io.catalog"),
    ("cnn.commands.predict", "predict_files", "cnn.tasks.predict"),
    ("cnn.visualize", "upscale", "cnn.tasks.visualize_output"),
])
def test_a_split_module_keeps_its_old_names(old, name, home):
    import importlib
    import sys
    import warnings

    sys.modules.pop(old, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(home), name)
