"""The report's verification, live: every gradient entry beside its central finite difference and,
on request, PyTorch's float64 autograd; the errors as heat maps; and the eps sweep.

The numbers come from :mod:`engine.gradcheck` and :mod:`engine.torch_check`; this module only runs
them and shows them. PyTorch is imported only when "Compare with PyTorch" is ticked, inside the
check (never at start-up); without it the panel says how to add it instead of failing.

Threads: a check of a small model takes less than a frame and runs at once on the GUI thread; a
larger one (K > :data:`SYNC_MAX_K`, or the first PyTorch import) runs as a :mod:`gui.jobs` job with
progress and cooperative cancel (a new model, Cancel, or closing the window stops it between two
entries). The panel keeps its jobs in its own :class:`~gui.jobs.JobGroup`; whoever closes the
window calls :meth:`VerificationPanel.shutdown`, which cancels and joins them. The tables are in
:mod:`gui.verification_models`.

Never stale as current: results about another model than the one on screen (an edit, a K change,
a running run's live weights) are shown greyed under the words "out of date", and the status line
names a verdict (PASS / FAIL) only for the model shown. While a run computes the panel does not
re-check (the weights change ten times a second); it checks again when the run pauses or ends.
"""

from __future__ import annotations

import math
import sys

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine import torch_check
from backprop_lab.engine.gradcheck import DEFAULT_EPS, DEFAULT_RTOL, SWEEP_EPS
from backprop_lab.engine.model import MATRIX_NAMES
from backprop_lab.engine.verification import CheckResults, run_checks
from backprop_lab.gui.axes import ValueAxis
from backprop_lab.gui.contrast import ink, muted_style
from backprop_lab.gui.document import Document
from backprop_lab.gui.jobs import Job, JobContext, JobGroup, error_line
from backprop_lab.gui.live_pace import live_text
from backprop_lab.gui.verification_models import EntriesModel, HeatMapModel, heat_table

#: Largest K checked synchronously: at K = 4 the check and the eps sweep take ~10 ms together
#: (a frame); K = 5 already takes ~30 ms, so it goes to a thread.
SYNC_MAX_K = 4
#: Live re-checks (and the check when the panel opens) only up to this K: the cost grows as K⁴
#: (K = 10 takes ~0.2 s with the sweep, K = 32 over 10 s), so larger models wait for
#: "Check now" instead of keeping a core busy on every edit.
LIVE_MAX_K = 10
#: Quiet time after an edit before a live re-check starts (coalesces typing and pasting).
LIVE_DELAY_MS = 120
#: Progress signals at most this often (seconds).
PROGRESS_INTERVAL = 0.05
#: Text and curves about an earlier model (7:1 on white, 6:1 on the window's grey).
STALE = "#595959"
SWEEP_COLOUR = "#1f77b4"


