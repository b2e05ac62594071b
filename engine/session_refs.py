"""Compared runs in a session file (format version 3): other session files shown beside this one.

In memory a :class:`RunRef` holds an absolute path; the file stores it relative to the session
file's own folder (with ``/`` between folders, whatever the system), so that a folder of sessions
can be moved or shared as a whole. A path that has no relative form (another drive on Windows)
is stored as it is. The session's segments are written here too (:func:`segments_text`); they are
read with the rest of the history in :mod:`engine.session_read`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backprop_lab.engine.session_format import (
    _TRAINING_FIELDS,
    MAX_COMPARED_RUNS,
    MAX_REF_CHARS,
    SessionError,
    check_encodable,
    short_value,
)
from backprop_lab.engine.session_history import Segment

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass
class RunRef:
    """A session file shown beside this session, read-only: its absolute ``path``, the ``name`` the
    runs list gives it, its ``colour`` (``"#rrggbb"``) and whether the plot shows it.

    Raises ValueError (one line, naming the field) for a value a session file could not hold."""

    path: str
    name: str
    colour: str
    visible: bool = True

    def __post_init__(self) -> None:
        problem = ref_problem(self.path, self.name, self.colour, self.visible)
        if problem is not None:
            raise ValueError(problem)


def ref_problem(path: object, name: object, colour: object, visible: object) -> str | None:
    """What is wrong with these fields of a compared run, or None (shared by RunRef and the loader)."""
    for field, text in (("path", path), ("name", name)):
        if not isinstance(text, str):
            return f"{field} must be a string, not {short_value(text)}"
        if len(text) > MAX_REF_CHARS:
            return f"{field} is {len(text):,} characters long; at most {MAX_REF_CHARS:,} are allowed"
        if "\0" in text:
            return f"{field} holds a NUL character"
    if not path:
        return "path is empty"
    if not isinstance(colour, str) or not _COLOUR.fullmatch(colour):
        return f"colour must be a colour like '#1f77b4', not {short_value(colour)}"
    if not isinstance(visible, bool):
        return f"visible must be true or false, not {short_value(visible)}"
    return None


# --------------------------------------------------------------------------- paths


def stored_path(path: str, base_dir: str | None) -> str:
    """``path`` as the session file in ``base_dir`` stores it: relative, ``/``-separated."""
    base = os.path.abspath(base_dir if base_dir is not None else os.getcwd())
    try:
        relative = os.path.relpath(os.path.abspath(path), base)
    except ValueError:  # another drive (Windows): no relative form
        return path
    return relative.replace(os.sep, "/")


def resolved_path(stored: str, base_dir: str | None) -> str:
    """The absolute path of a stored reference in a session file read from ``base_dir`` (the
    current folder when the session did not come from a file)."""
    local = stored.replace("/", os.sep)
    if os.path.isabs(local):
        return os.path.normpath(local)
    base = os.path.abspath(base_dir if base_dir is not None else os.getcwd())
    return os.path.normpath(os.path.join(base, local))


# --------------------------------------------------------------------------- reading


def read_compared(value: object, base_dir: str | None) -> list[RunRef]:
    """The ``"compared"`` list of a version 3 file, paths resolved; SessionError naming the entry."""
    if not isinstance(value, list):
        raise SessionError(f"compared must be a list, not {short_value(value)}")
    if len(value) > MAX_COMPARED_RUNS:
        raise SessionError(f"compared has {len(value):,} runs; at most {MAX_COMPARED_RUNS:,} are allowed")
    refs = []
    for i, item in enumerate(value):
        where = f"compared[{i}]"
        if not isinstance(item, dict):
            raise SessionError(f"{where} must be a JSON object, not {short_value(item)}")
        for key in ("path", "name", "colour", "visible"):
            if key not in item:
                raise SessionError(f"{where}.{key} is missing")
        path, name, colour, visible = (item[k] for k in ("path", "name", "colour", "visible"))
        problem = ref_problem(path, name, colour, visible)
        if problem is not None:
            raise SessionError(f"{where}.{problem}")
        check_encodable(path, f"{where}.path")
        check_encodable(name, f"{where}.name")
        refs.append(RunRef(resolved_path(path, base_dir), name, colour, visible))
    return refs


# --------------------------------------------------------------------------- writing


def check_compared(refs: Sequence[RunRef]) -> None:
    """SessionError for compared runs no file may hold (found before anything is written)."""
    if len(refs) > MAX_COMPARED_RUNS:
        raise SessionError(
            f"there are {len(refs):,} compared runs; a session holds at most {MAX_COMPARED_RUNS:,}"
        )
    for i, ref in enumerate(refs):
        problem = ref_problem(ref.path, ref.name, ref.colour, ref.visible)
        if problem is not None:
            raise SessionError(f"compared[{i}].{problem}")
        check_encodable(ref.path, f"compared[{i}].path")
        check_encodable(ref.name, f"compared[{i}].name")


def _list_text(items: list[str]) -> str:
    # One entry per line: a long list stays readable and diffs well.
    return "[]" if not items else "[\n  " + ",\n  ".join(items) + "\n ]"


def segments_text(segments: Sequence[Segment]) -> str:
    """The ``"segments"`` value: ``[{"first_step": 1, "training": {...}}, ...]``."""
    items = []
    for seg in segments:
        training: dict[str, Any] = {name: getattr(seg.settings, name) for name in _TRAINING_FIELDS}
        items.append(json.dumps({"first_step": seg.first_step, "training": training}))
    return _list_text(items)


def compared_text(refs: Sequence[RunRef], base_dir: str | None) -> str:
    """The ``"compared"`` value, each path relative to ``base_dir`` (the session file's folder)."""
    items = [
        json.dumps(
            {"path": stored_path(r.path, base_dir), "name": r.name, "colour": r.colour, "visible": r.visible},
            ensure_ascii=False,
        )
        for r in refs
    ]
    return _list_text(items)
