"""Session files: the model, where its training started, the settings and the whole history.

A session file is UTF-8 JSON (the format is described for users in docs/session-format.md)::

    {
     "format": "backprop-lab-session",   # identifies the file
     "version": 3,                        # FORMAT_VERSION; older versions are migrated on load
     "app_version": "0.1.0",              # the Backprop Lab that wrote it
     "created": "2026-11-26T17:30:59Z",   # ISO 8601, UTC
     "modified": "2026-11-26T17:42:03Z",
     "name": "…", "notes": "…",
     "variant": {"activation": "sigmoid", "convention": "row", "target": null},  # or [K numbers]
     "model":   {"K": 3, "x": [...], "A": [[...], ...], "B": ..., "C": ...},   # current values
     "initial": {same shape},                                               # where the history began
     "training": {"learning_rate": 0.01, "batch_size": 10, "n_samples": 1000, "epochs": 1, "seed": 0},
     "divergence": null | {"step": 12, "epoch": 1, "reason": "…"},          # if the last run diverged
     "segments": [{"first_step": 1, "training": {...}}, ...],               # where each run began
     "compared": [{"path": "../other.bpl.json", "name": "…", "colour": "#1f77b4", "visible": true}],
     "history": {"loss": [...], "loss_at_x": [...], "grad_norm_A": [...], "grad_norm_B": [...],
                 "grad_norm_C": [...], "epoch": [...]}                      # one entry per step
    }

x has K entries, A, B and C are lists of K rows; ``"variant"`` says which member of the family they
belong to (:mod:`engine.variant`: the activation, whether ``A[i][j]`` goes from input i to unit j
(row vectors, the report's numbers) or from input j to unit i (column vectors), and the target t).
Version 1 files hold no variant and load as the report's own (sigmoid, row, no target).
Each Start of training begins a segment of the history (its first step and its settings); a
version 2 file's history loads as one segment under its ``"training"``. Compared runs are other
session files shown beside this one, stored relative to this file's folder (absolute in memory).
A history column is either a plain JSON array (the default up to :data:`INLINE_HISTORY_STEPS`
steps; numbers written with ``repr`` so they read back bit for bit) or, for long histories,
``{"encoding": "base64-float64-le", "data": "…"}`` (``"base64-int64-le"`` for ``epoch``): the
column's IEEE 754 doubles (int64s) in little-endian byte order, base64-encoded. Both are accepted
on load whatever the length.

Loading refuses anything it cannot vouch for with one :class:`SessionError` whose message names
the file, the field and the entry; it never modifies the file. Saving is atomic
(:mod:`engine.atomic`). Standard library only.

This module is the API (:class:`Session` and the one loader); the pieces live beside it:
:mod:`engine.session_format` (constants, limits, :class:`SessionError`), :mod:`engine.session_history`
(:class:`History`), :mod:`engine.session_parse` (bytes to JSON, size guards),
:mod:`engine.session_read` (migrations and validation) and :mod:`engine.session_write` (the one
writer). The limits are re-exported here; they are read from :mod:`engine.session_format`.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field, fields
from typing import BinaryIO

from backprop_lab.engine import __version__
from backprop_lab.engine.model import MAX_K, Model
from backprop_lab.engine.session_format import (
    FORMAT,
    FORMAT_VERSION,
    HISTORY_COLUMNS,
    INLINE_HISTORY_STEPS,
    MAX_FILE_BYTES,
    MAX_HISTORY_STEPS,
    MAX_NOTES_CHARS,
    MAX_REASON_CHARS,
    QUOTE_CHARS,
    SessionError,
    utc_now,
)
from backprop_lab.engine.session_history import MAX_SEGMENTS, History, Segment
from backprop_lab.engine.session_parse import parse, read_source
from backprop_lab.engine.session_read import (
    MIGRATIONS,
    Expected,
    read_fields,
    read_fields_and_expected,
)
from backprop_lab.engine.session_refs import RunRef
from backprop_lab.engine.session_write import dumps_session, save_session
from backprop_lab.engine.training import Divergence, Trainer, TrainingSettings

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "HISTORY_COLUMNS",
    "INLINE_HISTORY_STEPS",
    "MAX_FILE_BYTES",
    "MAX_HISTORY_STEPS",
    "MAX_NOTES_CHARS",
    "MAX_REASON_CHARS",
    "MAX_SEGMENTS",
    "MIGRATIONS",
    "QUOTE_CHARS",
    "RANDOM_RANGE",
    "RANDOM_RANGE_TEXT",
    "Expected",
    "History",
    "RunRef",
    "Segment",
    "Session",
    "SessionError",
    "dumps_session",
    "load_session",
    "load_session_with_expected",
    "loads_session",
    "save_session",
    "session_file_stem",
    "session_from_dict",
]

#: The one range random weights are drawn from, uniformly, by File ▸ New, Model ▸ Randomize and
#: the new entries when K grows (the model panel lets the user change it for Randomize and K).
RANDOM_RANGE = (-1.0, 1.0)
#: RANDOM_RANGE as the window and the docs write it.
RANDOM_RANGE_TEXT = f"[{RANDOM_RANGE[0]:g}, {RANDOM_RANGE[1]:g})".replace("-", "−")


# --------------------------------------------------------------------------- model and session


@dataclass
class Session:
    """Everything a session file holds (see the module docstring for the file layout).

    ``initial`` is the model the history started from; while the history is empty it should
    follow ``model`` (:meth:`make_trainer` and :meth:`reset_history` take care of that).
    ``created`` and ``modified`` are ISO 8601 UTC strings; :func:`save_session` stamps
    ``modified`` and ``app_version``. :attr:`segments` (where each run of the history began) live
    in the history itself, so that undoing a run (a truncation) or a reset keeps them true;
    ``compared`` are the other session files shown beside this one (absolute paths).
    """

    model: Model
    initial: Model
    training: TrainingSettings = field(default_factory=TrainingSettings)
    history: History = field(default_factory=History)
    name: str = ""
    notes: str = ""
    divergence: Divergence | None = None
    app_version: str = __version__
    created: str = field(default_factory=utc_now)
    modified: str = field(default_factory=utc_now)
    compared: list[RunRef] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.initial.K != self.model.K:
            raise ValueError(f"initial has K = {self.initial.K} but the model has K = {self.model.K}")
        if self.history and self.initial.variant != self.model.variant:
            raise ValueError("initial and the model have different variants, and there is a history")

    # -- construction
    @classmethod
    def report_example(cls) -> Session:
        """The report example (x, A, B, the reconstructed C, the report's lr and N)."""
        from backprop_lab.engine.resources import report_example_path

        path = report_example_path()
        session = load_session(path)
        session.created = session.modified = utc_now()
        session.app_version = __version__
        return session

    @classmethod
    def random(
        cls, K: int, seed: int, low: float = RANDOM_RANGE[0], high: float = RANDOM_RANGE[1]
    ) -> Session:
        """A new session with x, A, B and C drawn uniformly from [low, high) by ``random.Random(seed)``.

        Draw order: x, then A, B and C row by row, so a (K, seed, low, high) always gives the same model.
        """
        if isinstance(K, bool) or not isinstance(K, int) or not 1 <= K <= MAX_K:
            raise ValueError(f"K must be an integer from 1 to {MAX_K} (got {K!r})")
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"the range must be finite with low < high (got [{low}, {high}))")
        r = random.Random(seed)

        def draw() -> float:
            return low + (high - low) * r.random()

        x = [draw() for _ in range(K)]
        A, B, C = ([[draw() for _ in range(K)] for _ in range(K)] for _ in range(3))
        model = Model(x, A, B, C)
        return cls(model=model, initial=model.copy(), name=f"Random K = {K}, seed {seed}")

    # -- segments
    @property
    def segments(self) -> list[Segment]:
        """One :class:`Segment` per run (per Start) that took steps, oldest first; empty with no
        history. Steps that no run marked (a history built by hand) count as one run under
        :attr:`training`."""
        found = self.history.segments
        if self.history and (not found or found[0].first_step != 1):
            return [Segment(1, self.training), *found]
        return found

    @segments.setter
    def segments(self, segments: list[Segment]) -> None:
        # ValueError (one line) unless they fit the history: see session_history.check_segments.
        self.history.set_segments(segments)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Session):
            return NotImplemented
        same_fields = all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self))
        return same_fields and self.segments == other.segments

    __hash__ = None  # type: ignore[assignment]

    # -- training
    def make_trainer(self, settings: TrainingSettings | None = None) -> Trainer:
        """A Trainer that continues this session: from the current model, numbering its steps
        and epochs after the history's. Records the settings, begins a segment at the next step,
        marks an empty history's start (``initial`` = current model) and forgets an earlier
        divergence. Raises ValueError for invalid settings (the session is then unchanged).
        """
        settings = self.training if settings is None else settings
        m = self.model
        trainer = Trainer(
            m,
            settings,
            start_step=self.history.last_step,
            start_epoch=self.history.last_epoch,
        )
        if self.history and not self.history.segments:
            self.history.set_segments(self.segments)  # unmarked steps: one run, the settings they had
        self.history.begin_segment(settings)  # shows among the segments once its first step arrives
        self.training = settings
        if not self.history:
            self.initial = self.model.copy()
        self.divergence = None
        return trainer

    def finish_run(self, trainer: Trainer) -> None:
        """Take the trainer's current (last finite) weights and its divergence, if any.

        The records themselves go to :attr:`history` as they arrive (``history.extend``).
        """
        A, B, C = trainer.weights()
        self.model = self.model.with_weights(A, B, C)
        self.divergence = trainer.divergence

    def reset_history(self) -> None:
        """Forget the history and its segments; the current model becomes the initial one."""
        self.history.clear()
        self.initial = self.model.copy()
        self.divergence = None

    def copy(self) -> Session:
        return Session(
            model=self.model.copy(),
            initial=self.initial.copy(),
            training=self.training,
            history=self.history.copy(),
            name=self.name,
            notes=self.notes,
            divergence=self.divergence,
            app_version=self.app_version,
            created=self.created,
            modified=self.modified,
            compared=[RunRef(r.path, r.name, r.colour, r.visible) for r in self.compared],
        )


