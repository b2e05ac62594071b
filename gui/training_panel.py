"""The training panel: settings, Start / Pause–Resume / Stop / Step, progress with steps/s and ETA.

The progress line describes the run on screen: steps/s and ETA only while a run exists (they go
with Stop or the end); the last run's "n / total steps" stays after it until the model or the
history changes by any other hand (an edit, a K change, Reset, New, Open, Undo), which starts the
line again at 0.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.training import (
    MAX_EPOCHS,
    MAX_LEARNING_RATE,
    MAX_SAMPLES,
    MAX_SEED,
    TrainingSettings,
)
from backprop_lab.gui.document import Document
from backprop_lab.gui.exact_spin_box import ExactSpinBox, FloatSpinBox, IntSpinBox
from backprop_lab.gui.worker import TrainingController

INT_MAX = 2_147_483_647


def format_duration(seconds: float) -> str:
    """ "0:07", "12:30", "1:02:03"; "—" when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


#: (TrainingSettings field, also the panel's attribute; label) of each settings box, in form order.
FIELDS = (
    ("learning_rate", "Learning rate"),
    ("batch_size", "Batch size"),
    ("n_samples", "Samples"),
    ("epochs", "Epochs"),
    ("seed", "Seed"),
)


class TrainingPanel(QWidget):
    """Edits the document's TrainingSettings and drives the TrainingController.

    Each box holds its setting exactly (:mod:`gui.exact_spin_box`): whatever the session format
    accepts is shown as it is and saved back unchanged. An edit replaces that one field of the
    document's current settings, so it never rewrites another (the one deliberate exception:
    fewer samples than the batch size lower the batch size to match, and say so).
    """

    def __init__(
        self, document: Document, controller: TrainingController, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self._document = document
        self._controller = controller

        self._build_spins(document.training_settings)
        self._build_buttons()
        self._build_status()

        form = self._settings_form()
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.step_button, self.stop_button):
            buttons.addWidget(b)
        status = QHBoxLayout()
        status.addWidget(self.progress, 1)
        status.addWidget(self.rate_label)

        box = QGroupBox("Training")
        inner = QVBoxLayout(box)
        inner.addLayout(form)
        inner.addLayout(buttons)
        inner.addLayout(status)
        inner.addWidget(self.history_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

        for spin, (fld, title) in zip(self._spins, FIELDS, strict=True):
            spin.valueChanged.connect(lambda value, f=fld, t=title: self._on_spin_value_changed(f, t, value))
            spin.inputRefused.connect(lambda reason, w=spin, t=title: self._refuse(w, f"{t}: {reason}"))
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.step_button.clicked.connect(self._on_step_button_clicked)
        controller.progressed.connect(self._on_controller_progressed)
        document.settingsChanged.connect(self._on_document_settings_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)
        document.historyChanged.connect(self._on_document_history_changed)
        document.modelChanged.connect(self._on_document_model_changed)
        self._history_generation = document.history_generation
        self._on_document_settings_changed()
        self._on_document_training_state_changed(document.training_state)
        self._on_document_history_changed()
        self._show_progress(0, document.training_settings.total_steps, 0.0, math.nan)

    def _build_spins(self, s: TrainingSettings) -> None:
        """A box for each setting, showing ``s``."""
        self.learning_rate = FloatSpinBox(
            s.learning_rate, 0.0, MAX_LEARNING_RATE, objectName="learningRate", widest="0.00012345678901234"
        )
        self.batch_size = IntSpinBox(s.batch_size, 1, MAX_SAMPLES, objectName="batchSize", widest="1000000")
        self.n_samples = IntSpinBox(s.n_samples, 1, MAX_SAMPLES, objectName="nSamples", widest="1000000")
        self.epochs = IntSpinBox(s.epochs, 1, MAX_EPOCHS, objectName="epochs", widest="1000000")
        self.seed = IntSpinBox(s.seed, 0, MAX_SEED, objectName="seed", widest=str(MAX_SEED))
        self._spins: tuple[ExactSpinBox[Any], ...] = tuple(getattr(self, fld) for fld, _ in FIELDS)
        for spin in self._spins:
            spin.setAccelerated(True)

    def _build_buttons(self) -> None:
        """Start, Pause, Stop and Step."""
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startButton")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.step_button = QPushButton("Step")
        self.step_button.setObjectName("stepButton")
        for b in (self.start_button, self.pause_button, self.stop_button, self.step_button):
            b.setMinimumWidth(70)

    def _build_status(self) -> None:
        """The progress bar, the rate and ETA, and the history's length."""
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.rate_label = QLabel()
        self.rate_label.setObjectName("trainingRate")
        self.history_label = QLabel()
        self.history_label.setObjectName("historyLength")
        # Fixed sizes: a label whose text changes while training would otherwise re-lay out the whole
        # window several times a second (Qt skips that only for fixed-size widgets).
        for label, widest in (
            (self.rate_label, "9,999,999 steps/s · ETA 99:59:59"),
            (self.history_label, "History: 99,999,999 steps, 9,999,999 epochs"),
        ):
            label.setFixedSize(label.fontMetrics().horizontalAdvance(widest) + 8, label.sizeHint().height())

    def _settings_form(self) -> QGridLayout:
        """The setting boxes, labelled, in two columns."""
        form = QGridLayout()
        form.setHorizontalSpacing(8)
        for row, col, text, spin in (
            (0, 0, "Learning rate", self.learning_rate),
            (0, 2, "Batch size", self.batch_size),
            (1, 0, "Samples", self.n_samples),
            (1, 2, "Epochs", self.epochs),
            (2, 0, "Seed", self.seed),
        ):
            label = QLabel(text)
            label.setBuddy(spin)
            form.addWidget(label, row, col)
            form.addWidget(spin, row, col + 1)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        return form

    # ------------------------------------------------------------------ reading the form

    def settings(self) -> TrainingSettings:
        """The settings the boxes show (they equal the document's except in the middle of an edit)."""
        return TrainingSettings(
            learning_rate=self.learning_rate.value(),
            batch_size=self.batch_size.value(),
            n_samples=self.n_samples.value(),
            epochs=self.epochs.value(),
            seed=self.seed.value(),
        )

    # ------------------------------------------------------------------ slots

    def _on_spin_value_changed(self, field: str, label: str, value: float) -> None:
        current = self._document.training_settings
        changes: dict[str, Any] = {field: value}  # the field's own type: its box's (int or float)
        shrunk = field == "n_samples" and isinstance(value, int) and 1 <= value < current.batch_size
        if shrunk:
            changes["batch_size"] = value
        settings = replace(current, **changes)
        try:
            self._document.set_training_settings(settings)
        except ValueError as exc:
            self._refuse(getattr(self, field), f"{label}: {exc}")
            return
        if shrunk:
            self._document.notify(f"Batch size lowered to {value} (a batch holds at most every sample)")

    def _refuse(self, box: ExactSpinBox[Any], message: str) -> None:
        """The matrix editors' refusal: one line in the status bar and at the box; the old value stays."""
        self._on_document_settings_changed()
        text = f"{message}; kept the old value"
        self._document.notify(text)
        if box.isVisible():
            QToolTip.showText(box.mapToGlobal(box.rect().bottomLeft()), text, box, box.rect(), 4000)

    def _on_start_button_clicked(self) -> None:
        self._controller.start()

    def _on_pause_button_clicked(self) -> None:
        self._controller.toggle_pause()

    def _on_stop_button_clicked(self) -> None:
        self._controller.stop()

    def _on_step_button_clicked(self) -> None:
        self._controller.step()

    def _on_controller_progressed(self, done: int, total: int, rate: float, eta: float) -> None:
        self._show_progress(done, total, rate, eta)
        self._show_history_length()

    def _on_document_settings_changed(self) -> None:
        s = self._document.training_settings
        for spin, (fld, _label) in zip(self._spins, FIELDS, strict=True):
            spin.blockSignals(True)
            spin.setValue(getattr(s, fld))
            spin.blockSignals(False)
        if not self._document.is_training:
            self._show_progress(0, s.total_steps, 0.0, math.nan)

    def _on_document_training_state_changed(self, state: str) -> None:
        idle = state == "idle"
        for spin in self._spins:
            spin.setEnabled(idle)
        self.start_button.setEnabled(idle)
        self.pause_button.setEnabled(not idle)
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(not idle)
        self.step_button.setEnabled(state != "running")

    def _on_document_history_changed(self) -> None:
        doc = self._document
        if doc.training_state != "running":  # while running, progress updates it (paced)
            self._show_history_length()
        if doc.history_generation != self._history_generation:
            self._history_generation = doc.history_generation
            self._reset_progress()  # cleared or replaced: the last run's numbers describe nothing shown

    def _on_document_model_changed(self) -> None:
        self._reset_progress()

    def _reset_progress(self) -> None:
        """Idle: "0 / total", no rate (a run's own model changes are not this: they come while it exists)."""
        if not self._document.is_training:
            self._show_progress(0, self._document.training_settings.total_steps, 0.0, math.nan)

    def _show_history_length(self) -> None:
        h = self._document.history
        self.history_label.setText(
            f"History: {format_count(len(h), 'step')}, {format_count(h.last_epoch, 'epoch')}"
            if len(h)
            else "History: empty"
        )

    # ------------------------------------------------------------------ helpers

    def _show_progress(self, done: int, total: int, rate: float, eta: float) -> None:
        # QProgressBar holds ints; scale very long runs into range.
        scale = max(1, math.ceil(total / INT_MAX))
        self.progress.setRange(0, max(1, total // scale))
        self.progress.setValue(min(done, total) // scale)
        self.progress.setFormat(f"{done:,} / {total:,} steps")
        if not self._document.is_training:
            self.rate_label.setText("")  # a rate and an ETA belong to a run that exists
        elif rate > 0:
            self.rate_label.setText(f"{rate:,.0f} steps/s · ETA {format_duration(eta)}")
        else:
            self.rate_label.setText("— steps/s · ETA —")
