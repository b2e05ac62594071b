"""The training's hot arithmetic: one mini-batch's loss, gradients and update, laid out for CPython.

Same formulas as :mod:`engine.model` (row vectors; a = xA, y = σ(a), u = xB, z = y + u,
w = zC, L = Σw²) and the same left-to-right order of every sum, so on CPython 3.11 the results
are bit-identical to summing ``engine.model.loss_and_grads`` sample by sample (from 3.12 on,
``sum()`` compensates its rounding and the two may differ in the last bit). Only the layout
differs. Two layouts:

**Unrolled (K ≤ UNROLL_MAX_K, the common case).** For each K a straight-line function is
generated once and cached: the weights are unpacked into local variables, each sample's
forward and backward pass is written out entry by entry, and the batch sums of the gradients
are K² local accumulators per matrix. No lists are built per sample, no index arithmetic, no
attribute or global look-ups: every operation is a float multiply or add on locals, which is
the cheapest thing CPython does. The source is generated from K alone (never from data) and
can be read with :func:`kernel_source` and :func:`step_source`.

**Columns (larger K).** The weights are transposed once per batch, so each forward entry is one
``sum(map(mul, row, column))`` (the loop runs in C); the per-sample backward terms are collected
as rows and transposed once, so the batch sums of the gradients are K² dot products of batch
columns, e.g. ``ΣdA_ij = Σ_s x_si · σ'(a_sj) g_sj = dot(Xcol_i, SGcol_j)``, instead of per-sample
outer products.

``tests/bench/bench_training.py`` measures both against a report-style implementation.
Inputs are assumed valid (see :func:`engine.model.validate_model`).
"""

from __future__ import annotations

import marshal
import math
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import chain
from operator import add, mul
from types import CodeType
from typing import TypeAlias

from backprop_lab.engine.model import Matrix, backward, forward
from backprop_lab.engine.variant import DEFAULT_VARIANT, Variant, sigmoid

#: Largest K with generated, unrolled kernels. They beat the columns at every K measured (~4× at
#: K = 3, ~1.4× from 16 to 64), but the source grows as K² lines and is compiled on first use (once
#: per K per process): ~10 ms at K = 3, ~60 ms at 16, ~0.16 s at 32, ~0.9 s at 64. Past 32 the wait
#: costs more than a default run gains.
UNROLL_MAX_K = 32

Rows: TypeAlias = Iterable[Sequence[float]]
#: (Σ_s L, Σ_s ∂L/∂A, Σ_s ∂L/∂B, Σ_s ∂L/∂C) over a batch.
Sums: TypeAlias = tuple[float, Matrix, Matrix, Matrix]
#: (batch loss, loss at x after, ‖gA‖, ‖gB‖, ‖gC‖, A', B', C', A' finite, B' finite, C' finite).
StepResult: TypeAlias = tuple[float, float, float, float, float, Matrix, Matrix, Matrix, bool, bool, bool]

#: step(X, A, B, C, x, lr) -> StepResult
StepFunction: TypeAlias = Callable[
    [Sequence[Sequence[float]], Matrix, Matrix, Matrix, Sequence[float], float], StepResult
]

_chain = chain.from_iterable
_hypot = math.hypot
_isfinite = math.isfinite


# --------------------------------------------------------------------------- entry points


def batch_sums(X: Rows, A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT) -> Sums:
    """Σ_s L(x_s) and Σ_s ∂L(x_s)/∂A, ∂B, ∂C over the rows of X (each a K-vector), in order.

    Sums, not means: the caller divides by the batch size.
    """
    if not variant.is_default:
        return batch_sums_generic(X, A, B, C, variant)
    k = len(A)
    if k <= UNROLL_MAX_K:
        return unrolled_kernel(k)(X, A, B, C)
    return batch_sums_columns(X, A, B, C)


def batch_mean_loss_and_grads(
    X: Sequence[Sequence[float]], A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT
) -> tuple[float, Matrix, Matrix, Matrix]:
    """Mean loss and mean ∂L/∂A, ∂L/∂B, ∂L/∂C over the n ≥ 1 rows of X: each in-order sum divided by n."""
    n = len(X)
    loss, sA, sB, sC = batch_sums(X, A, B, C, variant)
    return loss / n, _div(sA, n), _div(sB, n), _div(sC, n)


