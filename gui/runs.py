"""The window's runs: what the plot can lay side by side, as a list model for the runs list.

Row 0 is always the open session's history ("This session", the live run). When the history has
two segments or more (each Start that took steps begins one: ``Session.segments``), each segment is
a run of its own, hidden until ticked: a slice of the same history, drawn from its own start. Then
come the compared runs: other session files (File ▸ Add run to compare…, a Ctrl+drop) and a sweep's
results (:meth:`RunsModel.add_runs`). They are read-only, loaded on a worker thread (gui.jobs), and
kept in the session as references (``Session.compared``: path, name, colour, visibility), so a
saved session opens with the same comparison. A reference whose file has gone stays in the list,
greyed and named as such (removing it is the user's choice), and the status bar says which.

Colours are matplotlib's tab10, the first one the session's: every run keeps the colour it was given
(a compared run's is saved with its reference).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.runs import Run, load_run
from backprop_lab.engine.session import RunRef, Segment, Session, SessionError
from backprop_lab.engine.session_history import History
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.gui.document import Document
from backprop_lab.gui.jobs import Job, JobContext

RUN_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
CURRENT_NAME = "This session"
Index = QModelIndex | QPersistentModelIndex


@dataclass
class RunEntry:
    """One row of the runs list.

    ``kind``: "current" (the session's history), "segment" (rows ``rows`` of it, [start, stop) with
    stop None for "to the end"), "file" or "sweep" (compared: ``history`` and ``settings`` their own,
    ``path`` absolute). ``problem`` is why a compared run cannot be drawn (its file has gone);
    ``loading`` is true until its file has been read.
    """

    key: str
    name: str
    colour: str
    kind: str
    visible: bool = True
    history: History | None = None
    settings: TrainingSettings | None = None
    rows: tuple[int, int | None] = (0, None)
    segments: tuple[Segment, ...] = ()  # a compared run's own (its x in epochs and samples)
    path: str = ""
    problem: str = ""
    loading: bool = False

    @property
    def compared(self) -> bool:
        return self.kind in ("file", "sweep")

    @property
    def drawable(self) -> bool:
        return self.visible and not self.problem and not self.loading


def segment_rows(session: Session) -> list[tuple[int, int | None, TrainingSettings]]:
    """The history rows of each segment, [start, stop) (stop None: to the end), with its settings."""
    n = len(session.history)
    firsts = [(max(seg.first_step - 1, 0), seg.settings) for seg in session.segments]
    firsts = [(start, s) for start, s in firsts if start < n]  # a truncated history keeps fewer
    return [
        (start, firsts[i + 1][0] if i + 1 < len(firsts) else None, s) for i, (start, s) in enumerate(firsts)
    ]


def spans(segments: Sequence[Segment], settings: TrainingSettings | None) -> list[tuple[int, int, int]]:
    """The settings in force from each history row on, for gui.plot_data.XScale: ``(first row,
    n_samples, batch_size)``, one a segment (``settings`` alone when there are none)."""
    out = [(seg.first_step - 1, seg.settings.n_samples, seg.settings.batch_size) for seg in segments]
    return out or ([(0, settings.n_samples, settings.batch_size)] if settings is not None else [])


def history_spans(session: Session) -> list[tuple[int, int, int]]:
    """:func:`spans` of the session's own history."""
    return spans(session.segments, session.training)


def segment_name(index: int, s: TrainingSettings) -> str:
    # As engine.runs names a session's runs (session_runs copies their steps; these are views).
    return f"Run {index} (lr {format_number(s.learning_rate, 'short')}, batch {s.batch_size:,})"


def describe_settings(s: TrainingSettings) -> str:
    return (
        f"lr {format_number(s.learning_rate, 'short')}, batch {s.batch_size:,}, "
        f"N {s.n_samples:,}, seed {s.seed}"
    )


