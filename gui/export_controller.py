"""File ▸ Export data… and the plot's "Export visible curves as CSV…": the numbers for other tools.

Both write through the engine's one exporter (:mod:`engine.export`: ``export_session`` for the
session, ``write_curves_csv`` for curves), atomically, on a :mod:`gui.jobs` worker: a million-step
history takes seconds to write and the window stays live meanwhile. What is written is a copy
taken on the GUI thread when the export starts, so an edit made while it is being written changes
neither the file nor the session. A failure is one line in a message box; the file that was there
before is untouched (the engine writes a temporary file and renames it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtGui import QAction

from backprop_lab.engine.export import (
    EXPORT_FORMATS,
    Curve,
    ExportError,
    export_format,
    export_session,
    write_curves_csv,
)
from backprop_lab.gui.actions import make_action
from backprop_lab.gui.document import Document
from backprop_lab.gui.jobs import JobContext, JobGroup
from backprop_lab.gui.prompts import Prompts

EXPORT_DIR_KEY = "session/lastExportDirectory"
#: The file dialog's filters, one per format the engine writes (:data:`engine.export.EXPORT_FORMATS`).
_FILTER_WORDS = {
    ".csv": "CSV: the history, a row per step",
    ".json": "JSON: the model and its gradients",
    ".npz": "NumPy arrays: the model, its gradients and the history",
}
EXPORT_FILTERS = ";;".join(f"{_FILTER_WORDS[ext]} (*{ext})" for ext in EXPORT_FORMATS)
CURVES_FILTER = "CSV (*.csv)"
#: How long closing the window waits for an export's thread (it stops between two chunks).
EXPORT_JOIN_MS = 30_000


def with_extension(path: str, chosen_filter: str) -> str:
    """``path`` as typed, with the chosen filter's extension added when it names no known format
    (a file dialog that does not add it leaves "results" for "CSV — … (*.csv)")."""
    if Path(path).suffix.lower() in EXPORT_FORMATS:
        return path
    for ext in EXPORT_FORMATS:
        if f"(*{ext})" in chosen_filter:
            return path + ext
    return path


class ExportController(QObject):
    """Exports for one window: ``actions["export_data"]`` (File menu) and ``plot_action`` (the
    plot's right-click menu: :meth:`export_curves` of what ``curves()`` says is shown).

    ``start_dir()`` and ``base_name()`` suggest where and under what name; ``curves()`` gives the
    plot's visible curves as the caller's own copies (the plot goes on drawing). Signals:
    ``exported(str)`` the path written, or "" when an export failed or was cancelled;
    ``busyChanged(bool)``.
    """

    exported = Signal(str)
    busyChanged = Signal(bool)

    def __init__(
        self,
        document: Document,
        prompts: Prompts,
        start_dir: Callable[[], str],
        base_name: Callable[[], str],
        parent: QObject | None = None,
        curves: Callable[[], Sequence[Curve]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("exportActions")
        self.document = document
        self.prompts = prompts
        self._start_dir = start_dir
        self._base_name = base_name
        self._curves = curves
        self._jobs = JobGroup(self)
        self._closed = False
        self._busy = False  # from the start to the end of an export (its job outlives the end a moment)
        self.actions: dict[str, QAction] = {
            "export_data": make_action(
                self,
                "export_data",
                "Export &data…",
                self.export_dialog,
                None,
                "Write the history as CSV, the model and its gradients as JSON, or both as NumPy arrays",
            ),
        }
        self.plot_action = make_action(
            self,
            "export_curves",
            "Export visible curves as CSV…",
            lambda: self.export_curves(self._curves() if self._curves is not None else []),
            None,
            "Write the curves shown on the plot side by side, two columns a run, as CSV",
        )

    @property
    def is_exporting(self) -> bool:
        return self._busy

    def _suggested(self, ext: str) -> str:
        start = str(QSettings().value(EXPORT_DIR_KEY, "") or self._start_dir())
        return str(Path(start) / f"{self._base_name()}{ext}")

    def export_dialog(self) -> bool:
        """File ▸ Export data…: a file chosen by name and format, then :meth:`export_to`."""
        path, chosen = self.prompts.save_file_filtered("Export data", self._suggested(".csv"), EXPORT_FILTERS)
        return bool(path) and self.export_to(with_extension(path, chosen))

    def export_to(self, path: str | Path) -> bool:
        """Export the session to ``path`` (its extension says how) on a worker; False, with a
        message, when it cannot start (an unknown extension, an export going on, a run)."""
        if self.is_exporting:
            self.document.notify("An export is being written already")
            return False
        if self.document.training_state == "running":
            self.prompts.information("Export data", "Pause or stop the training run first.")
            return False
        try:
            export_format(path)
            self._refuse_own_file(path)
        except ExportError as exc:
            self.prompts.critical("Cannot export data", str(exc))
            return False
        session = self.document.consistent_session().copy()
        return self._start(path, lambda _context: export_session(session, path))

    def export_curves(self, curves: Sequence[Curve]) -> bool:
        """The plot's context menu: ``curves`` (the visible ones, the caller's own copies: they are
        written on a worker) side by side into a CSV file."""
        if not curves:
            self.prompts.information("Export visible curves", "No curve is shown: tick a run first.")
            return False
        if self.is_exporting:
            self.document.notify("An export is being written already")
            return False
        title = "Export visible curves as CSV"
        path = self.prompts.save_file(title, self._suggested("-curves.csv"), CURVES_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += ".csv"
        own = list(curves)
        return self._start(path, lambda _context: write_curves_csv(own, path))

    def _refuse_own_file(self, path: str | Path) -> None:
        """ExportError when ``path`` is the open session's own file (under any name): an export
        there would replace the session with numbers that cannot be opened as one."""
        own = self.document.path
        if own is not None and Path(path).exists() and Path(path).samefile(own):
            raise ExportError(
                f"{path} is the open session's own file; exporting into it would replace the session"
            )

    def _start(self, path: str | Path, write: Callable[[JobContext], object]) -> bool:
        target = str(Path(path).absolute())
        QSettings().setValue(EXPORT_DIR_KEY, str(Path(target).parent))
        job = self._jobs.start(write, name="export")
        job.succeeded.connect(lambda _r: self._on_job_ended(target, ""))
        job.failed.connect(lambda error: self._on_job_ended(target, error))
        self._busy = True
        self.document.notify(f"Exporting {Path(target).name}…", 0)
        self.busyChanged.emit(True)
        return True

    def wait(self, timeout_ms: int = EXPORT_JOIN_MS) -> bool:
        """Join the export's thread (tests, and closing)."""
        return all(job.wait(timeout_ms) for job in self._jobs.jobs)

    def shutdown(self) -> None:
        """The window is closing: an export under way is cancelled and its thread joined."""
        self._closed = True
        self._jobs.shutdown(EXPORT_JOIN_MS)

    @Slot()
    def _on_job_ended(self, path: str, error: str) -> None:
        if self._closed:
            return
        self._busy = False
        if not error:
            self.document.notify(f"Exported {Path(path).name} ({Path(path).parent})", 10000)
        else:
            self.document.notify("The data was not exported")
            self.prompts.critical("Cannot export data", _message(error))
        self.busyChanged.emit(False)
        self.exported.emit("" if error else path)


def _message(error: str) -> str:
    # gui.jobs names the exception's type; the engine's errors already say what went wrong.
    for prefix in ("ExportError: ", "AtomicWriteError: ", "OSError: ", "ValueError: "):
        if error.startswith(prefix):
            return error.removeprefix(prefix)
    return error
