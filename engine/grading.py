"""Grading a program's ``gradients(x, A, B, C)``: the models it is judged on, the judging of what it
returned for each, and the grade of the whole submission.

The models (:func:`grading_models`) are the report's example followed by N seeded random ones
(K = 1 among them, and every fourth with a unit driven deep into saturation, where σ′(a) is tiny
and a float32 program loses every digit of it), all in the chosen variant: the same seed gives
the same models, so every submission in a class is judged on the same numbers, and a second run
on the same ones.

What a submission returned for one model is a JSON value (the sandbox sends it over a pipe):
``[loss, dA, dB, dC]`` (a tuple arrives as a list) or ``{"loss": …, "A": …, "B": …, "C": …}``,
with the gradients as K×K nested lists. :func:`judge_returned` checks its shape, types and
finiteness (``bad-output`` otherwise) and compares the numbers with the hand-derived ones
(:func:`engine.compare.compare_answers` with :meth:`Answers.from_values`: a program's numbers carry
no printed digits, and are judged to the tolerance made for programs); a disagreeing gradient
carries the catalogue's diagnosis (:mod:`engine.mistakes`).

:func:`grade_run` turns how the run ended (``status``, ``returned``… of
:class:`backprop_lab.sandbox.Outcome`, read through the :class:`Run` protocol: the engine does not
import the command line) into a :class:`Grade` with one verdict of :data:`VERDICTS`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from backprop_lab.engine.answers import Answers
from backprop_lab.engine.compare import Comparison, compare_answers
from backprop_lab.engine.mistakes import MISTAKE_IDS
from backprop_lab.engine.model import MATRIX_NAMES, Matrix, Model, transpose, validate_matrix
from backprop_lab.engine.variant import DEFAULT_VARIANT, Variant

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_SEED",
    "QUANTITIES",
    "VERDICTS",
    "Grade",
    "Judgement",
    "Run",
    "grade_run",
    "grading_models",
    "judge_returned",
    "model_label",
    "saturated_units",
]

#: Every verdict, best first: the gradebook's order for its counts.
VERDICTS = ("correct", "wrong", "bad-output", "error", "timeout", "out-of-memory", "crashed")
#: The quantities judged on each model, in the order a submission returns them.
QUANTITIES = ("loss", *MATRIX_NAMES)

DEFAULT_MODELS = 20
DEFAULT_SEED = 16
#: Pre-activations at least this far from 0 count as saturated (σ′ of the sigmoid below 5e-5).
SATURATED = 10.0

# A sandbox status that is not a verdict of its own: a file that does not import, or defines no
# gradients(), is an error the student can read like any other.
_STATUS_VERDICT = {"unloadable": "error"}


# --------------------------------------------------------------------------- the models


def grading_models(
    n: int = DEFAULT_MODELS, variant: Variant = DEFAULT_VARIANT, seed: int = DEFAULT_SEED
) -> tuple[Model, ...]:
    """The report example followed by ``n`` random models, all in ``variant`` (which must have no
    target: ``gradients(x, A, B, C)`` is not given one). The first random model has K = 1, the
    others K from 2 to 6; every fourth (the 4th, 8th, …) has one unit saturated for any input
    sign (|a| ≥ :data:`SATURATED`). Entries of x have magnitudes in [0.5, 2], weights in [-1, 1]."""
    if variant.target is not None:
        raise ValueError("grading models take no target: gradients(x, A, B, C) is not given t")
    if n < 0:
        raise ValueError(f"the number of random models must be 0 or more, not {n}")
    from backprop_lab.engine.resources import load_report_example_data

    data = load_report_example_data()["model"]
    models = [Model(data["x"], data["A"], data["B"], data["C"], variant)]
    rng = random.Random(seed)
    for index in range(1, n + 1):
        k = 1 if index == 1 else rng.randint(2, 6)
        models.append(_random_model(rng, k, variant, saturate=index % 4 == 0))
    return tuple(models)


def _random_model(rng: random.Random, k: int, variant: Variant, *, saturate: bool) -> Model:
    x = [rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 2.0) for _ in range(k)]
    A, B, C = ([[rng.uniform(-1.0, 1.0) for _ in range(k)] for _ in range(k)] for _ in range(3))
    if saturate:
        # One unit's weights all push its pre-activation the same way: |a_j| = Σ|x_i|·|A_ij| ≥ 10.
        j, sign = rng.randrange(k), rng.choice((-1.0, 1.0))
        for i in range(k):
            A[i][j] = sign * math.copysign(rng.uniform(20.0, 40.0), x[i])
    if not variant.row:
        # Written for a = xA; the column convention's a = Ax needs the transposes for the same units.
        A, B, C = transpose(A), transpose(B), transpose(C)
    return Model(x, A, B, C, variant)


def saturated_units(model: Model) -> int:
    """How many pre-activations of ``model`` are at least :data:`SATURATED` from 0."""
    from backprop_lab.engine.model import forward

    a = forward(model.x, model.A, model.B, model.C, model.variant)["a"]
    return sum(abs(v) >= SATURATED for v in a)


def model_label(index: int, model: Model) -> str:
    """How a model is named to a student: "model 1 (the report example, K = 3)", "model 4 (K = 2)"."""
    what = "the report example, " if index == 0 else ""
    return f"model {index + 1} ({what}K = {model.K})"


# --------------------------------------------------------------------------- one returned value


@dataclass(frozen=True)
class Judgement:
    """What one model's returned value was: ``status`` "correct", "wrong" or "bad-output";
    ``detail`` (bad-output: what is wrong with it, one line); ``comparison`` (the numbers judged,
    None for bad-output)."""

    index: int
    status: str
    detail: str = ""
    comparison: Comparison | None = None


def judge_returned(index: int, model: Model, value: object) -> Judgement:
    """Judge ``value``, what ``gradients`` returned for ``model`` (the ``index``-th, from 0)."""
    try:
        loss, grads = _unpack(value, model.K)
    except ValueError as exc:
        return Judgement(index, "bad-output", f"{model_label(index, model)}: {exc}")
    comparison = compare_answers(model, Answers.from_values(loss, grads))
    return Judgement(index, "correct" if comparison.agree else "wrong", "", comparison)


def _unpack(value: object, k: int) -> tuple[float, dict[str, Matrix]]:
    """(loss, {"A": dA, "B": dB, "C": dC}) from a returned value, or ValueError saying what is wrong."""
    if isinstance(value, dict):
        missing = [key for key in QUANTITIES if key not in value]
        if missing:
            found = ", ".join(sorted(map(str, value))[:8]) or "none"
            raise ValueError(
                f"the returned dict has no {', '.join(map(repr, missing))} (its keys: {found}; "
                "expected loss, A, B, C)"
            )
        parts = [value[key] for key in QUANTITIES]
    elif isinstance(value, list):
        if len(value) != 4:
            raise ValueError(f"returned {len(value)} values; expected 4: (loss, dA, dB, dC)")
        parts = list(value)
    else:
        shown = "None" if value is None else f"a {_json_type(value)}"
        raise ValueError(f"returned {shown}; expected (loss, dA, dB, dC) or a dict with keys loss, A, B, C")
    loss = _loss(parts[0])
    grads = {}
    for name, m in zip(MATRIX_NAMES, parts[1:], strict=True):
        try:
            grads[name] = validate_matrix(f"∂L/∂{name}", m, k)
        except OverflowError:  # an integer beyond any float (JSON carries them whole)
            raise ValueError(f"∂L/∂{name} holds an integer too large for a float: not finite") from None
    return loss, grads


def _loss(value: object) -> float:
    """The loss: a number, or one number in one-element lists (a tensor of shape (1,) or (1, 1))."""
    inner = value
    while isinstance(inner, list) and len(inner) == 1:
        inner = inner[0]
    if isinstance(inner, bool) or not isinstance(inner, int | float):
        shown = f"a list of {len(inner)}" if isinstance(inner, list) else f"a {_json_type(inner)}"
        raise ValueError(f"the loss is {shown}; expected one number")
    try:
        loss = float(inner)
    except OverflowError:
        loss = math.inf
    if not math.isfinite(loss):
        raise ValueError(f"the loss is not finite: {loss!r}")
    return loss


def _json_type(value: object) -> str:
    names = {str: "string", bool: "boolean", int: "number", float: "number", list: "list", dict: "dict"}
    return names.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- the whole submission


class Run(Protocol):
    """How a submission's run ended (:class:`backprop_lab.sandbox.Outcome` is one)."""

    @property
    def status(self) -> str: ...
    @property
    def returned(self) -> tuple[object, ...]: ...
    @property
    def detail(self) -> str: ...
    @property
    def output(self) -> str: ...
    @property
    def seconds(self) -> float: ...
    @property
    def failed_model(self) -> int | None: ...


