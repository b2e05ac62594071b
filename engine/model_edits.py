"""The window's edits of a model, as pure functions: each returns the new :class:`Model` or raises.

The document (``gui/document.py``) makes each of them one undoable step; here is only what the new
model is. Every edit keeps the model's variant (a K change cuts its target, or pads it with zeros).
Errors are ValueError with one line naming the block and the entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.model import MATRIX_NAMES, Matrix, Model, transpose
from backprop_lab.engine.session import Session

#: Names of the editable blocks, in the order the editors show them.
BLOCK_NAMES = ("x", *MATRIX_NAMES)


def blocks(model: Model) -> dict[str, Matrix]:
    """x (as the 1×K row 0), A, B and C by name; the model's own lists, read-only."""
    return {"x": [model.x], "A": model.A, "B": model.B, "C": model.C}


def check_block_name(name: str) -> str:
    if name not in BLOCK_NAMES:
        raise ValueError(f"unknown block {name!r}; expected one of {', '.join(BLOCK_NAMES)}")
    return name


def check_range(low: float, high: float) -> None:
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError(f"the random range must be finite with low < high (got [{low:g}, {high:g}))")


def entry_label(name: str, i: int, j: int) -> str:
    """ "x[j]" for x (its one row), "A[i][j]" for a matrix."""
    return f"x[{j}]" if name == "x" else f"{name}[{i}][{j}]"


def pasted(model: Model, name: str, row: int, col: int, block: Sequence[Sequence[float]]) -> Model:
    """``model`` with ``block`` (rows of numbers) written into ``name`` at (row, col).

    The block must fit: a block that would run past the matrix's edge is refused whole, never
    silently clipped.
    """
    parts = blocks(model)
    target = [list(r) for r in parts[check_block_name(name)]]
    rows, cols = len(target), len(target[0])
    h = len(block)
    w = len(block[0]) if h else 0
    if h == 0 or w == 0:
        raise ValueError("nothing to paste: the block is empty")
    if row < 0 or col < 0 or row + h > rows or col + w > cols:
        at = entry_label(name, row, col)
        raise ValueError(f"a {h}×{w} block does not fit in {name} ({rows}×{cols}) at {at}")
    for di, brow in enumerate(block):
        if len(brow) != w:
            raise ValueError(
                f"row {di + 1} of the block has {format_count(len(brow), 'value')}; expected {w}"
            )
        for dj, v in enumerate(brow):
            f = float(v)
            if not math.isfinite(f):
                raise ValueError(f"{entry_label(name, row + di, col + dj)} would not be finite: {v!r}")
            target[row + di][col + dj] = f
    parts = {**parts, name: target}
    return Model(parts["x"][0], parts["A"], parts["B"], parts["C"], model.variant)


def randomized(model: Model, seed: int, low: float, high: float) -> Model:
    """New x, A, B, C from ``Session.random(K, seed, low, high)``, in ``model``'s variant."""
    check_range(low, high)
    return Session.random(model.K, seed, low=low, high=high).model.with_variant(model.variant)


def resized(model: Model, k: int, seed: int, low: float, high: float) -> Model:
    """``model`` at K = ``k``, keeping the overlapping entries (the top-left block of each matrix).

    New entries are the ones :func:`randomized` would put there at the new K, so growing K is
    reproducible and never leaves dead (all-zero) units. A target keeps its first entries; new
    ones are 0.
    """
    check_range(low, high)
    fresh = Session.random(k, seed, low=low, high=high).model
    n = min(k, model.K)

    def merge(new: Matrix, kept: Matrix) -> Matrix:
        return [[kept[i][j] if i < n and j < n else new[i][j] for j in range(k)] for i in range(k)]

    x = [model.x[j] if j < n else fresh.x[j] for j in range(k)]
    A, B, C = (
        merge(f, o) for f, o in zip((fresh.A, fresh.B, fresh.C), (model.A, model.B, model.C), strict=True)
    )
    return Model(x, A, B, C, model.variant.resized(k))


def transposed(model: Model) -> Model:
    """``model`` with A, B and C transposed (x and the variant as they are).

    Under the other convention this is the same network: column vectors with Aᵀ, Bᵀ, Cᵀ compute
    what row vectors compute with A, B, C (the same loss; each gradient transposed).
    """
    return Model(model.x, transpose(model.A), transpose(model.B), transpose(model.C), model.variant)