def step_function(k: int, variant: Variant = DEFAULT_VARIANT) -> StepFunction:
    """One whole gradient-descent step for this K: ``step(X, A, B, C, x, lr) -> StepResult``.

    With n = len(X) and the sums of :func:`batch_sums`: batch loss = ΣL/n; g = S/n for each
    matrix; the new weights θ − lr·g (new lists; the inputs are untouched); the Frobenius norm of
    each g; whether each new matrix is all finite; and L(x) with the new weights (NaN unless all
    three are finite). The caller decides what is divergence.
    """
    if not variant.is_default:
        return _generic_step(variant)
    return _unrolled_step(k) if k <= UNROLL_MAX_K else step_columns


def loss_at(x: Sequence[float], A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT) -> float:
    """L(x) for one input (the forward pass only), summed in engine.model's order."""
    if not variant.is_default:
        return forward(list(x), A, B, C, variant)["loss"]
    k = len(x)
    if k <= UNROLL_MAX_K:
        return _unrolled_forward(k)(x, A, B, C)
    return loss_at_columns(x, A, B, C)


def _div(m: Matrix, n: int) -> Matrix:
    return [[v / n for v in row] for row in m]


# --------------------------------------------------------------------------- unrolled, generated per K


def _check_k(k: int) -> range:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= UNROLL_MAX_K:
        raise ValueError(f"K must be between 1 and {UNROLL_MAX_K} for an unrolled kernel (got {k!r})")
    return range(k)


def _unpack(r: range, name: str) -> str:
    # "((A0_0, A0_1, ), (A1_0, A1_1, ),) = A": the weights as locals.
    rows = ", ".join("(" + "".join(f"{name}{i}_{j}, " for j in r) + ")" for i in r)
    return f"({rows},) = {name}"


def _pack(r: range, name: str) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{name}{i}_{j}" for j in r) + "]" for i in r) + "]"


def _forward(r: range, x: str, A: str, B: str, C: str) -> list[str]:
    """Lines computing a_j, y_j, z_j and w_j from the locals x{i} and A{i}_{j}, B…, C…"""
    lines = []
    for j in r:
        # Every Σ is written left to right, the order in which sum() adds: the same rounding.
        lines.append(f"a{j} = " + " + ".join(f"{x}{i} * {A}{i}_{j}" for i in r))
        # engine.model.sigmoid, inlined: the exponent is never positive, so exp never overflows.
        lines += [
            f"if a{j} >= 0.0:",
            f"    y{j} = 1.0 / (1.0 + exp(-a{j}))",
            "else:",
            f"    e = exp(a{j})",
            f"    y{j} = e / (1.0 + e)",
        ]
        lines.append(f"z{j} = y{j} + (" + " + ".join(f"{x}{i} * {B}{i}_{j}" for i in r) + ")")
    lines += [f"w{j} = " + " + ".join(f"z{i} * {C}{i}_{j}" for i in r) for j in r]
    return lines


def _batch_loop(r: range) -> list[str]:
    """Lines (at function level) that sum the loss and the three gradients over the rows of X."""
    lines = [" = ".join(f"s{m}{i}_{j}" for m in "ABC" for i in r for j in r) + " = loss = 0.0"]
    lines.append(f"for ({''.join(f'x{i}, ' for i in r)}) in X:")
    body = _forward(r, "x", "A", "B", "C")
    body.append("loss += " + " + ".join(f"w{j} * w{j}" for j in r))
    body += [f"d{j} = 2.0 * w{j}" for j in r]  # ∂L/∂w_j
    body += [f"g{i} = " + " + ".join(f"C{i}_{j} * d{j}" for j in r) for i in r]  # g_i = Σ_j C_ij 2w_j
    body += [f"s{j} = y{j} * (1.0 - y{j}) * g{j}" for j in r]  # σ'(a_j)·g_j
    for i in r:
        for j in r:
            body += [f"sA{i}_{j} += x{i} * s{j}", f"sB{i}_{j} += x{i} * g{j}", f"sC{i}_{j} += z{i} * d{j}"]
    return lines + ["    " + line for line in body]


