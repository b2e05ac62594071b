"""Training ▸ Sweep…: the settings to sweep, where the runs go, the progress across runs and the
summary chart, in one window that stays open beside the main one (it is not modal: the sweep
runs in other processes while the window stays usable). Closing it leaves a sweep running;
Training ▸ Sweep… brings it back, and the status bar says when the sweep ends.

The lists are typed as on the command line (``0.001, 0.01, 0.1``); a setting left at the
session's one value is not swept and not in the runs' names. What the lists make is checked as
the sweep command checks it (:func:`engine.sweep.make_grid`), as they are typed: the problem is
one line under the form and Start waits until there is none. The summary is the engine's chart
(:func:`engine.sweep_chart.summary_svg`) drawn by Qt's SVG renderer, redrawn as runs end.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.formatting import format_count, format_number
from backprop_lab.engine.session import Session
from backprop_lab.engine.sweep import AXES, Grid, RunResult, SweepResults, default_jobs, make_grid
from backprop_lab.engine.sweep_chart import number_text, summary_svg
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.gui.tips import apply_tips

#: The form's fields: setting → (label, objectName, whether its values are whole numbers).
FIELDS = {
    "learning_rate": ("Learning rates", "sweepLearningRates", False),
    "batch_size": ("Batch sizes", "sweepBatchSizes", True),
    "seed": ("Seeds", "sweepSeeds", True),
    "epochs": ("Epochs", "sweepEpochs", True),
}


def parse_values(text: str, whole: bool, words: str) -> list[float | int]:
    """``"0.001, 0.01 0.1"`` → [0.001, 0.01, 0.1] (commas or spaces between); ValueError, one line
    naming the field and the bad item."""
    items = text.replace(",", " ").split()
    if not items:
        raise ValueError(f"{words}: give at least one value")
    values: list[float | int] = []
    for item in items:
        try:
            values.append(int(item) if whole else float(item))
        except ValueError:
            kind = "a whole number" if whole else "a number"
            raise ValueError(f"{words}: {item!r} is not {kind}") from None
    return values


def grid_from_texts(session: Session, texts: dict[str, str]) -> Grid:
    """The grid the form's texts describe, from ``session``'s settings and history (ValueError,
    one line, as :func:`engine.sweep.make_grid` or :func:`parse_values` says)."""
    base: TrainingSettings = session.training
    axes: dict[str, list[float | int]] = {}
    for name, (words, _object, whole) in FIELDS.items():
        values = parse_values(texts.get(name, ""), whole, words.lower())
        if values != [getattr(base, name)]:  # the session's own value alone: not swept
            axes[name] = values
    if not axes:
        raise ValueError("nothing to sweep: list two values or more for a setting, or change one")
    return make_grid(base, axes, k=session.model.K, steps_before=len(session.history))


def initial_texts(settings: TrainingSettings) -> dict[str, str]:
    """The form's first values: three learning rates a decade apart around the session's, the
    rest the session's own (so a first sweep is one click away and its chart has a shape)."""
    lr = settings.learning_rate
    rates = ", ".join(repr(v) for v in (lr / 10, lr, lr * 10))
    return {
        "learning_rate": rates,
        "batch_size": str(settings.batch_size),
        "seed": str(settings.seed),
        "epochs": str(settings.epochs),
    }


def run_line(r: RunResult) -> str:
    """One run as the list shows it (the command prints the same facts)."""
    if r.status == "failed":
        return f"{r.point.name}: failed: {r.error}"
    text = (
        f"{r.point.name}: {format_count(r.steps, 'step')}, loss at x {number_text(r.final_loss_at_x or 0.0)}"
    )
    if r.diverged_at is not None:
        text += f", diverged at step {r.diverged_at:,}"
    return text


