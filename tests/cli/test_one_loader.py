"""One loader, one validator: check, train, report and load_session refuse the same hostile files
with the same one-line message (exit 2), and no message quotes more than 80 characters of a value."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import backprop_lab.engine.session as session_module
import backprop_lab.engine.session_format as session_format
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.session import (
    MAX_NOTES_CHARS,
    QUOTE_CHARS,
    SessionError,
    load_session,
    load_session_with_expected,
    save_session,
)

pytestmark = pytest.mark.reliability("one-loader")

BIG = "é" + "x" * 10_000_000  # a 10 MB string: only its first 80 characters may reach a message


def check_main(argv):
    """``backprop-lab ARGV`` for the tools (``argv[0]`` is the command): never the window."""
    return cli_main(argv, window=False)


def train_main(argv):
    """``backprop-lab train ARGV``."""
    return cli_main(["train", *argv])


def report_main(argv):
    """``backprop-lab report ARGV``."""
    return cli_main(["report", *argv])


def _valid() -> dict:
    s = session_module.Session.random(2, 1)
    return json.loads(session_module.dumps_session(s))


def _with(path: tuple[str, ...], value: object) -> Callable[[], dict]:
    def make() -> dict:
        d = _valid()
        target = d
        for key in path[:-1]:
            target = target[key] if not isinstance(target, list) else target[int(key)]
        if isinstance(target, list):
            target[int(path[-1])] = value
        else:
            target[path[-1]] = value
        return d

    return make


HOSTILE = [
    (
        "format",
        _with(("format",), "something-else"),
        "not a Backprop Lab session: format is 'something-else'",
    ),
    ("version 999", _with(("version",), 999), "written by a newer Backprop Lab (format version 999"),
    ("negative lr", _with(("training", "learning_rate"), -0.5), "learning_rate"),
    ("zero batch", _with(("training", "batch_size"), 0), "training.batch_size must be ≥ 1 (got 0)"),
    ("big format", _with(("format",), BIG), "not a Backprop Lab session: format is 'éxxx"),
    ("big created", _with(("created",), BIG), "created is 10,000,001 characters long; at most 100"),
    (
        "big notes",
        _with(("notes",), BIG),
        f"notes is 10,000,001 characters long; at most {MAX_NOTES_CHARS:,}",
    ),
    ("big x entry", _with(("model", "x", "0"), BIG), "model.x[0] is not a number: 'éxxx"),
    (
        "big lr",
        _with(("training", "learning_rate"), BIG),
        "training.learning_rate must be a number, not 'éxx",
    ),
    ("big history entry", _with(("history", "loss"), [BIG]), "history.loss[0] is not a number: 'éxx"),
    (
        "big reason",
        _with(("divergence",), {"step": 1, "epoch": 1, "reason": BIG}),
        "divergence.reason is 10,000,001 characters long; at most 10,000",
    ),
    ("surrogate name", _with(("name",), "a \ud800 b"), "name holds a lone surrogate (U+D800 at character 2)"),
    (
        "surrogate reason",
        _with(("divergence",), {"step": 1, "epoch": 1, "reason": "\udfff"}),
        "divergence.reason holds a lone surrogate (U+DFFF at character 0)",
    ),
    ("huge version", _with(("version",), 10**400), "(format version an integer of more than 77 digits;"),
]


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "hostile.json"
    # surrogatepass: json.dumps escapes a lone surrogate as \ud800, exactly as a hostile file would.
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _message(capsys, prefix: str) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(prefix), err[:300]
    return err[len(prefix) :].rstrip("\n")


def _all_entry_points(capsys, tmp_path: Path, path: Path) -> list[str]:
    """The one-line message of load_session, check, train and report for ``path`` (each exits 2)."""
    with pytest.raises(SessionError) as info:
        load_session(path)
    messages = [str(info.value)]
    with pytest.raises(SessionError) as info:
        load_session_with_expected(path)
    messages.append(str(info.value))
    assert check_main(["check", str(path)]) == 2
    messages.append(_message(capsys, "backprop-lab check: error: "))
    assert train_main([str(path), "-o", str(tmp_path / "out.json")]) == 2
    messages.append(_message(capsys, "backprop-lab train: error: "))
    assert report_main([str(path), "-o", str(tmp_path / "report")]) == 2
    messages.append(_message(capsys, "backprop-lab report: error: "))
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "report").exists()
    return messages


@pytest.mark.parametrize(("case", "make", "fragment"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_every_entry_point_refuses_a_hostile_file_with_the_same_line(capsys, tmp_path, case, make, fragment):
    path = _write(tmp_path, make())
    messages = _all_entry_points(capsys, tmp_path, path)
    assert len(set(messages)) == 1, (case, [m[:200] for m in messages])
    message = messages[0]
    assert message.startswith(f"{path}: ") and fragment in message, message[:300]
    assert len(message) - len(f"{path}: ") <= 300
    # No value is quoted beyond QUOTE_CHARS characters (plus its quotes and the ellipsis).
    assert "x" * (QUOTE_CHARS + 1) not in message and "0" * (QUOTE_CHARS + 1) not in message


def test_size_guards_are_the_same_everywhere(capsys, tmp_path, monkeypatch):
    path = _write(tmp_path, _valid())
    monkeypatch.setattr(session_format, "MAX_FILE_BYTES", 200)
    messages = _all_entry_points(capsys, tmp_path, path)
    assert len(set(messages)) == 1 and "bytes; session files over 200 bytes are refused" in messages[0]


def test_the_container_guard_refuses_a_flood_of_empty_lists_everywhere(capsys, tmp_path):
    path = tmp_path / "flood.json"
    path.write_text("[" + "[]," * 150_000 + "[]]")
    messages = _all_entry_points(capsys, tmp_path, path)
    assert len(set(messages)) == 1
    assert "JSON arrays/objects (at most 100,000)" in messages[0]


def test_check_reads_standard_input_through_the_same_loader(capsys, monkeypatch):
    import io
    import sys

    document = json.dumps(_with(("version",), 999)()).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(document)))
    assert check_main(["check", "-"]) == 2
    assert "-: the session was written by a newer Backprop Lab" in _message(
        capsys, "backprop-lab check: error: "
    )


def test_standard_input_over_the_size_limit_is_refused_without_reading_it_all(monkeypatch):
    import io

    monkeypatch.setattr(session_format, "MAX_FILE_BYTES", 1000)
    stream = io.BytesIO(b" " * 5000)
    with pytest.raises(SessionError, match="the input is over 1,000 bytes"):
        load_session_with_expected(stream)
    assert stream.tell() <= 1001


def test_expected_numbers_are_validated_by_the_loader(tmp_path):
    d = _valid()
    d["expected"] = {"loss": 1.0, "grad_A": [[0.0, 0.0], [0.0, 0.0]], "grad_B": [[0.0]], "grad_C": []}
    with pytest.raises(SessionError, match=r"expected\.grad_B has 1 row; expected 2"):
        load_session_with_expected(_write(tmp_path, d))
    d["expected"] = {"loss": 1.0, **{f"grad_{m}": [[1.0, 2.0], [3.0, 4.0]] for m in "ABC"}}
    session, expected = load_session_with_expected(_write(tmp_path, d))
    assert expected is not None and expected.loss == 1.0 and expected.grads["C"][1] == [3.0, 4.0]
    assert expected.rtol == 1e-12 and session.model.K == 2
    assert load_session_with_expected(_write(tmp_path, _valid()))[1] is None


def test_a_lone_surrogate_is_never_written(tmp_path):
    for field in ("name", "notes", "reason"):
        s = session_module.Session.random(2, 0)
        if field == "reason":
            from backprop_lab.engine.training import Divergence

            s.divergence = Divergence(step=1, epoch=1, reason="lost \udc80")
        else:
            setattr(s, field, "x\ud800")
        target = tmp_path / f"{field}.json"
        with pytest.raises(SessionError, match="lone surrogate"):
            save_session(s, target)
        assert list(tmp_path.iterdir()) == []  # no file, no temporary
