"""Spin boxes over exact Python values: whole numbers of any size and floats as typed.

``QSpinBox`` holds a C ``int`` (a seed of 2⁴¹ overflows it) and ``QDoubleSpinBox`` rounds every
value to a fixed number of decimals (a learning rate of 1e-9 becomes 1e-06). These boxes keep the
value as a Python ``int`` or ``float``, show it exactly (an int in full, a float as its shortest
round-trip ``repr``), and read typed text only when the edit is finished (Enter or focus leaving):
text that is not a number of the right kind is refused with a one-line reason
(:attr:`ExactSpinBox.inputRefused`) and the old value stays. Range and cross-field rules are the
caller's (the session's validator); ``minimum``/``maximum`` only bound the arrows and wheel.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QWidget

from backprop_lab.engine.matrix_text import parse_number

#: Longer text is refused before it is parsed (a pasted page is not a setting).
MAX_TEXT = 64


#: The value's Python type: ``int`` for :class:`IntSpinBox`, ``float`` for :class:`FloatSpinBox`.
N = TypeVar("N", int, float)


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:17] + "…"


class ExactSpinBox(QAbstractSpinBox, Generic[N]):
    """Base of :class:`IntSpinBox` and :class:`FloatSpinBox`.

    Signals: ``valueChanged(object)`` the user (typing, arrows) or :meth:`setValue` changed the
    value; ``inputRefused(str)`` finished text was not a value (the reason, one line; the box then
    shows the old value again).
    """

    valueChanged = Signal(object)
    inputRefused = Signal(str)

    def __init__(self, value: N, minimum: N, maximum: N, *, objectName: str = "", widest: str = "",
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        if objectName:
            self.setObjectName(objectName)
        self._minimum: N = minimum
        self._maximum: N = maximum
        self._value: N = value
        self.lineEdit().setText(self.text_for(value))
        if widest:  # the base class cannot size itself (it knows no values)
            self.setMinimumWidth(self.fontMetrics().horizontalAdvance(widest) + 40)
        self.editingFinished.connect(self._on_editing_finished)

    # ------------------------------------------------------------------ to override

    def text_for(self, value: N) -> str:
        raise NotImplementedError

    def parse(self, text: str) -> N:
        """The value ``text`` names, or ValueError with a one-line reason."""
        raise NotImplementedError

    def stepped(self, value: N, steps: int) -> N:
        raise NotImplementedError

    # ------------------------------------------------------------------ the value

    def value(self) -> N:
        return self._value

    def minimum(self) -> N:
        return self._minimum

    def maximum(self) -> N:
        return self._maximum

    def setValue(self, value: N) -> None:
        """Show ``value`` exactly; ``valueChanged`` if it differs (block signals to set it silently)."""
        changed = value != self._value or type(value) is not type(self._value)
        self._value = value
        self.lineEdit().setText(self.text_for(value))
        if changed:
            self.valueChanged.emit(value)

    # ------------------------------------------------------------------ QAbstractSpinBox

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        # Anything may be typed (a refusal explains itself when the edit is finished); only what
        # parses is Acceptable.
        try:
            self.parse(text)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Acceptable, text, pos

    def fixup(self, text: str) -> str:
        return text

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self.isReadOnly():
            return flags
        if self._value < self._maximum:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        if self._value > self._minimum:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags

    def stepBy(self, steps: int) -> None:
        # From the typed text when it is a value (as QSpinBox does), else from the value shown last.
        try:
            base = self.parse(self.lineEdit().text())
        except ValueError:
            base = self._value
        new = self.stepped(base, steps)
        self.setValue(min(self._maximum, max(self._minimum, new)))
        self.lineEdit().selectAll()

    # ------------------------------------------------------------------ slots

    def _on_editing_finished(self) -> None:
        text = self.lineEdit().text()
        if text == self.text_for(self._value):
            return
        try:
            value = self.parse(text)
        except ValueError as exc:
            self.lineEdit().setText(self.text_for(self._value))
            self.inputRefused.emit(str(exc))
            return
        self.setValue(value)


class IntSpinBox(ExactSpinBox[int]):
    """A whole number of any size (Python ``int``), shown in full."""

    def text_for(self, value: int) -> str:
        return str(value)

    def parse(self, text: str) -> int:
        s = text.strip().replace("_", "").replace(",", "").replace("\u2212", "-")
        if not s:
            raise ValueError("empty input: type a whole number")
        if len(s) > MAX_TEXT:
            raise ValueError("not a whole number: the text is too long")
        try:
            return int(s)
        except ValueError:
            raise ValueError(f"not a whole number: {_short(text.strip())!r}") from None

    def stepped(self, value: int, steps: int) -> int:
        return value + steps


class FloatSpinBox(ExactSpinBox[float]):
    """A finite float as typed: shown as its shortest round-trip ``repr`` (1e-09, 0.0123456789).

    The arrows step by one unit in the second significant digit (0.01 → 0.011; 0.01 → 0.0099),
    in decimal arithmetic, so a step never adds binary noise (0.011, not 0.011000000000000001).
    """

    def text_for(self, value: float) -> str:
        return repr(float(value))

    def parse(self, text: str) -> float:
        if len(text.strip()) > MAX_TEXT:
            raise ValueError("not a number: the text is too long")
        return parse_number(text)

    def stepped(self, value: float, steps: int) -> float:
        d = Decimal(repr(float(value)))
        for _ in range(abs(steps)):
            if d == 0:
                d = Decimal(1).scaleb(-2) * (1 if steps > 0 else -1)
                continue
            exponent = d.adjusted()  # of the leading digit: 0.0123 → -2
            at_power = abs(d) == Decimal(1).scaleb(exponent)
            # Going down from an exact power of ten takes the finer step (0.01 → 0.0099).
            finer = at_power and (steps < 0) == (d > 0)
            unit = Decimal(1).scaleb(exponent - (2 if finer else 1))
            d = d + unit if steps > 0 else d - unit
        return float(d)
