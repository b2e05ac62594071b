"""Training ▸ Sweep…: the action, its dialog, the sweep's runner, and where the runs go.

The sweep starts from the session as it stands (a copy: the window can go on training or editing
while it runs). Before it starts, files it would replace (runs of an earlier sweep of the same
settings in the same folder, its summary) are named and the user asked: nothing is overwritten
without a yes. Each run that ends is listed, counted into the progress and its ETA, drawn into
the summary chart and handed to ``add_runs`` (the runs list's :meth:`gui.runs.RunsModel.add_runs`,
when the window has one), so the sweep's curves open beside the session's as they come.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QAction

from backprop_lab.engine.runs import Run
from backprop_lab.engine.sweep import SUFFIX, Grid, RunResult, SweepResults
from backprop_lab.gui.actions import make_action
from backprop_lab.gui.document import Document
from backprop_lab.gui.prompts import Prompts
from backprop_lab.gui.sweep_dialog import SweepDialog
from backprop_lab.gui.sweep_runner import SweepEta, SweepRunner, eta_text

#: The sweep's own files besides the runs'.
SUMMARY_FILES = ("summary.csv", "summary.svg", "summary.png")
#: Runs shown on the plot as they arrive; a bigger sweep's runs are listed unticked (a hundred
#: curves at once would hide each other and slow the live plot).
VISIBLE_RUNS = 10
#: The summary chart is redrawn at most this often while runs end (seconds; always at the end).
REDRAW_EVERY = 0.25


def files_replaced(grid: Grid, folder: str | Path) -> list[str]:
    """The names of the files in ``folder`` a sweep of ``grid`` would write over."""
    out = Path(folder)
    names = [p.name + SUFFIX for p in grid.points] + list(SUMMARY_FILES)
    return [name for name in names if (out / name).exists()]


class SweepController(QObject):
    """Training ▸ Sweep… for one window: ``actions["sweep"]``, ``dialog``, ``runner``."""

    def __init__(
        self,
        document: Document,
        prompts: Prompts,
        start_dir: Callable[[], str],
        base_name: Callable[[], str],
        add_runs: Callable[[Sequence[Run], bool], object] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sweepActions")
        self.document = document
        self.prompts = prompts
        self._start_dir = start_dir
        self._base_name = base_name
        self._add_runs = add_runs
        self.runner = SweepRunner(self)
        self.runner.runEnded.connect(self._on_runner_run_ended)
        self.runner.progressed.connect(self._on_runner_progressed)
        self.runner.sweepEnded.connect(self._on_runner_sweep_ended)
        self.dialog = SweepDialog(prompts.parent)
        self.dialog.startRequested.connect(self.start)
        self.dialog.cancelRequested.connect(self.runner.cancel)
        self.dialog.browseRequested.connect(self._on_dialog_browse_requested)
        self._grid: Grid | None = None
        self._ended: list[RunResult] = []
        self._eta: SweepEta | None = None
        #: The runs go to the runs list while the session they started from is open (another
        #: session opened mid-sweep would be handed runs it never trained from).
        self._listing = False
        #: Runs not yet in the runs list: they join it in batches, with the chart's redraws (each
        #: addition redraws the plot; one per run stalled the window 0.3 s in 1.4 s at 20,000 steps).
        self._pending: list[Run] = []
        document.sessionReplaced.connect(self._on_document_session_replaced)
        self._started = 0.0
        # The chart is redrawn once per REDRAW_EVERY at most, with every run that ended by then.
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(round(REDRAW_EVERY * 1000))
        self._redraw.timeout.connect(self._on_redraw_timeout)
        self.actions: dict[str, QAction] = {
            "sweep": make_action(
                self,
                "sweep",
                "S&weep…",
                self.open_dialog,
                None,
                "Train once per combination of learning rates, batch sizes, seeds and epochs, in parallel",
            ),
        }

    def open_dialog(self) -> None:
        """Show the sweep's window (as it was left: a sweep under way goes on showing its progress)."""
        if not self.runner.is_running:
            folder = str(Path(self._start_dir() or Path.home()) / f"{self._base_name()}-sweep")
            self.dialog.set_session(self.document.consistent_session(), folder)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()

    def _on_dialog_browse_requested(self) -> None:
        folder = self.prompts.folder("Sweep into folder", self.dialog.folder.text() or self._start_dir())
        if folder:
            self.dialog.folder.setText(folder)

    def start(self) -> bool:
        """Start the sweep the dialog describes; False when it did not start (and why was said)."""
        if self.runner.is_running:
            return False
        if self.document.training_state == "running":
            self.prompts.information("Sweep", "Pause or stop the training run first.")
            return False
        # The grid is checked against the session as it is now (another may have been opened since).
        session = self.document.consistent_session()
        self.dialog.set_session(session, "")
        grid, folder = self.dialog.grid, self.dialog.folder.text().strip()
        if grid is None or not folder:
            return False
        replaced = files_replaced(grid, folder)
        if replaced:
            shown = ", ".join(replaced[:5]) + (
                f" and {len(replaced) - 5:,} more" if len(replaced) > 5 else ""
            )
            text = f"{folder} already holds {shown}. The sweep writes over them. Replace them?"
            if not self.prompts.confirm_replace("Sweep", text):
                return False
        self._grid, self._ended, self._listing, self._pending = grid, [], True, []
        self._eta = SweepEta(grid)
        self._started = time.monotonic()
        self.runner.start(session, grid, folder, self.dialog.jobs.value())
        self.dialog.begin(grid)
        return True

    def shutdown(self) -> None:
        """The window is closing: a sweep is cancelled (its finished runs are kept) and joined."""
        self.runner.shutdown()
        self.dialog.close()

    # ------------------------------------------------------------------ slots

    @Slot(object, object)
    def _on_runner_run_ended(self, result: RunResult, run: Run | None) -> None:
        self._ended.append(result)
        if self._eta is not None:
            self._eta.ended(result.point)
        self.dialog.add_result(result)
        if run is not None and self._listing:
            self._pending.append(run)

    @Slot()
    def _on_document_session_replaced(self) -> None:
        self._listing = False
        self._pending = []

    def _list_pending(self) -> None:
        runs, self._pending = self._pending, []
        if runs and self._add_runs is not None and self._grid is not None:
            self._add_runs(runs, len(self._grid.points) <= VISIBLE_RUNS)

    @Slot(int, int)
    def _on_runner_progressed(self, _done: int, total: int) -> None:
        left = eta_text(self._eta.seconds_left()) if self._eta is not None else ""
        self.dialog.show_progress(self._ended, total, left)
        if not self._redraw.isActive():
            self._redraw.start()

    @Slot()
    def _on_redraw_timeout(self) -> None:
        if self._grid is not None and self.runner.is_running:
            self.dialog.show_summary(SweepResults(self._grid, "", list(self._ended)))
            self._list_pending()

    @Slot(object, str)
    def _on_runner_sweep_ended(self, results: SweepResults | None, problem: str) -> None:
        self._redraw.stop()
        self._list_pending()
        self.dialog.end(results, problem, time.monotonic() - self._started)
        if results is None:
            self.document.notify("The sweep did not run")
            self.prompts.critical("Cannot sweep", problem)
            return
        word = "cancelled" if results.stopped else "done"
        self.document.notify(f"Sweep {word}: {len(results.runs):,} runs in {results.folder}", 10000)
        if problem:
            self.prompts.warning("Sweep", problem)
