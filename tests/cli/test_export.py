"""``backprop-lab export SESSION -o FILE``: the format by extension, one line and nothing written on
bad input, the session never touched, atomic against failures and Ctrl+C, no Qt or NumPy imported."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import zipfile

import pytest

from backprop_lab.cli import main as cli_main
from backprop_lab.engine import export as engine_export
from backprop_lab.engine.session import Session, load_session, save_session
from backprop_lab.engine.training import TrainingSettings


def main(argv):
    """``backprop-lab export ARGV``."""
    return cli_main(["export", *argv])


@pytest.fixture
def session_file(tmp_path):
    s = Session.random(3, 2)
    s.name = "Exported"
    trainer = s.make_trainer(
        TrainingSettings(learning_rate=0.1, batch_size=5, n_samples=20, epochs=3, seed=0)
    )
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    path = tmp_path / "s.bpl.json"
    save_session(s, path)
    return path


@pytest.mark.parametrize(
    ("ext", "summary"),
    [
        (".csv", "the history (12 steps)"),
        (".json", "the model (K = 3) and its gradients"),
        (".npz", "the model (K = 3), its gradients and the history (12 steps) as arrays"),
    ],
)
def test_each_format_is_written_and_summed_up_in_one_line(session_file, tmp_path, capsys, ext, summary):
    before = session_file.read_bytes()
    out = tmp_path / f"out{ext}"
    assert main([str(session_file), "-o", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert (stdout, stderr) == (f"Wrote {out}: {summary}\n", "")
    s = load_session(session_file)
    if ext == ".csv":
        rows = list(csv.reader(out.read_text(encoding="ascii").splitlines()))
        assert len(rows) == 13 and float(rows[-1][3]) == s.history.column("loss_at_x")[-1]
    elif ext == ".json":
        assert json.loads(out.read_text(encoding="utf-8"))["model"]["C"] == s.model.C
    else:
        with zipfile.ZipFile(out) as zf:
            assert "dC.npy" in zf.namelist() and "grad_norm_B.npy" in zf.namelist()
    assert session_file.read_bytes() == before  # only read


def test_numpy_loads_the_exported_npz(session_file, tmp_path, capsys):
    np = pytest.importorskip("numpy")
    assert main([str(session_file), "-o", str(tmp_path / "a.npz")]) == 0
    s = load_session(session_file)
    with np.load(tmp_path / "a.npz") as z:
        assert z["x"].tolist() == s.model.x and z["step"].tolist() == list(range(1, 13))


@pytest.mark.reliability("export-faults")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SESSION", "-o", "out.txt"], "out.txt: cannot tell what to export from '.txt'; name the file .csv"),
        (["SESSION", "-o", "folder"], "cannot tell what to export from no extension"),
        (["SESSION", "-o", "folder.csv"], "folder.csv is a folder; name the file to write"),
        (["missing.json", "-o", "out.csv"], "missing.json: the file does not exist"),
        (["SESSION", "-o", "SESSION"], "is the session itself; exporting into it would replace the session"),
        (["SESSION", "-o", "no/such/out.csv"], "cannot write no/such/out.csv: the folder"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    session_file, tmp_path, capsys, monkeypatch, args, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.csv").mkdir()
    before = session_file.read_bytes()
    args = [session_file.name if a == "SESSION" else a for a in args]
    assert main(args) == 2
    stdout, stderr = capsys.readouterr()
    assert stderr.startswith("backprop-lab export: error: ") and message in stderr
    assert stderr.count("\n") == 1 and stdout == ""
    assert sorted(os.listdir(tmp_path)) == ["folder", "folder.csv", "s.bpl.json"]
    assert session_file.read_bytes() == before


@pytest.mark.reliability("export-faults")
def test_the_session_itself_is_refused_under_another_name_too(session_file, tmp_path, capsys):
    os.symlink(session_file, tmp_path / "link.json")
    before = session_file.read_bytes()
    assert main([str(session_file), "-o", str(tmp_path / "link.json")]) == 2
    assert "is the session itself" in capsys.readouterr().err
    assert session_file.read_bytes() == before


@pytest.mark.reliability("export-faults")
def test_a_failed_write_keeps_the_previous_file(session_file, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out.csv"
    out.write_bytes(b"previous")

    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    assert main([str(session_file), "-o", str(out)]) == 2
    monkeypatch.undo()
    assert f"cannot write {out}: No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == b"previous" and sorted(os.listdir(tmp_path)) == ["out.csv", "s.bpl.json"]


@pytest.mark.reliability("export-faults")
def test_ctrl_c_half_way_writes_nothing_and_exits_130(session_file, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out.csv"
    out.write_bytes(b"previous")
    real = engine_export.history_csv

    def interrupted(history):
        chunks = real(history)
        yield next(chunks)
        os.kill(os.getpid(), signal.SIGINT)  # arrives as the next chunk is being made
        yield from chunks

    monkeypatch.setattr(engine_export, "history_csv", interrupted)
    assert main([str(session_file), "-o", str(out)]) == 130
    stdout, stderr = capsys.readouterr()
    assert stderr == "backprop-lab export: interrupted by SIGINT; nothing was written\n" and stdout == ""
    assert out.read_bytes() == b"previous" and sorted(os.listdir(tmp_path)) == ["out.csv", "s.bpl.json"]


def test_help_names_the_formats(capsys):
    assert cli_main(["export", "--help"]) == 0
    flat = " ".join(capsys.readouterr().out.split())
    assert flat.startswith("usage: backprop-lab export [-h] -o FILE SESSION")
    for ext in (".csv: the history", ".json: the model", ".npz: x, A, B, C"):
        assert ext in flat


@pytest.mark.timeout(120)
def test_the_command_exports_in_a_subprocess_without_qt_or_numpy(session_file, tmp_path):
    code = (
        "import sys; from backprop_lab.cli import main; rc = main(sys.argv[1:]); "
        "heavy = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'pyqtgraph', 'numpy'))]; "
        "assert not heavy, heavy; "
        "sys.exit(rc)"
    )
    for ext in (".csv", ".json", ".npz"):
        result = subprocess.run(
            [sys.executable, "-c", code, "export", str(session_file), "-o", f"out{ext}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=100,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == "" and result.stdout.startswith(f"Wrote out{ext}: ")
    assert (tmp_path / "out.csv").read_text().startswith("step,epoch,loss,")
