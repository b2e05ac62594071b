"""Mini-batch gradient descent on the report's model, as a generator of small step records.

The procedure (the report's "generate more input training data", made precise)::

    data     N inputs x_s ~ U[0, 1)^K, drawn row by row from random.Random(seed)
    epoch e  a permutation of 0..N-1 from random.Random(f"backprop-lab/shuffle/{seed}/{e}"),
             walked in mini-batches of batch_size indices; the last, partial batch counts
    step     g = (1/|batch|) Σ_s ∂L(x_s)/∂θ  for θ in A, B, C   (the mean gradient)
             θ ← θ − lr · g                                      (the report's Figure 3)

Each step yields a :class:`StepRecord`: the batch loss (mean over the batch, *before* the update),
the loss at the model's own x *after* the update (what the report calls "Loss After GD"), and the
Frobenius norms of the three mean gradients. The model's x is never changed by training.

Determinism: the data depend only on (seed, N, K) and the shuffle of epoch e only on (seed, e), so
the same model, settings and seed give a bit-identical history and weights on every run, in any
process (string seeds are hashed with SHA-512 by :mod:`random`, independent of PYTHONHASHSEED), on
the same Python version (3.12 changed how ``sum()`` rounds, which :mod:`engine.model` uses).

Continuation: ``Trainer(..., start_step=n, start_epoch=e)`` numbers its steps n+1, n+2, … and its
epochs e+1, e+2, …; epoch e+1 is shuffled with its own absolute number. A continued run therefore
always starts a fresh epoch (the rest of an epoch interrupted by Stop is not made up), and with the
same settings E1 epochs followed by a continued run of E2 epochs is bit-identical to one run of
E1 + E2 epochs.

Divergence: a loss or gradient that is not finite (or raises OverflowError), updated weights that
are not finite, or a non-finite loss at x all stop the run. :attr:`Trainer.divergence` then records
the step and epoch and a sentence for the user, and :meth:`Trainer.weights` still returns the weights
after the last step that was yielded (the last finite ones).

The model's variant (:mod:`engine.variant`: activation, row or column vectors, target) is trained
as it is; matrices are lists of rows. The step itself is :func:`engine.kernels.step_function`'s.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Protocol, TypeVar

from backprop_lab.engine import kernels
from backprop_lab.engine.model import Matrix, Model, loss_and_grads, validate_model, validate_vector
from backprop_lab.engine.variant import DEFAULT_VARIANT, Variant

__all__ = [
    "MAX_EPOCHS",
    "MAX_LEARNING_RATE",
    "MAX_SAMPLES",
    "MAX_SEED",
    "MAX_TRAINING_VALUES",
    "Divergence",
    "StepRecord",
    "Trainer",
    "TrainingSettings",
    "apply_update",
    "batch_loss_and_grads",
    "epoch_order",
    "epoch_permutation",
    "generate_samples",
    "per_sample_grads",
    "train_session",
]

T = TypeVar("T")

#: Upper bounds that keep a run sane on a desktop (documented in docs/math.md, "Settings").
MAX_LEARNING_RATE = 1e6
MAX_SAMPLES = 1_000_000
MAX_EPOCHS = 1_000_000
MAX_SEED = 2**63 - 1
#: Largest N·K: the inputs are kept as lists of floats (~32 bytes a number), so this is ~130 MB.
MAX_TRAINING_VALUES = 4_000_000


def _check_int(name: str, value: object, low: int, high: int) -> None:
    # bool is an int subclass; True as a batch size is a mistake, not the number 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer (got {value!r})")
    if value < low:
        raise ValueError(f"{name} must be ≥ {low} (got {value})")
    if value > high:
        raise ValueError(f"{name} must be ≤ {high:,} (got {value:,})")


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """Hyper-parameters of a run. Call :meth:`validate` before use (the Trainer does).

    ``batch_size`` may not exceed ``n_samples`` (a batch larger than the data set would be a
    misleading label for full-batch descent; use batch_size = n_samples for that).
    """

    learning_rate: float = 0.01
    batch_size: int = 10
    n_samples: int = 1000
    epochs: int = 1
    seed: int = 0

    def validate(self, k: int | None = None) -> None:
        """Raise ValueError (one line, naming the field) for a setting outside its range.

        With ``k`` (the model's K) also checks that the N×K training inputs fit in memory.
        """
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, Real):
            raise ValueError(f"learning_rate must be a number (got {lr!r})")
        if not math.isfinite(lr):
            raise ValueError(f"learning_rate must be finite (got {lr})")
        if lr <= 0:
            raise ValueError(f"learning_rate must be > 0 (got {lr})")
        if lr > MAX_LEARNING_RATE:
            raise ValueError(f"learning_rate must be ≤ {MAX_LEARNING_RATE:g} (got {lr:g})")
        _check_int("n_samples", self.n_samples, 1, MAX_SAMPLES)
        _check_int("batch_size", self.batch_size, 1, MAX_SAMPLES)
        if self.batch_size > self.n_samples:
            raise ValueError(f"batch_size must be ≤ n_samples (got {self.batch_size} > {self.n_samples})")
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_int("seed", self.seed, 0, MAX_SEED)
        if k is not None and self.n_samples * k > MAX_TRAINING_VALUES:
            raise ValueError(
                f"n_samples must be ≤ {MAX_TRAINING_VALUES // k:,} for K = {k} "
                f"(got {self.n_samples:,}; at most {MAX_TRAINING_VALUES:,} training numbers)"
            )

    @property
    def steps_per_epoch(self) -> int:
        """⌈n_samples / batch_size⌉: the last, partial batch is a step too."""
        return -(-self.n_samples // self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One gradient-descent step, as the window, the command line and the session store it."""

    step: int  # 1-based, continues across continued runs
    epoch: int  # 1-based, continues too
    batch_loss: float  # mean loss over the batch, before the update
    loss_at_x: float  # loss at the model's own x after the update
    grad_norm_A: float  # Frobenius norm of the mean gradient
    grad_norm_B: float
    grad_norm_C: float


@dataclass(frozen=True)
class Divergence:
    """Where and why a run stopped on a non-finite number; ``reason`` is a user-facing sentence."""

    step: int
    epoch: int
    reason: str


def generate_samples(n: int, k: int, seed: int) -> list[list[float]]:
    """N×K inputs, U[0, 1), drawn row by row from ``random.Random(seed)``."""
    r = random.Random(seed).random
    return [[r() for _ in range(k)] for _ in range(n)]


def _shuffle_rng(seed: int, epoch: int) -> random.Random:
    # A string seed is hashed with SHA-512 by random: the same stream in every process and
    # version of Python 3, and independent of the data stream Random(seed).
    return random.Random(f"backprop-lab/shuffle/{seed}/{epoch}")


def epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    """The visiting order of epoch ``epoch`` (1-based, absolute): depends only on (n, seed, epoch)."""
    order = list(range(n))
    _shuffle_rng(seed, epoch).shuffle(order)
    return order


def epoch_order(samples: list[T], seed: int, epoch: int) -> list[T]:
    """``[samples[i] for i in epoch_permutation(len(samples), seed, epoch)]``, shuffled in place of
    the indices (random.shuffle only swaps positions, so the permutation is the same)."""
    shuffled = samples.copy()
    _shuffle_rng(seed, epoch).shuffle(shuffled)
    return shuffled


class Trainer:
    """Mini-batch gradient descent from a model (x, A, B, C) with the given settings.

    The constructor copies the (already valid) :class:`engine.model.Model` and validates the
    settings (ValueError, one line), so it is
    cheap on a GUI thread; the training inputs are drawn on first use of :attr:`samples` (up to
    ~1 s for the largest data sets), normally inside :meth:`steps` on the worker's thread.
    Nothing is trained until :meth:`steps` is iterated. The caller stops the run simply by not
    asking for the next step; calling :meth:`steps` again resumes after the last step taken.

    Attributes: ``x`` (the model's input, never changed), ``K``, ``settings``, ``start_step``,
    ``start_epoch``, ``total_steps`` (steps this run takes if it does not diverge),
    ``steps_done`` (steps taken so far by this run), ``divergence`` (None, or where it stopped).
    """

    def __init__(
        self,
        model: Model,
        settings: TrainingSettings,
        *,
        start_step: int = 0,
        start_epoch: int = 0,
    ) -> None:
        own = model.copy()  # the run replaces its weights, never the caller's lists
        self.x, A0, B0, C0 = own.x, own.A, own.B, own.C
        self.variant = own.variant
        # One attribute, replaced whole after each step: a reader on another thread never sees
        # A from one step and B from another.
        self._weights: tuple[Matrix, Matrix, Matrix] = (A0, B0, C0)
        self.K = len(self.x)
        settings.validate(self.K)
        _check_int("start_step", start_step, 0, 2**62)
        _check_int("start_epoch", start_epoch, 0, 2**62)
        self.settings = settings
        self.start_step = start_step
        self.start_epoch = start_epoch
        self.total_steps: int = settings.total_steps
        self._samples: list[list[float]] | None = None
        self.divergence: Divergence | None = None
        self.steps_done = 0  # steps taken by this run (the yielded records)
        self._active: object = None  # the token of the newest steps() generator

    @property
    def samples(self) -> list[list[float]]:
        """The N×K training inputs, U[0, 1) from ``random.Random(seed)``; drawn on first use, read-only."""
        if self._samples is None:
            s = self.settings
            self._samples = generate_samples(s.n_samples, self.K, s.seed)
        return self._samples

    def next_batch(self) -> list[int] | None:
        """Indices into :attr:`samples` of the batch the next step will use (None once the run is over)."""
        s = self.settings
        if self.divergence is not None or self.steps_done >= self.total_steps:
            return None
        e_index, b_index = divmod(self.steps_done, s.steps_per_epoch)
        order = epoch_permutation(s.n_samples, s.seed, self.start_epoch + e_index + 1)
        return order[b_index * s.batch_size : (b_index + 1) * s.batch_size]

    def weights(self) -> tuple[Matrix, Matrix, Matrix]:
        """Copies of the current A, B, C: after the last yielded step (always finite)."""
        A, B, C = self._weights
        return [r[:] for r in A], [r[:] for r in B], [r[:] for r in C]

    def batches(self) -> Iterator[list[int]]:
        """The sample indices of every mini-batch of this run, in order (epoch by epoch)."""
        s = self.settings
        bs, n = s.batch_size, s.n_samples
        for e in range(self.start_epoch + 1, self.start_epoch + s.epochs + 1):
            order = epoch_permutation(n, s.seed, e)
            for i in range(0, n, bs):
                yield order[i : i + bs]

    def steps(self) -> Iterator[StepRecord]:
        """Take the remaining steps of this run, yielding one :class:`StepRecord` per step.

        Never prints, never sleeps; the caller stops by not asking for the next record, and a
        later call resumes after the last step taken (and retires any older generator). On
        divergence it returns early with :attr:`divergence` set and the weights of the last
        yielded step kept.
        """
        token = self._active = object()
        if self.divergence is not None:
            return
        s = self.settings
        spe, bs, lr = s.steps_per_epoch, s.batch_size, float(s.learning_rate)
        x = self.x
        take_step = kernels.step_function(self.K, self.variant)
        isfinite = math.isfinite
        for e_index in range(self.steps_done // spe, s.epochs):
            epoch = self.start_epoch + e_index + 1
            shuffled = epoch_order(self.samples, s.seed, epoch)
            for lo in range((self.steps_done - e_index * spe) * bs, s.n_samples, bs):
                if self._active is not token:  # a newer steps() call took over
                    return
                step = self.start_step + self.steps_done + 1
                try:
                    loss, loss_x, nA, nB, nC, A2, B2, C2, okA, okB, okC = take_step(
                        shuffled[lo : lo + bs], *self._weights, x, lr
                    )
                except OverflowError:  # float arithmetic saturates to inf; this is belt and braces
                    problem: str | None = "a number in this step"
                else:
                    # All of these are ≥ 0, so the sum is finite unless one of them is not (or the
                    # sum overflows, in which case the full check below finds nothing).
                    fine = okA and okB and okC and isfinite(loss + loss_x + nA + nB + nC)
                    problem = (
                        None
                        if fine
                        else _first_problem(
                            ("the batch loss", isfinite(loss)),
                            ("the gradient of A", isfinite(nA)),
                            ("the gradient of B", isfinite(nB)),
                            ("the gradient of C", isfinite(nC)),
                            ("the updated weights A", okA),
                            ("the updated weights B", okB),
                            ("the updated weights C", okC),
                            ("the loss at x after the update", isfinite(loss_x)),
                        )
                    )
                if problem is not None:
                    self.divergence = Divergence(step, epoch, _reason(step, epoch, problem, lr))
                    return
                self._weights = (A2, B2, C2)
                self.steps_done += 1
                yield StepRecord(step, epoch, loss, loss_x, nA, nB, nC)


class _Appends(Protocol):
    def append(self, record: StepRecord) -> None: ...


class TrainableSession(Protocol):
    """What :func:`train_session` needs of an ``engine.session.Session`` (which imports this
    module, so the type is named by its shape here)."""

    @property
    def history(self) -> _Appends: ...

    def make_trainer(self, settings: TrainingSettings | None = None) -> Trainer: ...

    def finish_run(self, trainer: Trainer) -> None: ...


def train_session(
    session: TrainableSession,
    settings: TrainingSettings,
    *,
    should_stop: Callable[[], object] | None = None,
    on_step: Callable[[StepRecord], object] | None = None,
) -> Trainer:
    """Train ``session`` with ``settings`` as ``backprop-lab train`` does, in place: continue its
    history, append every step to it, then take the trainer's weights and divergence. The one
    loop of the train and sweep commands (a sweep's file is bit-identical to train's because it
    is made by this very code).

    ``on_step(record)`` is called after each step is in the history; ``should_stop()`` after
    that, and a true answer ends the run between two steps (the steps taken are kept). Raises
    ValueError for invalid settings before anything changes. An exception from a callback (a
    KeyboardInterrupt too) ends the run the same way and then propagates: the session holds the
    steps taken and their weights either way. Returns the trainer (``steps_done``, ``total_steps``,
    ``divergence``).
    """
    trainer = session.make_trainer(settings)
    append = session.history.append
    try:
        if on_step is None and should_stop is None:  # the sweep's workers: nothing to call per step
            for record in trainer.steps():
                append(record)
        else:
            for record in trainer.steps():
                append(record)
                if on_step is not None:
                    on_step(record)
                if should_stop is not None and should_stop():
                    break
    finally:
        session.finish_run(trainer)
    return trainer


def _first_problem(*checks: tuple[str, bool]) -> str | None:
    for name, ok in checks:
        if not ok:
            return name
    return None


def _reason(step: int, epoch: int, problem: str, lr: float) -> str:
    return (
        f"Training diverged at step {step} (epoch {epoch}): {problem} overflowed to a non-finite "
        f"number. The weights are kept as they were before this step; lower the learning rate "
        f"(now {lr:g}) and try again."
    )


# --------------------------------------------------------------------------- building blocks


def batch_loss_and_grads(
    X: Sequence[Sequence[float]],
    A: Sequence[Sequence[float]],
    B: Sequence[Sequence[float]],
    C: Sequence[Sequence[float]],
    variant: Variant = DEFAULT_VARIANT,
) -> tuple[float, dict[str, Matrix]]:
    """Mean loss and mean gradients over a batch X (n×K rows, n ≥ 1), fast path.

    Returns ``(loss, {"A": dA, "B": dB, "C": dC})``; each mean is the in-order sum over the
    samples divided by n, so it equals averaging :func:`engine.model.loss_and_grads` sample by
    sample. Validates like :func:`engine.model.validate_model` (ValueError naming the entry).
    """
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence) or len(X) == 0:
        raise ValueError("X must be a non-empty list of input rows")
    first = validate_vector("X[0]", X[0])
    _, A, B, C = validate_model(first, A, B, C)
    rows = [first] + [validate_vector(f"X[{s}]", row, len(first)) for s, row in enumerate(X) if s]
    variant.check_k(len(first))
    loss, dA, dB, dC = kernels.batch_mean_loss_and_grads(rows, A, B, C, variant)
    return loss, {"A": dA, "B": dB, "C": dC}


def per_sample_grads(
    X: Sequence[Sequence[float]],
    A: Sequence[Sequence[float]],
    B: Sequence[Sequence[float]],
    C: Sequence[Sequence[float]],
    variant: Variant = DEFAULT_VARIANT,
) -> list[tuple[float, dict[str, Matrix]]]:
    """``engine.model.loss_and_grads`` for each row of X: the step taken apart, sample by sample."""
    t = variant.target
    return [
        loss_and_grads(row, A, B, C, activation=variant.activation, convention=variant.convention, target=t)
        for row in X
    ]


def apply_update(
    A: Matrix, B: Matrix, C: Matrix, grads: dict[str, Matrix], lr: float
) -> tuple[Matrix, Matrix, Matrix]:
    """θ − lr·g for θ in A, B, C (the report's Figure 3); new lists, inputs untouched."""
    return (
        kernels.axpy_update(A, grads["A"], lr),
        kernels.axpy_update(B, grads["B"], lr),
        kernels.axpy_update(C, grads["C"], lr),
    )
