"""The report's verification, live: every gradient entry beside its central finite difference and,
on request, PyTorch's float64 autograd; the errors as heat maps; and the eps sweep.

The numbers come from :mod:`engine.gradcheck` and :mod:`engine.torch_check`; this module only runs
them and shows them. PyTorch is imported only when "Compare with PyTorch" is ticked, inside the
check (never at start-up); without it the panel says how to add it instead of failing.

Threads: a check of a small model takes less than a frame and runs at once on the GUI thread; a
larger one (K > :data:`SYNC_MAX_K`, or the first PyTorch import) runs on a worker ``QThread`` with
progress and cooperative cancel (a new model, Cancel, or closing the window stops it between two
entries). Worker threads are kept in a module registry until they have finished, so no ``QThread``
is ever destroyed while running; :func:`wait_for_jobs` stops and joins them all.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
import time
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QFontDatabase
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
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine import torch_check
from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.gradcheck import DEFAULT_EPS, DEFAULT_RTOL, SWEEP_EPS, CheckReport, EntryCheck
from backprop_lab.engine.model import MATRIX_NAMES
from backprop_lab.engine.verification import CheckResults, Progress, run_checks
from backprop_lab.gui.document import Document

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

Index = QModelIndex | QPersistentModelIndex


# --------------------------------------------------------------------------- the job (no Qt)


class Cancelled(Exception):
    """Raised inside a job's progress callback when the job was cancelled."""


# --------------------------------------------------------------------------- worker threads

#: Running (thread, worker, cancel event) triples; an entry leaves only once its thread finished.
_LIVE: list[tuple[QThread, _Worker, threading.Event]] = []
_reaper_instance: _Reaper | None = None
#: The last few finished jobs, kept a little longer than needed: nothing a queued signal might still
#: refer to is freed while it is in flight.
_RETIRED: list[tuple[QThread, _Worker, threading.Event]] = []


def _retire(entry: tuple[QThread, _Worker, threading.Event]) -> None:
    _RETIRED.append(entry)
    del _RETIRED[:-4]


class _Worker(QObject):
    """Runs one job on a worker thread; emits ``progress`` (throttled) and ``done(result, error, id)``."""

    progress = Signal(int, int, int)  # done, total, the job's id
    # The result (None unless it worked); "" or "cancelled" or a message; the job's id.
    done = Signal(object, str, int)

    def __init__(self, job: Callable[[Progress], object], cancel: threading.Event, job_id: int) -> None:
        super().__init__()
        self._job = job
        self._cancel = cancel
        self._last = 0.0
        self.job_id = job_id

    def _progress(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise Cancelled
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL or done >= total:
            self._last = now
            self.progress.emit(done, total, self.job_id)

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self._progress)
        except Cancelled:
            self.done.emit(None, "cancelled", self.job_id)
        except Exception as exc:  # shown in the panel; the window stays usable
            self.done.emit(None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, self.job_id)
        else:
            self.done.emit(result, "", self.job_id)


class _Reaper(QObject):
    """Lives on the GUI thread; joins and frees a worker thread once its job is done.

    It is connected to ``done`` after the panel, so the panel has its result before the worker goes.
    """

    @Slot(object, str, int)
    def on_done(self, _result: object, _error: str, job_id: int) -> None:
        for entry in list(_LIVE):
            thread, worker, _ = entry
            # run() has returned and quit() was called: the thread ends in a moment.
            if worker.job_id == job_id and thread.wait(10_000):
                _LIVE.remove(entry)
                _retire(entry)


def _reaper() -> _Reaper:
    global _reaper_instance
    if _reaper_instance is None:
        _reaper_instance = _Reaper(QCoreApplication.instance())
    return _reaper_instance


_job_ids = itertools.count(1)


def start_job(job: Callable[[Progress], object], on_progress, on_done) -> tuple[int, threading.Event]:
    """Run ``job(progress)`` on a new QThread; returns the job's id and its cancel event.

    ``on_progress(done, total, job_id)`` and ``on_done(result, error, job_id)`` are slots of a QObject
    on the GUI thread (queued; they are simply not called once that object is gone). The id lets the
    receiver ignore whatever an older, cancelled job still sends.
    """
    cancel = threading.Event()
    thread = QThread()
    thread.setObjectName("verificationThread")
    worker = _Worker(job, cancel, next(_job_ids))
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.progress.connect(on_progress)
    worker.done.connect(on_done)
    # Direct: quit() is thread-safe, and a queued call would wait for a GUI thread that may be
    # blocked in wait_for_jobs().
    worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    worker.done.connect(_reaper().on_done)
    _LIVE.append((thread, worker, cancel))
    thread.start()
    return worker.job_id, cancel


def running_jobs() -> int:
    return len(_LIVE)


