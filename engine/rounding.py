"""How far a correct float64 evaluation of the loss and its gradients can be from the exact values.

Both checks need this: the finite differences (:mod:`engine.gradcheck`) to know how many digits a
difference of two losses keeps, and the PyTorch check (:mod:`engine.torch_check`) to know how far
two correct float64 evaluations summed in different orders may drift apart. The bound is a running
error analysis on absolute values: a sum of K products is within γ_K·Σ|terms| of exact, so the
forward and backward passes evaluated on |x|, |A|, |B|, |C| give, per quantity, a *scale* that
γ = (4K + 16)·u times bounds its rounding.

The activation enters in four ways, listed per activation in :data:`SIGMA_BOUNDS`: how much of
a's error reaches y (sup |σ′|), how much reaches σ′ (sup |σ″|), whether σ′ itself is known only to
absolute precision (1 − σ and 1 − y² lose their digits where σ or tanh rounds near 1), and where
σ or σ′ jumps (relu′ at 0, softplus at PyTorch's threshold 20). Each number is derived next to it.

Everything here is plain Python; nothing imports Qt.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backprop_lab.engine.model import Matrix, Model, Vector, backward, forward, mat_vec, vec_mat
from backprop_lab.engine.variant import SOFTPLUS_THRESHOLD, Variant, sigmoid

__all__ = ["MACHINE_EPS", "SIGMA_BOUNDS", "RoundingScales", "SigmaBounds", "rounding_scales"]

#: The float64 machine epsilon u = 2⁻⁵².
MACHINE_EPS = sys.float_info.epsilon

Product = Callable[[Sequence[float], Matrix], Vector]


@dataclass(frozen=True)
class SigmaBounds:
    """What one activation contributes to the rounding bound (see :func:`rounding_scales`).

    ``slope`` ≥ sup |σ′|: an error δ in a moves y by at most slope·δ.
    ``curvature`` ≥ sup |σ″|: an error δ in a moves σ′(a) by at most curvature·δ.
    ``absolute``: σ′ is computed within γ·absolute of exact *absolutely* (not relative to σ′).
    ``kink``: where σ′ (and, for ``jump`` > 0, σ itself) jumps; None for a smooth σ.
    ``jump``, ``jump_prime``: the size of the jump of σ and of σ′ there.
    """

    slope: float
    curvature: float
    absolute: float
    kink: float | None = None
    jump: float = 0.0
    jump_prime: float = 0.0


#: Per activation. sigmoid: σ′ = σ(1 − σ) ≤ 1/4 and |σ″| = σ′·|1 − 2σ| ≤ 1/(6√3) < 1/8; 1 − σ is
#: computed from a σ rounded near 1, so σ′ is known to about u absolute (PyTorch does the same).
#: tanh: σ′ = 1 − y² ≤ 1 and |σ″| = 2|y|(1 − y²) ≤ 4/(3√3) ≈ 0.770; 1 − y² from a y rounded near 1
#: is known to about 2u absolute, and PyTorch's tanh differs from the C library's by one ulp for
#: a few percent of inputs, so a flat relative test fails near saturation (3.7e-9 was seen) while
#: this absolute term holds. relu: σ′ is exactly 0 or 1, but jumps by 1 at a = 0. softplus:
#: σ′ = 1/(1 + e^(−a)) ≤ 1 is computed to a few ulps *relative* (no cancellation), |σ″| ≤ 1/4;
#: above a = 20 both sides take σ(a) = a, so σ jumps by log(1 + e^(−20)) ≈ 2.1e-9 there and σ′ by
#: 1 − sigmoid(20), the same. identity: σ′ = 1 exactly.
SIGMA_BOUNDS: dict[str, SigmaBounds] = {
    "sigmoid": SigmaBounds(slope=0.25, curvature=0.125, absolute=1.0),
    "tanh": SigmaBounds(slope=1.0, curvature=0.77, absolute=1.0),
    "relu": SigmaBounds(slope=1.0, curvature=0.0, absolute=0.0, kink=0.0, jump_prime=1.0),
    "softplus": SigmaBounds(
        slope=1.0,
        curvature=0.25,
        absolute=0.0,
        kink=SOFTPLUS_THRESHOLD,
        jump=math.log1p(math.exp(-SOFTPLUS_THRESHOLD)),
        jump_prime=1.0 - sigmoid(SOFTPLUS_THRESHOLD),
    ),
    "identity": SigmaBounds(slope=1.0, curvature=0.0, absolute=0.0),
}


@dataclass(frozen=True)
class RoundingScales:
    """Magnitudes that bound the rounding errors of the loss and its gradients.

    The forward and backward passes evaluated on absolute values (|x|, |A|, |B|, |C|, |t|): a
    computed quantity is within ``gamma`` times its scale of the exact value. ``loss`` is L̃;
    ``grads`` maps "A", "B", "C" to K×K scales of the gradient entries. The rest is kept for
    :meth:`loss_moved` and :meth:`kink_allowance`: |x|, z̃, r̃ (the scale of w − t), |C|, the
    computed pre-activations a, the scale g̃ of ∂L/∂z, and the variant.
    """

    gamma: float
    loss: float
    grads: dict[str, Matrix]
    x: Vector
    z: Vector
    w: Vector
    C: Matrix
    a: Vector
    g: Vector
    variant: Variant

    def _unit_and_input(self, i: int, j: int) -> tuple[int, int]:
        """Which unit weight [i][j] feeds, and from which input: (j, i) in rows, (i, j) in columns."""
        return (j, i) if self.variant.row else (i, j)

    def loss_moved(self, name: str, i: int, j: int, h: float) -> float:
        """L̃ once weight ``name[i][j]`` has moved by up to ±h: bounds the rounding of L(θ ± h).

        Needed because L(θ ± h) can be far larger than L(θ) (θ ≈ 0, a loss that underflows).
        Moving C_ij adds z̃·h to one output's scale. Moving B_ij adds |x|·h to one z̃, and moving
        A_ij at most 2·slope·|x|·h (through |y| and the slope·ã term of z̃) plus softplus's jump;
        that z̃'s row of |C| (its column, for column vectors) carries it to r̃.
        """
        unit, inp = self._unit_and_input(i, j)
        if name == "C":
            # C's [i][j] takes z at one index to the output at the other, in the same order as A's
            # takes x to a: w_j = Σ_i z_i C_ij for rows, w_i = Σ_j C_ij z_j for columns.
            moved = list(self.w)
            moved[unit] += self.z[inp] * h
            return sum(v * v for v in moved)
        bounds = SIGMA_BOUNDS[self.variant.activation]
        dz = self.x[inp] * h * (1.0 if name == "B" else 2.0 * bounds.slope)
        if name == "A":
            dz += bounds.jump
        fan_out = self.C[unit] if self.variant.row else [row[unit] for row in self.C]
        return sum((wk + dz * ck) ** 2 for wk, ck in zip(self.w, fan_out, strict=True))

    def kink_allowance(self, name: str, i: int, j: int, h: float) -> float:
        """How far a central difference of step up to 2h may be from σ′ at a kink it straddles.

        Only A's entries move a pre-activation: A_ij moves it by |x|·h. When the kink lies within
        2h·|x| of a, the difference mixes the slopes on both sides (off by up to |x|·g̃·jump_prime)
        and divides σ's own jump by the step (g̃·jump/h). 0 everywhere else.
        """
        bounds = SIGMA_BOUNDS[self.variant.activation]
        if name != "A" or bounds.kink is None:
            return 0.0
        unit, inp = self._unit_and_input(i, j)
        reach = 2.0 * h * self.x[inp]
        if abs(self.a[unit] - bounds.kink) > reach:
            return 0.0
        return self.x[inp] * self.g[unit] * bounds.jump_prime + self.g[unit] * bounds.jump / h


def rounding_scales(model: Model) -> RoundingScales:
    """Forward-error scales for the loss and the gradients of ``model`` in its variant.

    Indexing by unit (the K entries of a, y, z, g), with ã = |A||x| (a = xA or Ax, the variant's
    product on absolute values), ũ likewise, and s = :data:`SIGMA_BOUNDS` of the activation::

        z̃      = |y| + ũ + s.slope·ã             (a's error reaches y through σ′)
        r̃      = w̃ + |t|,  w̃ = the product of z̃ and |C|     (the scale of w − t)
        g̃      = |C| applied to 2r̃ the way C is applied to ∂L/∂w
        L̃      = Σ r̃²
        σ̃′g    = |σ′(a)|·g̃ + |g|·(s.absolute + s.curvature·ã)

    and the entries: dC̃ = 2r̃ ⊗ z̃, dB̃ = |x| ⊗ g̃, dÃ = |x| ⊗ σ̃′g, each in its weight's layout
    (row vectors: [input][unit]; column vectors: [unit][input]). γ = (4K + 16)·u covers the chains
    of sums. Where a lies within 2γã of a kink, the two sides of the jump are both possible
    results: z̃ gains s.jump/γ and σ̃′g gains |g|·s.jump_prime/γ, so that γ·scale covers the jump.
    """
    x, A, B, C, v = model.x, model.A, model.B, model.C, model.variant
    k = len(x)
    gamma = (4 * k + 16) * MACHINE_EPS
    bounds = SIGMA_BOUNDS[v.activation]
    into, back = _products(v)
    ax = [abs(e) for e in x]
    absA, absB, absC = ([[abs(e) for e in row] for row in M] for M in (A, B, C))
    values = forward(x, A, B, C, v)
    a, y = values["a"], values["y"]
    g = backward(x, C, values, v)["g"]
    a_s = into(ax, absA)
    u_s = into(ax, absB)
    ambiguous = [
        bounds.kink is not None and abs(aj - bounds.kink) <= 2.0 * gamma * asj
        for aj, asj in zip(a, a_s, strict=True)
    ]
    z_s = [
        abs(yj) + uj + bounds.slope * asj + (bounds.jump / gamma if amb else 0.0)
        for yj, uj, asj, amb in zip(y, u_s, a_s, ambiguous, strict=True)
    ]
    r_s = [wj + abs(tj) for wj, tj in zip(into(z_s, absC), v.target_or_zero(k), strict=True)]
    dr_s = [2.0 * e for e in r_s]
    g_s = back(dr_s, absC)
    sigma_prime = v.sigma.derivative
    sg_s = [
        abs(sigma_prime(aj)) * gsj
        + abs(gj) * (bounds.absolute + bounds.curvature * asj + (bounds.jump_prime / gamma if amb else 0.0))
        for aj, gsj, gj, asj, amb in zip(a, g_s, g, a_s, ambiguous, strict=True)
    ]
    if v.row:  # [input i][unit j]
        grads = {
            "A": [[xi * s for s in sg_s] for xi in ax],
            "B": [[xi * s for s in g_s] for xi in ax],
            "C": [[zi * d for d in dr_s] for zi in z_s],
        }
    else:  # [unit i][input j]
        grads = {
            "A": [[s * xj for xj in ax] for s in sg_s],
            "B": [[s * xj for xj in ax] for s in g_s],
            "C": [[d * zj for zj in z_s] for d in dr_s],
        }
    loss = sum(e * e for e in r_s)
    return RoundingScales(gamma, loss, grads, ax, z_s, r_s, absC, list(a), g_s, v)


def _products(v: Variant) -> tuple[Product, Product]:
    """The variant's two products of a vector and a matrix: forward (a = xA or Ax, and w from z)
    and backward (g = C ∂L/∂w for rows, Cᵀ ∂L/∂w for columns)."""
    if v.row:
        return vec_mat, lambda vec, m: mat_vec(m, vec)
    return lambda vec, m: mat_vec(m, vec), vec_mat
