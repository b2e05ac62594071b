"""Runs to lay side by side: the segments of a session's history, other session files, a sweep's.

A :class:`Run` is a read-only view for plotting and exporting: a name, a :class:`History` (entry
0 is the run's first step), the settings it trained with and where it came from. The window's
runs list (its colours, its visibility) is built on these; the engine only says what the runs are.
Standard library only.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, cycle, islice
from typing import Literal

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.session import Session, SessionError, load_session
from backprop_lab.engine.session_history import History, Segment
from backprop_lab.engine.session_refs import RunRef
from backprop_lab.engine.training import TrainingSettings

__all__ = ["Run", "RunKind", "RunMissing", "load_ref", "load_run", "samples_seen", "session_runs"]

RunKind = Literal["segment", "file", "sweep"]


class RunMissing(SessionError):
    """A compared run's file is no longer there: ``run 'name': /path has gone (moved or deleted)``."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path
        super().__init__(f"{path} has gone (moved or deleted)", f"run '{name}'")


@dataclass(frozen=True)
class Run:
    """One run to show or export (read-only: do not modify ``history``).

    ``kind`` is "segment" (one Start of the session's own history), "file" (another session file)
    or "sweep" (a file a sweep wrote). ``source`` is the file's absolute path ("" for a segment of
    a session that has none). ``first_step`` is the step number, in the session it came from, of
    ``history``'s entry 0 (1 for a whole file). ``segments`` are the run's own, numbered from its
    entry 0 (step 1): one for a segment, the file's for a file; :meth:`samples_seen` needs them.
    """

    name: str
    history: History
    settings: TrainingSettings
    kind: RunKind
    source: str = ""
    first_step: int = 1
    segments: tuple[Segment, ...] = ()

    def samples_seen(self) -> array[float]:
        """Training samples used up to and including each step (an x axis for the plot)."""
        return samples_seen(len(self.history), self.segments or (Segment(1, self.settings),))


def samples_seen(n_steps: int, segments: Sequence[Segment]) -> array[float]:
    """Samples used up to and including each of ``n_steps`` steps, as floats (a plot axis).

    Every run begins a new epoch (:class:`engine.training.Trainer`), so within a segment step j
    (0-based) is batch ``j mod steps_per_epoch`` of an epoch: a full batch but for an epoch's
    last, which takes the samples left (N − (steps_per_epoch − 1)·batch_size).
    """
    if n_steps and not segments:
        raise ValueError(f"{n_steps:,} steps need at least one segment to count their samples")
    out: array[float] = array("d")
    total = 0.0
    for seg, start, stop in _spans(segments, n_steps):
        s = seg.settings
        spe, bs = s.steps_per_epoch, s.batch_size
        epoch = [float(bs)] * (spe - 1) + [float(s.n_samples - (spe - 1) * bs)]
        # Running sums by C-level iterators: a million steps take milliseconds, not a Python loop.
        out.extend(islice(accumulate(islice(cycle(epoch), stop - start), initial=total), 1, None))
        total = out[-1] if out else total
    return out


def _spans(segments: Sequence[Segment], n_steps: int) -> list[tuple[Segment, int, int]]:
    """Each segment with the 0-based entries it covers, ``start`` to ``stop`` (excluded)."""
    stops = [seg.first_step - 1 for seg in segments[1:]] + [n_steps]
    return [(seg, seg.first_step - 1, stop) for seg, stop in zip(segments, stops, strict=False)]


def _segment_name(index: int, settings: TrainingSettings) -> str:
    lr = format_number(settings.learning_rate, "short")
    return f"Run {index} (lr {lr}, batch {settings.batch_size})"


def session_runs(session: Session, source: str = "") -> list[Run]:
    """The runs of ``session``'s history, one per segment (each Start), oldest first; none for an
    empty history. ``source`` is the session's file, if it has one. A history of one segment is
    shared, not copied; more are sliced (copied) apart."""
    history = session.history
    segments = session.segments
    if len(segments) == 1:
        seg = segments[0]
        return [Run(_segment_name(1, seg.settings), history, seg.settings, "segment", source, 1, (seg,))]
    runs = []
    for i, (seg, start, stop) in enumerate(_spans(segments, len(history)), start=1):
        part = history.slice(start, stop)
        own = (Segment(1, seg.settings),)
        runs.append(
            Run(_segment_name(i, seg.settings), part, seg.settings, "segment", source, seg.first_step, own)
        )
    return runs


def load_run(path: str | os.PathLike[str], name: str | None = None, kind: RunKind = "file") -> Run:
    """The session file at ``path`` as one run (through the one loader), named ``name`` (default:
    the session's name, else the file's). Raises :class:`RunMissing` when the file is not there
    and SessionError when it cannot be read."""
    full = os.path.abspath(os.fspath(path))
    label = name if name is not None else os.path.basename(full)
    if not os.path.exists(full):
        raise RunMissing(label, full)
    try:
        session = load_session(full)
    except SessionError as exc:
        if not os.path.exists(full):  # removed while it was being read
            raise RunMissing(label, full) from None
        raise exc
    if name is None:
        name = session.name or _file_stem(full)
    return Run(name, session.history, session.training, kind, full, 1, tuple(session.segments))


def load_ref(ref: RunRef, kind: RunKind = "file") -> Run:
    """:func:`load_run` for a compared run kept in a session (its path and name)."""
    return load_run(ref.path, ref.name, kind)


def _file_stem(path: str) -> str:
    base = os.path.basename(path)
    for suffix in (".bpl.json", ".json"):
        if base.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base
