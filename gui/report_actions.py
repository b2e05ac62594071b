"""File ▸ Export report… and File ▸ Save screenshot in the window (used by :mod:`gui.session_actions`).

Exporting a report has a slow part without Qt — gathering its content, which runs the gradient
checks and may import PyTorch for the first time (seconds) — and a quick part with Qt: drawing the
curves, laying out the PDF, grabbing the window and writing the folder (:func:`gui.report.export_report`).
The slow part runs on a worker ``QThread`` on a copy of the session, so the window stays live; the
rest runs on the GUI thread under a busy cursor. Closing the window cancels the gathering between
two checked entries and joins the thread (:meth:`ReportActions.shutdown`); whatever it still
sends is ignored.

Screenshots are the window or the live plot as PNG (``QWidget.grab``), written atomically.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QThread, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from backprop_lab.engine.atomic import atomic_write_bytes
from backprop_lab.engine.report_data import ReportData, gather_report_data
from backprop_lab.engine.session import Session

PNG_FILTER = "PNG images (*.png)"
REPORT_DIR_KEY = "session/lastReportDirectory"
#: How long closing the window waits for the report's worker thread (a PyTorch import cannot be
#: interrupted; the checks themselves stop between two entries).
EXPORT_JOIN_MS = 60_000


class _Cancelled(Exception):
    pass


class _ReportJob(QObject):
    """Gathers the report's data (plain Python: checks, maybe a PyTorch import) on a worker thread."""

    done = Signal(object, str)  # ReportData or None, error text ("" on success, "cancelled")

    def __init__(self, session: Session, verifications: list | None, torch: bool) -> None:
        super().__init__()
        self.session = session
        self.verifications = verifications
        self.torch = torch
        self.cancel = threading.Event()

    def _progress(self, _done: int, _total: int) -> None:
        if self.cancel.is_set():
            raise _Cancelled

    @Slot()
    def run(self) -> None:
        try:
            data = gather_report_data(
                self.session, verifications=self.verifications, torch=self.torch, progress=self._progress
            )
        except _Cancelled:
            self.done.emit(None, "cancelled")
            return
        except Exception as exc:  # reported to the user, one line
            self.done.emit(None, f"{type(exc).__name__}: {exc}")
            return
        self.done.emit(data, "")


def _with_png_suffix(path: str) -> str:
    return path if Path(path).suffix else path + ".png"


