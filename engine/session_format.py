"""Session files' format constants, limits and error type, shared by the reader and the writer.

See :mod:`engine.session` for the file layout. ``MAX_FILE_BYTES``, ``MAX_HISTORY_STEPS`` and
``INLINE_HISTORY_STEPS`` are read through this module at call time (tests lower them).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from backprop_lab.engine.model import quote

FORMAT = "backprop-lab-session"
#: The version this module writes; it reads this one and every older one (via MIGRATIONS).
#: Version 2 added ``"variant"`` (activation, convention, target); version 1 files are the report's
#: own member of the family (sigmoid, row vectors, no target). Version 3 added ``"segments"`` (where
#: each run of the history began, with its settings) and ``"compared"`` (other session files shown
#: beside this one); a version 2 history is one segment under the file's settings.
FORMAT_VERSION = 3

#: Files larger than this are refused before they are read (512 MiB). A 1,000,000-step history
#: takes about 64 MB in base64 columns, so this leaves room for :data:`MAX_HISTORY_STEPS` steps.
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_JSON_CONTAINERS = 100_000
#: Longest history a session file may hold (about 320 MB of base64 columns).
MAX_HISTORY_STEPS = 5_000_000
#: Histories up to this many steps are written as readable JSON arrays, longer ones as base64.
#: Measured (tests/bench/bench_session.py, 1,000,000 steps): JSON arrays 105 MB, ~3-4 s to save and
#: ~1.5 s to load; base64 64 MB, ~0.5 s each way.
INLINE_HISTORY_STEPS = 100_000
#: Longest string accepted in the short metadata fields (app_version, created, modified).
_MAX_META_CHARS = 100
#: Longest ``notes`` accepted on load (characters); a report renders every one of them.
MAX_NOTES_CHARS = 1_000_000
#: Longest session name that Session properties accepts (characters): the name titles the window,
#: the report and the suggested file name. A file with a longer one still opens.
MAX_NAME_CHARS = 200
#: Longest ``divergence.reason`` accepted on load (characters).
MAX_REASON_CHARS = 10_000
#: Most compared runs a session keeps references to.
MAX_COMPARED_RUNS = 1_000
#: Longest path or name of a compared run (characters).
MAX_REF_CHARS = 4_096

#: Float columns of the history, in StepRecord order; the int column "epoch" comes with them.
HISTORY_COLUMNS = ("loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C")
EPOCH_COLUMN = "epoch"
_RECORD_FIELDS = ("batch_loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C")
FLOAT_ENCODING = "base64-float64-le"
INT_ENCODING = "base64-int64-le"
_TRAINING_FIELDS = ("learning_rate", "batch_size", "n_samples", "epochs", "seed")


class SessionError(ValueError):
    """A session cannot be read (or written): ``str()`` is one line naming file, field and entry.

    ``source`` is the file (or ``"<memory>"``), ``problem`` the rest of the message.
    """

    def __init__(self, problem: str, source: str | None = None) -> None:
        self.problem = one_line(problem)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}" if self.source else self.problem

    def with_source(self, source: str) -> SessionError:
        return self if self.source else SessionError(self.problem, source)


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: An error message quotes at most this many characters of the value it refuses.
QUOTE_CHARS = 80


def short_value(value: object) -> str:
    """A value for an error message: its repr, cut to QUOTE_CHARS characters with an ellipsis (a
    hostile file may hold megabytes in one string; only its first characters are ever copied)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return "an integer of more than 77 digits"
    return one_line(quote(value, QUOTE_CHARS), QUOTE_CHARS + 3)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_encodable(value: str, where: str) -> None:
    """SessionError if ``value`` cannot be written as UTF-8 (JSON's ``"\ud800"`` parses to a lone
    surrogate, which no UTF-8 file can hold): a session that loads must be one that saves."""
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        raise SessionError(
            f"{where} holds a lone surrogate (U+{code:04X} at character {exc.start:,}), "
            "which cannot be stored as UTF-8 text"
        ) from None


def check_properties(name: str, notes: str) -> None:
    """ValueError naming the problem in one line unless ``name`` and ``notes`` can be a session's:
    a name that is not blank, one line and at most MAX_NAME_CHARS long; notes of at most
    MAX_NOTES_CHARS (what a file may hold); both storable as UTF-8."""
    if not name.strip():
        raise ValueError("the name is empty: give the session a name")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"the name is {len(name):,} characters long; at most {MAX_NAME_CHARS:,} are allowed")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        raise ValueError("the name must be one line, without tabs or other control characters")
    if len(notes) > MAX_NOTES_CHARS:
        raise ValueError(
            f"the notes are {len(notes):,} characters long; at most {MAX_NOTES_CHARS:,} are allowed"
        )
    check_encodable(name, "the name")
    check_encodable(notes, "the notes")
