"""A student's numbers against the hand-derived ones, entry by entry, with a diagnosis.

``compare_answers(model, answers, rtol=None) -> Comparison``: each printed entry is compared with
the hand-derived value for the model in its variant (:func:`engine.model.model_loss_and_grads`).
The tolerance follows the digits printed (``2.1648`` agrees with anything that rounds or truncates
to it: one unit in its last digit); numbers with no printed digits (a program's, :mod:`grade`), or
any number when ``rtol`` is given, are judged to ``rtol``. A disagreeing matrix is diagnosed
against :mod:`engine.mistakes`' catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

from backprop_lab.engine.answers import Answers
from backprop_lab.engine.mistakes import Diagnosis
from backprop_lab.engine.model import Model

__all__ = ["Comparison", "Difference", "Verdict", "compare_answers"]


@dataclass(frozen=True)
class Difference:
    """One entry: where (``i``, ``j``; 0, 0 for the loss), the student's value, the true one, and
    their difference relative to the truth (``inf`` when the truth is 0 and they differ)."""

    i: int
    j: int
    student: float
    truth: float
    relative: float


@dataclass(frozen=True)
class Verdict:
    """One quantity ("loss", "A", "B" or "C"): whether it agrees, how many entries were compared,
    which disagree, the worst entry (largest difference in units of its tolerance), and for a
    disagreeing gradient the diagnosis."""

    name: str
    agree: bool
    entries: int
    disagreeing: tuple[tuple[int, int], ...]
    worst: Difference
    diagnosis: Diagnosis | None = None


@dataclass(frozen=True)
class Comparison:
    """Every verdict, in the order loss, A, B, C (those the student gave)."""

    verdicts: tuple[Verdict, ...]

    @property
    def agree(self) -> bool:
        return all(v.agree for v in self.verdicts)

    def verdict(self, name: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.name == name), None)

    @property
    def worst_cell(self) -> tuple[str, int, int] | None:
        """The disagreeing gradient entry to open first (the chain-rule panel): the worst entry of
        the first disagreeing matrix, or None when every gradient agrees."""
        for v in self.verdicts:
            if v.name != "loss" and not v.agree:
                return (v.name, v.worst.i, v.worst.j)
        return None


def compare_answers(model: Model, answers: Answers, rtol: float | None = None) -> Comparison:
    """The comparison of ``answers`` with the model's hand-derived loss and gradients."""
    raise NotImplementedError("lane h-mistakes")