@dataclass(frozen=True)
class Grade:
    """One submission's grade. ``verdict``: one of :data:`VERDICTS`. ``detail``: one line (the
    exception's last line, the bad output, how it crashed, which model), empty when correct.
    ``judged``: a :class:`Judgement` per model answered, in order (all of them for correct,
    wrong and bad-output; the ones before it stopped otherwise). ``output``: what it printed
    (capped by the sandbox). ``seconds``: wall time of the run."""

    name: str
    verdict: str
    detail: str
    judged: tuple[Judgement, ...]
    models: int
    seconds: float = 0.0
    output: str = ""
    failed_model: int | None = None

    def agreement(self, quantity: str) -> tuple[int, int]:
        """(on how many models ``quantity`` agreed, on how many it was judged)."""
        verdicts = [j.comparison.verdict(quantity) for j in self.judged if j.comparison is not None]
        return sum(v is not None and v.agree for v in verdicts), sum(v is not None for v in verdicts)

    def diagnoses(self, name: str) -> tuple[str, ...]:
        """The catalogue ids named for gradient ``name`` across the models where it disagreed, the
        most frequent first (ties in catalogue order)."""
        counts: Counter[str] = Counter()
        for j in self.judged:
            v = j.comparison.verdict(name) if j.comparison is not None else None
            if v is not None and not v.agree and v.diagnosis is not None:
                counts[v.diagnosis.id] += 1
        return tuple(sorted(counts, key=lambda d: (-counts[d], _catalogue_order(d))))

    @property
    def worst_relative(self) -> float | None:
        """The largest relative error among each quantity's worst entry on every model judged
        (None when nothing was judged)."""
        worst = [v.worst.relative for j in self.judged if j.comparison for v in j.comparison.verdicts]
        return max(worst) if worst else None

    @property
    def first_wrong(self) -> Judgement | None:
        """The first model whose numbers disagree (what the feedback shows), or None."""
        return next((j for j in self.judged if j.status == "wrong"), None)


