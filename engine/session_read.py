"""Validating a parsed session file: migrations from older versions and field-by-field checks.

Everything refused is one :class:`SessionError` naming the file, the field and the entry. The
reader hands over the validated fields of a Session (:func:`read_fields`); :mod:`engine.session`
builds the Session from them.
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from backprop_lab.engine import session_format as _format
from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.model import MATRIX_NAMES, MAX_K, Matrix, Model, validate_matrix
from backprop_lab.engine.session_format import (
    _MAX_META_CHARS,
    _TRAINING_FIELDS,
    EPOCH_COLUMN,
    FLOAT_ENCODING,
    FORMAT,
    FORMAT_VERSION,
    HISTORY_COLUMNS,
    INT_ENCODING,
    MAX_NOTES_CHARS,
    MAX_REASON_CHARS,
    SessionError,
    check_encodable,
    short_value,
    utc_now,
)
from backprop_lab.engine.session_history import MAX_SEGMENTS, History, Segment, check_segments
from backprop_lab.engine.session_refs import read_compared
from backprop_lab.engine.training import Divergence, TrainingSettings
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, DEFAULT_VARIANT, Variant


def _require(d: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise SessionError(f"{where}{key} is missing")
    return d[key]


def _require_object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SessionError(f"{where} must be a JSON object, not {_type_name(value)}")
    return value


def _type_name(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    for t, name in names.items():
        if isinstance(value, t):
            return name
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def _read_int(value: object, where: str, low: int, high: int | None = None) -> int:
    # Integral floats (10.0) are accepted: some tools write every number as a float.
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SessionError(f"{where} must be a whole number, not {short_value(value)}")
    if value < low:
        raise SessionError(f"{where} must be ≥ {low} (got {short_value(value)})")
    if high is not None and value > high:
        got = f"{value:,}" if value.bit_length() <= 256 else short_value(value)
        raise SessionError(f"{where} must be ≤ {high:,} (got {got})")
    return value


def _read_str(value: object, where: str, max_chars: int | None = None) -> str:
    if not isinstance(value, str):
        raise SessionError(f"{where} must be a string, not {short_value(value)}")
    if max_chars is not None and len(value) > max_chars:
        raise SessionError(f"{where} is {len(value):,} characters long; at most {max_chars:,} are allowed")
    check_encodable(value, where)
    return value


def _read_float(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SessionError(f"{where} must be a number, not {short_value(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise SessionError(f"{where} is too large for a float64") from None
    if not math.isfinite(number):
        raise SessionError(f"{where} is not finite: {number!r}")
    return number


def _read_timestamp(value: object, where: str) -> str:
    text = _read_str(value, where, _MAX_META_CHARS)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise SessionError(f"{where} is not an ISO 8601 date and time: {short_value(text)}") from None
    return text


def _read_model(value: object, where: str, k: int | None = None, variant: Variant = DEFAULT_VARIANT) -> Model:
    m = _require_object(value, where)
    x = _require(m, "x", f"{where}.")
    if "K" in m:
        kk = _read_int(m["K"], f"{where}.K", 1, MAX_K)
        if isinstance(x, list) and len(x) != kk:
            raise SessionError(
                f"{where}.K is {kk} but {where}.x has {format_count(len(x), 'entry', 'entries')}"
            )
    if k is not None and isinstance(x, list) and len(x) != k:
        raise SessionError(f"{where}.x has {format_count(len(x), 'entry', 'entries')}; the model has K = {k}")
    if variant.target is not None and isinstance(x, list) and len(variant.target) != len(x):
        raise SessionError(
            f"variant.target has {format_count(len(variant.target), 'entry', 'entries')}; "
            f"the model has K = {len(x)}"
        )
    A, B, C = (_require(m, name, f"{where}.") for name in "ABC")
    try:
        return Model(x, A, B, C, variant)
    except ValueError as exc:
        raise SessionError(f"{where}.{exc}") from None
    except OverflowError:  # an integer beyond float64 (JSON integers are unbounded)
        raise SessionError(f"{where}.{_find_huge_int(x, A, B, C)} is too large for a float64") from None


def _find_huge_int(x: object, A: object, B: object, C: object) -> str:
    # Only called after validation failed on such an int, so one is there to find.
    def huge(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**1023

    for j, v in enumerate(x if isinstance(x, list) else []):
        if huge(v):
            return f"x[{j}]"
    for name, m in (("A", A), ("B", B), ("C", C)):
        for i, row in enumerate(m if isinstance(m, list) else []):
            for j, v in enumerate(row if isinstance(row, list) else []):
                if huge(v):
                    return f"{name}[{i}][{j}]"
    return "an entry"  # pragma: no cover


def _read_variant(value: object) -> Variant:
    """The version-2 ``"variant"`` object: every key required (a missing one would silently change
    what the loss is); names checked against the valid ones, the target's entries one by one. Its
    length is checked against K by :func:`_read_model`."""
    v = _require_object(value, "variant")
    names = {}
    for key, valid in (("activation", tuple(ACTIVATIONS)), ("convention", CONVENTIONS)):
        name = _require(v, key, "variant.")
        if not isinstance(name, str) or name not in valid:
            raise SessionError(f"variant.{key} is {short_value(name)}; expected one of {', '.join(valid)}")
        names[key] = name
    target = _require(v, "target", "variant.")
    if target is not None:
        if not isinstance(target, list):
            raise SessionError(
                f"variant.target must be null or a list of K numbers, not {_type_name(target)}"
            )
        if not target:
            raise SessionError("variant.target is empty: give K numbers, or null for no target")
        if len(target) > MAX_K:
            raise SessionError(f"variant.target has {len(target):,} entries; K is at most {MAX_K}")
        target = tuple(_read_float(t, f"variant.target[{j}]") for j, t in enumerate(target))
    return Variant(names["activation"], names["convention"], target)


def _read_training(value: object, k: int, where: str = "training") -> TrainingSettings:
    t = _require_object(value, where)
    lr = _read_float(_require(t, "learning_rate", f"{where}."), f"{where}.learning_rate")
    ints = {
        name: _read_int(_require(t, name, f"{where}."), f"{where}.{name}", 0 if name == "seed" else 1)
        for name in _TRAINING_FIELDS[1:]
    }
    settings = TrainingSettings(learning_rate=lr, **ints)
    try:
        settings.validate(k)  # with K: the N×K training inputs must fit in memory too
    except ValueError as exc:
        raise SessionError(f"{where}.{exc}") from None
    return settings


def _read_segments(value: object, n_steps: int, k: int) -> list[Segment]:
    """Version 3's ``"segments"``: each run's first step and settings, checked against the history."""
    if not isinstance(value, list):
        raise SessionError(f"segments must be a list, not {_type_name(value)}")
    if len(value) > MAX_SEGMENTS:
        raise SessionError(f"segments has {len(value):,} entries; at most {MAX_SEGMENTS:,} are allowed")
    segments = []
    for i, item in enumerate(value):
        where = f"segments[{i}]"
        seg = _require_object(item, where)
        first = _read_int(_require(seg, "first_step", f"{where}."), f"{where}.first_step", 1)
        training = _read_training(_require(seg, "training", f"{where}."), k, f"{where}.training")
        segments.append(Segment(first, training))
    try:
        check_segments(segments, n_steps)
    except ValueError as exc:
        raise SessionError(str(exc)) from None
    return segments


def _decode_base64(value: dict[str, Any], where: str, encoding: str, typecode: str) -> array[Any]:
    enc = _require(value, "encoding", f"{where}.")
    if enc != encoding:
        raise SessionError(f"{where}.encoding must be {encoding!r}, not {short_value(enc)}")
    data = _read_str(_require(value, "data", f"{where}."), f"{where}.data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SessionError(f"{where}.data is not valid base64") from None
    if len(raw) % 8:
        raise SessionError(f"{where}.data holds {len(raw)} bytes, not a whole number of 8-byte values")
    if len(raw) // 8 > _format.MAX_HISTORY_STEPS:
        raise SessionError(
            f"{where} has {len(raw) // 8:,} entries; at most {_format.MAX_HISTORY_STEPS:,} are allowed"
        )
    col: array[Any] = array(typecode)
    col.frombytes(raw)
    if sys.byteorder == "big":  # pragma: no cover - the format is little-endian
        col.byteswap()
    return col


def _read_float_column(value: object, where: str) -> array[float]:
    if isinstance(value, dict):
        return _decode_base64(value, where, FLOAT_ENCODING, "d")
    if not isinstance(value, list):
        raise SessionError(f"{where} must be a list of numbers or a base64 object, not {_type_name(value)}")
    if len(value) > _format.MAX_HISTORY_STEPS:
        raise SessionError(
            f"{where} has {len(value):,} entries; at most {_format.MAX_HISTORY_STEPS:,} are allowed"
        )
    # One C-speed pass over the types instead of a Python check per number.
    if not set(map(type, value)) <= {float, int}:
        i = next(i for i, v in enumerate(value) if type(v) not in (float, int))
        raise SessionError(f"{where}[{i}] is not a number: {short_value(value[i])}")
    try:
        return array("d", value)
    except OverflowError:
        i = next(i for i, v in enumerate(value) if isinstance(v, int) and abs(v) > 2**1023)
        raise SessionError(f"{where}[{i}] is too large for a float64") from None


def _read_int_column(value: object, where: str) -> array[int]:
    if isinstance(value, dict):
        return _decode_base64(value, where, INT_ENCODING, "q")
    if not isinstance(value, list):
        raise SessionError(
            f"{where} must be a list of whole numbers or a base64 object, not {_type_name(value)}"
        )
    if len(value) > _format.MAX_HISTORY_STEPS:
        raise SessionError(
            f"{where} has {len(value):,} entries; at most {_format.MAX_HISTORY_STEPS:,} are allowed"
        )
    if not set(map(type, value)) <= {int}:
        i = next(i for i, v in enumerate(value) if type(v) is not int)
        raise SessionError(f"{where}[{i}] is not a whole number: {short_value(value[i])}")
    try:
        return array("q", value)
    except OverflowError:
        i = next(i for i, v in enumerate(value) if not -(2**63) <= v < 2**63)
        raise SessionError(f"{where}[{i}] is too large: {short_value(value[i])}") from None


def _read_history(value: object) -> History:
    h = _require_object(value, "history")
    columns = {
        name: _read_float_column(_require(h, name, "history."), f"history.{name}") for name in HISTORY_COLUMNS
    }
    epoch = _read_int_column(_require(h, EPOCH_COLUMN, "history."), "history.epoch")
    try:
        return History.from_columns(columns, epoch)
    except ValueError as exc:
        raise SessionError(str(exc)) from None


def _read_divergence(value: object) -> Divergence | None:
    if value is None:
        return None
    d = _require_object(value, "divergence")
    step = _read_int(_require(d, "step", "divergence."), "divergence.step", 1, 2**62)
    epoch = _read_int(_require(d, "epoch", "divergence."), "divergence.epoch", 1, 2**62)
    reason = _read_str(_require(d, "reason", "divergence."), "divergence.reason", MAX_REASON_CHARS)
    return Divergence(step=step, epoch=epoch, reason=reason)


def _version_of(d: object) -> int:
    if not isinstance(d, dict):
        raise SessionError(f"the file does not hold a session (a JSON object) but {_type_name(d)}")
    if "format" not in d:
        if "model" in d or "x" in d:
            return 0  # the plain {"model": {...}} file or the report-style dict; see MIGRATIONS[0]
        raise SessionError('not a Backprop Lab session: there is no "format" field and no model')
    if d["format"] != FORMAT:
        raise SessionError(
            f"not a Backprop Lab session: format is {short_value(d['format'])}, not {FORMAT!r}"
        )
    version = _read_int(_require(d, "version", ""), "version", 0)
    if version > FORMAT_VERSION:
        raise SessionError(
            f"the session was written by a newer Backprop Lab (format version {short_value(version)}; "
            f"this version reads up to {FORMAT_VERSION}): update Backprop Lab to open it"
        )
    return version


def _migrate_0_to_1(d: dict[str, Any]) -> dict[str, Any]:
    """Version 0: files without "format", as people wrote them before session files existed.

    Two layouts: ``{"model": {"x", "A", "B", "C"}, ...}`` and the report-style dict with x, A, B
    and C at the top level (like the seed's worked example). Optional "training" (any subset of
    the settings), "name", "notes" (or "about"), and the seed's "report_gradient_descent" block
    (its learning_rate and n_samples) are carried over; there is no history.
    """
    model = d["model"] if "model" in d else {k: d[k] for k in ("K", "x", "A", "B", "C") if k in d}
    if not isinstance(model, dict):
        raise SessionError(f"model must be a JSON object, not {_type_name(model)}")
    defaults = TrainingSettings()
    training: dict[str, Any] = {f.name: getattr(defaults, f.name) for f in fields(TrainingSettings)}
    report_gd = d.get("report_gradient_descent")
    if isinstance(report_gd, dict):
        training.update({k: report_gd[k] for k in ("learning_rate", "n_samples") if k in report_gd})
    if "training" in d:
        training.update(_require_object(d["training"], "training"))
    notes = d.get("notes", d.get("about", ""))
    return {
        "format": FORMAT,
        "version": 1,
        "name": d.get("name", ""),
        "notes": notes,
        "model": model,
        "initial": model,
        "training": training,
        "divergence": None,
        "history": {name: [] for name in (*HISTORY_COLUMNS, EPOCH_COLUMN)},
    }


def _migrate_1_to_2(d: dict[str, Any]) -> dict[str, Any]:
    """Version 1 knew one member of the family, the report's own: sigmoid, row vectors, no target.

    Version 2 names it in ``"variant"``; nothing else changed. A version-1 file that already holds
    a ``"variant"`` key (no writer made one) is refused rather than guessed at.
    """
    if "variant" in d:
        raise SessionError(
            'a version 1 session has no "variant" (it came with version 2): set "version" to 2'
        )
    return {**d, "version": 2, "variant": DEFAULT_VARIANT.as_dict()}


def _has_steps(history: object) -> bool:
    """Whether a not-yet-validated history holds a step (judged by its epoch column; the columns'
    agreement is checked later, on the migrated document)."""
    epoch = history.get(EPOCH_COLUMN) if isinstance(history, dict) else None
    if isinstance(epoch, dict):
        return bool(epoch.get("data"))
    return bool(epoch)


def _migrate_2_to_3(d: dict[str, Any]) -> dict[str, Any]:
    """Version 2 kept no record of where each run began: its history becomes one segment, trained
    with the file's settings (the last run's, the best knowledge there is). It compared no runs.
    A version-2 file that already holds either new key (no writer made one) is refused."""
    for key in ("segments", "compared"):
        if key in d:
            raise SessionError(
                f'a version 2 session has no "{key}" (it came with version 3): set "version" to 3'
            )
    segments = [{"first_step": 1, "training": d.get("training")}] if _has_steps(d.get("history")) else []
    return {**d, "version": 3, "segments": segments, "compared": []}


#: ``MIGRATIONS[v]`` turns a version-v document (a dict) into a version v + 1 one. Each is tested.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _migrate_0_to_1,
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
}


def _upgrade(d: object) -> dict[str, Any]:
    version = _version_of(d)
    assert isinstance(d, dict)
    while version < FORMAT_VERSION:
        if version not in MIGRATIONS:
            raise SessionError(f"session format version {version} is not supported")
        d = MIGRATIONS[version](d)
        version += 1
    return d


def _from_current(d: dict[str, Any], base_dir: str | None) -> dict[str, Any]:
    variant = _read_variant(_require(d, "variant", ""))
    model = _read_model(_require(d, "model", ""), "model", variant=variant)
    history = _read_history(_require(d, "history", ""))
    training = _read_training(_require(d, "training", ""), model.K)
    history.set_segments(_read_segments(_require(d, "segments", ""), len(history), model.K))
    if "initial" in d:
        initial = _read_model(d["initial"], "initial", model.K, variant)
    elif history:
        raise SessionError("initial is missing (the model the history started from)")
    else:
        initial = model.copy()
    now = utc_now()
    return {
        "model": model,
        "initial": initial,
        "training": training,
        "history": history,
        "compared": read_compared(_require(d, "compared", ""), base_dir),
        "name": _read_str(d.get("name", ""), "name"),
        "notes": _read_str(d.get("notes", ""), "notes", MAX_NOTES_CHARS),
        "divergence": _read_divergence(d.get("divergence")),
        "app_version": _read_str(d.get("app_version", ""), "app_version", _MAX_META_CHARS),
        "created": _read_timestamp(d.get("created", now), "created"),
        "modified": _read_timestamp(d.get("modified", now), "modified"),
    }


@dataclass(frozen=True)
class Expected:
    """Numbers a session file says its model gives: the report example's ``"expected"`` object
    (``loss``, ``grad_A``, ``grad_B``, ``grad_C`` and an optional ``tolerance_relative``, default
    1e-12), which ``check`` compares with the engine's. Gradients are K×K lists of rows."""

    loss: float
    grads: dict[str, Matrix]
    rtol: float = 1e-12


