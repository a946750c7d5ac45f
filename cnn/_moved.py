"""Old module names, kept importable for one release with a DeprecationWarning.

Until version 0.2 the library was one flat folder (``cnn/model.py``, ``cnn/layers.py``, ...).
It is now split by layer (see docs/tour.md). ``import cnn.model`` still works: this finder,
installed by ``cnn/__init__.py``, answers an old name with the module that took its place (the
same module object, so ``monkeypatch.setattr(cnn.model, ...)`` reaches the real code), or, for
a module that was split in parts, with a read-only view whose attributes are looked up in the
parts in order. Each old name warns once, naming its new home.

Python's import protocol: ``importlib.abc.MetaPathFinder`` / ``Loader`` (PEP 451).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

MOVED: dict[str, tuple[str, ...]] = {
    "cnn.allocator": ("cnn.parallel.allocator",),
    "cnn.threads": ("cnn.parallel.threads",),
    "cnn.data_parallel": ("cnn.nn.data_parallel",),
    "cnn.module": ("cnn.nn.module",),
    "cnn.blocks": ("cnn.nn.blocks",),
    "cnn.model": ("cnn.nn.model",),
    "cnn.parse": ("cnn.nn.model_string",),
    "cnn.im2col": ("cnn.nn.im2col",),
    "cnn.losses": ("cnn.nn.losses",),
    "cnn.optim": ("cnn.nn.optim",),
    "cnn.schedule": ("cnn.nn.schedule",),
    "cnn.layers": ("cnn.nn.layers",),
    "cnn.weights_io": ("cnn.io.npz",),
    "cnn.weights": ("cnn.io.weights",),
    "cnn.onnx_export": ("cnn.io.onnx_export",),
    "cnn.onnx_import": ("cnn.io.onnx_import",),
    "cnn.onnx_graph": ("cnn.io.onnx_graph",),
    "cnn.kaggle": ("cnn.data.kaggle",),
    "cnn.folders": ("cnn.data.folders", "cnn.data.sources"),
    "cnn.augment": ("cnn.data.augment",),
    "cnn.preprocess": ("cnn.vision",),
    "cnn.train": ("cnn.tasks.train",),
    "cnn.ensemble": ("cnn.tasks.ensemble",),
    "cnn.reject": ("cnn.tasks.reject",),
    "cnn.finetune": ("cnn.tasks.finetune",),
    "cnn.metrics": ("cnn.tasks.metrics",),
    "cnn.plots": ("cnn.tasks.plots",),
    "cnn.visualize": ("cnn.tasks.visualize", "cnn.tasks.visualize_output",
                      "cnn.tasks.visualize_param"),
    "cnn.menu": ("cnn.cli.menu",),
    "cnn.commands": ("cnn.cli.commands",),
    "cnn.commands.common": ("cnn.cli.commands.common", "cnn.io.catalog", "cnn.data.sources",
                            "cnn.tasks.predictor", "cnn.tasks.metrics"),
    "cnn.commands.predict": ("cnn.cli.commands.predict", "cnn.tasks.predict"),
    "cnn.commands.summary": ("cnn.cli.commands.summary", "cnn.nn.summary"),
    "cnn.commands.train": ("cnn.cli.commands.train", "cnn.data.sources"),
    "cnn.commands.evaluate": ("cnn.cli.commands.evaluate",),
    "cnn.commands.export": ("cnn.cli.commands.export",),
    "cnn.commands.serve": ("cnn.cli.commands.serve",),
    "cnn.commands.visualize": ("cnn.cli.commands.visualize",),
    "cnn.commands.menu": ("cnn.cli.commands.menu",),
}


class _SplitModule(types.ModuleType):
    """An old module that became several: attributes come from the first part that has them."""

    def __init__(self, name: str, parts: list[types.ModuleType]):
        super().__init__(name, f"moved to {', '.join(p.__name__ for p in parts)}")
        self._parts = parts

    def __getattr__(self, attr: str):
        for part in self._parts:
            if hasattr(part, attr):
                return getattr(part, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")


class MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old names of :data:`MOVED` (and only those)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        targets = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {' / '.join(targets)}; the old name goes away in "
                      "cnn 0.3", DeprecationWarning, stacklevel=3)
        parts = [importlib.import_module(t) for t in targets]
        return parts[0] if len(parts) == 1 else _SplitModule(spec.name, parts)

    def exec_module(self, module):
        sys.modules[module.__spec__.name if module.__spec__ else module.__name__] = module


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
