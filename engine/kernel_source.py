"""The Python source of the generated, straight-line training kernels, for every member of the family.

For each K and each *form* of a variant (its activation, its convention, and whether it has a
target) this module writes four functions out entry by entry, in the names of
:mod:`engine.model`:

``kernel(X, A, B, C)``
    Σ_s L(x_s) and the batch sums Σ_s ∂L/∂A, ∂B, ∂C over the rows of X.
``step(X, A, B, C, x, lr)``
    the same batch loop, then the mean gradient, the update, the norms, the finiteness checks
    and L(x) with the new weights (see :func:`engine.kernels.step_function`).
``loss(x, A, B, C)``
    L(x), the forward pass only.
``grads(x, A, B, C)``
    one sample's loss and gradients, bit for bit :func:`engine.model.loss_and_grads`'s.

The weights are unpacked into locals (``A{i}_{j}``), every Σ is written left to right (the
order in which ``sum()`` adds in :mod:`engine.model`, so on CPython 3.11 the results are the
same bits), σ and σ′ are inlined, and a target's entries are locals ``t{j}`` unpacked from the
default argument ``t`` (bound when the code is turned into a function): the source depends on K
and the form alone, never on data, so one compiled code object serves every target of that
length and can be cached on disk (:mod:`engine.kernel_cache`).

The report's own member (sigmoid, row vectors, no target) is written exactly as before the
family existed up to K = 32. Above that (:data:`PHASED_MIN_K`) the batch loop takes another form,
the same arithmetic in the same order in four loops (:func:`_batch_phases`): ~12% less time for a
step of 32 samples at K = 64 (docs/performance.md), about 10% more for a batch of one.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from backprop_lab.engine.variant import DEFAULT_VARIANT, SOFTPLUS_THRESHOLD, Variant

__all__ = [
    "UNROLL_MAX_K",
    "fingerprint",
    "forward_source",
    "helpers",
    "kernel_source",
    "sample_source",
    "step_source",
]

#: Largest K with generated, unrolled kernels. They beat the column layout at every K measured; the
#: cost is compiling (as K² lines: ~10 ms at K = 3, ~0.2 s at 32, ~1 s at 64, once per K and form),
#: which :mod:`engine.kernel_cache` pays once per machine and Python version.
UNROLL_MAX_K = 64

#: Above this K the batch loop sums the gradients in loops of their own, two samples a turn
#: (:func:`_batch_phases`). Up to it the source stays the per-sample form of the report's variant.
PHASED_MIN_K = 32

#: The names each activation's inlined code calls (bound as default arguments: fast locals).
_ACTIVATION_HELPERS = {
    "sigmoid": ("exp",),
    "tanh": ("tanh",),
    "relu": (),
    "softplus": ("exp", "log1p"),
    "identity": (),
}


@lru_cache(maxsize=1)
def fingerprint() -> bytes | None:
    """A SHA-256 of everything the generated source is made from besides K and the form: this
    file's own text and the one number it takes from elsewhere (softplus's threshold). None when
    the file cannot be read (then the caller hashes the generated source itself).

    Generating the source takes longer than loading its compiled code (36 ms against 10 ms for
    the K = 64 step): a cached kernel is found by this, K and the form, without generating it.
    """
    try:
        text = Path(__file__).read_bytes()
    except OSError:
        return None
    return hashlib.sha256(text + b"\0" + repr(SOFTPLUS_THRESHOLD).encode()).digest()


def helpers(variant: Variant) -> tuple[str, ...]:
    """The math functions the kernels of this variant's activation call."""
    return _ACTIVATION_HELPERS[variant.activation]


def _check_k(k: int) -> range:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= UNROLL_MAX_K:
        raise ValueError(f"K must be between 1 and {UNROLL_MAX_K} for an unrolled kernel (got {k!r})")
    return range(k)


def _unpack(r: range, name: str) -> str:
    # "((A0_0, A0_1, ), (A1_0, A1_1, ),) = A": the weights as locals.
    rows = ", ".join("(" + "".join(f"{name}{i}_{j}, " for j in r) + ")" for i in r)
    return f"({rows},) = {name}"