def _function(header: str, lines: list[str]) -> str:
    return header + "\n" + "".join(f"    {line}\n" for line in lines)


def kernel_source(k: int) -> str:
    """Python source of the unrolled :func:`batch_sums` for this K (``kernel(X, A, B, C)``).

    Names: ``A{i}_{j}`` the weights, ``x{i}`` the sample, ``a, y, z, w, d = 2w, g, s = σ'(a)·g``
    per unit as in :mod:`engine.model`, ``sA{i}_{j}`` … the batch sums of the gradients.
    """
    r = _check_k(k)
    lines = [_unpack(r, m) for m in "ABC"] + _batch_loop(r)
    lines.append(f"return loss, {_pack(r, 'sA')}, {_pack(r, 'sB')}, {_pack(r, 'sC')}")
    return _function("def kernel(X, A, B, C, exp=exp):", lines)


def step_source(k: int) -> str:
    """Python source of the unrolled :func:`step_function` for this K (``step(X, A, B, C, x, lr)``).

    The batch loop of :func:`kernel_source`, then in place: ``sA{i}_{j} /= n`` (the mean
    gradient), ``A{i}_{j} -= lr * sA{i}_{j}`` (the update), and the forward pass at x (``p{i}``).
    """
    r = _check_k(k)
    lines = [_unpack(r, m) for m in "ABC"] + _batch_loop(r)
    lines.append("n = len(X)")
    lines += [f"s{m}{i}_{j} /= n" for m in "ABC" for i in r for j in r]
    lines += [f"{m}{i}_{j} -= lr * s{m}{i}_{j}" for m in "ABC" for i in r for j in r]
    for m in "ABC":
        lines.append(f"ok{m} = all(map(isfinite, (" + "".join(f"{m}{i}_{j}, " for i in r for j in r) + ")))")
    lines.append("if okA and okB and okC:")
    lines.append(f"    ({''.join(f'p{i}, ' for i in r)}) = x")
    lines += ["    " + line for line in _forward(r, "p", "A", "B", "C")]
    lines.append("    loss_x = " + " + ".join(f"w{j} * w{j}" for j in r))
    lines += ["else:", "    loss_x = nan"]
    norms = ", ".join("hypot(" + "".join(f"s{m}{i}_{j}, " for i in r for j in r) + ")" for m in "ABC")
    weights = ", ".join(_pack(r, m) for m in "ABC")
    lines.append(f"return loss / n, loss_x, {norms}, {weights}, okA, okB, okC")
    return _function("def step(X, A, B, C, x, lr, exp=exp, hypot=hypot, isfinite=isfinite, nan=nan):", lines)


def forward_source(k: int) -> str:
    """Python source of the unrolled :func:`loss_at` for this K (``loss(x, A, B, C)``)."""
    r = _check_k(k)
    lines = [f"({''.join(f'x{i}, ' for i in r)}) = x"] + [_unpack(r, m) for m in "ABC"]
    lines += _forward(r, "x", "A", "B", "C")
    lines.append("return " + " + ".join(f"w{j} * w{j}" for j in r))
    return _function("def loss(x, A, B, C, exp=exp):", lines)


#: Code objects compiled in a child process by :func:`compile_in_subprocess`, by (name, K).
_PRECOMPILED: dict[tuple[str, int], CodeType] = {}
#: (name, K) of every generated function compiled (or taken from _PRECOMPILED) so far.
_COMPILED: set[tuple[str, int]] = set()
_SOURCES: dict[str, Callable[[int], str]] = {
    "kernel": kernel_source,
    "step": step_source,
    "loss": forward_source,
}
#: Below this K compiling takes a few milliseconds: a child process would cost more than it saves.
SUBPROCESS_MIN_K = 12
_CHILD = (
    "import marshal,sys;sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(),sys.argv[1],'exec')))"
)