def wait_for_jobs(timeout_ms: int = 10_000) -> bool:
    """Cancel every running job and join its thread (closing the window, quitting, tests)."""
    for thread, _, cancel in _LIVE:
        cancel.set()
        thread.quit()  # the event loop ends as soon as the job returns to it
    ok = all(thread.wait(timeout_ms) for thread, _, _ in list(_LIVE))
    # Joined: their pending results no longer matter (the caller is closing or tearing down).
    for entry in [e for e in _LIVE if e[0].isFinished()]:
        _LIVE.remove(entry)
        _retire(entry)
    return ok and not _LIVE


# --------------------------------------------------------------------------- colours and text


def error_color(error: float, passed: bool, tolerance: float = DEFAULT_RTOL) -> QColor:
    """Heat-map colour of a relative (or absolute) error: green at 1e-16, yellow near the
    tolerance, red for a failed entry (a log scale: errors span twenty orders of magnitude)."""
    if not passed or not math.isfinite(error):
        return QColor(215, 48, 39)
    if error <= 0.0:
        return QColor(26, 152, 80)
    lo, hi = -16.0, math.log10(max(tolerance, 1e-15))
    t = min(1.0, max(0.0, (math.log10(error) - lo) / (hi - lo)))
    # ColorBrewer RdYlGn: #1a9850 → #fee08b → #fc8d59 as the error approaches the tolerance.
    stops = ((26, 152, 80), (166, 217, 106), (254, 224, 139), (252, 141, 89))
    x = t * (len(stops) - 1)
    s = min(int(x), len(stops) - 2)
    f = x - s
    return QColor(*(round(a + (b - a) * f) for a, b in zip(stops[s], stops[s + 1], strict=True)))


# --------------------------------------------------------------------------- table models


COLUMNS = (
    "Entry",
    "Analytic",
    "Central difference",
    "|Δ| FD",
    "rel FD",
    "PyTorch",
    "|Δ| torch",
    "rel torch",
    "Pass",
)
#: The order the table shows COLUMNS in: the verdict right after the entry, where it is seen first.
VIEW_ORDER = (0, 8, 1, 2, 3, 4, 5, 6, 7)