def _unpack_vector(r: range, local: str, name: str) -> str:
    return f"({''.join(f'{local}{i}, ' for i in r)}) = {name}"


def _pack(r: range, name: str) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{name}{i}_{j}" for j in r) + "]" for i in r) + "]"


def _product(r: range, row: bool, v: str, M: str, out: int, start: str = "") -> str:
    """Entry ``out`` of the vector-matrix product: Σ_i v_i M_i,out (row) or Σ_j M_out,j v_j (column),
    after ``start`` ("0.0 + " where the sign of a zero sum must be sum()'s)."""
    if row:
        return start + " + ".join(f"{v}{i} * {M}{i}_{out}" for i in r)
    return start + " + ".join(f"{M}{out}_{j} * {v}{j}" for j in r)


def _activation(v: Variant, j: int, prime: bool) -> list[str]:
    """Lines computing y_j = σ(a_j) and, with ``prime`` where it is cheapest there, q_j = σ′(a_j).

    Each is engine.variant's σ (and σ′) inlined, with the same operations in the same order.
    """
    a, y, q = f"a{j}", f"y{j}", f"q{j}"
    name = v.activation
    if name == "sigmoid":  # the exponent is never positive, so exp never overflows
        return [
            f"if {a} >= 0.0:",
            f"    {y} = 1.0 / (1.0 + exp(-{a}))",
            "else:",
            f"    e = exp({a})",
            f"    {y} = e / (1.0 + e)",
        ]
    if name == "tanh":
        return [f"{y} = tanh({a})"]
    if name == "relu":  # σ′(0) = 0, as PyTorch takes it
        then, other = [f"    {y} = {a}"], [f"    {y} = 0.0"]
        if prime:
            then.append(f"    {q} = 1.0")
            other.append(f"    {q} = 0.0")
        return [f"if {a} > 0.0:", *then, "else:", *other]
    if name == "softplus":  # the identity above PyTorch's threshold; σ′ is the sigmoid, from the same e
        lines = [f"if {a} > {SOFTPLUS_THRESHOLD!r}:", f"    {y} = {a}"]
        lines += [f"    {q} = 1.0"] if prime else []
        lines += [f"elif {a} > 0.0:", f"    e = exp(-{a})", f"    {y} = {a} + log1p(e)"]
        lines += [f"    {q} = 1.0 / (1.0 + e)"] if prime else []
        lines += ["else:", f"    e = exp({a})", f"    {y} = log1p(e)"]
        lines += [f"    {q} = e / (1.0 + e)"] if prime else []
        return lines
    return []  # identity: y_j is a_j itself


def _sigma_prime_times_g(v: Variant, j: int) -> str | None:
    """The expression σ′(a_j)·g_j (None for the identity, where it is g_j itself)."""
    name = v.activation
    if name == "sigmoid":
        return f"y{j} * (1.0 - y{j}) * g{j}"
    if name == "tanh":
        return f"(1.0 - y{j} * y{j}) * g{j}"
    if name in ("relu", "softplus"):
        return f"q{j} * g{j}"
    return None


def _forward(r: range, v: Variant, x: str, prime: bool, z: str = "z", start: str = "") -> list[str]:
    """Lines computing a_j, y_j, z_j and w_j from the locals x{i} and A{i}_{j}, B…, C… (z_j as ``{z}{j}``)."""
    lines = []
    for j in r:
        # Every Σ is written left to right, the order in which sum() adds: the same rounding.
        lines.append(f"a{j} = " + _product(r, v.row, x, "A", j, start))
        lines += _activation(v, j, prime)
        y = "a" if v.activation == "identity" else "y"
        lines.append(f"{z}{j} = {y}{j} + (" + _product(r, v.row, x, "B", j, start) + ")")
    lines += [f"w{j} = " + _product(r, v.row, z, "C", j, start) for j in r]
    return lines


def _loss(r: range, v: Variant) -> tuple[list[str], str]:
    """(lines, expression) of L from the w{j}: Σ w_j², or Σ r_j² with the residuals r_j = w_j − t_j."""
    if v.target is None:
        return [], " + ".join(f"w{j} * w{j}" for j in r)
    return [f"r{j} = w{j} - t{j}" for j in r], " + ".join(f"r{j} * r{j}" for j in r)


