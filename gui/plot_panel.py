"""The live training plot: per-step loss, loss at x and gradient norms (pyqtgraph), titled with the
model's variant (its formula and, in words, its activation, convention and target).

Fluid with millions of points: the curves are created once; values live in preallocated numpy
buffers that double when full; the document's history is read incrementally (only the new rows,
once per batch, never per step); redraws are paced so that drawing takes at most 1/REDRAW_BUDGET of
the time, and while a run computes they happen only when a batch arrives (the worker then waits, so
drawing does not compete with it for the GIL); each curve draws with peak downsampling and
clip-to-view. Smoothing is TensorBoard's debiased exponential moving average,
with the raw curve kept faint behind it.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from backprop_lab.engine.formatting import format_number
from backprop_lab.gui import curves as curve_specs
from backprop_lab.gui.axes import StepAxis, ValueAxis
from backprop_lab.gui.document import Document
from backprop_lab.gui.plot_data import GrowingBuffer, ema_extend_rows

#: (History column, legend label, colour) of each curve, from the one definition in gui.curves.
CURVES = tuple((c.id, c.name, c.colour) for c in curve_specs.CURVES)
NAMES = tuple(name for name, _, _ in CURVES)
REDRAW_MS = 33  # at most ~30 redraws a second while the history grows
#: A redraw may take at most 1/REDRAW_BUDGET of the time: while training, the GUI thread shares the
#: GIL with the worker, so every millisecond spent drawing is a millisecond the run waits.
REDRAW_BUDGET = 30
MAX_REDRAW_MS = 1000
MAX_EPOCH_LINES = 64  # more boundaries than this are noise, not information
RAW_ALPHA = 70  # the raw curve behind a smoothed one: visible, not competing
EMPTY_STEPS = (0, 10)  # the step axis of an emptied plot: no range of an old history
SMOOTHING_STEPS = 1000  # the slider's resolution: weight = value / SMOOTHING_STEPS, at most 0.999


# pyqtgraph ships no type hints, so its classes are Any to mypy (strict refuses subclassing Any).
class TimedPlotWidget(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped: a subclass of Any
    """A PlotWidget that remembers how long its last paint took (to pace live redraws)."""

    last_paint_ms = 0.0

    def paintEvent(self, event: QPaintEvent) -> None:
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_ms = (time.perf_counter() - t0) * 1000


class PlotPanel(QWidget):
    """Loss and gradient norms against the step, following the document's history."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("plotPanel")
        self._document = document
        self._init_state()
        self._build_plot()
        self._build_controls()

        controls = QHBoxLayout()
        controls.addWidget(self.log_y)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing, 1)
        controls.addWidget(self.smoothing_label)
        controls.addSpacing(12)
        controls.addWidget(self.auto_range)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_interval_ms = float(REDRAW_MS)
        self._last_redraw = 0.0
        self._redraw_timer.timeout.connect(self._on_redraw_timer_timeout)
        self.log_y.toggled.connect(self._on_log_y_toggled)
        self.smoothing.valueChanged.connect(self._on_smoothing_value_changed)
        self.auto_range.clicked.connect(self._on_auto_range_clicked)
        self.plot.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        document.historyChanged.connect(self._on_document_history_changed)
        document.modelChanged.connect(self._on_document_model_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)
        self._on_smoothing_value_changed(self.smoothing.value())
        self.log_y.setChecked(curve_specs.LOG_Y_DEFAULT)
        self._on_document_model_changed()
        self.refresh()

    def _init_state(self) -> None:
        """The history's columns as drawn (raw and smoothed), the epochs, the extent of the data."""
        self._steps = GrowingBuffer()
        self._raw = {name: GrowingBuffer() for name, _, _ in CURVES}
        self._smooth = {name: GrowingBuffer() for name, _, _ in CURVES}
        self._ema_last, self._ema_count = np.zeros(len(CURVES)), 0  # the EMA's accumulators, steps seen
        self._epoch_starts: list[int] = []  # step numbers that begin a new epoch (after the first)
        self._last_epoch = 0
        self._n = 0
        self._generation = -1
        self._drawn_n, self._drawn_generation = -1, -1  # what the curves show (refresh draws the rest)
        self._epoch_lines: list[pg.InfiniteLine] = []
        self._ymin, self._ymax, self._ymin_positive = math.inf, -math.inf, math.inf
        #: The view shows all the data and follows new steps (until the user pans or zooms).
        self.follow = True

    def _build_plot(self) -> None:
        """The plot with a raw and a smoothed curve per series, its legend and the hover line."""
        axes = {"left": ValueAxis("left"), "bottom": StepAxis("bottom")}  # the reports' (gui.axes)
        self.plot = TimedPlotWidget(background="w", axisItems=axes)
        self.plot.setObjectName("trainingPlot")
        item = self.plot.getPlotItem()
        # No grid: its lines (one per minor tick of a log axis) cost more to paint than all ten curves,
        # and a live plot repaints often. The axes, the hover readout and the epoch lines give scale.
        for axis in ("left", "bottom"):
            # Room for tick labels grows but never shrinks: a live plot's labels change width often,
            # and every change re-lays out the plot and paints it again (a second paint per redraw).
            item.getAxis(axis).setStyle(autoReduceTextSpace=False)
        item.setContentsMargins(0, 8, 4, 0)  # room above for the top tick label's upper half
        item.setLabel("bottom", "step")
        item.setLabel("left", "value")
        item.setMenuEnabled(True)
        self.legend = item.addLegend(
            offset=(-10, 10), labelTextColor="k", brush=pg.mkBrush(255, 255, 255, 210)
        )

        self.raw_curves: dict[str, pg.PlotDataItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for spec in curve_specs.CURVES:
            name = spec.id
            # Cosmetic 1-pixel pens: wider ones cost twice the painting time per frame.
            raw = item.plot(pen=spec.pen(alpha=RAW_ALPHA))
            smooth = item.plot(pen=spec.pen(), name=spec.name)
            for c in (raw, smooth):
                c.setDownsampling(auto=True, method="peak")
                c.setClipToView(True)
                # Peak bins of about a pixel (pyqtgraph's default is 5 per pixel): the drawn envelope
                # is the same, the paths are a third the size, and a redraw costs 35 % less.
                c.opts["autoDownsampleFactor"] = 1.5
            self.raw_curves[name] = raw
            self.curves[name] = smooth
        item.hideButtons()  # the "A" button would hand the range back to pyqtgraph's slow auto-range
        item.getViewBox().disableAutoRange()
        item.getViewBox().sigRangeChangedManually.connect(self._on_view_range_changed_manually)
        self.hover_line = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen("#888888", width=1, style=Qt.PenStyle.DotLine)
        )
        self.hover_line.setVisible(False)
        item.addItem(self.hover_line, ignoreBounds=True)

    def _build_controls(self) -> None:
        """Log y, the smoothing slider and its value, Auto-range, and the hover readout."""
        self.log_y = QCheckBox("Log y")
        self.log_y.setObjectName("logY")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setObjectName("smoothing")
        self.smoothing.setRange(0, int(SMOOTHING_STEPS * 0.999))
        self.smoothing.setValue(600)
        self.smoothing.setMinimumWidth(120)
        self.smoothing_label = QLabel()
        self.smoothing_label.setObjectName("smoothingValue")
        self.smoothing_label.setMinimumWidth(36)
        self.auto_range = QPushButton("Auto-range")
        self.auto_range.setObjectName("autoRange")
        self.readout = QLabel()
        self.readout.setObjectName("plotReadout")
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.readout.setWordWrap(True)
        self.readout.setMinimumWidth(100)
        # One line at the default window size: the readout is a caption, not body text.
        font = self.readout.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.readout.setFont(font)

    # ------------------------------------------------------------------ public

    @property
    def point_count(self) -> int:
        """Steps the curves show (the history may be ahead until the next paced redraw)."""
        return max(self._drawn_n, 0)

    @property
    def smoothing_weight(self) -> float:
        return self.smoothing.value() / SMOOTHING_STEPS

    @property
    def epoch_lines(self) -> list[pg.InfiniteLine]:
        return [line for line in self._epoch_lines if line.isVisible()]

    def refresh(self) -> bool:
        """Bring the curves up to date with the history now; True if anything changed."""
        changed = self._sync() or self._drawn_n != self._n or self._drawn_generation != self._generation
        if changed:
            self._redraw()
        return changed

    def readout_at(self, step: int) -> str:
        """The hover text for ``step`` (1-based): its epoch and every curve's raw value."""
        if not self._n:
            return ""
        i = min(max(int(step), 1), self._n) - 1
        epoch = self._epoch_of(i + 1)
        parts = [f"step {i + 1:,} (epoch {epoch})" if epoch else f"step {i + 1:,}"]
        # Raw values: the smoothed ones are what the eye already reads off the curves.
        parts += [f"{label} {format_number(self._raw[name].view[i], 'short')}" for name, label, _ in CURVES]
        return " · ".join(parts)

    # ------------------------------------------------------------------ slots

    def _on_document_history_changed(self) -> None:
        # Take the new rows in at every batch (a few thousand rows: about a millisecond), so that a
        # paced redraw is only the curves' setData and the paint, not tens of thousands of rows at once.
        self._sync()
        # Redraw now if the last redraw is long enough ago (during a run the worker waits for this
        # batch to be taken in, so drawing now does not compete with it), else once it is due.
        due_in = self._redraw_interval_ms - (time.perf_counter() - self._last_redraw) * 1000
        if due_in <= 0:
            self._redraw_timer.stop()
            self._paced_redraw()
        elif self._document.training_state == "running":
            # No timer while a run computes: drawing then would compete with the worker for the GIL
            # (every hand-off costs a switch interval: a 10 ms redraw became 30 to 50 ms). A later
            # batch, each ~50 ms, finds the redraw due; pause, stop or the end draw what is left.
            self._redraw_timer.stop()
        elif not self._redraw_timer.isActive():
            self._redraw_timer.start(int(due_in) + 1)

    def _on_document_model_changed(self) -> None:
        # The title names the variant the history is trained in; new weights leave it as it is.
        variant, item = self._document.model.variant, self.plot.getPlotItem()
        title = f"{variant.loss_formula()}  ·  {variant.describe()}"
        if item.titleLabel.text != title:
            item.setTitle(title, size="9pt")

    @property
    def title(self) -> str:
        """The plot's title: the model's formula and its variant in words."""
        return str(self.plot.getPlotItem().titleLabel.text)

    def _on_redraw_timer_timeout(self) -> None:
        self._paced_redraw()

    def _on_document_training_state_changed(self, state: str) -> None:
        if state != "running":
            self._redraw_timer.stop()
            self.refresh()  # a deferred redraw (or the run's last steps) is drawn now

    def _on_log_y_toggled(self, on: bool) -> None:
        self.plot.getPlotItem().setLogMode(y=on)
        self.follow = True
        self._apply_follow_range()

    def _on_smoothing_value_changed(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / SMOOTHING_STEPS:.3f}")
        self._recompute_smoothing()
        self._redraw()

    def _on_auto_range_clicked(self) -> None:
        self.follow = True
        self._apply_follow_range()

    def _on_view_range_changed_manually(self, *_args: object) -> None:
        self.follow = False  # the user panned or zoomed: stop following new steps

    def _on_scene_mouse_moved(self, pos: QPointF) -> None:
        vb = self.plot.getPlotItem().getViewBox()
        if not self._n or not vb.sceneBoundingRect().contains(pos):
            self.hover_line.setVisible(False)
            return
        step = round(vb.mapSceneToView(pos).x())
        step = min(max(step, 1), self._n)
        self.hover_line.setPos(step)
        self.hover_line.setVisible(True)
        self.readout.setText(self.readout_at(step))

    # ------------------------------------------------------------------ data

    def _sync(self) -> bool:
        history = self._document.history
        n_hist = len(history)
        if self._document.history_generation != self._generation or n_hist < self._n:
            self._generation = self._document.history_generation
            self._clear()
            if n_hist == 0:
                return True
        if n_hist == self._n:
            return False
        start = self._n
        # Slicing the array('d') copies just the new rows; the history's buffers are never exported.
        self._steps.extend(np.arange(start + 1, n_hist + 1, dtype=np.float64))
        # All the curves as one c×m block: one set of numpy calls per batch instead of one per curve.
        new = np.vstack(
            [np.frombuffer(history.column(name)[start:n_hist], dtype=np.float64) for name in NAMES]
        )
        for name, row in zip(NAMES, new, strict=True):
            self._raw[name].extend(row)
        # Running bounds for the followed view (a smoothed value lies between raw ones); fmax/fmin
        # skip NaN the way the builtin max/min of the running bound does.
        self._ymax = max(self._ymax, float(np.fmax.reduce(new, axis=None)))
        self._ymin = min(self._ymin, float(np.fmin.reduce(new, axis=None)))
        self._ymin_positive = min(self._ymin_positive, float(np.where(new > 0, new, np.inf).min()))
        smoothed, self._ema_last, self._ema_count = ema_extend_rows(
            new, self.smoothing_weight, self._ema_last, self._ema_count
        )
        for name, row in zip(NAMES, smoothed, strict=True):
            self._smooth[name].extend(row)
        epochs = np.frombuffer(history.column("epoch")[start:n_hist], dtype=np.int64)
        prev = np.concatenate(([self._last_epoch if start else epochs[0]], epochs[:-1]))
        for i in np.nonzero(epochs != prev)[0]:
            self._epoch_starts.append(start + int(i) + 1)
        self._last_epoch = int(epochs[-1])
        self._n = n_hist
        return True

    def _paced_redraw(self) -> None:
        t0 = time.perf_counter()
        self.refresh()
        done = time.perf_counter()
        # The cost of a redraw is the data update now plus the painting Qt does next.
        cost_ms = (done - t0) * 1000 + self.plot.last_paint_ms
        self._last_redraw = done
        self._redraw_interval_ms = min(MAX_REDRAW_MS, max(REDRAW_MS, cost_ms * REDRAW_BUDGET))

    def _clear(self) -> None:
        """Forget the drawn history (it was cleared or replaced): curves, bounds, readout and axes."""
        self._n = 0
        self.readout.setText("")  # it described a step of the old history
        self.hover_line.setVisible(False)
        self._last_epoch = 0
        self._epoch_starts.clear()
        self._steps.clear()
        for name, _, _ in CURVES:
            self._raw[name].clear()
            self._smooth[name].clear()
        self._ema_last, self._ema_count = np.zeros(len(CURVES)), 0
        self._ymin, self._ymax, self._ymin_positive = math.inf, -math.inf, math.inf
        self.follow = True

    def _apply_follow_range(self) -> None:
        """Show every step and value (pyqtgraph's own auto-range re-scans all the data on each paint)."""
        if not self.follow or not self._n or not math.isfinite(self._ymax):
            return
        vb = self.plot.getPlotItem().getViewBox()
        if self.log_y.isChecked():
            if not math.isfinite(self._ymin_positive):
                return
            lo, hi = math.log10(self._ymin_positive), math.log10(max(self._ymax, self._ymin_positive))
        else:
            lo, hi = min(0.0, self._ymin), self._ymax
        if hi <= lo:
            hi = lo + 1.0
        vb.setRange(xRange=(1, max(self._n, 2)), yRange=(lo, hi), padding=0.03, disableAutoRange=True)
        # Apply the new transform now: pyqtgraph defers it to the start of the next paint, where moving
        # the items changes the scene again and costs a second paint of the whole plot.
        vb.updateMatrix()

    def _recompute_smoothing(self) -> None:
        raw = np.vstack([self._raw[name].view for name in NAMES])
        smoothed, self._ema_last, self._ema_count = ema_extend_rows(
            raw, self.smoothing_weight, np.zeros(len(CURVES)), 0
        )
        for name, row in zip(NAMES, smoothed, strict=True):
            self._smooth[name].clear()
            self._smooth[name].extend(row)

    def _epoch_of(self, step: int) -> int:
        # Epoch starts are sorted: the epoch is the first epoch plus the boundaries at or before step.
        history = self._document.history
        if step > len(history):
            return 0
        return int(history.column("epoch")[step - 1])

    def _redraw(self) -> None:
        n = self._n
        self._drawn_n, self._drawn_generation = n, self._generation
        # The view range first, without the curves redoing their clipped, downsampled data for it:
        # setData below does that once, for the new data and the new range (it would be done twice).
        curves = (*self.curves.values(), *self.raw_curves.values())
        saved = [(c.opts["clipToView"], c.opts["autoDownsample"]) for c in curves]
        for c in curves:
            c.opts["clipToView"] = c.opts["autoDownsample"] = False
        try:
            self._apply_follow_range()
        finally:
            for c, (clip, auto) in zip(curves, saved, strict=True):
                c.opts["clipToView"], c.opts["autoDownsample"] = clip, auto
        x = self._steps.view
        smooth = self.smoothing_weight > 0
        for name, _, _ in CURVES:
            if n:
                self.curves[name].setData(x, self._smooth[name].view, skipFiniteCheck=True)
                if smooth:
                    self.raw_curves[name].setData(x, self._raw[name].view, skipFiniteCheck=True)
                else:
                    self.raw_curves[name].setData([], [])
            else:
                self.curves[name].setData([], [])
                self.raw_curves[name].setData([], [])
            self.raw_curves[name].setVisible(smooth)
        if not n:  # (in log mode the values' 0…1 means 1…10)
            self.plot.getPlotItem().getViewBox().setRange(xRange=EMPTY_STEPS, yRange=(0, 1), padding=0)
        self._update_epoch_lines()

    def _update_epoch_lines(self) -> None:
        starts = self._epoch_starts if len(self._epoch_starts) <= MAX_EPOCH_LINES else []
        item = self.plot.getPlotItem()
        pen = pg.mkPen("#bbbbbb", width=1, style=Qt.PenStyle.DashLine)
        while len(self._epoch_lines) < len(starts):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pen)
            item.addItem(line, ignoreBounds=True)
            self._epoch_lines.append(line)
        for i, line in enumerate(self._epoch_lines):
            if i < len(starts):
                line.setPos(starts[i] - 0.5)  # between the last step of one epoch and the first of the next
                line.setVisible(True)
            else:
                line.setVisible(False)
