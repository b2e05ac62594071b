"""The gradients panel: the loss, ∂L/∂A, ∂L/∂B, ∂L/∂C (coloured by sign and size), the intermediates.

After Verify ▸ Check my numbers… the tables outline each entry the student's numbers disagree with
(:meth:`GradientsPanel.show_comparison`), until the model changes or a new check agrees.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.compare import Comparison
from backprop_lab.engine.formatting import format_count, format_number
from backprop_lab.engine.model import Model
from backprop_lab.engine.variant import Variant
from backprop_lab.gui.cell_highlighter import DISAGREEING_CELLS, CellHighlighter
from backprop_lab.gui.contrast import ink, muted_style
from backprop_lab.gui.document import Document
from backprop_lab.gui.heat_map import ScaleLegend
from backprop_lab.gui.live_pace import live_text
from backprop_lab.gui.matrix_editor import MatrixTable
from backprop_lab.gui.matrix_model import GradientModel, IntermediatesModel


class GradientsPanel(QWidget):
    """Read-only view of the document's evaluation; follows ``modelChanged``."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gradientsPanel")
        self._document = document
        self._shown_variant: Variant | None = None

        loss_row = self._build_loss_row()

        self.models: dict[str, GradientModel] = {}
        self.tables: dict[str, MatrixTable] = {}
        self.legends: dict[str, ScaleLegend] = {}
        box = QGroupBox("Gradients and forward pass")
        inner = QVBoxLayout(box)
        inner.setSpacing(4)
        inner.addLayout(loss_row)
        inner.addWidget(self.live_label)  # a row of its own: beside the loss it is cut at K ≥ 10
        inner.addWidget(self.error_label)
        self.check_note = self._build_check_note()
        inner.addWidget(self.check_note)
        for name in ("A", "B", "C"):
            model = GradientModel(document, name, self)
            table = MatrixTable(model, f"grad{name}", f"∂L/∂{name}")
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            legend = ScaleLegend()
            legend.setObjectName(f"gradScale{name}")
            head = QHBoxLayout()
            head.addWidget(QLabel(f"<b>∂L/∂{name}</b>"))
            head.addStretch(1)
            head.addWidget(legend)
            inner.addLayout(head)
            inner.addWidget(table, 1)
            self.models[name] = model
            self.tables[name] = table
            self.legends[name] = legend
        self.intermediates_model = IntermediatesModel(document, self)
        self.intermediates = MatrixTable(self.intermediates_model, "intermediates", "Forward pass at x")
        self.intermediates.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Two fixed lines, not word wrap: a wrapping label makes the scroll area around the panel
        # size it by its preferred height (tables asking for numbers) instead of the room there is.
        self.forward_title = QLabel()
        self.forward_title.setObjectName("forwardTitle")
        inner.addWidget(self.forward_title)
        self.intermediates.modest = True  # short of room, the forward pass turns to colour first
        inner.addWidget(self.intermediates, 1)
        inner.addStretch(0)  # what the tables do not take when they show numbers

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        #: The entries a check of a student's numbers found disagreeing, and the model checked.
        self.disagreements = CellHighlighter(dict(self.tables), self, DISAGREEING_CELLS)
        self._checked_model: Model | None = None
        document.modelChanged.connect(self._on_document_model_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)
        self._on_document_training_state_changed(document.training_state)
        self._on_document_model_changed()

    def _build_loss_row(self) -> QHBoxLayout:
        """The loss, its "live (step n)" mark, and (under them, not in the row) the evaluation's error."""
        self.loss_label = QLabel()
        self.loss_label.setObjectName("lossValue")
        self.loss_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.loss_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.loss_label.setFont(font)
        self.error_label = QLabel()
        self.error_label.setObjectName("evaluationError")
        self.error_label.setStyleSheet(f"color: {ink('bad')};")
        self.error_label.setWordWrap(True)
        self.live_label = self._build_live_label()
        loss_row = QHBoxLayout()
        self.loss_title = QLabel()
        self.loss_title.setObjectName("lossTitle")
        loss_row.addWidget(self.loss_title)
        loss_row.addWidget(self.loss_label)
        loss_row.addStretch(1)
        return loss_row

    def _build_check_note(self) -> QLabel:
        """ "Outlined: n disagreeing entries", shown while a check's outlines are (show_comparison)."""
        note = QLabel()
        note.setObjectName("checkNote")
        note.setStyleSheet(muted_style(note.palette()))
        # Never wider than the tables: a narrow panel cuts the note rather than growing for it.
        note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        note.hide()
        return note

    def _build_live_label(self) -> QLabel:
        """ "live (step n)" while the numbers follow a running run's weights (gui.live_pace.live_text)."""
        live = QLabel()
        live.setObjectName("gradientsLive")
        live.setStyleSheet(f"color: {ink('muted')};")
        italic = live.font()
        italic.setItalic(True)
        live.setFont(italic)
        # Fixed sizes: both change several times a second during a run, and a label whose size may
        # change re-lays out the whole window each time (Qt skips that only for fixed-size widgets).
        for label, widest in ((self.loss_label, "-8.8888e+888"), (live, "paused (step 888,888,888)")):
            label.setFixedSize(label.fontMetrics().horizontalAdvance(widest) + 8, label.sizeHint().height())
        return live

    def _on_document_training_state_changed(self, state: str) -> None:
        self.live_label.setText(self._live_text())
        self.live_label.setVisible(state != "idle")  # its row is there only while a run exists

    def show_comparison(self, comparison: Comparison, model: Model) -> None:
        """Outline each gradient entry ``comparison`` found disagreeing (dashed; its worst entry solid),
        for as long as the document shows ``model``, the model it compared with. A comparison in
        which every gradient given agrees (or one of another model) clears the outlines."""
        cells = {
            v.name: frozenset(v.disagreeing)
            for v in comparison.verdicts
            if v.name in self.tables and not v.agree
        }
        if not cells or model != self._document.model:
            self.clear_comparison()
            return
        self._checked_model = model
        self.disagreements.show_cells(cells, comparison.worst_cell)
        n = sum(len(c) for c in cells.values())
        self.check_note.setText(f"Outlined: {format_count(n, 'disagreeing entry', 'disagreeing entries')}")
        self.check_note.show()

    def clear_comparison(self) -> None:
        """No outlines: the check they came from is no longer about the numbers shown."""
        self._checked_model = None
        self.disagreements.clear()
        self.check_note.hide()

    def disagreeing_cells(self) -> dict[str, frozenset[tuple[int, int]]]:
        """The outlined entries by matrix name (empty when none are)."""
        return self.disagreements.highlighted()

    def _on_document_model_changed(self) -> None:
        if self._checked_model is not None and self._document.model != self._checked_model:
            self.clear_comparison()
        ev = self._document.evaluation
        self.live_label.setText(self._live_text())
        self.loss_label.setText(format_number(ev.loss, "cell"))
        self.loss_label.setToolTip(format_number(ev.loss, "full", none=""))
        self.error_label.setText(ev.error or "")
        self.error_label.setVisible(bool(ev.error))
        for name, model in self.models.items():
            self.legends[name].set_scale(model.scale)
        self._show_variant()

    def _show_variant(self) -> None:
        """The loss and the forward pass as the model's variant computes them (set when it changes)."""
        v = self._document.model.variant
        if v == self._shown_variant:
            return  # a run's weights change many times a second; the variant does not
        self._shown_variant = v
        # With a target the formula is longer: "Loss" goes, so that the panel is no wider.
        target = v.target is not None
        self.loss_title.setText(
            "L = Σ (w<sub>j</sub> − t<sub>j</sub>)² at x:" if target else "Loss L = Σ w<sub>j</sub>² at x:"
        )
        a, u, w = v.products
        products = f"a = {a}, u = {u}, z = σ(a) + u, w = {w}"
        self.forward_title.setText(f"<b>Forward pass at x</b> (σ = {v.activation})<br>{products}")

    def _live_text(self) -> str:
        return live_text(self._document.live_step, self._document.training_state)
