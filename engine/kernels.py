"""The training's hot arithmetic: one mini-batch's loss, gradients and update, laid out for CPython.

Same formulas as :mod:`engine.model`, for every member of the family (:mod:`engine.variant`), and
the same left-to-right order of every sum, so on CPython 3.11 the results are bit-identical to
summing ``engine.model.forward``/``backward`` sample by sample (from 3.12 on, ``sum()`` compensates
its rounding and the two may differ in the last bit). Only the layout differs. Two layouts:

**Unrolled (K ≤ UNROLL_MAX_K = 64, the common case).** For each K and variant a straight-line
function is generated (:mod:`engine.kernel_source`): the weights are unpacked into local
variables, each sample's forward and backward pass is written out entry by entry with σ and σ′
inlined, and the batch sums of the gradients are K² local accumulators per matrix. No lists are
built per sample, no index arithmetic, no attribute or global look-ups: every operation is a
float multiply or add on locals, which is the cheapest thing CPython does. The source depends on
K and the variant's form alone (never on data, not even the target's values) and can be read
with :func:`kernel_source` and :func:`step_source`. Above K = 32 the batch loop is split (the
samples' vectors first, then each matrix's sums, two samples a turn; same arithmetic, same order).
Compiled code is kept on disk per Python version (:mod:`engine.kernel_cache`), so only a
machine's first run pays for compiling.

**Columns (larger K).** Each forward entry is one ``sum(map(mul, row, column))`` (the loop runs
in C; for row vectors the weights are transposed once per batch); the per-sample backward terms
are collected as rows and transposed once, so the batch sums of the gradients are K² dot products
of batch columns, e.g. ``ΣdA_ij = Σ_s x_si · σ'(a_sj) g_sj = dot(Xcol_i, SGcol_j)``, instead of
per-sample outer products. A batch of one or two samples adds its outer products row by row
instead (a dot product of one or two numbers costs more in calls than it saves).

``tests/bench/bench_training.py`` measures both against pure-Python references.
Inputs are assumed valid (see :func:`engine.model.validate_model`).
"""

from __future__ import annotations

import marshal
import math
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache, partial
from itertools import chain
from operator import add, mul, sub
from types import CodeType
from typing import TypeAlias

from backprop_lab.engine import kernel_cache
from backprop_lab.engine.kernel_source import (
    UNROLL_MAX_K,
    fingerprint,
    forward_source,
    kernel_source,
    sample_source,
    step_source,
)
from backprop_lab.engine.shapes import Matrix
from backprop_lab.engine.variant import DEFAULT_VARIANT, Variant

__all__ = [
    "UNROLL_MAX_K",
    "batch_mean_loss_and_grads",
    "batch_sums",
    "batch_sums_columns",
    "compile_in_subprocess",
    "forward_source",
    "kernel_source",
    "loss_at",
    "loss_at_columns",
    "sample_function",
    "step_columns",
    "step_function",
    "step_source",
]

Rows: TypeAlias = Iterable[Sequence[float]]
#: (Σ_s L, Σ_s ∂L/∂A, Σ_s ∂L/∂B, Σ_s ∂L/∂C) over a batch.
Sums: TypeAlias = tuple[float, Matrix, Matrix, Matrix]
#: (batch loss, loss at x after, ‖gA‖, ‖gB‖, ‖gC‖, A', B', C', A' finite, B' finite, C' finite).
StepResult: TypeAlias = tuple[float, float, float, float, float, Matrix, Matrix, Matrix, bool, bool, bool]

#: step(X, A, B, C, x, lr) -> StepResult
StepFunction: TypeAlias = Callable[
    [Sequence[Sequence[float]], Matrix, Matrix, Matrix, Sequence[float], float], StepResult
]

#: Largest K at which the one-off evaluations (:func:`batch_sums`, :func:`loss_at`: the step-through,
#: the loss along the gradient) use generated code. A training run compiles its step ahead, in a
#: child process (:func:`compile_in_subprocess`); these are called on the spot, sometimes from the
#: window's thread, where a cold compile above K = 32 (0.2–0.5 s, holding the GIL) would freeze it.
EVALUATION_UNROLL_MAX_K = 32