class SweepDialog(QDialog):
    """The sweep's window. It shows; the :class:`gui.sweep_controller.SweepController` acts.

    Signals: ``startRequested()`` (Start, with a valid grid), ``cancelRequested()``,
    ``browseRequested()`` (the folder's Browse… button).
    """

    startRequested = Signal()
    cancelRequested = Signal()
    browseRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepDialog")
        self.setWindowTitle("Sweep")
        self.setModal(False)
        self._session: Session | None = None
        self.grid: Grid | None = None
        self._running = False
        self._build_views(self._build_form())
        self.set_running(False)
        self.resize(620, 720)
        apply_tips(self)

    def _build_form(self) -> QFormLayout:
        """The settings' lists, the number of processes and the output folder."""
        form = QFormLayout()
        self.fields: dict[str, QLineEdit] = {}
        for name, (words, object_name, _whole) in FIELDS.items():
            edit = QLineEdit()
            edit.setObjectName(object_name)
            edit.setPlaceholderText("e.g. 0.001, 0.01, 0.1" if name == "learning_rate" else "e.g. 1, 10, 100")
            edit.textChanged.connect(self._on_fields_changed)
            self.fields[name] = edit
            form.addRow(words, edit)
        self.jobs = QSpinBox()
        self.jobs.setObjectName("sweepJobs")
        self.jobs.setRange(1, max(1, default_jobs()))
        self.jobs.setValue(max(1, default_jobs()))
        self.jobs.setSuffix(" processes")
        form.addRow("Runs at once", self.jobs)
        self.folder = QLineEdit()
        self.folder.setObjectName("sweepFolder")
        self.folder.textChanged.connect(self._on_fields_changed)
        browse = QPushButton("Browse…")
        browse.setObjectName("sweepBrowse")
        browse.clicked.connect(self.browseRequested)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Output folder", row)
        return form

    def _build_views(self, form: QFormLayout) -> None:
        """The plan, the progress, the chart, the runs and the buttons, under the form."""
        self.plan = QLabel()
        self.plan.setObjectName("sweepPlan")
        self.plan.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("sweepProgress")
        self.progress.setFormat("%v of %m runs")
        self.status = QLabel()
        self.status.setObjectName("sweepStatus")
        self.status.setWordWrap(True)
        self.chart = QSvgWidget()
        self.chart.setObjectName("sweepChart")
        self.chart.setMinimumSize(360, 260)
        self.chart.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.chart_svg = ""
        self.runs_list = QListWidget()
        self.runs_list.setObjectName("sweepRuns")
        self.runs_list.setMaximumHeight(110)
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("sweepStart")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._on_start_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("sweepCancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        close = QPushButton("Close")
        close.setObjectName("sweepClose")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.plan)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.runs_list)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ the form

    def set_session(self, session: Session, folder: str) -> None:
        """The session a sweep would start from (shown anew each time the dialog opens)."""
        self._session = session
        if not any(edit.text() for edit in self.fields.values()):
            for name, text in initial_texts(session.training).items():
                self.fields[name].setText(text)
        if not self.folder.text():
            self.folder.setText(folder)
        self._on_fields_changed()

    def texts(self) -> dict[str, str]:
        return {name: edit.text() for name, edit in self.fields.items()}

    def _on_fields_changed(self, *_args: object) -> None:
        if self._session is None or self._running:
            return
        try:
            self.grid = grid_from_texts(self._session, self.texts())
        except ValueError as exc:
            self.grid = None
            self.plan.setText(str(exc))
            self.plan.setProperty("problem", True)
        else:
            self.plan.setText(self._plan_text(self.grid))
            self.plan.setProperty("problem", False)
        self.start_button.setEnabled(self.grid is not None and bool(self.folder.text().strip()))

    def _plan_text(self, grid: Grid) -> str:
        swept = ", ".join(f"{len(v)} {AXES[n][0]}s" for n, v in grid.swept) or "one setting"
        longest = max(p.settings.total_steps for p in grid.points)
        return (
            f"{format_count(len(grid.points), 'run')} ({swept}), each from this session's weights, "
            f"up to {format_count(longest, 'step')} each"
        )

    def _on_start_clicked(self) -> None:
        if self.grid is not None and not self._running:
            self.startRequested.emit()

    # ------------------------------------------------------------------ the sweep

    def set_running(self, running: bool) -> None:
        self._running = running
        for edit in (*self.fields.values(), self.folder):
            edit.setReadOnly(running)
        self.jobs.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.start_button.setEnabled(not running and self.grid is not None)
        if not running:
            self._on_fields_changed()

    def begin(self, grid: Grid) -> None:
        self.set_running(True)
        self.runs_list.clear()
        self.progress.setRange(0, len(grid.points))
        self.progress.setValue(0)
        self.status.setText(f"Starting {format_count(self.jobs.value(), 'process', 'processes')}…")
        self.show_summary(SweepResults(grid, ""))

    def add_result(self, result: RunResult) -> None:
        self.runs_list.addItem(run_line(result))
        self.runs_list.scrollToBottom()

    def show_progress(self, results: Sequence[RunResult], total: int, left: str) -> None:
        self.progress.setValue(len(results))
        counts = [f"{len(results):,} of {total:,} runs ended"]
        for status in ("diverged", "failed"):
            n = sum(r.status == status for r in results)
            if n:
                counts.append(f"{n:,} {status}")
        self.status.setText(" · ".join(counts + ([left] if left else [])))

    def show_summary(self, results: SweepResults) -> None:
        """Draw the engine's summary chart of ``results`` (the runs so far)."""
        self.chart_svg = summary_svg(results)
        self.chart.load(self.chart_svg.encode("utf-8"))
        self.chart.renderer().setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)

    def end(self, results: SweepResults | None, problem: str, seconds: float) -> None:
        self.set_running(False)
        if results is None:
            self.status.setText(f"The sweep did not run: {problem}")
            return
        ended = format_count(len(results.runs), "run")
        if results.stopped:
            text = f"Cancelled: {ended} of {len(results.grid.points):,} finished and kept in {results.folder}"
        else:
            text = f"Done: {ended} in {format_number(seconds, 'short')} s, written to {results.folder}"
        self.status.setText(text + (f". {problem}" if problem else ""))
        self.show_summary(results)
