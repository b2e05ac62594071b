"""File ▸ Export report… and File ▸ Save screenshot in the window (used by :mod:`gui.session_actions`).

Exporting a report takes seconds: gathering its content runs the gradient checks and may import
PyTorch for the first time, and rendering draws the curves, lays out and paints the PDF and
writes the folder. On the GUI thread there is only the window's screenshot (widgets can be
grabbed nowhere else), taken when the export starts; everything else runs as one
:mod:`gui.jobs` job on a copy of the session, painting on QImage, QSvgGenerator and QPdfWriter
(which Qt allows off the GUI thread), so the window stays live even for a million-step history
(the curves are reduced there by a per-pixel min/max decimation, :func:`gui.report_charts.decimate`,
and only that small copy is drawn on the GUI thread, by pyqtgraph, while the job waits).
Closing the window cancels the job between two checked entries and joins its thread
(:meth:`ReportActions.shutdown`); whatever it still sends is ignored.

Screenshots are the window or the live plot as PNG (``QWidget.grab``), written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from backprop_lab.engine.atomic import atomic_write_bytes
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.session import Session
from backprop_lab.gui.jobs import Job, JobContext

PNG_FILTER = "PNG images (*.png)"
REPORT_DIR_KEY = "session/lastReportDirectory"
#: How long closing the window waits for the report's worker thread (a PyTorch import cannot be
#: interrupted; the checks themselves stop between two entries).
EXPORT_JOIN_MS = 60_000


def export_in_background(
    context: JobContext,
    session: Session,
    folder: Path,
    shot: QImage,
    verifications: list | None,
    torch: bool,
) -> object:
    """The report job (runs on a worker thread): gather, render and write the report.

    Returns the :class:`gui.report.ReportFiles`, or a one-line message for a failure the user
    can act on (the folder cannot be written, rendering failed); anything else is raised.
    """
    from backprop_lab.gui.report import ReportError, export_report

    data = gather_report_data(session, verifications=verifications, torch=torch, progress=context.progress)
    context.check()
    try:
        return export_report(session, folder, data=data, shot=shot, check=context.check)
    except (ReportError, OSError, ValueError) as exc:
        return f"{exc}. Nothing was written to {folder}."


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
        self._export: Job | None = None
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
        from backprop_lab.gui.report import ReportError, grab_window

        # The history and the weights its last step ended with, even a moment after Pause.
        session = self.document.consistent_session().copy()
        verifications, torch = self.verifications_for(session), self.torch
        self.window.statusBar().clearMessage()  # "Exporting…" does not belong in the screenshot
        shot = grab_window(self.window).toImage()
        if shot.isNull():
            QMessageBox.critical(
                self.window,
                "Cannot export report",
                str(ReportError("could not take a screenshot of the window")),
            )
            self.reportExported.emit(None)
            return False
        out = Path(folder)
        QSettings().setValue(REPORT_DIR_KEY, str(out.absolute()))

        def work(context: JobContext) -> object:
            return export_in_background(context, session, out, shot, verifications, torch)

        job = Job(work, "report", self)
        job.succeeded.connect(self._on_job_succeeded)
        job.failed.connect(self._on_job_failed)
        job.cancelled.connect(self._on_job_cancelled)
        self._export = job
        self._set_busy(True)
        self.busyChanged.emit(True)
        self.document.notify("Exporting the report: checking the gradients…", 0)
        job.start()
        return True

    def shutdown(self) -> None:
        """The window is closing: cancel an export, join its thread, drop whatever it still sends."""
        self._closed = True
        job, self._export = self._export, None
        if job is not None:
            job.cancel()
            job.wait(EXPORT_JOIN_MS)
        self._set_busy(False)

    def _failed(self, message: str) -> None:
        QMessageBox.critical(self.window, "Cannot export report", message)
        self.document.notify("The report was not exported")
        self.reportExported.emit(None)

    def _end(self) -> None:
        """The job has returned: the export is over (before anyone hears how it went)."""
        job, self._export = self._export, None
        if job is not None:
            job.deleteLater()  # after Job.finished: its thread is joined by then
        self._set_busy(False)
        if not self._closed:
            self.busyChanged.emit(False)

    @Slot(object)
    def _on_job_succeeded(self, result: object) -> None:
        if self._closed:
            return
        self._end()
        if isinstance(result, str):
            self._failed(result)
            return
        files = result
        self.document.notify(f"Report written to {files.folder} ({files.pdf_pages} PDF pages)", 10000)  # type: ignore[attr-defined]
        self.reportExported.emit(files)

    @Slot(str)
    def _on_job_failed(self, error: str) -> None:
        if not self._closed:
            self._end()
            self._failed(error)

    @Slot()
    def _on_job_cancelled(self) -> None:
        if not self._closed:
            self._end()
            self.document.notify("The report was not exported")
            self.reportExported.emit(None)

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