def compile_in_subprocess(k: int, names: Sequence[str] = ("step", "loss"), timeout: float = 120.0) -> bool:
    """Compile this K's generated functions in a child Python process, ready for first use.

    ``compile()`` is one C call that holds the GIL from start to end (about 0.1 s for the K = 32
    step on a fast idle machine, seconds on a slow or busy one), so compiling on a worker thread
    still freezes every other thread, the window's included. A child process compiles instead;
    this thread waits for it without the GIL and loads the result with ``marshal`` (~1 ms).

    Returns True when every name is ready; False (nothing changes, the functions are compiled
    on first use as usual) when K needs no generated code, is small, or the child fails.
    """
    todo = [n for n in names if (n, k) not in _COMPILED and (n, k) not in _PRECOMPILED]
    if k > UNROLL_MAX_K or k < SUBPROCESS_MIN_K or not todo:
        return not todo
    if not sys.executable or getattr(sys, "frozen", False):  # no Python to start (a frozen app)
        return False
    for name in todo:
        try:
            child = subprocess.run(
                [sys.executable, "-I", "-S", "-c", _CHILD, _filename(name, k)],
                input=_SOURCES[name](k).encode("utf-8"),
                capture_output=True,
                timeout=timeout,
                check=True,
            )
            code = marshal.loads(child.stdout)
        except (OSError, subprocess.SubprocessError, ValueError, EOFError, TypeError):
            return False
        if not isinstance(code, CodeType):
            return False
        _PRECOMPILED[(name, k)] = code
    return True


def _filename(name: str, k: int) -> str:
    return f"<engine.kernels {name} K={k}>"


def _compile(source: str, name: str, k: int) -> Callable[..., object]:
    namespace: dict[str, object] = {
        "exp": math.exp,
        "hypot": math.hypot,
        "isfinite": math.isfinite,
        "nan": math.nan,
    }
    code = _PRECOMPILED.pop((name, k), None)
    exec(code if code is not None else compile(source, _filename(name, k), "exec"), namespace)
    _COMPILED.add((name, k))
    function = namespace[name]
    assert callable(function)
    return function


@lru_cache(maxsize=8)
def unrolled_kernel(k: int) -> Callable[[Rows, Matrix, Matrix, Matrix], Sums]:
    """The compiled :func:`kernel_source` for this K (cached)."""
    return _compile(kernel_source(k), "kernel", k)  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _unrolled_step(k: int) -> StepFunction:
    return _compile(step_source(k), "step", k)  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _unrolled_forward(k: int) -> Callable[[Sequence[float], Matrix, Matrix, Matrix], float]:
    return _compile(forward_source(k), "loss", k)  # type: ignore[return-value]


# --------------------------------------------------------------------------- columns, any K


def batch_sums_columns(X: Rows, A: Matrix, B: Matrix, C: Matrix) -> Sums:
    """:func:`batch_sums` with the column layout (any K; used above :data:`UNROLL_MAX_K`)."""
    _sum, _map, _mul, _add, _sig = sum, map, mul, add, sigmoid
    AT = list(zip(*A, strict=True))
    BT = list(zip(*B, strict=True))
    CT = list(zip(*C, strict=True))
    rows: list[Sequence[float]] = []
    Z: list[list[float]] = []
    DW: list[list[float]] = []
    G: list[list[float]] = []
    SG: list[list[float]] = []
    loss = 0.0
    for x in X:
        a = [_sum(_map(_mul, x, col)) for col in AT]
        y = list(_map(_sig, a))
        u = [_sum(_map(_mul, x, col)) for col in BT]
        z = list(_map(_add, y, u))
        w = [_sum(_map(_mul, z, col)) for col in CT]
        loss += _sum(_map(_mul, w, w))
        dw = [2.0 * wj for wj in w]
        g = [_sum(_map(_mul, row, dw)) for row in C]
        rows.append(x)
        Z.append(z)
        DW.append(dw)
        G.append(g)
        SG.append([s * (1.0 - s) * gj for s, gj in zip(y, g, strict=True)])
    Xc = list(zip(*rows, strict=True))
    Zc = list(zip(*Z, strict=True))
    DWc = list(zip(*DW, strict=True))
    Gc = list(zip(*G, strict=True))
    SGc = list(zip(*SG, strict=True))
    sA = [[_sum(_map(_mul, xi, sj)) for sj in SGc] for xi in Xc]
    sB = [[_sum(_map(_mul, xi, gj)) for gj in Gc] for xi in Xc]
    sC = [[_sum(_map(_mul, zi, dwj)) for dwj in DWc] for zi in Zc]
    return loss, sA, sB, sC


