"""Model ▸ Variant…: which member of the assignment's family the model is.

Three choices, each shown with what it means so that a student can pick the one their course set:

- the activation σ of the first branch, the five of :data:`engine.variant.ACTIVATIONS`, each with σ
  and σ′ written beside it;
- the convention, row vectors (a = xA: the report's numbers) or column vectors (a = Ax: the report's
  title), with what ``A[i][j]`` then connects;
- a target t (L = Σ (w_j − t_j)²) or none (L = Σ w_j², the report).

The weights keep their numbers, which in the other convention are another network; on a change of
convention the dialog offers to transpose A, B and C instead, which keeps the network and its loss.

The dialog only chooses: :meth:`VariantDialog.variant` is the :class:`~engine.variant.Variant` it
describes (and :meth:`VariantDialog.keeps_network` the transposition), and OK is refused, with one
line naming the bad entry, while the target does not read as K numbers. Applying it is the
document's ``set_variant`` (one undo step, a new history).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.matrix_text import parse_vector_text
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, Variant
from backprop_lab.gui.contrast import ink

#: What each convention computes and what an entry of A then connects (B and C alike).
CONVENTION_TEXT = {
    "row": (
        f"Row vectors: {Variant(convention='row').forward_formula()}",
        f"{Variant(convention='row').weight_meaning()} (the report's numbers and its PyTorch check)",
    ),
    "column": (
        f"Column vectors: {Variant(convention='column').forward_formula()}",
        f"{Variant(convention='column').weight_meaning()} (the report's title, C(σ(Ax) + Bx))",
    ),
}


def target_text(target: tuple[float, ...] | None) -> str:
    """A target as the dialog's field shows it: the shortest text that reads back to each float."""
    return "" if target is None else ", ".join(repr(t) for t in target)