class VerificationPanel(QWidget):
    """Live verification of the document's gradients (see the module docstring).

    Public for tests and menus: :meth:`check_now`, :meth:`cancel`, :meth:`shutdown`, ``results``
    (the last :class:`CheckResults` or None), ``is_busy``, ``jobs`` (the checks on worker threads),
    and the widgets ``live_box``, ``torch_box``, ``sweep_box``, ``status_label``, ``torch_label``,
    ``progress``, ``table``, ``sweep_plot``.
    """

    checkFinished = Signal(object)  # CheckResults

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verificationPanel")
        self._document = document
        self.results: CheckResults | None = None
        self.error = ""
        #: The checks running on worker threads: the current one, and cancelled ones until they end.
        self.jobs = JobGroup(self)
        self._job: Job | None = None  # the current check's job

        self._build_controls()
        self._build_table()
        heat = self._build_heat_maps()
        self._build_sweep_plot()
        self._build_layout(heat)

        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_DELAY_MS)
        self._live_timer.timeout.connect(self.check_now)

        self.check_button.clicked.connect(self.check_now)
        self.cancel_button.clicked.connect(self.cancel)
        self.torch_box.toggled.connect(self._on_torch_box_toggled)
        self.sweep_box.toggled.connect(self._on_options_toggled)
        self.live_box.toggled.connect(self._on_live_box_toggled)
        self.heat_source.currentIndexChanged.connect(self._show_heat)
        self.heat_metric.currentIndexChanged.connect(self._show_heat)
        document.modelChanged.connect(self._on_document_model_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)
        self._show_status()
        if self._auto():
            self.check_now()

    def _build_controls(self) -> None:
        """The status line, Check now, the options, progress and Cancel, the PyTorch note, the tolerance."""
        self.status_label = QLabel()
        self.status_label.setObjectName("verificationStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.check_button = QPushButton("Check now")
        self.check_button.setObjectName("verifyButton")
        self.live_box = QCheckBox("Live")
        self.live_box.setObjectName("verifyLive")
        self.live_box.setChecked(True)
        self.torch_box = QCheckBox("Compare with PyTorch (float64 autograd)")
        self.torch_box.setObjectName("verifyTorch")
        self.sweep_box = QCheckBox("eps sweep")
        self.sweep_box.setObjectName("verifySweep")
        self.sweep_box.setChecked(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("verifyProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("verifyCancel")
        self.cancel_button.setVisible(False)
        self.torch_label = QLabel()
        self.torch_label.setObjectName("verifyTorchNote")
        self.torch_label.setWordWrap(True)
        self.torch_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.torch_label.setVisible(False)
        tolerance = QLabel(
            f"Pass: |analytic − reference| ≤ rtol·max(|analytic|, |reference|) + the entry's rounding bound; "
            f"rtol {DEFAULT_RTOL:g} (central differences, eps ≈ {DEFAULT_EPS:.1e}), "
            f"{torch_check.TORCH_RTOL:g} (PyTorch)."
        )
        tolerance.setToolTip(
            f"Central differences use the step eps·max(1, |θ|) with eps = ∛u ≈ {DEFAULT_EPS:.3e}; each entry "
            "also gets its own rounding and truncation bound (engine/gradcheck.py). Colours: the relative "
            "error on a log scale, blue at 1e-16, orange near the tolerance, dark orange with ✗ = fails."
        )
        tolerance.setObjectName("verifyTolerance")
        self.tolerance_label = tolerance
        tolerance.setWordWrap(True)
        tolerance.setStyleSheet(muted_style(tolerance.palette()))  # palette(mid) is 1.7:1

    def _build_table(self) -> None:
        """The table of every entry's analytic value, references and errors."""
        self.entries_model = EntriesModel(self)
        self.table = QTableView()
        self.table.setObjectName("verifyTable")
        self.table.setModel(self.entries_model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(110)  # a header and four rows: the tab fits 1280×720 with room to spare

    def _build_heat_maps(self) -> QVBoxLayout:
        """An error heat map per matrix, under the choice of reference and of error."""
        self.heat_source = QComboBox()
        self.heat_source.setObjectName("heatSource")
        self.heat_source.addItems(["vs central differences", "vs PyTorch"])
        self.heat_metric = QComboBox()
        self.heat_metric.setObjectName("heatMetric")
        self.heat_metric.addItems(["relative error", "absolute error"])
        self.heat_models = {name: HeatMapModel(name, self) for name in MATRIX_NAMES}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for c, name in enumerate(MATRIX_NAMES):
            grid.addWidget(QLabel(f"∂L/∂{name}", alignment=Qt.AlignmentFlag.AlignCenter), 0, c)
            grid.addWidget(heat_table(self.heat_models[name]), 1, c)
            grid.setColumnStretch(c, 1)
        heat_head = QHBoxLayout()
        heat_head.addWidget(QLabel("<b>Error heat maps</b>"))
        heat_head.addStretch(1)
        heat_head.addWidget(self.heat_metric)
        heat_head.addWidget(self.heat_source)
        heat = QVBoxLayout()
        heat.setContentsMargins(0, 0, 0, 0)
        heat.addLayout(heat_head)
        heat.addLayout(grid, 1)
        return heat

    def _build_sweep_plot(self) -> None:
        """The largest finite-difference error against eps, the checker's eps marked."""
        self.sweep_plot = pg.PlotWidget(
            background="w", axisItems={"left": ValueAxis("left"), "bottom": ValueAxis("bottom")}
        )
        self.sweep_plot.setObjectName("epsSweepPlot")
        item = self.sweep_plot.getPlotItem()
        item.setLogMode(x=True, y=True)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "eps (relative step)")
        item.setLabel("left", "max |analytic − FD|")  # short enough for a short plot's height
        item.setTitle("eps sweep", color="k", size="9pt")
        self.sweep_plot.setToolTip(
            "Right of the minimum the truncation error falls as eps²; left of it the "
            "round-off error rises as 1/eps. The dashed line is the checker's eps."
        )
        self.sweep_curve = item.plot(
            pen=pg.mkPen(SWEEP_COLOUR, width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=SWEEP_COLOUR,
            symbolPen=None,
        )
        self.eps_line = pg.InfiniteLine(
            pos=math.log10(DEFAULT_EPS),
            angle=90,
            pen=pg.mkPen("#d62728", width=1.5, style=Qt.PenStyle.DashLine),
            # Only the number (the tooltip and the tolerance line say what it is), hanging from the top
            # on the side of the line with more room (pyqtgraph picks one of the two anchors): a longer
            # label centred on the line ran off a narrow plot's edge ("'s eps = 6.1e-06").
            label=f"{DEFAULT_EPS:.2g}",
            labelOpts={
                "position": 0.97,
                "color": "#d62728",
                "fill": (255, 255, 255, 200),
                "anchors": [(0, 0), (1, 0)],
            },
        )
        item.addItem(self.eps_line)

    def _build_layout(self, heat: QVBoxLayout) -> None:
        """Status, controls and notes above a splitter: heat maps and sweep over the table."""
        controls = QHBoxLayout()
        for w in (self.check_button, self.live_box, self.torch_box, self.sweep_box):
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(self.progress)
        controls.addWidget(self.cancel_button)
        top = QWidget()
        tl = QHBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        heat_box = QWidget()
        heat_box.setLayout(heat)
        tl.addWidget(heat_box, 1)
        tl.addWidget(self.sweep_plot, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([280, 220])

        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addLayout(controls)
        layout.addWidget(self.torch_label)
        layout.addWidget(self.tolerance_label)
        layout.addWidget(splitter, 1)

    # ------------------------------------------------------------------ state

    def _auto(self) -> bool:
        """Whether a model change re-checks by itself (Live, and a K small enough)."""
        return self.live_box.isChecked() and self._document.K <= LIVE_MAX_K

    @property
    def is_busy(self) -> bool:
        return self._job is not None

    def is_current(self) -> bool:
        """Whether the results shown belong to the document's current model."""
        r = self.results
        return r is not None and not self.is_busy and r.model == self._document.model

    # ------------------------------------------------------------------ commands

    def check_now(self) -> None:
        """Verify the current model: at once when small, else on a worker thread (cancels an older run)."""
        self._live_timer.stop()
        self.cancel()
        model = self._document.model.copy()
        if self._document.evaluation.error:
            self.results, self.error = None, f"Nothing to check: {self._document.evaluation.error}"
            self._show_results()
            return
        with_torch, with_sweep = self.torch_box.isChecked(), self.sweep_box.isChecked()

        def work(context: JobContext) -> CheckResults:
            return run_checks(model, with_torch=with_torch, with_sweep=with_sweep, progress=context.progress)

        # The first PyTorch import takes seconds: never on the GUI thread.
        torch_pending = with_torch and "torch" not in sys.modules
        if model.K <= SYNC_MAX_K and not torch_pending:
            try:
                result, error = run_checks(model, with_torch=with_torch, with_sweep=with_sweep), ""
            except ValueError as exc:
                result, error = None, error_line(exc)
            self._finish(result, error)
            return
        job = self.jobs.start(work, name="verification", progress_interval=PROGRESS_INTERVAL)
        # A cancelled job sends nothing but cancelled/finished: these only ever hear the current check.
        job.progressed.connect(self._on_job_progressed)
        job.succeeded.connect(self._on_job_succeeded)
        job.failed.connect(self._on_job_failed)
        self._job = job
        self.progress.setRange(0, 0)
        self._show_busy(True)
        self._show_status()

    def cancel(self) -> None:
        """Stop a running check (it finishes between two entries); the old results stay shown."""
        job, self._job = self._job, None
        if job is not None:
            job.cancel()  # it ends between two entries and leaves self.jobs; nothing more is heard of it
            self._show_busy(False)
            self._show_status()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every check and join its thread (the window is closing); True if all ended."""
        self._live_timer.stop()
        self.cancel()
        return self.jobs.shutdown(timeout_ms)

    # ------------------------------------------------------------------ slots

    def _on_document_model_changed(self) -> None:
        self.cancel()  # a running check is about a model that is gone
        if self._auto() and self._document.training_state != "running":
            self._live_timer.start()
        self._show_status()

    def _on_document_training_state_changed(self, state: str) -> None:
        if state != "running" and self._auto() and not self.is_current():
            self._live_timer.start()  # the run paused or ended: its weights hold still now
        self._show_status()

    def _on_live_box_toggled(self, _on: bool) -> None:
        if self._auto() and not self.is_current():
            self.check_now()
        self._show_status()

    def _on_torch_box_toggled(self, _on: bool) -> None:
        self.check_now()

    def _on_options_toggled(self, _on: bool) -> None:
        self.check_now()

    @Slot(int, int)
    def _on_job_progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    @Slot(object)
    def _on_job_succeeded(self, result: CheckResults) -> None:
        self._finish(result, "")

    @Slot(str)
    def _on_job_failed(self, error: str) -> None:
        self._finish(None, error)

    # ------------------------------------------------------------------ showing

    def _finish(self, result: CheckResults | None, error: str) -> None:
        self._job = None
        self._show_busy(False)
        self.results, self.error = result, error
        self._show_results()
        if result is not None:
            self.checkFinished.emit(result)

    def _show_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def _show_results(self) -> None:
        r = self.results
        self.entries_model.set_reports(r.fd if r else None, r.torch if r else None)
        self._show_heat()
        if r is not None and r.sweep:
            xs = [e for e, err in r.sweep if err > 0]
            ys = [err for e, err in r.sweep if err > 0]
            self.sweep_curve.setData(xs, ys)
            if ys:
                # Log mode: the view works in decades.
                lo, hi = math.log10(min(ys)), math.log10(max(ys))
                item = self.sweep_plot.getPlotItem()
                item.setXRange(math.log10(min(SWEEP_EPS)), math.log10(max(SWEEP_EPS)), padding=0.05)
                item.setYRange(lo, hi, padding=0.08)
        else:
            self.sweep_curve.setData([], [])
        note = ""
        if r is not None and self.torch_box.isChecked():
            note = r.torch_note
        self.torch_label.setText(note)
        self._fit_labels()
        self.torch_label.setVisible(bool(note))
        self._show_status()

    def _show_heat(self) -> None:
        r = self.results
        use_torch = self.heat_source.currentIndex() == 1 and r is not None and r.torch is not None
        report = (r.torch if use_torch else r.fd) if r is not None else None
        metric = "rel_error" if self.heat_metric.currentIndex() == 0 else "abs_error"
        for model in self.heat_models.values():
            model.set_report(report, metric)

    def _show_status(self) -> None:
        r = self.results
        stale = r is not None and r.model != self._document.model
        self._show_stale(stale)
        if self.error:
            text, color = f"<b>Cannot check:</b> {self.error}", ink("bad")
        elif r is None:
            text, color = "Checking…" if self.is_busy else f"Not checked yet. {self._hint()}", ink("muted")
        elif stale:
            # The verdict is about a model no longer shown: greyed and without PASS/FAIL, so that it
            # cannot be read as the current model's.
            then = "passed" if r.passed else "failed"
            color = STALE
            text = f"<b>Out of date</b>: the results below are for an earlier model ({then} then). "
            if self.is_busy or self._live_timer.isActive():
                text += "Checking the model shown…"
            elif self._document.training_state == "running":
                text += (
                    f"The run is changing the weights ({self._live_text()}); "
                    "they are checked again when it pauses or ends."
                )
            else:
                text += f"{self._hint()}."
        else:
            verdict = "PASS" if r.passed else "FAIL"
            color = ink("good") if r.passed else ink("bad")
            text = f"<b>{verdict}</b> — finite differences: {r.fd.summary()}"
            if r.torch is not None:
                text += f"; PyTorch float64: {r.torch.summary()}"
        self.status_label.setText(f"<span style='color:{color}; font-size:11pt'>{text}</span>")
        self._fit_labels()

    def _show_stale(self, stale: bool) -> None:
        """Grey the table, the heat maps and the sweep while they describe an earlier model."""
        if stale == self.entries_model.stale:
            return
        self.entries_model.set_stale(stale)
        for model in self.heat_models.values():
            model.set_stale(stale)
        colour = STALE if stale else SWEEP_COLOUR
        self.sweep_curve.setPen(pg.mkPen(colour, width=2))
        self.sweep_curve.setSymbolBrush(colour)

    def _fit_labels(self) -> None:
        # Inside a scroll area a word-wrapped label gets its one-line height unless told its
        # height for the width it has.
        for label in (self.status_label, self.torch_label, self.tolerance_label):
            width = max(label.width(), 200)
            label.setMinimumHeight(label.heightForWidth(width) if label.text() else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_labels()

    def _hint(self) -> str:
        k = self._document.K
        if self.live_box.isChecked() and k > LIVE_MAX_K:
            return f"Press Check now (F7): at K = {k} a full check takes a while, so it is not automatic"
        return "Press Check now (F7)"

    def _live_text(self) -> str:
        return live_text(self._document.live_step, self._document.training_state)