def loss_at_columns(x: Sequence[float], A: Matrix, B: Matrix, C: Matrix) -> float:
    """:func:`loss_at` with one ``sum(map(mul, …))`` per entry (any K)."""
    a = [sum(map(mul, x, col)) for col in zip(*A, strict=True)]
    u = [sum(map(mul, x, col)) for col in zip(*B, strict=True)]
    z = list(map(add, map(sigmoid, a), u))
    w = [sum(map(mul, z, col)) for col in zip(*C, strict=True)]
    loss: float = sum(map(mul, w, w))
    return loss


def mean_step(W: Matrix, S: Matrix, n: int, lr: float) -> tuple[float, Matrix, bool]:
    """From a weight W and its batch gradient sum S: (‖S/n‖_F, W − lr·(S/n), whether that is all finite)."""
    G = _div(S, n)
    new = [[w - lr * g for w, g in zip(rw, rg, strict=True)] for rw, rg in zip(W, G, strict=True)]
    return _hypot(*_chain(G)), new, all(map(_isfinite, _chain(new)))


def step_columns(
    X: Sequence[Sequence[float]], A: Matrix, B: Matrix, C: Matrix, x: Sequence[float], lr: float
) -> StepResult:
    """:func:`step_function`'s step with the column layout (any K)."""
    n = len(X)
    loss, sA, sB, sC = batch_sums_columns(X, A, B, C)
    nA, A2, okA = mean_step(A, sA, n, lr)
    nB, B2, okB = mean_step(B, sB, n, lr)
    nC, C2, okC = mean_step(C, sC, n, lr)
    loss_x = loss_at_columns(x, A2, B2, C2) if okA and okB and okC else math.nan
    return loss / n, loss_x, nA, nB, nC, A2, B2, C2, okA, okB, okC


# --------------------------------------------------------------------------- any variant, plainly


def batch_sums_generic(X: Rows, A: Matrix, B: Matrix, C: Matrix, variant: Variant) -> Sums:
    """:func:`batch_sums` for any variant through :func:`engine.model.forward` and ``backward``."""
    k = len(A)
    loss = 0.0
    sA = [[0.0] * k for _ in range(k)]
    sB = [[0.0] * k for _ in range(k)]
    sC = [[0.0] * k for _ in range(k)]
    for x in X:
        xv = list(x)
        values = forward(xv, A, B, C, variant)
        grads = backward(xv, C, values, variant)
        loss += values["loss"]
        for total, grad in ((sA, grads["dA"]), (sB, grads["dB"]), (sC, grads["dC"])):
            for trow, grow in zip(total, grad, strict=True):
                trow[:] = map(add, trow, grow)
    return loss, sA, sB, sC


def _generic_step(variant: Variant) -> StepFunction:
    def step(
        X: Sequence[Sequence[float]], A: Matrix, B: Matrix, C: Matrix, x: Sequence[float], lr: float
    ) -> StepResult:
        n = len(X)
        loss, sA, sB, sC = batch_sums_generic(X, A, B, C, variant)
        nA, A2, okA = mean_step(A, sA, n, lr)
        nB, B2, okB = mean_step(B, sB, n, lr)
        nC, C2, okC = mean_step(C, sC, n, lr)
        loss_x = forward(list(x), A2, B2, C2, variant)["loss"] if okA and okB and okC else math.nan
        return loss / n, loss_x, nA, nB, nC, A2, B2, C2, okA, okB, okC

    return step


# --------------------------------------------------------------------------- small helpers


def axpy_update(W: Matrix, G: Matrix, lr: float) -> Matrix:
    """W − lr·G, entry by entry, as new lists."""
    return [[wij - lr * gij for wij, gij in zip(rw, rg, strict=True)] for rw, rg in zip(W, G, strict=True)]


def frobenius(m: Matrix) -> float:
    """‖m‖_F (math.hypot scales internally, so large finite entries do not overflow)."""
    return _hypot(*_chain(m))


def all_finite(m: Matrix) -> bool:
    return all(map(_isfinite, _chain(m)))