def _catalogue_order(mistake: str) -> int:
    return MISTAKE_IDS.index(mistake) if mistake in MISTAKE_IDS else len(MISTAKE_IDS)


def grade_run(name: str, models: Sequence[Model], run: Run) -> Grade:
    """The grade of a submission called ``name`` from its ``run`` on ``models``.

    A run that did not end "ok" is graded by how it ended ("unloadable" is an ``error``), with
    the answers it gave before judged for the feedback. A run that answered every model is
    ``bad-output`` if any answer is unusable, else ``wrong`` if any disagrees, else ``correct``.
    """
    judged = tuple(
        judge_returned(i, m, v) for i, (m, v) in enumerate(zip(models, run.returned, strict=False))
    )

    def grade(verdict: str, detail: str = "", failed: int | None = None) -> Grade:
        return Grade(name, verdict, detail, judged, len(models), run.seconds, run.output, failed)

    if run.status != "ok":
        verdict = _STATUS_VERDICT.get(run.status, run.status)
        if verdict not in VERDICTS:
            raise ValueError(f"unknown run status {run.status!r}")
        failed = run.failed_model
        known = failed is not None and 0 <= failed < len(models)
        where = f", on {model_label(failed, models[failed])}" if known and failed is not None else ""
        return grade(verdict, (run.detail or verdict) + where, failed)
    if len(run.returned) != len(models):
        return grade("bad-output", f"answered {len(run.returned)} of {len(models)} models")
    bad = next((j for j in judged if j.status == "bad-output"), None)
    if bad is not None:
        return grade("bad-output", bad.detail, bad.index)
    wrong = [j for j in judged if j.status == "wrong"]
    if wrong:
        done = grade("wrong", "", wrong[0].index)
        which = [q for q in QUANTITIES if done.agreement(q)[0] < done.agreement(q)[1]]
        names = ", ".join("the loss" if q == "loss" else f"∂L/∂{q}" for q in which)
        detail = f"{names} disagree{'s' if len(which) == 1 else ''} on {len(wrong)} of {len(models)} models"
        return grade("wrong", detail, wrong[0].index)
    return grade("correct")