def _sample(r: range, v: Variant, x: str = "x", z: str = "z", d: str = "d") -> tuple[list[str], str]:
    """Lines computing one sample's loss term and its vectors from the input's locals (``x{i}``; z and
    ∂L/∂w named ``z`` and ``d`` unless told), and the name of σ′(a)·g's locals: ``s``, or ``g``
    itself for the identity (σ′ = 1)."""
    body = _forward(r, v, x, prime=True, z=z)
    loss_lines, loss = _loss(r, v)
    body += loss_lines
    body.append(f"loss += {loss}")
    residual = "w" if v.target is None else "r"
    body += [f"{d}{j} = 2.0 * {residual}{j}" for j in r]  # ∂L/∂w_j = 2 (w_j − t_j)
    if v.row:
        body += [f"g{i} = " + " + ".join(f"C{i}_{j} * {d}{j}" for j in r) for i in r]  # g_i = Σ_j C_ij d_j
    else:
        body += [f"g{j} = " + " + ".join(f"{d}{i} * C{i}_{j}" for i in r) for j in r]  # g_j = Σ_i d_i C_ij
    if _sigma_prime_times_g(v, 0) is None:
        return body, "g"
    return body + [f"s{j} = {_sigma_prime_times_g(v, j)}" for j in r], "s"  # σ′(a_j)·g_j


def _accumulate(v: Variant, m: str, left: str, right: str, i: int, j: int) -> str:
    """Σ_s ∂L/∂M_ij += one sample's term. Row vectors: ∂L/∂A_ij = x_i σ′(a_j) g_j, ∂L/∂B_ij = x_i g_j,
    ∂L/∂C_ij = z_i d_j; column vectors: σ′(a_i) g_i x_j, g_i x_j, d_i z_j."""
    if v.row:
        return f"s{m}{i}_{j} += {left}{i} * {right}{j}"
    return f"s{m}{i}_{j} += {right}{i} * {left}{j}"


def _batch_loop(r: range, v: Variant) -> list[str]:
    """Lines (at function level) that sum the loss and the three gradients over the rows of X."""
    lines = [" = ".join(f"s{m}{i}_{j}" for m in "ABC" for i in r for j in r) + " = loss = 0.0"]
    if len(r) > PHASED_MIN_K:
        return lines + _batch_phases(r, v)
    lines.append(f"for ({''.join(f'x{i}, ' for i in r)}) in X:")
    body, s = _sample(r, v)
    for i in r:
        for j in r:
            body += [_accumulate(v, "A", "x", s, i, j), _accumulate(v, "B", "x", "g", i, j)]
            body.append(_accumulate(v, "C", "z", "d", i, j))
    return lines + ["    " + line for line in body]


def _hot_locals(r: range, v: Variant) -> list[str]:
    """For large K: a first line naming the locals of the batch loops in the order they read them.

    CPython numbers a function's locals in the order it meets them, and reading one numbered 256
    or above takes one more instruction (EXTENDED_ARG); with 6K² weights and sums as locals,
    naming the factors of the gradient sums' loops (4K) first spares it on half their reads. Then,
    for row vectors, the weights by columns, the order in which the forward pass reads them, so
    that its reads go through the frame's slots one after the other (4% of a K = 64 step)."""
    if len(r) <= PHASED_MIN_K:
        return []
    weights = [f"{m}{i}_{j}" for m in "ABC" for j in r for i in r] if v.row else []
    return [" = ".join([*(f"{n}{i}" for n in "LRMN" for i in r), *weights]) + " = 0.0"]