def _label(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    return label


class VariantDialog(QDialog):
    """Chooses a variant for a model of ``k`` units, starting from ``current``.

    ``history_steps`` (the training history's length) is named in the note that applying a change
    starts a new history. Controls by objectName: ``variantActivation_<name>``, ``variantRow``,
    ``variantColumn``, ``variantTargetOn``, ``variantTarget``; ``variantError`` holds the refusal.
    """

    def __init__(
        self, current: Variant, k: int, history_steps: int = 0, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("variantDialog")
        self.setWindowTitle("Model variant")
        self.k = k
        self._current = current
        self.activations: dict[str, QRadioButton] = {}
        self.conventions: dict[str, QRadioButton] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(self._activation_box(current.activation))
        layout.addWidget(self._convention_box(current.convention))
        layout.addWidget(self._target_box(current.target))
        self.formula = _label("", "variantFormula")
        font = self.formula.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.formula.setFont(font)
        layout.addWidget(self.formula)
        steps = format_count(history_steps, "step")
        note = (
            f"Applying another variant starts a new training history (now {steps}; Undo brings it back)."
            if history_steps
            else "Applying it is one undo step; the weights keep their numbers unless transposed."
        )
        self.note = _label(note, "variantNote")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.error = _label("", "variantError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ink('bad')}")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for button in (*self.activations.values(), *self.conventions.values(), self.target_on):
            button.toggled.connect(self._on_choice_toggled)
        self.target.textChanged.connect(self._on_target_text_changed)
        self._on_choice_toggled(True)

    # ------------------------------------------------------------------ parts

    def _activation_box(self, chosen: str) -> QGroupBox:
        """One row per activation: its name, σ(a) and σ′(a), side by side."""
        box = QGroupBox("Activation σ (the first branch, y = σ(a))")
        grid = QGridLayout(box)
        group = QButtonGroup(self)
        for row, (name, act) in enumerate(ACTIVATIONS.items()):
            button = QRadioButton(name)
            button.setObjectName(f"variantActivation_{name}")
            button.setChecked(name == chosen)
            group.addButton(button)
            self.activations[name] = button
            grid.addWidget(button, row, 0)
            grid.addWidget(_label(act.formula), row, 1)
            grid.addWidget(_label(act.derivative_formula), row, 2)
        grid.setColumnStretch(2, 1)
        grid.setHorizontalSpacing(18)
        return box

    def _convention_box(self, chosen: str) -> QGroupBox:
        box = QGroupBox("Convention (the same numbers mean another network in the other one)")
        grid = QGridLayout(box)
        group = QButtonGroup(self)
        for row, name in enumerate(CONVENTIONS):
            title, meaning = CONVENTION_TEXT[name]
            button = QRadioButton(title)
            button.setObjectName(f"variant{name.capitalize()}")
            button.setChecked(name == chosen)
            group.addButton(button)
            self.conventions[name] = button
            detail = _label(meaning)
            detail.setWordWrap(True)
            detail.setStyleSheet(f"color: {ink('muted')}")
            detail.setContentsMargins(24, 0, 0, 4)  # under its radio button's text, not its circle
            grid.addWidget(button, 2 * row, 0)
            grid.addWidget(detail, 2 * row + 1, 0)
        self.keep_network = QCheckBox("Transpose A, B and C: the same network in the new convention")
        self.keep_network.setObjectName("variantKeepNetwork")
        grid.addWidget(self.keep_network, 2 * len(CONVENTIONS), 0)
        return box

    def _target_box(self, target: tuple[float, ...] | None) -> QGroupBox:
        box = QGroupBox("Target")
        grid = QGridLayout(box)
        self.target_on = QCheckBox("Target t: L = Σ (w_j − t_j)², the same t for every sample")
        self.target_on.setObjectName("variantTargetOn")
        self.target_on.setChecked(target is not None)
        self.target = QLineEdit(target_text(target))
        self.target.setObjectName("variantTarget")
        self.target.setPlaceholderText(f"K = {self.k} numbers, e.g. {', '.join(['0.5'] * min(self.k, 3))}")
        self.target.setEnabled(target is not None)
        grid.addWidget(self.target_on, 0, 0)
        grid.addWidget(self.target, 1, 0)
        grid.addWidget(_label("Without a target L = Σ w_j², as in the report.", "variantNoTarget"), 2, 0)
        return box

    # ------------------------------------------------------------------ the answer

    def variant(self) -> Variant:
        """The variant the dialog describes; ValueError (one line) when the target is not K numbers."""
        activation = next(name for name, b in self.activations.items() if b.isChecked())
        convention = next(name for name, b in self.conventions.items() if b.isChecked())
        target = parse_vector_text(self.target.text(), self.k) if self.target_on.isChecked() else None
        return Variant(activation, convention, target)

    def keeps_network(self) -> bool:
        """Whether A, B and C are to be transposed: asked for, and the convention changes."""
        return self.keep_network.isEnabled() and self.keep_network.isChecked()

    def accept(self) -> None:
        try:
            self.variant()
        except ValueError as exc:
            self.error.setText(f"Target: {exc}")
            self.target.setFocus()
            return
        super().accept()

    # ------------------------------------------------------------------ slots

    def _on_choice_toggled(self, _on: bool) -> None:
        self.target.setEnabled(self.target_on.isChecked())
        self.keep_network.setEnabled(not self.conventions[self._current.convention].isChecked())
        if not self.target_on.isChecked():
            self.error.clear()
        self._update_formula()

    def _on_target_text_changed(self, _text: str) -> None:
        self.error.clear()
        self._update_formula()

    def _update_formula(self) -> None:
        """The chosen model in one line, in its own convention (with "− t" once a target is on)."""
        activation = next((n for n, b in self.activations.items() if b.isChecked()), "sigmoid")
        convention = next((n for n, b in self.conventions.items() if b.isChecked()), "row")
        # A placeholder target of the right length: the line shows the shape, the field is checked on OK.
        target = (0.0,) * self.k if self.target_on.isChecked() else None
        shown = Variant(activation, convention, target)
        self.formula.setText(f"{shown.loss_formula()}    σ = {activation}")