def _read_expected(value: object, k: int) -> Expected | None:
    if value is None:
        return None
    e = _require_object(value, "expected")
    loss = _read_float(_require(e, "loss", "expected."), "expected.loss")
    grads: dict[str, Matrix] = {}
    for name in MATRIX_NAMES:
        where = f"expected.grad_{name}"
        try:
            grads[name] = validate_matrix(where, _require(e, f"grad_{name}", "expected."), k)
        except ValueError as exc:  # SessionError (missing) included
            raise exc if isinstance(exc, SessionError) else SessionError(str(exc)) from None
        except OverflowError:
            raise SessionError(f"a number in {where} is too large for a float64") from None
    rtol = _read_float(e.get("tolerance_relative", 1e-12), "expected.tolerance_relative")
    if rtol < 0:
        raise SessionError(f"expected.tolerance_relative must be ≥ 0 (got {rtol!r})")
    return Expected(loss, grads, rtol)


def _validated(source: str, read: Callable[[], Any]) -> Any:
    """``read()``, every surprise turned into a one-line SessionError naming ``source``."""
    try:
        return read()
    except SessionError as exc:
        raise exc.with_source(source) from None
    except RecursionError:
        raise SessionError("the data is nested too deeply", source) from None
    except MemoryError:
        raise SessionError("there is not enough memory to load the session", source) from None
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        # Every expected problem is caught with a precise message; this is the safety net
        # that keeps a surprise in a hostile file from becoming a traceback.
        raise SessionError(f"invalid session ({type(exc).__name__}: {exc})", source) from None


def read_fields(d: object, source: str = "<memory>", base_dir: str | None = None) -> dict[str, Any]:
    """The validated fields of a Session (keyword arguments of its constructor) from parsed JSON
    of any supported version. Raises SessionError only. Unknown keys are ignored (so the built-in
    example can carry its "expected" numbers). Compared runs' relative paths are resolved against
    ``base_dir``, the folder the file was read from (None: the current folder)."""
    result: dict[str, Any] = _validated(source, lambda: _from_current(_upgrade(d), base_dir))
    return result


def read_fields_and_expected(
    d: object, source: str, base_dir: str | None = None
) -> tuple[dict[str, Any], Expected | None]:
    """:func:`read_fields` and the document's validated ``"expected"`` numbers (None without)."""

    def read() -> tuple[dict[str, Any], Expected | None]:
        found = _from_current(_upgrade(d), base_dir)
        assert isinstance(d, dict)  # _upgrade refused anything else
        return found, _read_expected(d.get("expected"), found["model"].K)

    result: tuple[dict[str, Any], Expected | None] = _validated(source, read)
    return result
