"""One mini-batch training step taken apart, phase by phase, without changing anything.

:func:`plan_step` computes the very step the next training run would take first: a continued run
(:class:`engine.training.Trainer` with ``start_step``/``start_epoch`` after the history) starts a
fresh epoch, so its first batch is the first slice of that epoch's shuffle. The phases::

    1 batch      the sample indices and their inputs x_s (rows of the N×K training data)
    2 forward    a, σ(a), u, z, w and L for every sample (σ′(a) too, for the next phase)
    3 gradients  ∂L/∂w and ∂L(x_s)/∂θ per sample, and their mean g over the batch (what the step uses)
    4 update     θ_new = θ − lr·g for every weight, and its change Δθ = θ_new − θ
    5 new loss   the batch loss and the loss at x, before and after

The numbers are the Trainer's own: the mean gradient comes from the same batch kernel and the
update is the same expression, so :attr:`StepPlan.after` equals the Trainer's weights after its
first step bit for bit and :attr:`StepPlan.record` equals the :class:`StepRecord` it yields (tests
check both). Every phase is computed in the model's variant (:attr:`StepPlan.variant`: its σ and σ′,
its convention's products, its target in ∂L/∂w = 2(w − t)), as the Trainer computes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from backprop_lab.engine import kernels
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    Matrix,
    Model,
    Vector,
    forward,
    frobenius,
    output_gradient,
)
from backprop_lab.engine.training import (
    StepRecord,
    Trainer,
    TrainingSettings,
    apply_update,
    batch_loss_and_grads,
    per_sample_grads,
)
from backprop_lab.engine.variant import DEFAULT_VARIANT, Variant

PHASES = ("Batch", "Forward", "Gradients", "Update", "New loss")


@dataclass(frozen=True)
class SampleForward:
    """The forward pass of one sample: its index in the training data, x_s, and a, y = σ(a), u, z, w, L;
    with σ′(a) and ∂L/∂w = 2(w − t), where its backward pass begins (t = 0 without a target)."""

    index: int
    x: Vector
    a: Vector
    y: Vector
    u: Vector
    z: Vector
    w: Vector
    loss: float
    sigma_prime: Vector
    dw: Vector


@dataclass(frozen=True)
class StepPlan:
    """Everything one step computes (see the module docstring); nothing here is applied.

    ``step``/``epoch`` are the 1-based numbers the step gets in the history. ``per_sample`` holds
    (loss, {"A","B","C": K×K}) per sample in batch order; ``mean_grads`` their mean (the gradient g
    the update uses); ``before``/``after`` the weights (A, B, C); ``deltas`` after − before by name.
    ``finite`` is False when the step would diverge (the Trainer would stop instead of taking it).
    """

    step: int
    epoch: int
    settings: TrainingSettings
    x: Vector
    indices: tuple[int, ...]
    samples: tuple[SampleForward, ...]
    per_sample: tuple[tuple[float, dict[str, Matrix]], ...]
    batch_loss: float
    mean_grads: dict[str, Matrix]
    grad_norms: dict[str, float]
    before: tuple[Matrix, Matrix, Matrix]
    after: tuple[Matrix, Matrix, Matrix]
    deltas: dict[str, Matrix]
    loss_at_x_before: float
    loss_at_x_after: float
    batch_loss_after: float
    finite: bool
    variant: Variant = DEFAULT_VARIANT

    @property
    def learning_rate(self) -> float:
        return float(self.settings.learning_rate)

    @property
    def batch_size(self) -> int:
        return len(self.indices)

    @property
    def record(self) -> StepRecord:
        """The history row the step adds (as :meth:`engine.training.Trainer.steps` would yield it)."""
        n = self.grad_norms
        return StepRecord(
            self.step, self.epoch, self.batch_loss, self.loss_at_x_after, n["A"], n["B"], n["C"]
        )

    def largest_changes(self, n: int = 5) -> list[tuple[str, int, int, float]]:
        """The n weights that move most: (matrix, i, j, Δ), largest |Δ| first."""
        moves = [
            (name, i, j, d)
            for name in MATRIX_NAMES
            for i, row in enumerate(self.deltas[name])
            for j, d in enumerate(row)
        ]
        moves.sort(key=lambda m: -abs(m[3]))
        return moves[:n]


def next_batch(
    model: Model,
    settings: TrainingSettings,
    *,
    start_step: int = 0,
    start_epoch: int = 0,
) -> tuple[list[int], list[Vector], Trainer]:
    """The sample indices and inputs of the next training step, and the Trainer that would take it."""
    trainer = Trainer(model, settings, start_step=start_step, start_epoch=start_epoch)
    indices = next(trainer.batches())
    return indices, [list(trainer.samples[s]) for s in indices], trainer


def _sample_forward(
    index: int, x: Vector, A: Matrix, B: Matrix, C: Matrix, variant: Variant
) -> SampleForward:
    v = forward(x, A, B, C, variant)
    sigma_prime = [variant.sigma.derivative(a) for a in v["a"]]
    dw = output_gradient(v["w"], variant)
    return SampleForward(index, x, v["a"], v["y"], v["u"], v["z"], v["w"], v["loss"], sigma_prime, dw)


def plan_step(
    model: Model,
    settings: TrainingSettings,
    *,
    start_step: int = 0,
    start_epoch: int = 0,
) -> StepPlan:
    """The next training step from ``model``, phase by phase (see the module docstring).

    ``start_step``/``start_epoch`` are the history's last step and epoch (0 for a fresh session), as
    for :class:`engine.training.Trainer`. ValueError (one line) for an invalid model or settings.
    """
    indices, rows, trainer = next_batch(model, settings, start_step=start_step, start_epoch=start_epoch)
    xv = trainer.x
    variant = model.variant
    before = trainer.weights()
    Av, Bv, Cv = before
    samples = [_sample_forward(s, row, Av, Bv, Cv, variant) for s, row in zip(indices, rows, strict=True)]
    per_sample = tuple(per_sample_grads(rows, Av, Bv, Cv, variant=variant))
    batch_loss, mean_grads = batch_loss_and_grads(rows, Av, Bv, Cv, variant=variant)
    lr = float(settings.learning_rate)
    after = apply_update([r[:] for r in Av], [r[:] for r in Bv], [r[:] for r in Cv], mean_grads, lr)
    deltas = {
        name: [[n - o for n, o in zip(rn, ro, strict=True)] for rn, ro in zip(new, old, strict=True)]
        for name, new, old in zip(MATRIX_NAMES, after, before, strict=True)
    }
    norms = {name: frobenius(mean_grads[name]) for name in MATRIX_NAMES}

    def loss_fn(x: Vector, A: Matrix, B: Matrix, C: Matrix) -> float:
        return kernels.loss_at(x, A, B, C, variant)  # the Trainer's L(x): engine.model's order of sums

    finite = math.isfinite(batch_loss) and all(map(math.isfinite, norms.values()))
    finite = finite and all(math.isfinite(v) for m in after for row in m for v in row)
    loss_x_after = loss_fn(xv, *after) if finite else math.nan
    batch_after = sum(loss_fn(r, *after) for r in rows) / len(rows) if finite else math.nan
    finite = finite and math.isfinite(loss_x_after)
    return StepPlan(
        step=start_step + 1,
        epoch=start_epoch + 1,
        settings=settings,
        x=xv,
        indices=tuple(indices),
        samples=tuple(samples),
        per_sample=per_sample,
        batch_loss=batch_loss,
        mean_grads=mean_grads,
        grad_norms=norms,
        before=before,
        after=after,
        deltas=deltas,
        loss_at_x_before=loss_fn(xv, Av, Bv, Cv),
        loss_at_x_after=loss_x_after,
        batch_loss_after=batch_after,
        finite=finite,
        variant=variant,
    )
