"""The module base: parameters, gradients, buffers, named children, train/eval mode, a dotted
``state_dict`` (after PyTorch's ``torch.nn.Module``), and the per-call :class:`Tape`.

A module computes; it never updates its own parameters (optimizers do, ``cnn.nn.optim``).

- ``params``: dict of trainable arrays, internal (channels-last) layout;
  ``grads``: same keys, filled by ``backward`` when the tape asks for parameter gradients;
  ``buffers``: arrays that are state but not trained (batch norm's running statistics).
- ``training``: the mode, set for a whole tree by :meth:`Module.train` / :meth:`Module.eval`.
  It only changes *what* is computed (batch statistics and dropout in train mode).
- Caching for backward is separate from the mode: ``forward(x, tape)`` records what
  ``backward`` needs on the ``tape`` passed in, a fresh object per call, never on the module.
  Without a tape nothing is kept. So two threads may run the same model in eval mode at once
  (a web server's requests), each with its own tape or none.

State dicts use dotted names, ``<child>.<child>...<key>``, with arrays in PyTorch layout: each
module converts its own arrays with :meth:`Module.export_array` / :meth:`Module.import_array`.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np


class Tape:
    """What one forward pass saves for its backward pass.

    Args:
        param_grads: let ``backward`` write ``grads`` on the modules (training, gradient
            checks). ``False`` for input gradients only (feature visualization), which then
            never writes to the shared modules.
    """

    def __init__(self, param_grads: bool = True) -> None:
        self.param_grads = param_grads
        self._saved: dict[int, object] = {}

    def save(self, module: "Module", value) -> None:
        """Keep ``value`` for ``module``'s backward pass."""
        self._saved[id(module)] = value

    def load(self, module: "Module"):
        """What ``module`` saved in this pass.

        Raises:
            RuntimeError: if the module ran no forward pass with this tape.
        """
        try:
            return self._saved[id(module)]
        except KeyError:
            raise RuntimeError(f"{type(module).__name__}.backward called without a forward "
                               "pass on this tape") from None


class Module:
    """Base class of layers, blocks and models."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.children: dict[str, Module] = {}
        self.training = True

    # ------------------------------------------------------------------ compute
    def forward(self, x: np.ndarray, tape: Tape | None = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dout: np.ndarray, tape: Tape,
                 need_dx: bool = True) -> np.ndarray | None:  # pragma: no cover
        """dLoss/dInput from dLoss/dOutput, using what ``forward`` saved on ``tape``; fills
        ``grads`` when ``tape.param_grads``; returns ``None`` when ``need_dx`` is False."""
        raise NotImplementedError

    def __call__(self, x, tape=None):
        return self.forward(x, tape)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-example output shape, ``(H, W, C)`` or ``(D,)``, without computing anything."""
        return tuple(input_shape)

    # -------------------------------------------------------------------- tree
    def add(self, name: str, module: "Module") -> "Module":
        """Register ``module`` as child ``name`` (also reachable as an attribute)."""
        self.children[name] = module
        setattr(self, name, module)
        return module

    def modules(self) -> Iterator["Module"]:
        """This module and all its descendants, depth first, in registration order."""
        yield self
        for child in self.children.values():
            yield from child.modules()

    def named_slots(self, prefix: str = "") -> Iterator[tuple[str, "Module", str]]:
        """``(dotted name, module, key)`` of every parameter, depth first."""
        for key in self.params:
            yield prefix + key, self, key
        for name, child in self.children.items():
            yield from child.named_slots(f"{prefix}{name}.")

    def parameters(self) -> list[tuple["Module", str]]:
        """``(module, key)`` slots of every trainable array, for an optimizer."""
        return [(module, key) for _, module, key in self.named_slots()]

    def num_params(self) -> int:
        """Trainable scalars in this module and its children."""
        return sum(m.params[k].size for m, k in self.parameters())

    def num_buffers(self) -> int:
        """Non-trained state scalars (running statistics) in this module and its children."""
        return sum(v.size for m in self.modules() for v in m.buffers.values())

    def train(self, mode: bool = True) -> "Module":
        """Set train mode (``mode=True``) or eval mode on the whole tree; returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        """Eval mode: running statistics in batch norm, no dropout."""
        return self.train(False)

    def astype(self, dtype) -> "Module":
        """Cast every parameter and buffer to ``dtype`` in place (float64 for gradient checks)."""
        for m in self.modules():
            m.params = {k: v.astype(dtype) for k, v in m.params.items()}
            m.buffers = {k: v.astype(dtype) for k, v in m.buffers.items()}
        return self

    # -------------------------------------------------------------- state dict
    def export_array(self, key: str, value: np.ndarray) -> np.ndarray:
        """Internal array -> PyTorch layout (identity unless a layer overrides it)."""
        return value

    def import_array(self, key: str, value: np.ndarray) -> np.ndarray:
        """PyTorch layout -> internal array (the inverse of :meth:`export_array`)."""
        return value

    def state_dict(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, dotted names, PyTorch layout."""
        out = {}
        for key, value in {**self.params, **self.buffers}.items():
            out[prefix + key] = np.ascontiguousarray(self.export_array(key, value)).copy()
        for name, child in self.children.items():
            out.update(child.state_dict(f"{prefix}{name}."))
        return out

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every array :meth:`load_state_dict` needs, by dotted name."""
        return {k: v.shape for k, v in self.state_dict().items()}

    def load_state_dict(self, arrays: dict[str, np.ndarray], source: str = "state dict",
                        dtype=np.float32) -> None:
        """Set every parameter and buffer from ``arrays`` (dotted names, PyTorch layout).

        Everything is checked before anything is changed; extra keys are ignored.

        Raises:
            ValueError: naming the first missing key, or the array whose shape does not fit.
        """
        expected = self.expected_shapes()
        for key, shape in expected.items():
            if key not in arrays:
                raise ValueError(f"{source} has no '{key}' array (expected shape {shape})")
            if tuple(np.shape(arrays[key])) != tuple(shape):
                raise ValueError(f"{source}: '{key}' has shape {tuple(np.shape(arrays[key]))} "
                                 f"but the model needs {tuple(shape)}")
        self._load(arrays, "", dtype)

    def _load(self, arrays, prefix, dtype) -> None:
        for store in (self.params, self.buffers):
            for key in store:
                store[key] = np.ascontiguousarray(
                    self.import_array(key, np.asarray(arrays[prefix + key])), dtype=dtype)
        for name, child in self.children.items():
            child._load(arrays, f"{prefix}{name}.", dtype)
