"""The training panel: settings, Start / Pause–Resume / Stop / Step, progress with steps/s and ETA."""

from __future__ import annotations

import math

from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.training import MAX_EPOCHS, MAX_SAMPLES, TrainingSettings
from backprop_lab.gui.document import Document
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


class RateSpinBox(QDoubleSpinBox):
    """A learning-rate box that shows 0.01, not 0.010000 (up to 6 decimals are kept)."""

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"


class TrainingPanel(QWidget):
    """Edits the document's TrainingSettings and drives the TrainingController."""

    def __init__(
        self, document: Document, controller: TrainingController, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self._document = document
        self._controller = controller

        self.learning_rate = RateSpinBox(objectName="learningRate")
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(1e-6, 1e6)
        self.learning_rate.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.learning_rate.setToolTip("λ in θ ← θ − λ·∂L/∂θ (the mean gradient over the mini-batch)")
        self.batch_size = QSpinBox(objectName="batchSize", minimum=1, maximum=MAX_SAMPLES)
        self.batch_size.setToolTip("Samples per mini-batch; the last batch of an epoch may be smaller")
        self.n_samples = QSpinBox(objectName="nSamples", minimum=1, maximum=MAX_SAMPLES)
        self.n_samples.setToolTip("Training inputs drawn uniformly from [0, 1)^K with the seed")
        self.epochs = QSpinBox(objectName="epochs", minimum=1, maximum=min(MAX_EPOCHS, INT_MAX))
        self.epochs.setToolTip("Passes over the samples (each in a fresh seeded order)")
        self.seed = QSpinBox(objectName="seed", minimum=0, maximum=INT_MAX)
        self.seed.setToolTip("Seed of the training inputs and their order")
        self._spins = (self.learning_rate, self.batch_size, self.n_samples, self.epochs, self.seed)
        for spin in self._spins:
            spin.setKeyboardTracking(False)
            spin.setAccelerated(True)

        self.start_button = QPushButton("Start", objectName="startButton")
        self.start_button.setToolTip("Train from the current weights (F5)")
        self.pause_button = QPushButton("Pause", objectName="pauseButton")
        self.pause_button.setToolTip("Pause or resume the run (F6)")
        self.stop_button = QPushButton("Stop", objectName="stopButton")
        self.stop_button.setToolTip("End the run, keeping the steps taken (Shift+F5)")
        self.step_button = QPushButton("Step", objectName="stepButton")
        self.step_button.setToolTip("Take exactly one mini-batch step, then pause (F10)")
        for b in (self.start_button, self.pause_button, self.stop_button, self.step_button):
            b.setMinimumWidth(70)

        self.progress = QProgressBar(objectName="trainingProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.rate_label = QLabel(objectName="trainingRate")
        self.history_label = QLabel(objectName="historyLength")
        # Fixed sizes: a label whose text changes while training would otherwise re-lay out the whole
        # window several times a second (Qt skips that only for fixed-size widgets).
        for label, widest in (
            (self.rate_label, "9,999,999 steps/s · ETA 99:59:59"),
            (self.history_label, "History: 99,999,999 steps, 9,999,999 epochs"),
        ):
            label.setFixedSize(label.fontMetrics().horizontalAdvance(widest) + 8, label.sizeHint().height())

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

        for spin in self._spins:
            spin.valueChanged.connect(self._on_spin_value_changed)
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.step_button.clicked.connect(self._on_step_button_clicked)
        controller.progressChanged.connect(self._on_controller_progress_changed)
        document.settingsChanged.connect(self._on_document_settings_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)
        document.historyChanged.connect(self._on_document_history_changed)
        self._on_document_settings_changed()
        self._on_document_training_state_changed(document.training_state)
        self._on_document_history_changed()
        self._show_progress(0, document.training_settings.total_steps, 0.0, math.nan)

    # ------------------------------------------------------------------ reading the form

    def settings(self) -> TrainingSettings:
        return TrainingSettings(
            learning_rate=self.learning_rate.value(),
            batch_size=self.batch_size.value(),
            n_samples=self.n_samples.value(),
            epochs=self.epochs.value(),
            seed=self.seed.value(),
        )

    # ------------------------------------------------------------------ slots

    def _on_spin_value_changed(self, _value: float) -> None:
        self._limit_batch_size()
        try:
            self._document.set_training_settings(self.settings())
        except ValueError as exc:
            self._document.notify(f"Training settings: {exc}")
            self._on_document_settings_changed()

    def _on_start_button_clicked(self) -> None:
        self._controller.start()

    def _on_pause_button_clicked(self) -> None:
        self._controller.toggle_pause()

    def _on_stop_button_clicked(self) -> None:
        self._controller.stop()

    def _on_step_button_clicked(self) -> None:
        self._controller.step()

    def _on_controller_progress_changed(self, done: int, total: int, rate: float, eta: float) -> None:
        self._show_progress(done, total, rate, eta)
        self._show_history_length()

    def _on_document_settings_changed(self) -> None:
        s = self._document.training_settings
        self.n_samples.blockSignals(True)
        self.n_samples.setValue(s.n_samples)
        self.n_samples.blockSignals(False)
        self._limit_batch_size()
        for spin, value in zip(
            self._spins, (s.learning_rate, s.batch_size, s.n_samples, s.epochs, s.seed), strict=True
        ):
            spin.blockSignals(True)
            spin.setValue(value)
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
        if self._document.training_state != "running":  # while running, progress updates it (paced)
            self._show_history_length()

    def _show_history_length(self) -> None:
        h = self._document.history
        self.history_label.setText(
            f"History: {len(h):,} steps, {h.last_epoch:,} epochs" if len(h) else "History: empty"
        )

    # ------------------------------------------------------------------ helpers

    def _limit_batch_size(self) -> None:
        # A batch cannot be larger than the data set (the engine refuses it): fewer samples shrink it.
        self.batch_size.blockSignals(True)
        self.batch_size.setMaximum(self.n_samples.value())
        self.batch_size.blockSignals(False)

    def _show_progress(self, done: int, total: int, rate: float, eta: float) -> None:
        # QProgressBar holds ints; scale very long runs into range.
        scale = max(1, math.ceil(total / INT_MAX))
        self.progress.setRange(0, max(1, total // scale))
        self.progress.setValue(min(done, total) // scale)
        self.progress.setFormat(f"{done:,} / {total:,} steps")
        if rate > 0:
            self.rate_label.setText(f"{rate:,.0f} steps/s · ETA {format_duration(eta)}")
        else:
            self.rate_label.setText("— steps/s · ETA —")