_chain = chain.from_iterable
_hypot = math.hypot
_isfinite = math.isfinite


# --------------------------------------------------------------------------- entry points


def batch_sums(X: Rows, A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT) -> Sums:
    """Σ_s L(x_s) and Σ_s ∂L(x_s)/∂A, ∂B, ∂C over the rows of X (each a K-vector), in order.

    Sums, not means: the caller divides by the batch size.
    """
    k = len(A)
    if k <= min(UNROLL_MAX_K, EVALUATION_UNROLL_MAX_K):
        return unrolled_kernel(k, variant)(X, A, B, C)
    return batch_sums_columns(X, A, B, C, variant)


def batch_mean_loss_and_grads(
    X: Sequence[Sequence[float]], A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT
) -> tuple[float, Matrix, Matrix, Matrix]:
    """Mean loss and mean ∂L/∂A, ∂L/∂B, ∂L/∂C over the n ≥ 1 rows of X: each in-order sum divided by n."""
    n = len(X)
    loss, sA, sB, sC = batch_sums(X, A, B, C, variant)
    return loss / n, _div(sA, n), _div(sB, n), _div(sC, n)


def step_function(k: int, variant: Variant = DEFAULT_VARIANT) -> StepFunction:
    """One whole gradient-descent step for this K and variant: ``step(X, A, B, C, x, lr) -> StepResult``.

    With n = len(X) and the sums of :func:`batch_sums`: batch loss = ΣL/n; g = S/n for each
    matrix; the new weights θ − lr·g (new lists; the inputs are untouched); the Frobenius norm of
    each g; whether each new matrix is all finite; and L(x) with the new weights (NaN unless all
    three are finite). The caller decides what is divergence.
    """
    if k <= UNROLL_MAX_K:
        return _unrolled_step(k, variant)
    return step_columns if variant.is_default else partial(step_columns, variant=variant)


def loss_at(x: Sequence[float], A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT) -> float:
    """L(x) for one input (the forward pass only), summed in engine.model's order."""
    k = len(x)
    if k <= min(UNROLL_MAX_K, EVALUATION_UNROLL_MAX_K):
        return _unrolled_forward(k, variant)(x, A, B, C)
    return loss_at_columns(x, A, B, C, variant)


#: grads(x, A, B, C) -> (loss, ∂L/∂A, ∂L/∂B, ∂L/∂C) for one input.
SampleFunction: TypeAlias = Callable[[Sequence[float], Matrix, Matrix, Matrix], Sums]


def sample_function(k: int, variant: Variant = DEFAULT_VARIANT) -> SampleFunction | None:
    """Generated code for one sample's loss and gradients, bit for bit engine.model's forward and
    backward passes (:func:`engine.kernel_source.sample_source`); None above
    :data:`EVALUATION_UNROLL_MAX_K`, where compiling it on the spot would cost more than it saves."""
    if k > min(UNROLL_MAX_K, EVALUATION_UNROLL_MAX_K):
        return None
    return _unrolled_sample(k, variant)


def _div(m: Matrix, n: int) -> Matrix:
    return [[v / n for v in row] for row in m]


# --------------------------------------------------------------------------- unrolled, compiled once


#: Code objects compiled in a child process by :func:`compile_in_subprocess` or read from the
#: disk cache ahead of first use, by (name, K, form).
_PRECOMPILED: dict[tuple[str, int, str], CodeType] = {}
#: (name, K, form) of every generated function compiled (or taken from _PRECOMPILED) so far.
_COMPILED: set[tuple[str, int, str]] = set()
_SOURCES: dict[str, Callable[[int, Variant], str]] = {
    "kernel": kernel_source,
    "step": step_source,
    "loss": forward_source,
    "grads": sample_source,
}
#: Below this K compiling takes a few milliseconds: a child process would cost more than it saves.
SUBPROCESS_MIN_K = 12
_CHILD = (
    "import marshal,sys;sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(),sys.argv[1],'exec')))"
)