# --------------------------------------------------------------------------- loading (the one loader)


def session_from_dict(d: object, source: str = "<memory>", base_dir: str | None = None) -> Session:
    """A validated Session from parsed JSON (any supported version). Raises SessionError only.

    Unknown keys are ignored (so the built-in example can carry its "expected" numbers). Compared
    runs' relative paths are resolved against ``base_dir`` (default: the current folder).
    """
    return Session(**read_fields(d, source, base_dir))


def loads_session(data: bytes | str, source: str = "<memory>", base_dir: str | None = None) -> Session:
    """Parse and validate the text of a session file. Raises SessionError only."""
    return session_from_dict(parse(data, source), source, base_dir)


#: Characters no file name may hold on Windows, macOS or Linux (control characters go too).
_UNSAFE_IN_FILE_NAMES = frozenset('<>:"/\\|?*')
#: Names Windows keeps for devices (CON.bpl.json opens the console there).
_RESERVED_FILE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)
MAX_FILE_STEM_CHARS = 100


def session_file_stem(name: str, default: str = "session") -> str:
    """A file name without its suffix, built from a session's ``name``: the characters unsafe in a
    file name on any common system removed (``<>:"/\\|?*`` and control characters), each run of
    white space one space, no dot or space at either end, at most MAX_FILE_STEM_CHARS characters;
    ``default`` when nothing is left or the result is a reserved device name.
    ("Random K = 16, seed 0" stays as it is; "a/b: c?" becomes "ab c".)
    """
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if ch.isspace() or (ch.isprintable() and ch not in _UNSAFE_IN_FILE_NAMES)
    )
    stem = " ".join(kept.split())[:MAX_FILE_STEM_CHARS].strip(" .")
    if not stem or stem.split(".")[0].upper() in _RESERVED_FILE_NAMES:
        return default
    return stem


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read, validate and return the session at ``path``. Raises SessionError only.

    Refuses anything but a regular file, and files over :data:`MAX_FILE_BYTES`, before reading
    them; opens read-only and never modifies the file.
    """
    document, source = read_source(os.fspath(path))
    return session_from_dict(document, source, _folder_of(path))


def _folder_of(path: str | os.PathLike[str]) -> str:
    return os.path.dirname(os.path.abspath(os.fspath(path)))


def load_session_with_expected(
    path: str | os.PathLike[str] | BinaryIO, source: str | None = None
) -> tuple[Session, Expected | None]:
    """:func:`load_session`, also handing over the file's validated ``"expected"`` numbers (None
    when it has none): the one loader, for ``check``. ``path`` may be a binary stream (standard
    input), read up to the same size limit; ``source`` names it in messages (default "<stdin>").
    """
    document, name = read_source(path, source)
    base_dir = _folder_of(path) if isinstance(path, (str, os.PathLike)) else None
    found, expected = read_fields_and_expected(document, name, base_dir)
    return Session(**found), expected