class EntriesModel(QAbstractTableModel):
    """One row per weight (A, B, C row by row): analytic, references, errors, pass."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fd: tuple[EntryCheck, ...] = ()
        self._torch: tuple[EntryCheck, ...] | None = None
        self._font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    def set_results(self, results: CheckResults | None) -> None:
        self.beginResetModel()
        self._fd = results.fd.entries if results else ()
        self._torch = results.torch.entries if results and results.torch else None
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._fd)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[VIEW_ORDER[section]]
        return None

    def entry(self, row: int) -> tuple[EntryCheck, EntryCheck | None]:
        return self._fd[row], (self._torch[row] if self._torch else None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        fd, tc = self.entry(index.row())
        col = VIEW_ORDER[index.column()]  # the logical column (COLUMNS' order)
        if role == Qt.ItemDataRole.DisplayRole:
            passed = fd.passed and (tc is None or tc.passed)
            return (
                f"∂L/∂{fd.matrix}[{fd.i}][{fd.j}]",
                format_number(fd.analytic, "precise"),
                format_number(fd.reference, "precise"),
                format_number(fd.abs_error, "error"),
                format_number(fd.rel_error, "error"),
                format_number(tc.reference if tc else None, "precise"),
                format_number(tc.abs_error if tc else None, "error"),
                format_number(tc.rel_error if tc else None, "error"),
                "✓" if passed else "✗",
            )[col]
        if role == Qt.ItemDataRole.BackgroundRole and col in (3, 4, 6, 7, 8):
            check = fd if col in (3, 4) else tc
            if col == 8:
                ok = fd.passed and (tc is None or tc.passed)
                return QBrush(QColor(26, 152, 80, 90) if ok else QColor(215, 48, 39))
            if check is None:
                return None
            return QBrush(error_color(check.rel_error, check.passed))
        if role == Qt.ItemDataRole.ToolTipRole and col in (3, 4, 6, 7):
            check = fd if col in (3, 4) else tc
            if check is not None:
                return (
                    f"|Δ| = {check.abs_error!r}, tolerance for this entry {check.tolerance:.3g} "
                    f"({'passed' if check.passed else 'FAILED'})"
                )
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 8:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and col > 0:
            return self._font
        return None


class HeatMapModel(QAbstractTableModel):
    """K×K errors of one matrix, coloured on a log scale; the text is the error (K ≤ 8) or empty."""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._rows: list[list[EntryCheck]] = []
        self.metric = "rel_error"

    def set_report(self, report: CheckReport | None, metric: str) -> None:
        self.beginResetModel()
        self._rows = report.by_matrix(self.name) if report else []
        self.metric = metric
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or not self._rows else len(self._rows[0])

    def error(self, row: int, col: int) -> float:
        return float(getattr(self._rows[row][col], self.metric))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        e = self._rows[index.row()][index.column()]
        v = self.error(index.row(), index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return (f"{v:.0e}" if v else "0") if len(self._rows) <= 6 else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(error_color(e.rel_error, e.passed))
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"∂L/∂{e.matrix}[{e.i}][{e.j}]: analytic {e.analytic!r}, reference {e.reference!r}, "
                f"|Δ| {e.abs_error:.2e}, relative {e.rel_error:.2e}"
            )
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        return str(section) if role == Qt.ItemDataRole.DisplayRole else None


def _heat_table(model: HeatMapModel) -> QTableView:
    view = QTableView()
    view.setObjectName(f"heatMap{model.name}")
    view.setModel(model)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    for header in (view.horizontalHeader(), view.verticalHeader()):
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(8)
    font = view.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    view.setFont(font)
    view.horizontalHeader().setFont(font)
    view.verticalHeader().setFont(font)
    view.setMinimumHeight(70)
    view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return view


# --------------------------------------------------------------------------- the panel


class VerificationPanel(QWidget):
    """Live verification of the document's gradients (see the module docstring).

    Public for tests and menus: :meth:`check_now`, :meth:`cancel`, :meth:`shutdown`, ``results``
    (the last :class:`CheckResults` or None), ``is_busy``, and the widgets ``live_box``,
    ``torch_box``, ``sweep_box``, ``status_label``, ``torch_label``, ``progress``, ``table``,
    ``sweep_plot``.
    """

    checkFinished = Signal(object)  # CheckResults

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verificationPanel")
        self._document = document
        self.results: CheckResults | None = None
        self.error = ""
        self._job: int | None = None  # the id of the running check's job
        self._cancel: threading.Event | None = None

        self.status_label = QLabel(objectName="verificationStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.check_button = QPushButton("Check now", objectName="verifyButton")
        self.check_button.setToolTip("Compare every gradient entry with its references now (F7)")
        self.live_box = QCheckBox("Live", objectName="verifyLive", checked=True)
        self.live_box.setToolTip("Check again whenever the model changes")
        self.torch_box = QCheckBox("Compare with PyTorch (float64 autograd)", objectName="verifyTorch")
        self.torch_box.setToolTip(
            "Imports PyTorch the first time (a few seconds); optional: pip install 'backprop-lab[torch]'"
        )
        self.sweep_box = QCheckBox("eps sweep", objectName="verifySweep", checked=True)
        self.sweep_box.setToolTip("Maximum finite-difference error for eps from 1e-1 down to 1e-12")
        self.progress = QProgressBar(objectName="verifyProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel", objectName="verifyCancel")
        self.cancel_button.setVisible(False)
        self.torch_label = QLabel(objectName="verifyTorchNote")
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
            "error on a log scale, green at 1e-16, orange near the tolerance, red = fails."
        )
        tolerance.setObjectName("verifyTolerance")
        self.tolerance_label = tolerance
        tolerance.setWordWrap(True)
        tolerance.setStyleSheet("color: palette(mid);")

        controls = QHBoxLayout()
        for w in (self.check_button, self.live_box, self.torch_box, self.sweep_box):
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(self.progress)
        controls.addWidget(self.cancel_button)

        self.entries_model = EntriesModel(self)
        self.table = QTableView(objectName="verifyTable")
        self.table.setModel(self.entries_model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(140)

        self.heat_source = QComboBox(objectName="heatSource")
        self.heat_source.addItems(["vs central differences", "vs PyTorch"])
        self.heat_metric = QComboBox(objectName="heatMetric")
        self.heat_metric.addItems(["relative error", "absolute error"])
        self.heat_models = {name: HeatMapModel(name, self) for name in MATRIX_NAMES}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for c, name in enumerate(MATRIX_NAMES):
            grid.addWidget(QLabel(f"∂L/∂{name}", alignment=Qt.AlignmentFlag.AlignCenter), 0, c)
            grid.addWidget(_heat_table(self.heat_models[name]), 1, c)
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

        self.sweep_plot = pg.PlotWidget(background="w")
        self.sweep_plot.setObjectName("epsSweepPlot")
        item = self.sweep_plot.getPlotItem()
        item.setLogMode(x=True, y=True)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "eps (relative step)")
        item.setLabel("left", "max |analytic − central difference|")
        for side in ("bottom", "left"):
            item.getAxis(side).enableAutoSIPrefix(False)
        item.setTitle("eps sweep", color="k", size="9pt")
        self.sweep_plot.setToolTip(
            "Right of the minimum the truncation error falls as eps²; left of it the "
            "round-off error rises as 1/eps. The dashed line is the checker's eps."
        )
        self.sweep_curve = item.plot(
            pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=6, symbolBrush="#1f77b4", symbolPen=None
        )
        self.eps_line = pg.InfiniteLine(
            pos=math.log10(DEFAULT_EPS),
            angle=90,
            pen=pg.mkPen("#d62728", width=1.5, style=Qt.PenStyle.DashLine),
            label=f"checker's eps = {DEFAULT_EPS:.2g}",
            labelOpts={"position": 0.9, "color": "#d62728", "fill": (255, 255, 255, 200)},
        )
        item.addItem(self.eps_line)

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
        layout.addWidget(tolerance)
        layout.addWidget(splitter, 1)

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
        self.destroyed.connect(_cancel_on_destroy(self))
        self._show_status()
        if self._auto():
            self.check_now()

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

        def job(progress: Progress) -> CheckResults:
            return run_checks(model, with_torch=with_torch, with_sweep=with_sweep, progress=progress)

        # The first PyTorch import takes seconds: never on the GUI thread.
        torch_pending = with_torch and "torch" not in sys.modules
        if model.K <= SYNC_MAX_K and not torch_pending:
            try:
                result, error = job(lambda d, t: None), ""
            except ValueError as exc:
                result, error = None, str(exc)
            self._finish(result, error)
            return
        self._job, self._cancel = start_job(job, self._on_worker_progress, self._on_worker_done)
        self.progress.setRange(0, 0)
        self._show_busy(True)
        self._show_status()

    def cancel(self) -> None:
        """Stop a running check (it finishes between two entries); the old results stay shown."""
        if self._cancel is not None:
            self._cancel.set()
            self._cancel = None
        if self._job is not None:
            self._job = None  # whatever the cancelled job still sends is ignored
            self._show_busy(False)
            self._show_status()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and join every worker thread (the window is closing)."""
        self._live_timer.stop()
        self.cancel()
        return wait_for_jobs(timeout_ms)

    # ------------------------------------------------------------------ slots

    def _on_document_model_changed(self) -> None:
        self.cancel()  # a running check is about a model that is gone
        if self._auto():
            self._live_timer.start()
        else:
            self._show_status()

    def _on_live_box_toggled(self, _on: bool) -> None:
        if self._auto() and not self.is_current():
            self.check_now()
        self._show_status()

    def _on_torch_box_toggled(self, _on: bool) -> None:
        self.check_now()

    def _on_options_toggled(self, _on: bool) -> None:
        self.check_now()

    @Slot(int, int, int)
    def _on_worker_progress(self, done: int, total: int, job_id: int) -> None:
        if job_id == self._job:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    @Slot(object, str, int)
    def _on_worker_done(self, result: object, error: str, job_id: int) -> None:
        if job_id != self._job or error == "cancelled":
            return  # an older check's (cancelled, or superseded by this one)
        self._finish(result, error)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ showing

    def _finish(self, result: CheckResults | None, error: str) -> None:
        self._job = None
        self._cancel = None
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
        self.entries_model.set_results(r)
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
        if self.error:
            text, color = f"<b>Cannot check:</b> {self.error}", "#b2182b"
        elif r is None:
            text, color = "Checking…" if self.is_busy else f"Not checked yet. {self._hint()}", "#555"
        else:
            verdict = "PASS" if r.passed else "FAIL"
            color = "#1a7a40" if r.passed else "#b2182b"
            text = f"<b>{verdict}</b> — finite differences: {r.fd.summary()}"
            if r.torch is not None:
                text += f"; PyTorch float64: {r.torch.summary()}"
            if self.is_busy:
                text += " <i>(checking the new model…)</i>"
            elif r.model != self._document.model:
                text += f" <i>(for an earlier model. {self._hint()})</i>"
        self.status_label.setText(f"<span style='color:{color}; font-size:11pt'>{text}</span>")
        self._fit_labels()

    def _fit_labels(self) -> None:
        # Inside a scroll area a word-wrapped label gets its one-line height unless told its
        # height for the width it has.
        for label in (self.status_label, self.torch_label, self.tolerance_label):
            width = max(label.width(), 200)
            label.setMinimumHeight(label.heightForWidth(width) if label.text() else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_labels()

    def _hint(self) -> str:
        k = self._document.K
        if self.live_box.isChecked() and k > LIVE_MAX_K:
            return f"Press Check now (F7): at K = {k} a full check takes a while, so it is not automatic"
        return "Press Check now (F7)"


def _cancel_on_destroy(panel: VerificationPanel) -> Callable[[], None]:
    """A callable that cancels the panel's job without referring to the panel (it is being destroyed)."""
    holder = panel.__dict__  # the dict survives the C++ object; it holds the current cancel event

    def cancel(*_args: object) -> None:
        event = holder.get("_cancel")
        if event is not None:
            event.set()

    return cancel
