"""``backprop-lab grade``: real submissions run in their sandboxes, judged, written as a gradebook.

The submissions are written here, each computing the gradients its own way (the correct one with
its own loops from the report's formulas, not the engine's functions).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_lab.cli import main as cli_main
from backprop_lab.engine.gradebook import CSV_COLUMNS

ROOT = Path(__file__).resolve().parents[2]

# The report's formulas in plain loops: a = xA, y = σ(a), u = xB, z = y + u, w = zC, L = Σ w².
# ``DERIVATIVE_AT`` chooses where σ′ is taken: "a" (right) or "x" (the report's own slip).
HAND_DERIVED = """
import math

def sig(v):
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))

def gradients(x, A, B, C):
    k = len(x)
    a = [sum(x[i] * A[i][j] for i in range(k)) for j in range(k)]
    y = [sig(v) for v in a]
    u = [sum(x[i] * B[i][j] for i in range(k)) for j in range(k)]
    z = [y[j] + u[j] for j in range(k)]
    w = [sum(z[i] * C[i][j] for i in range(k)) for j in range(k)]
    g = [sum(C[i][j] * 2 * w[j] for j in range(k)) for i in range(k)]
    at = a if DERIVATIVE_AT == "a" else x
    d = [sig(v) * (1 - sig(v)) for v in at]
    dA = [[x[i] * d[j] * g[j] for j in range(k)] for i in range(k)]
    dB = [[x[i] * g[j] for j in range(k)] for i in range(k)]
    dC = [[2 * w[j] * z[i] for j in range(k)] for i in range(k)]
    return sum(v * v for v in w), dA, dB, dC
"""

NUMPY_FLOAT32 = """
import numpy as np

def gradients(x, A, B, C):
    x, A, B, C = (np.asarray(m, dtype=np.float32) for m in (x, A, B, C))
    a = x @ A
    y = 1 / (1 + np.exp(-a))
    z = y + x @ B
    w = z @ C
    g = C @ (2 * w)
    return {"loss": (w * w).sum(), "A": np.outer(x, y * (1 - y) * g), "B": np.outer(x, g),
            "C": np.outer(z, 2 * w)}
"""

TORCH_AUTOGRAD = """
import torch

def gradients(x, A, B, C):
    x = torch.tensor(x, dtype=torch.float32)
    A, B, C = (torch.tensor(m, dtype=torch.float32, requires_grad=True) for m in (A, B, C))
    w = (torch.sigmoid(x @ A) + x @ B) @ C
    loss = (w * w).sum()
    loss.backward()
    return loss, A.grad, B.grad, C.grad