def _batch_phases(r: range, v: Variant) -> list[str]:
    """The batch loop for large K: one loop over the samples for their vectors (x, z, d, g, σ′(a)·g),
    then one loop per matrix for its gradient sums, each adding the samples in order as before.

    Each loop's code and sums are a third of the whole, so they stay closer to the processor. A sum
    takes two samples a turn, ``sA0_0 = sA0_0 + L0 * R0 + M0 * N0`` (row vectors; left to right,
    so the same two additions as two ``+=``, with a store and a load fewer); an odd batch gets a
    sample of zeros at the end, which adds +0.0 to sums that are never −0.0 (they start at +0.0
    and a sum of two numbers is −0.0 only when both are), so no sum changes. The factors are read
    as ``L``, ``R`` (the first sample of a turn) and ``M``, ``N`` (the second), which
    :func:`_hot_locals` numbers first; the first loop calls the sample's x, z and ∂L/∂w L, M and N
    for the same reason.
    """
    body, s = _sample(r, v, "L", "M", "N")
    lines = ["S, G, Z, D = [], [], [], []", f"for ({''.join(f'L{i}, ' for i in r)}) in X:"]
    kept = {s.upper(): s, "G": "g", "Z": "M", "D": "N"}  # what each list collects (S is G for the identity)
    body += [f"{name}.append(({''.join(f'{n}{i}, ' for i in r)}))" for name, n in sorted(kept.items())]
    lines += ["    " + line for line in body]
    lines += ["XS = list(X)", "if len(XS) % 2:", f"    O = (0.0,) * {len(r)}"]
    lines += [f"    {name}.append(O)" for name in ("XS", *sorted(kept))]
    unpack = ", ".join("(" + "".join(f"{n}{i}, " for i in r) + ")" for n in "LRMN")
    for m, left, right in (("A", "XS", s.upper()), ("B", "XS", "G"), ("C", "Z", "D")):
        lines.append(f"for {unpack} in zip({left}[0::2], {right}[0::2], {left}[1::2], {right}[1::2]):")
        for i in r:
            for j in r:
                if v.row:  # Σ_s left_si right_sj, as in _accumulate
                    lines.append(f"    s{m}{i}_{j} = s{m}{i}_{j} + L{i} * R{j} + M{i} * N{j}")
                else:  # Σ_s right_si left_sj
                    lines.append(f"    s{m}{i}_{j} = s{m}{i}_{j} + R{i} * L{j} + N{i} * M{j}")
    return lines


def _function(name: str, args: str, v: Variant, extra: tuple[str, ...], lines: list[str]) -> str:
    names = [*helpers(v), *extra] + (["t"] if v.target is not None else [])
    header = f"def {name}({', '.join([args, *(f'{h}={h}' for h in names)])}):"
    return header + "\n" + "".join(f"    {line}\n" for line in lines)


def _start(r: range, v: Variant) -> list[str]:
    lines = [_unpack(r, m) for m in "ABC"]
    return lines + ([_unpack_vector(r, "t", "t")] if v.target is not None else [])


def kernel_source(k: int, variant: Variant = DEFAULT_VARIANT) -> str:
    """Python source of the unrolled :func:`engine.kernels.batch_sums` (``kernel(X, A, B, C)``).

    Names: ``A{i}_{j}`` the weights, ``x{i}`` the sample, ``a, y, z, w`` per unit as in
    :mod:`engine.model`, ``q = σ′(a)`` where it is computed in the forward pass, ``r = w − t``,
    ``d = ∂L/∂w``, ``g = ∂L/∂z``, ``s = σ′(a)·g``, ``sA{i}_{j}`` … the batch sums of the gradients.
    """
    r = _check_k(k)
    lines = _hot_locals(r, variant) + _start(r, variant) + _batch_loop(r, variant)
    lines.append(f"return loss, {_pack(r, 'sA')}, {_pack(r, 'sB')}, {_pack(r, 'sC')}")
    return _function("kernel", "X, A, B, C", variant, (), lines)