def _form(variant: Variant) -> str:
    """What the source depends on: "" for the report's own member, else e.g. " tanh column target"."""
    if variant.is_default:
        return ""
    return f" {variant.activation} {variant.convention}" + (" target" if variant.target is not None else "")


def _filename(name: str, k: int, form: str = "") -> str:
    return f"<engine.kernels {name} K={k}{form}>"


def compile_in_subprocess(
    k: int,
    names: Sequence[str] | None = None,
    timeout: float = 120.0,
    variant: Variant = DEFAULT_VARIANT,
) -> bool:
    """Make this K's generated functions for the variant ready for first use, off this thread's GIL.

    ``compile()`` is one C call that holds the GIL from start to end (about 0.1 s for the K = 32
    step on a fast idle machine, a second at K = 64, more on a busy one), so compiling on a worker
    thread still freezes every other thread, the window's included. The code comes from the disk
    cache when it is there (:mod:`engine.kernel_cache`, a few ms); otherwise a child process
    compiles it while this thread waits without the GIL, and the result is loaded with ``marshal``
    and kept in the disk cache for the next time.

    ``names`` defaults to what a run uses: the step, and the loss where :func:`loss_at` takes the
    generated code (K ≤ :data:`EVALUATION_UNROLL_MAX_K`). Returns True when every name is ready;
    False (nothing changes, the functions are compiled on first use as usual) when K needs no
    generated code, is small, or the child fails.
    """
    if names is None:
        names = ("step", "loss") if k <= EVALUATION_UNROLL_MAX_K else ("step",)
    form = _form(variant)
    todo = [n for n in names if (n, k, form) not in _COMPILED and (n, k, form) not in _PRECOMPILED]
    if k > UNROLL_MAX_K or k < SUBPROCESS_MIN_K or not todo:
        return not todo
    for name in todo:
        key, filename = _cache_key(name, k, variant), _filename(name, k, form)
        code = kernel_cache.load(key, filename, generation=_generation())
        if code is None:
            code = _compile_in_child(_SOURCES[name](k, variant), filename, timeout)
            if code is None:
                return False
            kernel_cache.store(key, filename, code, generation=_generation())
        _PRECOMPILED[(name, k, form)] = code
    return True