"""

SUBMISSIONS = {
    "correct.py": "DERIVATIVE_AT = 'a'\n" + HAND_DERIVED,
    "at_input.py": "DERIVATIVE_AT = 'x'\n" + HAND_DERIVED,
    "raises.py": "def gradients(x, A, B, C):\n    raise ValueError('I have not finished this yet')\n",
    "exits.py": "import sys\ndef gradients(x, A, B, C):\n    sys.exit(3)\n",
    "shape.py": "def gradients(x, A, B, C):\n    return 1.0, [[0.0]], [[0.0]], [[0.0]]\n",
    "loops.py": "def gradients(x, A, B, C):\n    while True:\n        pass\n",
    "nothing.py": "def grad(x, A, B, C):\n    return 0\n",
    "hungry.py": "def gradients(x, A, B, C):\n    keep = []\n    while True:\n"
    "        keep.append(bytearray(1 << 24))\n",
    "chatty.py": "DERIVATIVE_AT = 'a'\nprint('x' * 5_000_000)\n" + HAND_DERIVED,
}


def _write(folder: Path, files: dict[str, str]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return [str(folder / name) for name in files]


def _rows(out: Path) -> dict[str, dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text(encoding="utf-8"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    return {r["name"]: r for r in rows}


def grade(*args: str) -> int:
    return cli_main(["grade", *args], window=False)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, list[str], str]:
    """One class graded on 3 random models besides the report example, two at a time."""
    folder = tmp_path_factory.mktemp("class")
    paths = _write(folder / "class", SUBMISSIONS)
    out = folder / "out"
    result = subprocess.run(
        [sys.executable, "-m", "backprop_lab", "grade", *paths, "-o", str(out), "--models", "3",
         "--timeout", "2", "--memory", "256", "--jobs", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out, paths, result.stdout + result.stderr


def test_every_verdict_is_given_and_each_submission_gets_its_feedback(graded):
    out, _, printed = graded
    rows = _rows(out)
    verdicts = {name: row["verdict"] for name, row in rows.items()}
    assert verdicts == {
        "correct": "correct",
        "at_input": "wrong",
        "raises": "error",
        "exits": "crashed",
        "shape": "bad-output",
        "loops": "timeout",
        "nothing": "error",
        "hungry": "out-of-memory",
        "chatty": "correct",
    }
    assert rows["correct"]["A"] == rows["correct"]["loss"] == "4 of 4"
    assert rows["at_input"]["A"] == "0 of 4" and rows["at_input"]["B"] == "4 of 4"
    assert rows["at_input"]["diagnosis"] == "A: derivative-at-input"
    assert rows["raises"]["detail"].startswith("ValueError: I have not finished this yet, on model 1")
    assert "3" in rows["exits"]["detail"]
    assert rows["shape"]["detail"].startswith("model 1 (the report example, K = 3): ∂L/∂A has 1 row")
    assert "gradients" in rows["nothing"]["detail"]
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(["grades.csv", "grades.html", *(f"feedback-{n}.txt" for n in verdicts)])
    assert "Graded 9 submissions on 4 models" in printed
    assert re.search(r"graded 9 of 9: \w+: \S+", printed)  # a plain count: stderr is not a terminal


def test_the_feedback_names_the_mistake_and_shows_the_model(graded):
    out, _, _ = graded
    text = (out / "feedback-at_input.txt").read_text(encoding="utf-8")
    assert "Verdict: wrong" in text
    assert "Diagnosis (derivative-at-input)" in text
    assert "The first model it disagrees on is model 1 (the report example, K = 3):" in text
    raises = (out / "feedback-raises.txt").read_text(encoding="utf-8")
    assert "Verdict: error — ValueError: I have not finished this yet, on model 1" in raises


def test_a_second_run_gives_the_same_files_apart_from_the_seconds(graded, tmp_path):
    first, paths, _ = graded
    second = tmp_path / "again"
    args = ["--models", "3", "--timeout", "2", "--memory", "256", "--jobs", "1"]
    assert grade(*paths, "-o", str(second), *args) == 0

    def without_seconds(folder: Path, name: str) -> str:
        text = (folder / name).read_text(encoding="utf-8")
        if name == "grades.csv":
            return re.sub(r",\d+\.\d\d,", ",T,", text)
        if name == "grades.html":
            return re.sub(r'<td class="number">\d+\.\d\d</td>', "T", text)
        return text

    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert without_seconds(first, name) == without_seconds(second, name), name


@pytest.mark.parametrize(("module", "text"), [("numpy", NUMPY_FLOAT32), ("torch", TORCH_AUTOGRAD)])
def test_a_float32_program_is_correct_on_every_model_saturating_ones_too(tmp_path, module, text):
    pytest.importorskip(module)
    paths = _write(tmp_path / "s", {"float32.py": text})
    out = tmp_path / "out"
    assert grade(*paths, "-o", str(out), "--models", "8") == 0
    row = _rows(out)["float32"]
    assert (row["verdict"], row["A"], row["B"], row["C"], row["loss"]) == ("correct", *["9 of 9"] * 4)


def test_a_folder_submission_and_the_other_variant(tmp_path):
    # Column vectors: a = Ax, so the hand-derived code above (row vectors) is wrong for them.
    _write(tmp_path / "bob", {"gradients.py": "DERIVATIVE_AT = 'a'\n" + HAND_DERIVED, "util.py": ""})
    out = tmp_path / "out"
    assert grade(str(tmp_path / "bob"), "-o", str(out), "--models", "2", "--convention", "column") == 0
    row = _rows(out)["bob"]
    assert row["verdict"] == "wrong"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.py"], "missing.py does not exist"),
        (["{ok}", "--target", "1,2,3"], "--target is not available"),
        (["{ok}", "--models", "-1"], "--models must be 0 or more"),
        (["{ok}", "--timeout", "0"], "--timeout must be a positive number"),
        (["{ok}", "--jobs", "0"], "--jobs must be 1 or more"),
        (["{ok}", "--memory", "1"], "--memory must be at least 16"),
        (["{ok}", "{ok}"], "is given twice"),
    ],
)
def test_unusable_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    (ok,) = _write(tmp_path / "s", {"ok.py": SUBMISSIONS["correct.py"]})
    out = tmp_path / "out"
    assert grade(*[a.replace("{ok}", ok) for a in args], "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_an_output_that_is_a_file_is_refused(tmp_path, capsys):
    (ok,) = _write(tmp_path / "s", {"ok.py": SUBMISSIONS["correct.py"]})
    (tmp_path / "out").write_text("mine")
    assert grade(ok, "-o", str(tmp_path / "out")) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert (tmp_path / "out").read_text() == "mine"


@pytest.mark.parametrize("delay", [0.0, 0.025, 0.05])
def test_ctrl_c_stops_the_runs_and_writes_nothing(tmp_path, delay):
    marker = tmp_path / "started"
    looping = (
        "import os\ndef gradients(x, A, B, C):\n"
        f"    open({str(marker)!r}, 'w').write(str(os.getpid()))\n"
        "    while True:\n        pass\n"
    )
    paths = _write(tmp_path / "s", {"loops.py": looping, "ok.py": SUBMISSIONS["correct.py"]})
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "backprop_lab", "grade", *paths, "-o", str(out),
         "--timeout", "60", "--jobs", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60  # a hang guard, not a target
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted by SIGINT; nothing was written" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the looping submission was killed, not left behind


def test_the_progress_bar_on_a_terminal_is_redrawn_in_place():
    from backprop_lab.grade import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    class Done:
        name, verdict = "alice", "correct"

    stream = Terminal()
    progress = Progress(2, stream)
    progress.advance(Done())
    progress.advance(Done())
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "[" + "#" * 15 + "." * 15 + "] 1/2" in text and "[" + "#" * 30 + "] 2/2" in text


def test_grade_is_listed_with_the_commands(capsys):
    assert cli_main(["--help"]) == 0
    assert "grade" in capsys.readouterr().out
    assert cli_main(["grade", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "mistakes, not malice" in help_text
    assert "--jobs J" in help_text


def test_the_bench_grades_a_toy_class(capsys, monkeypatch):
    # Not timed here: tests/bench/bench_grade.py's figures are its own business; it must still run.
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "bench"))
    import bench_grade

    assert bench_grade.main(["--submissions", "3", "--models", "1", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "verdicts: correct\n" in out and "| 2 |" in out


def test_a_signal_while_the_folder_is_written_lets_it_finish(tmp_path, capsys, monkeypatch):
    from backprop_lab import grade as grade_module

    (ok,) = _write(tmp_path / "s", {"ok.py": SUBMISSIONS["correct.py"]})
    real = grade_module.write_folder

    def interrupted_half_way(out, files):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives inside the write: noted, acted on after it
        return real(out, files)

    monkeypatch.setattr(grade_module, "write_folder", interrupted_half_way)
    assert grade(ok, "-o", str(tmp_path / "out"), "--models", "0") == 143
    err = capsys.readouterr().err
    assert "interrupted by SIGTERM while writing; it was finished first" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "feedback-ok.txt",
        "grades.csv",
        "grades.html",
    ]


def test_the_graders_own_trouble_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import backprop_lab.sandbox

    def no_processes(*args, **kwargs):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(backprop_lab.sandbox, "run_submission", no_processes)
    (ok,) = _write(tmp_path / "s", {"ok.py": SUBMISSIONS["correct.py"]})
    assert grade(ok, "-o", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("backprop-lab grade: error: could not run the submissions: ") and err.count("\n") == 1
    )
    assert not (tmp_path / "out").exists()


def test_jobs_default_to_the_cores_this_process_may_use():
    from backprop_lab.grade import cores

    assert 1 <= cores() <= (os.cpu_count() or 1)