class RunsModel(QAbstractListModel):
    """The runs of one window (see the module docstring); rows are :class:`RunEntry`.

    Signals: ``runsChanged()`` whenever what the plot draws changes (a run added, removed, shown,
    hidden or loaded; segments added); ``loaded()`` when a batch of files has been read;
    ``failed(title, text)`` when files given to :meth:`add_files` could not be compared.
    """

    runsChanged = Signal()
    loaded = Signal()
    failed = Signal(str, str)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runs")
        self._document = document
        self._entries: list[RunEntry] = []
        self._segments_seen: list[tuple[int, int | None, TrainingSettings]] = []
        self._generation = 0  # a new session makes the files still being read for the old one stale
        self._jobs: list[Job] = []
        document.sessionReplaced.connect(self._on_document_session_replaced)
        document.historyChanged.connect(self._on_document_history_changed)
        self._on_document_session_replaced()

    # ------------------------------------------------------------------ reading

    @property
    def entries(self) -> list[RunEntry]:
        return list(self._entries)

    @property
    def current(self) -> RunEntry:
        """Row 0: the session's own history."""
        return self._entries[0]

    def entry(self, row: int) -> RunEntry:
        return self._entries[row]

    def drawn(self) -> list[RunEntry]:
        """The runs the plot draws: visible, loaded, present."""
        return [e for e in self._entries if e.drawable]

    @property
    def is_loading(self) -> bool:
        return any(not job.is_done for job in self._jobs)

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008  (Qt's signature)
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        e = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if e.problem:
                return f"{e.name} (gone)"
            return f"{e.name} (reading…)" if e.loading else e.name
        if role == Qt.ItemDataRole.DecorationRole:
            return QColor(e.colour)
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if e.visible else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(e)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        f = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable
        if index.isValid() and not self._entries[index.row()].problem:
            f |= Qt.ItemFlag.ItemIsEnabled
        return f

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid():
            return False
        self.set_visible(index.row(), Qt.CheckState(value) == Qt.CheckState.Checked)
        return True

    def _tooltip(self, e: RunEntry) -> str:
        if e.problem:
            return e.problem
        lines = [e.name]
        if e.kind == "current":
            lines.append("The open session's history (live while training)")
        elif e.kind == "segment":
            stop = e.rows[1] if e.rows[1] is not None else len(self._document.history)
            lines.append(f"Steps {e.rows[0] + 1:,} to {stop:,} of this session, drawn from its own start")
        else:
            lines.append(e.path)
            if e.history is not None:
                lines.append(f"{len(e.history):,} steps (read-only: a compared run)")
        if e.settings is not None:
            lines.append(describe_settings(e.settings))
        return "\n".join(lines)

    # ------------------------------------------------------------------ changing

    def set_visible(self, row: int, visible: bool) -> None:
        e = self._entries[row]
        if e.visible == visible:
            return
        e.visible = visible
        self._changed(row)
        if e.compared:
            self._store()

    def remove(self, row: int) -> None:
        """Forget a compared run (the session's own history and segments stay)."""
        if not self._entries[row].compared:
            raise ValueError("only a compared run can be removed; this is the session's own history")
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._entries[row]
        self.endRemoveRows()
        self._store()
        self.runsChanged.emit()

    def add_runs(self, runs: Sequence[Run], visible: bool = True) -> list[RunEntry]:
        """Compare ``runs`` (already read: a sweep's results, or files read by :meth:`add_files`).

        A run whose source is already compared is not added twice. Returns the new entries.
        """
        added: list[RunEntry] = []
        for run in runs:
            if self._has_path(run.source) or any(e.path == run.source for e in added):
                continue
            # Inserted one by one: each new run's colour and name differ from those before it.
            self.beginInsertRows(QModelIndex(), len(self._entries), len(self._entries))
            self._entries.append(self._new_entry(run, visible))
            self.endInsertRows()
            added.append(self._entries[-1])
        if added:
            self._store()
            self.runsChanged.emit()
        return added

    def add_files(self, paths: Iterable[str | Path]) -> Job | None:
        """Read session files on a worker thread and compare them (``loaded`` when done).

        Files already compared are skipped; those that cannot be read are named in one
        ``failed`` message. Returns the job (None when there was nothing new to read).
        """
        wanted = list(dict.fromkeys(str(Path(p).absolute()) for p in paths))
        wanted = [p for p in wanted if not self._has_path(p)]
        if not wanted:
            self._document.notify("Those runs are compared already")
            return None
        return self._read([(p, None) for p in wanted], self._on_files_read)

    # ------------------------------------------------------------------ internals

    def _has_path(self, path: str) -> bool:
        return any(e.compared and e.path == path for e in self._entries)

    def _next_colour(self) -> str:
        used = {e.colour for e in self._entries}
        free = [c for c in RUN_COLOURS if c not in used]
        return free[0] if free else RUN_COLOURS[len(self._entries) % len(RUN_COLOURS)]

    def _unique_name(self, name: str, among: list[RunEntry] | None = None) -> str:
        names = {e.name for e in (self._entries if among is None else among)}
        if name not in names:
            return name
        n = 2
        while f"{name} ({n})" in names:
            n += 1
        return f"{name} ({n})"

    def _new_entry(self, run: Run, visible: bool) -> RunEntry:
        kind = run.kind if run.kind in ("file", "sweep") else "file"
        return RunEntry(
            key=f"file:{run.source}",
            name=self._unique_name(run.name),
            colour=self._next_colour(),
            kind=kind,
            visible=visible,
            history=run.history,
            settings=run.settings,
            segments=run.segments,
            path=run.source,
        )

    def _changed(self, row: int) -> None:
        index = self.index(row)
        self.dataChanged.emit(index, index)
        self.runsChanged.emit()

    def _store(self) -> None:
        refs = [RunRef(e.path, e.name, e.colour, e.visible) for e in self._entries if e.compared]
        self._document.set_compared(refs)

    def _read(self, paths: list[tuple[str, str | None]], done: Any) -> Job:
        """Load session files as runs on a worker: ``paths`` are (path, name or None for the
        file's own); ``done(generation, [(path, Run | one-line error)])``."""

        def work(context: JobContext) -> list[tuple[str, Run | str]]:
            out: list[tuple[str, Run | str]] = []
            for path, name in paths:
                context.check()
                try:
                    out.append((path, load_run(path, name)))
                except (SessionError, OSError) as exc:  # RunMissing is a SessionError
                    out.append((path, str(exc)))
            return out

        generation = self._generation
        job = Job(work, "readRuns", self)
        job.succeeded.connect(lambda result: done(generation, result))
        job.failed.connect(lambda text: self._on_job_failed(generation, text))
        job.finished.connect(lambda: self._on_job_finished(job))
        self._jobs.append(job)
        job.start()
        return job

    def _on_job_finished(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        job.deleteLater()
        self.loaded.emit()

    def _on_job_failed(self, generation: int, text: str) -> None:
        if generation == self._generation and text:
            self.failed.emit("Cannot compare runs", text)

    def _on_files_read(self, generation: int, result: list[tuple[str, Run | str]]) -> None:
        if generation != self._generation:
            return
        runs = [r for _, r in result if isinstance(r, Run)]
        problems = [r for _, r in result if isinstance(r, str)]
        added = self.add_runs(runs)
        if added:
            names = ", ".join(e.name for e in added)
            self._document.notify(f"Comparing {names}")
        if problems:
            self.failed.emit("Cannot compare runs", "\n".join(problems))

    def _on_references_read(self, generation: int, result: list[tuple[str, Run | str]]) -> None:
        if generation != self._generation:
            return
        by_path = dict(result)
        gone = []
        for row, e in enumerate(self._entries):
            if not (e.compared and e.loading and e.path in by_path):
                continue
            got = by_path[e.path]
            e.loading = False
            if isinstance(got, Run):
                e.history, e.settings, e.segments = got.history, got.settings, got.segments
            else:
                e.problem = got
                gone.append(got)
            self._changed(row)
        if gone:
            self._document.notify(
                gone[0] if len(gone) == 1 else f"{len(gone)} compared runs have gone: {gone[0]}", 15000
            )

    def _current_entries(self) -> list[RunEntry]:
        current = RunEntry("current", CURRENT_NAME, RUN_COLOURS[0], "current")
        if self._entries and self._entries[0].kind == "current":
            current.visible = self._entries[0].visible
        segments = self._segments_seen if len(self._segments_seen) > 1 else []
        old = {e.key: e for e in self._entries if e.kind == "segment"}
        entries = [current]
        for i, (start, stop, settings) in enumerate(segments, start=1):
            key = f"segment:{start}"
            e = RunEntry(
                key,
                segment_name(i, settings),
                RUN_COLOURS[i % len(RUN_COLOURS)],
                "segment",
                visible=False,
                settings=settings,
                rows=(start, stop),
            )
            if key in old:
                e.visible, e.colour = old[key].visible, old[key].colour
            entries.append(e)
        return entries

    def _rebuild_own(self) -> None:
        """Row 0 and the segments again (after Start, a truncation or a new session)."""
        own = self._current_entries()
        compared = [e for e in self._entries if e.compared]
        self.beginResetModel()
        self._entries = own + compared
        self.endResetModel()
        self.runsChanged.emit()

    # ------------------------------------------------------------------ slots

    def _on_document_session_replaced(self) -> None:
        self._generation += 1
        session = self._document.session
        self._segments_seen = segment_rows(session)
        self.beginResetModel()
        self._entries = []
        self.endResetModel()
        self._rebuild_own()
        refs = list(session.compared)
        if not refs:
            return
        entries: list[RunEntry] = []
        for ref in refs:
            name = self._unique_name(ref.name, [*self._entries, *entries])
            entries.append(
                RunEntry(
                    f"file:{ref.path}",
                    name,
                    ref.colour,
                    "file",
                    visible=ref.visible,
                    path=ref.path,
                    loading=True,
                )
            )
        self.beginInsertRows(QModelIndex(), len(self._entries), len(self._entries) + len(entries) - 1)
        self._entries.extend(entries)
        self.endInsertRows()
        self._read([(ref.path, ref.name) for ref in refs], self._on_references_read)

    def _on_document_history_changed(self) -> None:
        # Every batch of a run: comparing the segment count and their starts is cheap; a new
        # segment (a Start) or a truncation (undo) rebuilds the rows.
        segments = segment_rows(self._document.session)
        if [(a, b) for a, b, _ in segments] != [(a, b) for a, b, _ in self._segments_seen]:
            self._segments_seen = segments
            self._rebuild_own()
