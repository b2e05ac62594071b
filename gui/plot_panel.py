"""The live training plot: per-step loss, loss at x and gradient norms (pyqtgraph), titled with the
model's variant (its formula and, in words, its activation, convention and target).

Fluid with millions of points: the curves are created once; values live in preallocated numpy
buffers that double when full; the document's history is read incrementally (only the new rows,
once per batch, never per step); redraws are paced so that drawing takes at most 1/REDRAW_BUDGET of
the time, and while a run computes they happen only when a batch arrives (the worker then waits, so
drawing does not compete with it for the GIL); each curve draws with peak downsampling and
clip-to-view. Smoothing is TensorBoard's debiased exponential moving average,
with the raw curve kept faint behind it.

Runs side by side (issue 17): with "All curves" chosen the plot shows every curve of the session's
own history, as it always has; with one curve chosen it shows that curve for every visible run of
the runs list (gui.runs), each in its run's colour, and the hover readout names the run nearest the
pointer first. x is the step, the epoch or the samples seen (gui.plot_data.XScale). The other runs'
curves (gui.run_curves) are computed when they change, never at a live redraw.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.formatting import format_number
from backprop_lab.gui import curves as curve_specs
from backprop_lab.gui.axes import StepAxis, ValueAxis
from backprop_lab.gui.document import Document
from backprop_lab.gui.plot_controls import ALL_CURVES, SMOOTHING_STEPS, EpochLines, PlotControls
from backprop_lab.gui.plot_data import X_MODES, LiveHistory, nearest_row
from backprop_lab.gui.run_curves import OtherRuns, Series, extent, runs_readout
from backprop_lab.gui.runs import RunsModel, history_spans

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

    def __init__(
        self, document: Document, parent: QWidget | None = None, *, runs: RunsModel | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("plotPanel")
        self._document = document
        #: The runs the plot lays side by side (the window's runs list shows the same model).
        self.runs = runs if runs is not None else RunsModel(document, self)
        self._init_state()
        self._build_plot()
        self._build_controls()

        controls = QHBoxLayout()  # (the curve and x choosers sit with the runs list: gui.runs_panel)
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
        self.curve_choice.currentIndexChanged.connect(self._on_choice_changed)
        self.x_choice.currentIndexChanged.connect(self._on_x_choice_changed)
        self.runs.runsChanged.connect(self._on_runs_changed)
        document.historyChanged.connect(self._on_document_history_changed)
        document.modelChanged.connect(self._on_document_model_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)
        self._on_smoothing_value_changed(self.smoothing.value())
        self._apply_pens()
        self.log_y.setChecked(curve_specs.LOG_Y_DEFAULT)
        self._on_document_model_changed()
        self.refresh()

    def _init_state(self) -> None:
        """The history's columns as drawn (raw and smoothed), the epochs, the extent of the data."""
        self._h = LiveHistory(NAMES)  # the history's rows as drawn
        self._generation = -1
        self._drawn_n, self._drawn_generation = -1, -1  # what the curves show (refresh draws the rest)
        self._drawn_runs = 1  # runs drawn at the last change of the runs (one: this session's)
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
        self.others = OtherRuns(item)  # the other runs' curves, with one curve chosen
        self._epoch_lines = EpochLines(item, MAX_EPOCH_LINES)
        item.hideButtons()  # the "A" button would hand the range back to pyqtgraph's slow auto-range
        item.getViewBox().disableAutoRange()
        item.getViewBox().sigRangeChangedManually.connect(self._on_view_range_changed_manually)
        self.hover_line = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen("#888888", width=1, style=Qt.PenStyle.DotLine)
        )
        self.hover_line.setVisible(False)
        item.addItem(self.hover_line, ignoreBounds=True)

    def _build_controls(self) -> None:
        c = PlotControls()
        self.log_y, self.smoothing, self.smoothing_label = c.log_y, c.smoothing, c.smoothing_label
        self.readout = c.readout
        self.curve_choice, self.x_choice, self.auto_range = c.curve_choice, c.x_choice, c.auto_range

    # ------------------------------------------------------------------ public

    @property
    def point_count(self) -> int:
        """Steps the curves show (the history may be ahead until the next paced redraw)."""
        return max(self._drawn_n, 0)

    @property
    def live(self) -> LiveHistory:
        """The session's history as drawn (read-only: gui.plot_export copies what it exports)."""
        return self._h

    @property
    def smoothing_weight(self) -> float:
        return self.smoothing.value() / SMOOTHING_STEPS

    @property
    def epoch_lines(self) -> list[pg.InfiniteLine]:
        return self._epoch_lines.visible

    @property
    def curve(self) -> str:
        """The chosen curve's History column, or :data:`ALL_CURVES` (every curve of this session)."""
        return str(self.curve_choice.currentData())

    @property
    def x_mode(self) -> str:
        """ "step", "epoch" or "samples" (see gui.plot_data.X_MODES)."""
        return str(self.x_choice.currentData())

    def set_curve(self, curve: str) -> None:
        self.curve_choice.setCurrentIndex(self.curve_choice.findData(curve))

    def set_x_mode(self, mode: str) -> None:
        self.x_choice.setCurrentIndex(self.x_choice.findData(mode))

    @property
    def other_series(self) -> list[Series]:
        """The other runs' curves as drawn (empty with "All curves" chosen)."""
        return list(self.others.series)

    def refresh(self) -> bool:
        """Bring the curves up to date with the history now; True if anything changed."""
        changed = self._sync() or self._drawn_n != self._h.n or self._drawn_generation != self._generation
        if changed:
            self._redraw()
        return changed

    def readout_at(self, step: int) -> str:
        """The hover text for ``step`` (1-based): its epoch and every curve's raw value."""
        if not self._h.n:
            return ""
        i = min(max(int(step), 1), self._h.n) - 1
        epoch = self._epoch_of(i + 1)
        parts = [f"step {i + 1:,} (epoch {epoch})" if epoch else f"step {i + 1:,}"]
        # Raw values: the smoothed ones are what the eye already reads off the curves.
        parts += [f"{label} {format_number(self._h.raw[name].view[i], 'short')}" for name, label, _ in CURVES]
        return " · ".join(parts)

    def runs_readout_at(self, x: float, y: float | None = None) -> str:
        """The hover text with one curve chosen (gui.run_curves.runs_readout): the run drawn nearest
        (x, y) first, named; ``y`` in view units (log10 in log mode), None for list order."""
        label = curve_specs.BY_ID[self.curve].name
        return runs_readout(self._drawn_series(), x, y, self.log_y.isChecked(), label)

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
        single = self.curve != ALL_CURVES
        if not (self._h.n or (single and self.others.series)) or not vb.sceneBoundingRect().contains(pos):
            self.hover_line.setVisible(False)
            return
        at = vb.mapSceneToView(pos)
        if single:
            self.hover_line.setPos(at.x())
            self.readout.setText(self.runs_readout_at(at.x(), at.y()))
        else:
            i = nearest_row(self._h.x.view, at.x())
            self.hover_line.setPos(self._h.x.view[i])
            self.readout.setText(self.readout_at(i + 1))
        self.hover_line.setVisible(True)

    def _on_choice_changed(self, _index: int) -> None:
        self._apply_pens()
        self._update_others()
        self.follow = True
        self._redraw()

    def _on_x_choice_changed(self, _index: int) -> None:
        self._h.rescale(self.x_mode, history_spans(self._document.session))
        self.plot.getPlotItem().setLabel("bottom", dict(X_MODES)[self.x_mode])
        self._update_others()
        self.follow = True
        self._redraw()

    def _on_runs_changed(self) -> None:
        drawn, before = len(self.runs.drawn()), self._drawn_runs
        self._drawn_runs = drawn
        if self.curve == ALL_CURVES and drawn > max(before, 1):
            # A run was added or ticked to compare: show one curve, or nothing would change on the plot.
            self.set_curve("loss_at_x")  # (its handler draws the runs)
            return
        self._apply_pens()
        self._update_others()
        self._redraw()

    # ------------------------------------------------------------------ data

    def _sync(self) -> bool:
        history = self._document.history
        n_hist = len(history)
        if self._document.history_generation != self._generation or n_hist < self._h.n:
            self._generation = self._document.history_generation
            self._clear()
            if n_hist == 0:
                return True
        start = self._h.n
        if n_hist == start:
            return False
        # Slicing the array('d') copies just the new rows; the history's buffers are never exported.
        columns = {
            name: np.frombuffer(history.column(name)[start:n_hist], dtype=np.float64) for name in NAMES
        }
        epochs = np.frombuffer(history.column("epoch")[start:n_hist], dtype=np.int64)
        self._h.extend(columns, epochs, history_spans(self._document.session), self.smoothing_weight)
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
        self._h.clear(self.x_mode)
        self.readout.setText("")  # it described a step of the old history
        self.hover_line.setVisible(False)
        self.follow = True

    def _extent(self) -> tuple[float, float, float, float] | None:
        """(x first, x last, y low, y high) of what is drawn, y in view units; None when nothing is."""
        log = self.log_y.isChecked()
        return extent(self._h.extent(self._shown_rows(), log), self.others.series, log)

    def _apply_follow_range(self) -> None:
        """Show every step and value (pyqtgraph's own auto-range re-scans all the data on each paint)."""
        extent = self._extent() if self.follow else None
        if extent is None:
            return
        x0, x1, lo, hi = extent
        if x1 <= x0:
            x1 = x0 + 1.0
        vb = self.plot.getPlotItem().getViewBox()
        vb.setRange(xRange=(x0, x1), yRange=(lo, hi), padding=0.03, disableAutoRange=True)
        # Apply the new transform now: pyqtgraph defers it to the start of the next paint, where moving
        # the items changes the scene again and costs a second paint of the whole plot.
        vb.updateMatrix()

    def _recompute_smoothing(self) -> None:
        self._h.resmooth(self.smoothing_weight)
        self._update_others()

    def _epoch_of(self, step: int) -> int:
        # Epoch starts are sorted: the epoch is the first epoch plus the boundaries at or before step.
        history = self._document.history
        if step > len(history):
            return 0
        return int(history.column("epoch")[step - 1])

    # ------------------------------------------------------------------ several runs

    def _shown(self) -> list[str]:
        """The curves of this session's history drawn now."""
        if self.curve == ALL_CURVES:
            return list(NAMES)
        return [self.curve] if self.runs.current.visible else []

    def _shown_rows(self) -> list[int]:
        return [NAMES.index(name) for name in self._shown()]

    def _apply_pens(self) -> None:
        """Curve colours with every curve shown; the run's colour with one curve for every run."""
        colour = self.runs.current.colour if self.curve != ALL_CURVES else None
        for spec in curve_specs.CURVES:
            pen_spec = curve_specs.CurveSpec(spec.id, spec.name, colour) if colour else spec
            self.curves[spec.id].setPen(pen_spec.pen())
            self.raw_curves[spec.id].setPen(pen_spec.pen(alpha=RAW_ALPHA))
        self._update_legend()

    def _update_legend(self) -> None:
        self.legend.clear()
        if self.curve == ALL_CURVES:
            for spec in curve_specs.CURVES:
                self.legend.addItem(self.curves[spec.id], spec.name)
            return
        if self.runs.current.visible:
            self.legend.addItem(self.curves[self.curve], self.runs.current.name)
        for s in self.others.series:
            self.legend.addItem(self.others.items(s.entry.key)[1], s.entry.name)

    def _update_others(self, segments_only: bool = False) -> None:
        """The other visible runs' curves (all of them, or the segments that follow the history)."""
        if self.curve == ALL_CURVES:
            if self.others.series:
                self.others.clear()
                self._update_legend()
            return
        if segments_only and not any(s.entry.kind == "segment" for s in self.others.series):
            return
        drawn = [e for e in self.runs.drawn() if e.kind != "current"]
        self.others.update(drawn, self.curve, self.x_mode, self.smoothing_weight, self._h)
        self._update_legend()

    def _drawn_series(self) -> list[Series]:
        """Every run drawn with one curve chosen, this session's first (for the hover readout)."""
        h, own = self._h, self._h.n and self.runs.current.visible
        mine = Series(
            self.runs.current, h.x.view, h.raw[self.curve].view, h.smooth[self.curve].view, h.epochs.view
        )
        return ([mine] if own else []) + self.others.series

    def _redraw(self) -> None:
        n = self._h.n
        self._drawn_n, self._drawn_generation = n, self._generation
        if self.curve != ALL_CURVES:
            self._update_others(segments_only=True)  # a segment still being trained follows the history
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
        x = self._h.x.view
        smooth = self.smoothing_weight > 0
        shown = self._shown()
        for name, _, _ in CURVES:
            on = bool(n) and name in shown
            if on:
                self.curves[name].setData(x, self._h.smooth[name].view, skipFiniteCheck=True)
                if smooth:
                    self.raw_curves[name].setData(x, self._h.raw[name].view, skipFiniteCheck=True)
                else:
                    self.raw_curves[name].setData([], [])
            elif self.curves[name].xData is not None and len(self.curves[name].xData):
                self.curves[name].setData([], [])
                self.raw_curves[name].setData([], [])
            self.curves[name].setVisible(name in shown)
            self.raw_curves[name].setVisible(smooth and name in shown)
        if not n and not self.others.series:  # (in log mode the values' 0…1 means 1…10)
            self.plot.getPlotItem().getViewBox().setRange(xRange=EMPTY_STEPS, yRange=(0, 1), padding=0)
        self._update_epoch_lines()

    def _update_epoch_lines(self) -> None:
        starts = self._h.epoch_starts if self._h.n and self._shown() else []
        x, step = self._h.x.view, self.x_mode == "step"
        # Between an epoch's first step and the step before it (in steps), or at the end of the last.
        self._epoch_lines.show([s - 0.5 if step else float(x[s - 2]) for s in starts[: MAX_EPOCH_LINES + 1]])