class ReportActions(QObject):
    """Export report and screenshots for one main window.

    Signals: ``reportExported(object)`` the :class:`gui.report.ReportFiles` written, or None when
    the export failed or was cancelled; ``busyChanged(bool)`` an export started or ended.
    ``start_dir()`` and ``base_name()`` suggest where and under what name files go.
    """

    reportExported = Signal(object)
    busyChanged = Signal(bool)

    def __init__(
        self, window: QMainWindow, start_dir: Callable[[], str], base_name: Callable[[], str]
    ) -> None:
        super().__init__(window)
        self.setObjectName("reportActions")
        self.window = window
        self.document = window.document  # type: ignore[attr-defined]
        self._start_dir = start_dir
        self._base_name = base_name
        #: The report gathers PyTorch's check too when it is installed (tests may turn it off).
        self.torch = True
        self._export: tuple[QThread, _ReportJob, Session, Path] | None = None
        self._cursor_overridden = False
        self._closed = False

    # ------------------------------------------------------------------ report

    @property
    def is_exporting(self) -> bool:
        return self._export is not None

    def verifications_for(self, session: Session) -> list | None:
        """The verification panel's results, when they are about the report's (initial) model and complete."""
        panel = getattr(getattr(self.window, "insight", None), "verification", None)
        results = getattr(panel, "results", None)
        if results is None or getattr(panel, "is_busy", True):
            return None
        if getattr(results, "model", None) != session.initial:
            return None
        torch_report = getattr(results, "torch", None)
        if torch_report is None and self.torch:
            return None  # the export adds PyTorch's column; the panel did not compute it
        return [results.fd] + ([torch_report] if torch_report is not None else [])

    def export_dialog(self) -> bool:
        start = str(QSettings().value(REPORT_DIR_KEY, "") or self._start_dir())
        folder = QFileDialog.getExistingDirectory(self.window, "Export report into folder", start)
        return bool(folder) and self.export_to(folder)

    def export_to(self, folder: str | Path) -> bool:
        """Start exporting the report into ``folder``; ``reportExported`` tells the outcome."""
        if self._export is not None:
            self.document.notify("A report is being exported already")
            return False
        if self.document.training_state == "running":
            QMessageBox.information(self.window, "Export report", "Pause or stop the training run first.")
            return False
        # The history and the weights its last step ended with, even a moment after Pause.
        session = self.document.consistent_session().copy()
        job = _ReportJob(session, self.verifications_for(session), self.torch)
        thread = QThread(self)
        thread.setObjectName("reportThread")
        job.moveToThread(thread)
        thread.started.connect(job.run)
        job.done.connect(self._on_job_done)
        self._export = (thread, job, session, Path(folder))
        QSettings().setValue(REPORT_DIR_KEY, str(Path(folder).absolute()))
        self._set_busy(True)
        self.busyChanged.emit(True)
        self.document.notify("Exporting the report: checking the gradients…", 0)
        thread.start()
        return True

    def shutdown(self) -> None:
        """The window is closing: cancel an export, join its thread, drop whatever it still sends."""
        self._closed = True
        if self._export is not None:
            thread, job, _session, _folder = self._export
            job.cancel.set()
            with contextlib.suppress(RuntimeError, TypeError):
                job.done.disconnect(self._on_job_done)
            thread.quit()
            thread.wait(EXPORT_JOIN_MS)
        self._end_export()

    def _end_export(self) -> tuple[Session, Path] | None:
        if self._export is None:
            return None
        thread, job, session, folder = self._export
        self._export = None
        thread.quit()
        thread.wait()
        job.deleteLater()
        thread.deleteLater()
        self._set_busy(False)
        if not self._closed:
            self.busyChanged.emit(False)
        return session, folder

    @Slot(object, str)
    def _on_job_done(self, data: ReportData | None, error: str) -> None:
        ended = self._end_export()
        if ended is None or self._closed:
            return
        session, folder = ended
        if data is None:
            if error != "cancelled":
                QMessageBox.critical(self.window, "Cannot export report", error)
            self.document.notify("The report was not exported")
            self.reportExported.emit(None)
            return
        from backprop_lab.gui.report import ReportError, export_report

        self.window.statusBar().clearMessage()  # "Exporting…" does not belong in the screenshot
        self._set_busy(True)
        try:
            files = export_report(session, folder, window=self.window, data=data)
        except (ReportError, OSError, ValueError) as exc:
            self._set_busy(False)
            QMessageBox.critical(
                self.window, "Cannot export report", f"{exc}. Nothing was written to {folder}."
            )
            self.document.notify("The report was not exported")
            self.reportExported.emit(None)
            return
        self._set_busy(False)
        self.document.notify(f"Report written to {files.folder} ({files.pdf_pages} PDF pages)", 10000)
        self.reportExported.emit(files)

    def _set_busy(self, busy: bool) -> None:
        if busy and not self._cursor_overridden:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
            self._cursor_overridden = True
        elif not busy and self._cursor_overridden:
            QGuiApplication.restoreOverrideCursor()
            self._cursor_overridden = False

    # ------------------------------------------------------------------ screenshots

    def _screenshot_widget(self, which: str) -> QWidget | None:
        if which == "window":
            return self.window
        return self.window.findChild(QWidget, "trainingPlot")

    def save_screenshot(self, which: str) -> bool:
        """File ▸ Save screenshot: "window" or "plot" as a PNG chosen in a file dialog."""
        default = Path(self._start_dir()) / f"{self._base_name()}-{which}.png"
        title = f"Save screenshot of the {which}"
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(default), PNG_FILTER)
        return bool(path) and self.save_screenshot_to(which, _with_png_suffix(path))

    def save_screenshot_to(self, which: str, path: str | Path) -> bool:
        """Write a PNG of the window or the plot to ``path`` (atomic); False, with a message, on failure."""
        from backprop_lab.gui.report import ReportError, png_bytes

        widget = self._screenshot_widget(which)
        if widget is None:
            QMessageBox.critical(self.window, "Cannot save screenshot", f"there is no {which} to grab")
            return False
        try:
            pixmap = widget.grab()
            if pixmap.isNull():
                raise ReportError(f"could not take a screenshot of the {which}")
            atomic_write_bytes(path, png_bytes(pixmap))
        except (ReportError, OSError) as exc:
            QMessageBox.critical(self.window, "Cannot save screenshot", str(exc))
            return False
        self.document.notify(f"Saved a screenshot of the {which} to {Path(path).name}")
        return True
