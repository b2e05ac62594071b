"""File ▸ Export report… and File ▸ Save screenshot: the window's report controller.

Exporting a report takes seconds: gathering its content runs the gradient checks and may import
PyTorch for the first time, and rendering draws the curves, lays out and paints the PDF and
writes the folder. On the GUI thread there is only the window's screenshot (widgets can be
grabbed nowhere else), taken when the export starts; everything else runs as one
:mod:`gui.jobs` job on a copy of the session, painting on QImage, QSvgGenerator and QPdfWriter
(which Qt allows off the GUI thread), so the window stays live even for a million-step history
(the curves are reduced there by a per-pixel min/max decimation, :func:`gui.report_charts.decimate`,
and only that small copy is drawn on the GUI thread, by pyqtgraph, while the job waits).
Closing the window cancels the job between two checked entries and joins its thread
(:meth:`ReportController.shutdown`); whatever it still sends is ignored.

Screenshots are the window or the live plot as PNG (``QWidget.grab``), written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from PySide6.QtCore import QObject, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from backprop_lab.engine.atomic import atomic_write_bytes
from backprop_lab.engine.gradcheck import CheckReport
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.session import Session
from backprop_lab.gui.actions import make_action
from backprop_lab.gui.document import Document
from backprop_lab.gui.jobs import Job, JobContext
from backprop_lab.gui.prompts import PNG_FILTER, Prompts

if TYPE_CHECKING:
    from backprop_lab.engine.verification import CheckResults
    from backprop_lab.gui.report import ReportFiles

REPORT_DIR_KEY = "session/lastReportDirectory"
#: How long closing the window waits for the report's worker thread (a PyTorch import cannot be
#: interrupted; the checks themselves stop between two entries).
EXPORT_JOIN_MS = 60_000


def export_in_background(
    context: JobContext,
    session: Session,
    folder: Path,
    shot: QImage,
    verifications: list[CheckReport] | None,
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


class VerificationSource(Protocol):
    """Who knows the verification tab's results (the :class:`gui.verify_controller.VerifyController`)."""

    def finished_results(self) -> CheckResults | None: ...


class ReportController(QObject):
    """Export report and screenshots for one main window.

    ``window`` is what the report's screenshot and "Save screenshot of the window" grab, ``plot``
    the live plot; ``verify`` gives the verification tab's finished results (the report reuses
    them when they are about its model); ``start_dir()`` and ``base_name()`` suggest where and
    under what name files go. ``actions`` by id: export_report, screenshot_window,
    screenshot_plot; ``menus``: "screenshot".

    Signals: ``reportExported(object)`` the :class:`gui.report.ReportFiles` written, or None when
    the export failed or was cancelled; ``busyChanged(bool)`` an export started or ended.
    """

    reportExported = Signal(object)
    busyChanged = Signal(bool)

    def __init__(
        self,
        document: Document,
        prompts: Prompts,
        window: QWidget,
        plot: QWidget,
        verify: VerificationSource,
        start_dir: Callable[[], str],
        base_name: Callable[[], str],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("reportActions")
        self.document = document
        self.prompts = prompts
        self.window = window
        self.plot = plot
        self.verify = verify
        self._start_dir = start_dir
        self._base_name = base_name
        #: The report gathers PyTorch's check too when it is installed (tests may turn it off).
        self.torch = True
        self._export: Job | None = None
        self._cursor_overridden = False
        self._closed = False
        self.actions: dict[str, QAction] = {
            "export_report": make_action(
                self,
                "export_report",
                "&Export report…",
                self.export_dialog,
                QKeySequence("Ctrl+Shift+E"),
                "Write report.html, report.pdf, the plot and a screenshot into a folder",
            ),
            "screenshot_window": make_action(
                self,
                "screenshot_window",
                "Save screenshot of the &window…",
                lambda: self.save_screenshot("window"),
                None,
                "Save the window as a PNG image",
            ),
            "screenshot_plot": make_action(
                self,
                "screenshot_plot",
                "Save screenshot of the &plot…",
                lambda: self.save_screenshot("plot"),
                None,
                "Save the live plot as a PNG image",
            ),
        }
        self.screenshot_menu = QMenu("Save &screenshot")
        self.screenshot_menu.setObjectName("menu_screenshot")
        self.screenshot_menu.addAction(self.actions["screenshot_window"])
        self.screenshot_menu.addAction(self.actions["screenshot_plot"])
        self.menus: dict[str, QMenu] = {"screenshot": self.screenshot_menu}

    # ------------------------------------------------------------------ report

    @property
    def is_exporting(self) -> bool:
        return self._export is not None

    def verifications_for(self, session: Session) -> list[CheckReport] | None:
        """The verification panel's results, when they are about the report's (initial) model and complete."""
        results = self.verify.finished_results()
        if results is None:
            return None
        if results.model != session.initial:
            return None
        torch_report = results.torch
        if torch_report is None and self.torch:
            return None  # the export adds PyTorch's column; the panel did not compute it
        return [results.fd] + ([torch_report] if torch_report is not None else [])

    def export_dialog(self) -> bool:
        start = str(QSettings().value(REPORT_DIR_KEY, "") or self._start_dir())
        folder = self.prompts.folder("Export report into folder", start)
        return bool(folder) and self.export_to(folder)

    def export_to(self, folder: str | Path) -> bool:
        """Start exporting the report into ``folder``; ``reportExported`` tells the outcome."""
        if self._export is not None:
            self.document.notify("A report is being exported already")
            return False
        if self.document.training_state == "running":
            self.prompts.information("Export report", "Pause or stop the training run first.")
            return False
        from backprop_lab.gui.report import ReportError, grab_window

        # The history and the weights its last step ended with, even a moment after Pause.
        session = self.document.consistent_session().copy()
        verifications, torch = self.verifications_for(session), self.torch
        self.document.notify("", 0)  # an empty message clears the status bar: no "Exporting…" in the shot
        shot = grab_window(self.window).toImage()
        if shot.isNull():
            self.prompts.critical(
                "Cannot export report", str(ReportError("could not take a screenshot of the window"))
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
        self.prompts.critical("Cannot export report", message)
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
        files = cast("ReportFiles", result)  # export_in_background returns ReportFiles or a message
        self.document.notify(f"Report written to {files.folder} ({files.pdf_pages} PDF pages)", 10000)
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
        return {"window": self.window, "plot": self.plot}.get(which)

    def save_screenshot(self, which: str) -> bool:
        """File ▸ Save screenshot: "window" or "plot" as a PNG chosen in a file dialog."""
        default = Path(self._start_dir()) / f"{self._base_name()}-{which}.png"
        title = f"Save screenshot of the {which}"
        path = self.prompts.save_file(title, str(default), PNG_FILTER)
        return bool(path) and self.save_screenshot_to(which, _with_png_suffix(path))

    def save_screenshot_to(self, which: str, path: str | Path) -> bool:
        """Write a PNG of the window or the plot to ``path`` (atomic); False, with a message, on failure."""
        from backprop_lab.gui.report import ReportError, png_bytes

        widget = self._screenshot_widget(which)
        if widget is None:
            self.prompts.critical("Cannot save screenshot", f"there is no {which} to grab")
            return False
        try:
            pixmap = widget.grab()
            if pixmap.isNull():
                raise ReportError(f"could not take a screenshot of the {which}")
            atomic_write_bytes(path, png_bytes(pixmap))
        except (ReportError, OSError) as exc:
            self.prompts.critical("Cannot save screenshot", str(exc))
            return False
        self.document.notify(f"Saved a screenshot of the {which} to {Path(path).name}")
        return True
