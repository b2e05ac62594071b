"""The model evaluated at its own x: the loss, the three gradients and the intermediates.

What the window's editors, gradient tables and chain-rule panel show; Qt-free so that File ▸ Open
can evaluate a model on a worker thread and the tests can check it without a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from backprop_lab.engine.model import Matrix, Model, backward, forward

#: The forward pass's intermediates, in forward order (y is σ(a)).
INTERMEDIATE_NAMES = ("a", "y", "u", "z", "w")


@dataclass(frozen=True)
class Evaluation:
    """The model evaluated at its own x.

    ``loss`` is L = Σ w_j² (None when it does not fit in a float64); ``grads`` maps "A", "B", "C"
    to K×K gradients in the weights' layout (empty on error); ``values`` maps "a", "y", "u", "z",
    "w" to K-vectors (y is σ(a)); ``error`` is a one-line reason when the numbers overflow.
    """

    loss: float | None
    grads: dict[str, Matrix] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    #: The largest |entry| of each gradient (the heat maps' colour scale), computed here so that
    #: an evaluation made on a worker thread (File ▸ Open) leaves no K² pass to the GUI thread.
    scales: dict[str, float] = field(default_factory=dict)
    #: The backward pass's shared upstream terms, K-vectors: "dw" (∂L/∂w) and "g" (∂L/∂z), kept
    #: for the network view's ∂L/∂unit (empty when the numbers overflow).
    upstream: dict[str, list[float]] = field(default_factory=dict)


def evaluate(model: Model) -> Evaluation:
    """Forward and backward pass of the model (in its variant), with overflow turned into ``error``."""
    try:
        values = forward(model.x, model.A, model.B, model.C, model.variant)
        grads = backward(model.x, model.C, values, model.variant)
    except OverflowError as exc:  # pragma: no cover - float ops saturate to inf instead
        return Evaluation(None, error=f"the numbers overflow a float64 ({exc})")
    vectors: dict[str, list[float]] = {
        "a": list(values["a"]),
        "y": list(values["y"]),
        "u": list(values["u"]),
        "z": list(values["z"]),
        "w": list(values["w"]),
    }
    loss = values["loss"]
    if not math.isfinite(loss):
        return Evaluation(
            None, values=vectors, error="the loss overflows a float64; make the weights smaller"
        )
    named = {"A": grads["dA"], "B": grads["dB"], "C": grads["dC"]}
    for name, grad in named.items():
        if not all(math.isfinite(v) for row in grad for v in row):
            return Evaluation(loss, values=vectors, error=f"∂L/∂{name} overflows a float64")
    # Row by row: one max() over a K = 1024 matrix is a single C call that holds the interpreter
    # lock for tens of milliseconds (File ▸ Open evaluates on a worker thread beside the window's).
    scales = {
        name: max((max(map(abs, row), default=0.0) for row in grad), default=0.0)
        for name, grad in named.items()
    }
    return Evaluation(loss, named, vectors, scales=scales, upstream={"dw": grads["dw"], "g": grads["g"]})
