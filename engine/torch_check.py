"""The report's own verification: the hand-derived gradients against PyTorch's autograd.

PyTorch is optional (the ``torch`` extra) and is imported only when a function here needs
it, never when this module is imported. Without it, :func:`torch_available` is False and
the other functions raise :class:`TorchUnavailable` with a message saying how to install it.

The model is built as the report's PyTorch check builds it, in float64:
``a = x @ A; y = sigmoid(a); u = x @ B; z = y + u; w = z @ C; L = (w**2).sum()`` for its own
variant, and for the others of the family with PyTorch's own activation (``torch.tanh``,
``torch.relu``, ``torch.nn.functional.softplus``, none for identity), column vectors
(``a = A @ x`` with x a K×1 tensor, ``w = C @ z``) and a target (``((w - t)**2).sum()``). Autograd
then differentiates that, knowing nothing of the hand-derived chain rules it is checked against.

**The tolerance.** Both sides compute the same formulas in float64, possibly summing in a
different order, so they agree to a few units in the last place relative to the sums'
magnitudes. The check is ``rtol = TORCH_RTOL = 1e-9`` relative plus, per entry, the
rounding bound γ·scale of :func:`engine.gradcheck.rounding_scales`. That term matters only
where the mathematics loses relative precision on either side: a sum that cancels (an
entry much smaller than the terms it is summed from), and σ'(a) = σ(1 − σ) where σ rounds
near 1 (for a ≈ 30, 1 − σ ≈ 1e-13 keeps three digits, so both sides hold σ' to absolute,
not relative, precision; PyTorch's sigmoid may differ from ours in the last bit). tanh′ = 1 − y²
is the same (PyTorch's tanh differs from the C library's by one ulp for a few percent of inputs:
3.7e-9 relative was seen where 1 − y² ≈ 1e-7), and relu and softplus jump at 0 and 20, where a
rounded pre-activation may fall on either side. :data:`engine.rounding.SIGMA_BOUNDS` derives
each activation's term.
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
    model_loss_and_grads,
    validate_model,
)
from backprop_lab.engine.variant import DEFAULT_VARIANT, Variant

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
    *,
    activation: str = "sigmoid",
    convention: str = "row",
    target: Sequence[float] | None = None,
) -> tuple[float, dict[str, Matrix]]:
    """L and ∂L/∂A, ∂L/∂B, ∂L/∂C by PyTorch autograd in float64.

    Same inputs, keywords and outputs as :func:`engine.model.loss_and_grads` (x: K floats; A, B,
    C: K×K lists of rows; gradients in the weights' shapes; the keywords choose the member of the
    family). Raises ValueError for bad input or an unknown name, TorchUnavailable without PyTorch.
    """
    variant = DEFAULT_VARIANT
    if activation != "sigmoid" or convention != "row" or target is not None:
        variant = Variant(activation, convention, None if target is None else tuple(target))
    xv, Av, Bv, Cv = validate_model(x, A, B, C)
    variant.check_k(len(xv))
    torch = _import_torch()
    f64 = torch.float64
    sigma = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "softplus": torch.nn.functional.softplus,  # beta 1, threshold 20: the engine's softplus
        "identity": lambda t: t,
    }[variant.activation]
    At, Bt, Ct = (torch.tensor(M, dtype=f64, requires_grad=True) for M in (Av, Bv, Cv))
    with torch.enable_grad():
        if variant.row:
            xt = torch.tensor([xv], dtype=f64)  # 1×K: a row vector, as in the report
            a = xt @ At
            z = sigma(a) + xt @ Bt
            w = z @ Ct
        else:
            xt = torch.tensor([[e] for e in xv], dtype=f64)  # K×1: a column vector, as in the title
            a = At @ xt
            z = sigma(a) + Bt @ xt
            w = Ct @ z
        if variant.target is not None:
            w = w - torch.tensor(variant.target, dtype=f64).reshape(w.shape)
        loss = (w**2).sum()
        loss.backward()
    grads = {name: t.grad.tolist() for name, t in zip(MATRIX_NAMES, (At, Bt, Ct), strict=True)}
    return float(loss.item()), grads


def torch_check(
    model: Model,
    rtol: float = TORCH_RTOL,
    atol: float = TORCH_ATOL,
) -> CheckReport:
    """Compare the engine's loss and every gradient entry with PyTorch float64 autograd, both in
    ``model.variant``.

    An entry passes when |ours − torch| ≤ atol + rtol·max(|ours|, |torch|) + γ·scale (the
    rounding bound; see the module docstring); the loss is compared the same way and
    counts toward ``passed``. Raises ValueError for bad input (NumericalOverflowError when
    the loss overflows) and TorchUnavailable without PyTorch.
    """
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
            raise ValueError(f"{name} must be a number ≥ 0 (got {value!r})")
    xv, Av, Bv, Cv, v = model.x, model.A, model.B, model.C, model.variant
    _import_torch()  # before the work: a missing PyTorch is reported first
    loss, grads = model_loss_and_grads(model)
    ref_loss, ref_grads = torch_loss_and_grads(
        xv, Av, Bv, Cv, activation=v.activation, convention=v.convention, target=v.target
    )
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