def step_source(k: int, variant: Variant = DEFAULT_VARIANT) -> str:
    """Python source of the unrolled :func:`engine.kernels.step_function` (``step(X, A, B, C, x, lr)``).

    The batch loop of :func:`kernel_source`, then in place: ``sA{i}_{j} /= n`` (the mean
    gradient), ``A{i}_{j} -= lr * sA{i}_{j}`` (the update), and the forward pass at x (``p{i}``).
    """
    r = _check_k(k)
    lines = _hot_locals(r, variant) + _start(r, variant) + _batch_loop(r, variant)
    lines.append("n = len(X)")
    lines += [f"s{m}{i}_{j} /= n" for m in "ABC" for i in r for j in r]
    lines += [f"{m}{i}_{j} -= lr * s{m}{i}_{j}" for m in "ABC" for i in r for j in r]
    for m in "ABC":
        lines.append(f"ok{m} = all(map(isfinite, (" + "".join(f"{m}{i}_{j}, " for i in r for j in r) + ")))")
    lines.append("if okA and okB and okC:")
    lines.append("    " + _unpack_vector(r, "p", "x"))
    loss_lines, loss = _loss(r, variant)
    lines += ["    " + line for line in [*_forward(r, variant, "p", prime=False), *loss_lines]]
    lines.append(f"    loss_x = {loss}")
    lines += ["else:", "    loss_x = nan"]
    norms = ", ".join("hypot(" + "".join(f"s{m}{i}_{j}, " for i in r for j in r) + ")" for m in "ABC")
    weights = ", ".join(_pack(r, m) for m in "ABC")
    lines.append(f"return loss / n, loss_x, {norms}, {weights}, okA, okB, okC")
    return _function("step", "X, A, B, C, x, lr", variant, ("hypot", "isfinite", "nan"), lines)


def sample_source(k: int, variant: Variant = DEFAULT_VARIANT) -> str:
    """Python source of one sample's loss and gradients (``grads(x, A, B, C) -> (loss, dA, dB, dC)``),
    what :func:`engine.model.loss_and_grads` computes, to the bit.

    The same operations as :func:`engine.model.forward` and ``backward`` in the same order: each
    sum starts from ``0.0 +`` as ``sum()`` starts from 0 (so even a sum of negative zeros comes out
    +0.0, as there), and each gradient entry is the one product ``backward()`` takes.
    """
    r = _check_k(k)
    lines = [_unpack_vector(r, "x", "x"), *_start(r, variant)]
    lines += _forward(r, variant, "x", prime=True, start="0.0 + ")
    loss_lines, loss = _loss(r, variant)
    lines += [*loss_lines, f"loss = {loss}"]
    residual = "w" if variant.target is None else "r"
    lines += [f"d{j} = 2.0 * {residual}{j}" for j in r]  # ∂L/∂w_j = 2 (w_j − t_j)
    if variant.row:
        lines += [f"g{i} = 0.0 + " + " + ".join(f"C{i}_{j} * d{j}" for j in r) for i in r]
    else:
        lines += [f"g{j} = 0.0 + " + " + ".join(f"d{i} * C{i}_{j}" for i in r) for j in r]
    s = "g"
    if _sigma_prime_times_g(variant, 0) is not None:
        lines += [f"s{j} = {_sigma_prime_times_g(variant, j)}" for j in r]  # σ′(a_j)·g_j
        s = "s"

    def outer(left: str, right: str) -> str:
        # Row vectors: ∂L/∂M_ij = left_i · right_j; column vectors: right_i · left_j.
        if variant.row:
            return (
                "[" + ", ".join("[" + ", ".join(f"{left}{i} * {right}{j}" for j in r) + "]" for i in r) + "]"
            )
        return "[" + ", ".join("[" + ", ".join(f"{right}{i} * {left}{j}" for j in r) + "]" for i in r) + "]"

    lines.append(f"return loss, {outer('x', s)}, {outer('x', 'g')}, {outer('z', 'd')}")
    return _function("grads", "x, A, B, C", variant, (), lines)


def forward_source(k: int, variant: Variant = DEFAULT_VARIANT) -> str:
    """Python source of the unrolled :func:`engine.kernels.loss_at` (``loss(x, A, B, C)``)."""
    r = _check_k(k)
    lines = [_unpack_vector(r, "x", "x"), *_start(r, variant)]
    loss_lines, loss = _loss(r, variant)
    lines += _forward(r, variant, "x", prime=False) + loss_lines
    lines.append(f"return {loss}")
    return _function("loss", "x, A, B, C", variant, (), lines)