def _compile_in_child(source: str, filename: str, timeout: float) -> CodeType | None:
    if not sys.executable or getattr(sys, "frozen", False):  # no Python to start (a frozen app)
        return None
    try:
        child = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _CHILD, filename],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=True,
        )
        code = marshal.loads(child.stdout)
    except (OSError, subprocess.SubprocessError, ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def _code(name: str, k: int, variant: Variant) -> CodeType:
    """The compiled source of this generated function: made ahead, from the disk cache, or compiled now."""
    form = _form(variant)
    filename = _filename(name, k, form)
    code = _PRECOMPILED.pop((name, k, form), None)
    if code is None:
        key = _cache_key(name, k, variant)
        code = kernel_cache.load(key, filename, generation=_generation())
        if code is None:
            code = compile(_SOURCES[name](k, variant), filename, "exec")
            kernel_cache.store(key, filename, code, generation=_generation())
    _COMPILED.add((name, k, form))
    return code


def _generation() -> str:
    """The generator's version in the cache's file names (older versions' entries get removed)."""
    made_from = fingerprint()
    return made_from.hex()[:12] if made_from is not None else ""


def _cache_key(name: str, k: int, variant: Variant) -> bytes:
    """What determines this function's source: the generator's fingerprint (with the file name,
    which names the function, K and the form, it is enough), or failing that the source itself."""
    made_from = fingerprint()
    return made_from if made_from is not None else _SOURCES[name](k, variant).encode("utf-8")


def _function(name: str, k: int, variant: Variant) -> Callable[..., object]:
    namespace: dict[str, object] = {
        "exp": math.exp,
        "tanh": math.tanh,
        "log1p": math.log1p,
        "hypot": math.hypot,
        "isfinite": math.isfinite,
        "nan": math.nan,
        "t": variant.target,  # bound as a default argument: the source is the same for every t
    }
    exec(_code(name, k, variant), namespace)
    function = namespace[name]
    assert callable(function)
    return function


@lru_cache(maxsize=8)
def unrolled_kernel(
    k: int, variant: Variant = DEFAULT_VARIANT
) -> Callable[[Rows, Matrix, Matrix, Matrix], Sums]:
    """The compiled :func:`kernel_source` for this K and variant (cached)."""
    return _function("kernel", k, variant)  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _unrolled_step(k: int, variant: Variant = DEFAULT_VARIANT) -> StepFunction:
    return _function("step", k, variant)  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _unrolled_sample(k: int, variant: Variant = DEFAULT_VARIANT) -> SampleFunction:
    return _function("grads", k, variant)  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _unrolled_forward(
    k: int, variant: Variant = DEFAULT_VARIANT
) -> Callable[[Sequence[float], Matrix, Matrix, Matrix], float]:
    return _function("loss", k, variant)  # type: ignore[return-value]


# --------------------------------------------------------------------------- columns, any K


#: A batch smaller than this adds its outer products row by row instead of taking K² dot products.
_OUTER_BELOW = 3


def _sigma_prime_times_g(variant: Variant, a: list[float], y: list[float], g: list[float]) -> list[float]:
    """σ′(a_j)·g_j for each unit, as engine.model computes σ′ (the sigmoid's and tanh's from y)."""
    name = variant.activation
    if name == "sigmoid":
        return [s * (1.0 - s) * gj for s, gj in zip(y, g, strict=True)]
    if name == "tanh":
        return [(1.0 - s * s) * gj for s, gj in zip(y, g, strict=True)]
    if name == "identity":
        return g
    prime = variant.sigma.derivative
    return [prime(aj) * gj for aj, gj in zip(a, g, strict=True)]


def _forward_columns(
    x: Sequence[float], ins: tuple[Sequence[Sequence[float]], ...], variant: Variant
) -> tuple[list[float], list[float], list[float], list[float]]:
    """(a, y, z, w) for one input; ``ins`` holds what each product takes dot products with."""
    _sum, _map, _mul = sum, map, mul
    Ia, Ib, Ic = ins
    a = [_sum(_map(_mul, x, col)) for col in Ia]
    y = list(_map(variant.sigma.function, a))
    u = [_sum(_map(_mul, x, col)) for col in Ib]
    z = list(_map(add, y, u))
    w = [_sum(_map(_mul, z, col)) for col in Ic]
    return a, y, z, w


def _operands(A: Matrix, B: Matrix, C: Matrix, variant: Variant) -> tuple[Sequence[Sequence[float]], ...]:
    """For a, u, w and g, the rows each entry is a dot product with.

    Row vectors (a_j = Σ_i x_i A_ij, g_i = Σ_j C_ij d_j): the columns of A, B, C, then the rows of C.
    Column vectors (a_i = Σ_j A_ij x_j, g_j = Σ_i d_i C_ij): the rows of A, B, C, then the columns of C.
    """
    if variant.row:
        return list(zip(*A, strict=True)), list(zip(*B, strict=True)), list(zip(*C, strict=True)), C
    return A, B, C, list(zip(*C, strict=True))


def batch_sums_columns(X: Rows, A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT) -> Sums:
    """:func:`batch_sums` with the column layout (any K; used above :data:`UNROLL_MAX_K`)."""
    _sum, _map, _mul = sum, map, mul
    Ia, Ib, Ic, Ig = _operands(A, B, C, variant)
    target = variant.target
    rows: list[Sequence[float]] = []
    Z: list[list[float]] = []
    DW: list[list[float]] = []
    G: list[list[float]] = []
    SG: list[list[float]] = []
    loss = 0.0
    for x in X:
        a, y, z, w = _forward_columns(x, (Ia, Ib, Ic), variant)
        r = w if target is None else list(_map(sub, w, target))  # w − t
        loss += _sum(_map(_mul, r, r))
        dw = [2.0 * rj for rj in r]
        g = [_sum(_map(_mul, dw, col)) for col in Ig]  # g = ∂L/∂z (products commute: the same bits)
        rows.append(x)
        Z.append(z)
        DW.append(dw)
        G.append(g)
        SG.append(_sigma_prime_times_g(variant, a, y, g))
    # Row vectors: ΣdA_ij = Σ_s x_si sg_sj, ΣdB_ij = Σ_s x_si g_sj, ΣdC_ij = Σ_s z_si dw_sj.
    # Column vectors: the same with the two factors swapped (σ′(a_i) g_i x_j, g_i x_j, dw_i z_j).
    pairs = ((rows, SG), (rows, G), (Z, DW)) if variant.row else ((SG, rows), (G, rows), (DW, Z))
    if len(rows) < _OUTER_BELOW:
        return (loss, *(_outer_sums(left, right) for left, right in pairs))  # type: ignore[return-value]
    sA, sB, sC = (_column_sums(left, right) for left, right in pairs)
    return loss, sA, sB, sC


def _column_sums(left: Sequence[Sequence[float]], right: Sequence[Sequence[float]]) -> Matrix:
    """Σ_s left_si · right_sj for every i, j: K² dot products of batch columns."""
    _sum, _map, _mul = sum, map, mul
    Lc = list(zip(*left, strict=True))
    Rc = list(zip(*right, strict=True))
    return [[_sum(_map(_mul, li, rj)) for rj in Rc] for li in Lc]


def _outer_sums(left: Sequence[Sequence[float]], right: Sequence[Sequence[float]]) -> Matrix:
    """Σ_s left_si · right_sj for every i, j, one sample's outer product added at a time."""
    first, *rest = zip(left, right, strict=True)
    # The first product is the sum itself (0.0 + v == v, up to the sign of a zero).
    total = [[li * rj for rj in first[1]] for li in first[0]]
    for ls, rs in rest:
        total = [
            [t + li * rj for t, rj in zip(trow, rs, strict=True)] for trow, li in zip(total, ls, strict=True)
        ]
    return total


def loss_at_columns(
    x: Sequence[float], A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT
) -> float:
    """:func:`loss_at` with one ``sum(map(mul, …))`` per entry (any K)."""
    ins = _operands(A, B, C, variant)[:3]
    w = _forward_columns(x, ins, variant)[3]
    r = w if variant.target is None else list(map(sub, w, variant.target))
    loss: float = sum(map(mul, r, r))
    return loss


def mean_step(W: Matrix, S: Matrix, n: int, lr: float) -> tuple[float, Matrix, bool]:
    """From a weight W and its batch gradient sum S: (‖S/n‖_F, W − lr·(S/n), whether that is all finite)."""
    G = _div(S, n) if n != 1 else S  # x / 1 is x, bit for bit
    new = [[w - lr * g for w, g in zip(rw, rg, strict=True)] for rw, rg in zip(W, G, strict=True)]
    return _hypot(*_chain(G)), new, all(map(_isfinite, _chain(new)))


def step_columns(
    X: Sequence[Sequence[float]],
    A: Matrix,
    B: Matrix,
    C: Matrix,
    x: Sequence[float],
    lr: float,
    variant: Variant = DEFAULT_VARIANT,
) -> StepResult:
    """:func:`step_function`'s step with the column layout (any K)."""
    n = len(X)
    loss, sA, sB, sC = batch_sums_columns(X, A, B, C, variant)
    nA, A2, okA = mean_step(A, sA, n, lr)
    nB, B2, okB = mean_step(B, sB, n, lr)
    nC, C2, okC = mean_step(C, sC, n, lr)
    loss_x = loss_at_columns(x, A2, B2, C2, variant) if okA and okB and okC else math.nan
    return loss / n, loss_x, nA, nB, nC, A2, B2, C2, okA, okB, okC


# --------------------------------------------------------------------------- small helpers


def axpy_update(W: Matrix, G: Matrix, lr: float) -> Matrix:
    """W − lr·G, entry by entry, as new lists."""
    return [[wij - lr * gij for wij, gij in zip(rw, rg, strict=True)] for rw, rg in zip(W, G, strict=True)]


def frobenius(m: Matrix) -> float:
    """‖m‖_F (math.hypot scales internally, so large finite entries do not overflow)."""
    return _hypot(*_chain(m))


def all_finite(m: Matrix) -> bool:
    return all(map(_isfinite, _chain(m)))
