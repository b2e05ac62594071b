"""What a student's program printed: the loss and some of ∂L/∂A, ∂L/∂B, ∂L/∂C, read from text.

``parse_answers(text, k)`` reads the forms people print (the report's own ``A =`` and a nested
list, PyTorch's ``tensor([[…]])``, NumPy's ``array([[…]])`` and ``[[… …]]``, whitespace or CSV
rows; with or without labels such as ``dL/dA``, ``∂L/∂A``, ``grad_A``, ``A.grad``; any subset of
loss, A, B, C). It is parsed, never evaluated. Each number keeps the digits it was printed with
(:attr:`PrintedNumber.unit`), which set how closely it is judged (:mod:`engine.compare`).

Anything unreadable raises :class:`AnswersError`: one line naming the line number and what was
expected there.
"""

from __future__ import annotations

from dataclasses import dataclass

from backprop_lab.engine.shapes import Matrix

__all__ = ["GRADIENT_NAMES", "Answers", "AnswersError", "PrintedMatrix", "PrintedNumber", "parse_answers"]

GRADIENT_NAMES = ("A", "B", "C")


class AnswersError(ValueError):
    """Unreadable answers; ``str()`` is ``"line N: expected …, found …"`` (``line`` 0: the whole text)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class PrintedNumber:
    """One printed number: its value, one unit in its last printed digit (1e-4 for ``2.1648``,
    1e-7 for ``2.1648e-03``, 1.0 for ``12``; None for a number computed, not printed), and the
    1-based line it was on (0 when not read from text)."""

    value: float
    unit: float | None = None
    line: int = 0


@dataclass(frozen=True)
class PrintedMatrix:
    """A printed gradient: ``name`` is "A", "B" or "C" (∂L/∂A …); rows of :class:`PrintedNumber`."""

    name: str
    rows: tuple[tuple[PrintedNumber, ...], ...]
    line: int = 0

    @property
    def values(self) -> Matrix:
        return [[n.value for n in row] for row in self.rows]


@dataclass(frozen=True)
class Answers:
    """Everything a student gave: ``loss`` (or None) and the gradients they printed, by name."""

    loss: PrintedNumber | None
    grads: dict[str, PrintedMatrix]

    @classmethod
    def from_values(cls, loss: float | None, grads: dict[str, Matrix]) -> Answers:
        """Answers computed by a program (``grade``): full-precision numbers, no printed digits."""
        matrices = {
            name: PrintedMatrix(name, tuple(tuple(PrintedNumber(v) for v in row) for row in m))
            for name, m in grads.items()
        }
        return cls(None if loss is None else PrintedNumber(loss), matrices)


def parse_answers(text: str, k: int) -> Answers:
    """The answers in ``text`` for a K×K model; AnswersError (one line) when unreadable, when a
    matrix is not K×K, when a gradient is given twice, or when nothing is found."""
    raise NotImplementedError("lane h-answers")
