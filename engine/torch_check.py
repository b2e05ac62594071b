"""The report's own verification: the hand-derived gradients against PyTorch's autograd.

PyTorch is optional (the ``torch`` extra) and is imported only when a function here needs
it, never when this module is imported. Without it, :func:`torch_available` is False and
the other functions raise :class:`TorchUnavailable` with a message saying how to install it.

The model is built exactly as the report's PyTorch check builds it, in float64 with row
vectors: ``a = x @ A; y = sigmoid(a); u = x @ B; z = y + u; w = z @ C; L = (w**2).sum()``.

**The tolerance.** Both sides compute the same formulas in float64, possibly summing in a
different order, so they agree to a few units in the last place relative to the sums'
magnitudes. The check is ``rtol = TORCH_RTOL = 1e-9`` relative plus, per entry, the
rounding bound γ·scale of :func:`engine.gradcheck.rounding_scales`. That term matters only
where the mathematics loses relative precision on either side: a sum that cancels (an
entry much smaller than the terms it is summed from), and σ'(a) = σ(1 − σ) where σ rounds
near 1 (for a ≈ 30, 1 − σ ≈ 1e-13 keeps three digits, so both sides hold σ' to absolute,
not relative, precision; PyTorch's sigmoid may differ from ours in the last bit).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from types import ModuleType

from backprop_lab.engine.gradcheck import CheckReport, compare_entry, make_report, rounding_scales
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    Matrix,
    Model,
    NumericalOverflowError,
    loss_and_grads,
    validate_model,
)

#: Relative tolerance of the PyTorch check (both sides are float64 evaluations of one formula).
TORCH_RTOL = 1e-9
#: Absolute tolerance: none; the per-entry rounding bound takes its place.
TORCH_ATOL = 0.0

METHOD = "PyTorch float64 autograd"
INSTALL_HINT = "PyTorch is not installed; install the optional extra: pip install 'backprop-lab[torch]'"


class TorchUnavailable(RuntimeError):
    """PyTorch cannot be imported; ``str()`` says how to install it (one line)."""

    def __init__(self, message: str = INSTALL_HINT) -> None:
        super().__init__(message)


def _import_torch() -> ModuleType:
    try:
        import torch
    except ModuleNotFoundError:
        raise TorchUnavailable() from None
    except (ImportError, OSError) as exc:  # installed but broken (a missing shared library, say)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TorchUnavailable(f"PyTorch is installed but cannot be imported: {first}") from None
    return torch


def torch_available() -> bool:
    """Whether PyTorch can be imported (imports it on the first call; later calls are cheap)."""
    try:
        _import_torch()
    except TorchUnavailable:
        return False
    return True


def torch_version() -> str:
    """PyTorch's version string; raises TorchUnavailable."""
    return str(_import_torch().__version__)


def torch_loss_and_grads(
    x: Sequence[float],
    A: Sequence[Sequence[float]],
    B: Sequence[Sequence[float]],
    C: Sequence[Sequence[float]],
) -> tuple[float, dict[str, Matrix]]:
    """L and ∂L/∂A, ∂L/∂B, ∂L/∂C by PyTorch autograd in float64.

    Same inputs and outputs as :func:`engine.model.loss_and_grads` (x: K floats; A, B, C:
    K×K lists of rows; gradients in the weights' shapes). Raises ValueError for bad input,
    TorchUnavailable without PyTorch.
    """
    xv, Av, Bv, Cv = validate_model(x, A, B, C)
    torch = _import_torch()
    f64 = torch.float64
    xt = torch.tensor([xv], dtype=f64)  # 1×K: a row vector, as in the report
    At, Bt, Ct = (torch.tensor(M, dtype=f64, requires_grad=True) for M in (Av, Bv, Cv))
    with torch.enable_grad():
        a = xt @ At
        y = torch.sigmoid(a)
        u = xt @ Bt
        z = y + u
        w = z @ Ct
        loss = (w**2).sum()
        loss.backward()
    grads = {name: t.grad.tolist() for name, t in zip(MATRIX_NAMES, (At, Bt, Ct), strict=True)}
    return float(loss.item()), grads


def torch_check(
    model: Model,
    rtol: float = TORCH_RTOL,
    atol: float = TORCH_ATOL,
) -> CheckReport:
    """Compare the engine's loss and every gradient entry with PyTorch float64 autograd.

    An entry passes when |ours − torch| ≤ atol + rtol·max(|ours|, |torch|) + γ·scale (the
    rounding bound; see the module docstring); the loss is compared the same way and
    counts toward ``passed``. Raises ValueError for bad input (NumericalOverflowError when
    the loss overflows) and TorchUnavailable without PyTorch.
    """
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
            raise ValueError(f"{name} must be a number ≥ 0 (got {value!r})")
    xv, Av, Bv, Cv = model.x, model.A, model.B, model.C
    _import_torch()  # before the work: a missing PyTorch is reported first
    loss, grads = loss_and_grads(xv, Av, Bv, Cv)
    ref_loss, ref_grads = torch_loss_and_grads(xv, Av, Bv, Cv)
    if not math.isfinite(ref_loss):
        raise NumericalOverflowError("PyTorch's loss overflows a float64")
    scales = rounding_scales(model)
    # Two independent evaluations, each within γ·scale of exact: 2γ between them.
    bound = 2.0 * scales.gamma
    entries = [
        compare_entry(
            name,
            i,
            j,
            grads[name][i][j],
            ref_grads[name][i][j],
            rtol,
            atol,
            bound * scales.grads[name][i][j] + sys.float_info.min,
        )
        for name in MATRIX_NAMES
        for i in range(len(xv))
        for j in range(len(xv))
    ]
    loss_entry = compare_entry("L", 0, 0, loss, ref_loss, rtol, atol, bound * scales.loss)
    return make_report(
        METHOD, entries, rtol, atol, loss=loss, reference_loss=ref_loss, loss_passed=loss_entry.passed
    )
