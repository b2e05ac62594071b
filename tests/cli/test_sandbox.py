"""The sandbox runs real hostile submissions and always comes back with the right Outcome.

Every submission here is a real program run in a real child process: loops, endless allocation,
sys.exit, os._exit, megabytes of output, forks, exceptions, a segfault, reading standard input,
writing files, no ``gradients``, a syntax error, NumPy and PyTorch returns. Loops are ended by a
short per-model timeout; no test asserts how long anything took (a hang fails through the suite's
own timeout).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from backprop_lab.engine.model import Model, model_loss_and_grads
from backprop_lab.engine.session import Session
from backprop_lab.sandbox import (
    OUTPUT_KEPT,
    Outcome,
    SubmissionError,
    run_submission,
    submission_file,
)

REPO = Path(__file__).resolve().parents[2]
#: The allowance where a test expects a loop to overrun it: each such test waits this out.
SHORT = 1.5
#: Turns a hang into a failure; not a target.
SAFETY = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups and rlimits")

LOOP = "def gradients(x, A, B, C):\n    while True:\n        pass\n"

CORRECT = """
import math

def gradients(x, A, B, C):
    K = len(x)
    a = [sum(x[i] * A[i][j] for i in range(K)) for j in range(K)]
    y = [1 / (1 + math.exp(-v)) for v in a]
    u = [sum(x[i] * B[i][j] for i in range(K)) for j in range(K)]
    z = [y[j] + u[j] for j in range(K)]
    w = [sum(z[i] * C[i][j] for i in range(K)) for j in range(K)]
    dw = [2 * v for v in w]
    dC = [[z[i] * dw[j] for j in range(K)] for i in range(K)]
    g = [sum(C[i][j] * dw[j] for j in range(K)) for i in range(K)]
    dA = [[x[i] * g[j] * y[j] * (1 - y[j]) for j in range(K)] for i in range(K)]
    dB = [[x[i] * g[j] for j in range(K)] for i in range(K)]
    return sum(v * v for v in w), dA, dB, dC
"""


def _plain(model: Model) -> list[object]:
    return [model.x, model.A, model.B, model.C]


@pytest.fixture(scope="module")
def example() -> Model:
    return Session.report_example().model


@pytest.fixture(scope="module")
def models(example: Model) -> list[list[object]]:
    """The report's example and a K = 1 model."""
    return [_plain(example), _plain(Model([0.5], [[2.0]], [[-1.0]], [[3.0]]))]


def _write(folder: Path, source: str, name: str = "submission.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def _run(folder: Path, source: str, models: list[list[object]], **limits: float) -> Outcome:
    return run_submission(_write(folder, source), models, **limits)  # type: ignore[arg-type]


def _close(returned: object, expected: object, rtol: float = 1e-12) -> bool:
    if isinstance(expected, list):
        return (
            isinstance(returned, list)
            and len(returned) == len(expected)
            and all(_close(r, e, rtol) for r, e in zip(returned, expected, strict=True))
        )
    return isinstance(returned, float) and math.isclose(returned, float(expected), rel_tol=rtol)  # type: ignore[arg-type]


def _truth(model: list[object]) -> list[object]:
    loss, grads = model_loss_and_grads(Model(*model))  # type: ignore[arg-type]
    return [loss, grads["A"], grads["B"], grads["C"]]


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (a container's init may be slow to reap it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return True
    return fields[0] in ("Z", "X")


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + SAFETY
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


# -- correct submissions --------------------------------------------------------------------


def test_a_correct_plain_python_submission_answers_every_model(tmp_path, models) -> None:
    outcome = _run(tmp_path, CORRECT, models)
    assert (outcome.status, outcome.detail, outcome.failed_model) == ("ok", "", None)
    assert len(outcome.returned) == len(models)
    for returned, model in zip(outcome.returned, models, strict=True):
        assert _close(returned, _truth(model))
    assert outcome.output == "" and outcome.output_dropped == 0
    assert outcome.seconds > 0


def test_a_dict_return_and_the_inputs_are_plain_fresh_lists(tmp_path, models) -> None:
    source = """
    def gradients(x, A, B, C):
        kinds = sorted({type(v).__name__ for v in (x, A, B, C, A[0], A[0][0])})
        A[0][0] = 1e9  # the next model must not see this
        return {"loss": 1.5, "A": A, "B": (B[0], B[-1]), "C": kinds}
    """
    outcome = _run(tmp_path, source, [models[0], models[0]])
    assert outcome.status == "ok"
    first, second = outcome.returned
    assert first["C"] == ["float", "list"]  # type: ignore[index]
    assert second["A"][0][0] == 1e9 and second["A"][1] == models[0][1][1]  # type: ignore[index]
    assert second["B"] == [models[0][2][0], models[0][2][-1]]  # type: ignore[index]


def test_numpy_returns_arrive_as_lists(tmp_path, models) -> None:
    pytest.importorskip("numpy")
    source = """
    import numpy as np

    def gradients(x, A, B, C):
        x, A, B, C = (np.array(m, dtype=np.float64) for m in (x, A, B, C))
        x = x.reshape(1, -1)
        y = 1 / (1 + np.exp(-(x @ A)))
        z = y + x @ B
        w = z @ C
        g = (2 * w) @ C.T
        return np.sum(w ** 2), x.T @ (g * y * (1 - y)), x.T @ g, z.T @ (2 * w)
    """
    outcome = _run(tmp_path, source, models)
    assert outcome.status == "ok", outcome
    for returned, model in zip(outcome.returned, models, strict=True):
        assert _close(returned, _truth(model), rtol=1e-12)


def test_torch_returns_arrive_as_lists(tmp_path, models) -> None:
    pytest.importorskip("torch")
    source = """
    import torch

    def gradients(x, A, B, C):
        x = torch.tensor([x], dtype=torch.float64)
        A, B, C = (torch.tensor(m, dtype=torch.float64, requires_grad=True) for m in (A, B, C))
        loss = ((torch.sigmoid(x @ A) + x @ B) @ C).pow(2).sum()
        loss.backward()
        return loss, A.grad, B.grad, C.grad
    """
    # PyTorch's import alone takes seconds on a busy machine: the default allowance to load.
    outcome = _run(tmp_path, source, models)
    assert outcome.status == "ok", outcome
    for returned, model in zip(outcome.returned, models, strict=True):
        assert _close(returned, _truth(model), rtol=1e-9)


def test_non_finite_numbers_are_carried_for_the_grader_to_judge(tmp_path, models) -> None:
    source = """
    def gradients(x, A, B, C):
        return float("nan"), [[float("inf")]], [[-float("inf")]], [[0.0]]
    """
    outcome = _run(tmp_path, source, models[1:])
    assert outcome.status == "ok"
    (loss, dA, dB, _dC), = outcome.returned  # fmt: skip
    assert math.isnan(loss) and dA == [[math.inf]] and dB == [[-math.inf]]  # type: ignore[index]


# -- hostile submissions --------------------------------------------------------------------


def test_an_endless_loop_times_out_on_the_model_it_loops_on(tmp_path, models) -> None:
    source = """
    calls = 0

    def gradients(x, A, B, C):
        global calls
        calls += 1
        while calls > 1:
            pass
        return 1.0
    """
    outcome = _run(tmp_path, source, models, timeout=SHORT)
    assert (outcome.status, outcome.failed_model, outcome.returned) == ("timeout", 1, (1.0,))
    assert "longer than 1.5 s" in outcome.detail


def test_a_loop_at_import_times_out_while_loading(tmp_path, models) -> None:
    outcome = _run(tmp_path, "while True:\n    pass\n", models, load_timeout=SHORT)
    assert (outcome.status, outcome.failed_model, outcome.returned) == ("timeout", None, ())
    assert outcome.detail == "loading the file took longer than 1.5 s"


def test_endless_allocation_is_out_of_memory(tmp_path, models) -> None:
    source = """
    def gradients(x, A, B, C):
        hoard = []
        while True:
            hoard.append(bytearray(10_000_000))
    """
    outcome = _run(tmp_path, source, models, memory=300 << 20)
    assert (outcome.status, outcome.failed_model) == ("out-of-memory", 0)
    assert outcome.detail == "MemoryError"


def test_endless_small_allocations_are_out_of_memory_with_one_error_line(tmp_path, models) -> None:
    source = """
    def gradients(x, A, B, C):
        hoard = []
        while True:
            hoard.append([len(hoard)])  # fills the limit to the last few bytes
    """
    outcome = _run(tmp_path, source, models, memory=200 << 20)
    assert (outcome.status, outcome.detail, outcome.failed_model) == ("out-of-memory", "MemoryError", 0)
    # Where the last failed allocation was tiny, Python had no memory to record a traceback.
    assert outcome.output.endswith("MemoryError\n") and "another exception occurred" not in outcome.output


def test_a_huge_numpy_array_is_out_of_memory(tmp_path, models) -> None:
    pytest.importorskip("numpy")
    source = """
    import numpy as np

    def gradients(x, A, B, C):
        return np.ones((100_000, 100_000))
    """
    outcome = _run(tmp_path, source, models, memory=512 << 20)
    assert (outcome.status, outcome.failed_model) == ("out-of-memory", 0)


def test_the_memory_limit_and_no_core_files_apply_in_the_child(tmp_path, models) -> None:
    source = """
    import resource

    def gradients(x, A, B, C):
        return [resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CORE)[1]]
    """
    outcome = _run(tmp_path, source, models[1:], memory=700 << 20)
    assert outcome.returned == ([700 << 20, 0],)


@pytest.mark.parametrize(
    ("call", "detail"),
    [("sys.exit(3)", "called sys.exit(3)"), ("sys.exit()", "called sys.exit()"),
     ("sys.exit('x' * 999)", "called sys.exit('" + "x" * 282 + "…"),
     ("sys.exit('done')", "called sys.exit('done')"), ("exit(0)", "called sys.exit(0)")],
)  # fmt: skip
def test_sys_exit_is_a_crash_named_as_such(tmp_path, models, call, detail) -> None:
    source = f"""
    import sys

    def gradients(x, A, B, C):
        {call}
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.detail, outcome.failed_model) == ("crashed", detail, 0)


def test_sys_exit_at_import_is_a_crash_while_loading(tmp_path, models) -> None:
    outcome = _run(tmp_path, "import sys\nsys.exit(2)\n", models)
    assert (outcome.status, outcome.detail, outcome.failed_model) == ("crashed", "called sys.exit(2)", None)


def test_os_exit_is_a_crash_and_what_it_printed_is_kept(tmp_path, models) -> None:
    source = """
    import os

    def gradients(x, A, B, C):
        if len(x) == 1:
            print("about to leave", end="")
            os._exit(4)
        return 2.0
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.failed_model, outcome.returned) == ("crashed", 1, (2.0,))
    assert outcome.detail == "exited with status 4 before answering"
    assert outcome.output == "about to leave"


def test_a_segfault_is_a_crash_with_its_signal_and_python_lines(tmp_path, models) -> None:
    source = """
    import ctypes

    def gradients(x, A, B, C):
        return ctypes.string_at(0)
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.failed_model) == ("crashed", 0)
    assert outcome.detail.startswith("killed by SIGSEGV")
    assert "submission.py" in outcome.output  # faulthandler's lines point at the student's code


def test_a_native_crash_after_a_failed_allocation_is_out_of_memory(tmp_path, models) -> None:
    source = """
    import os
    import sys

    def gradients(x, A, B, C):
        hoard = bytearray(150_000_000)
        # What C++'s runtime prints and does when an allocation throws and nothing catches it.
        sys.stderr.write("terminate called after throwing an instance of 'std::bad_alloc'\\n")
        os.abort()
    """
    outcome = _run(tmp_path, source, models, memory=400 << 20)
    assert (outcome.status, outcome.failed_model) == ("out-of-memory", 0)
    assert outcome.detail == "killed by SIGABRT (Aborted) after an allocation failed"


def test_a_segfault_with_memory_filled_is_still_a_crash(tmp_path, models) -> None:
    """A full memory is no excuse for a crash that says nothing about memory."""
    source = """
    import ctypes

    def gradients(x, A, B, C):
        hoard = bytearray(250_000_000)
        for i in range(0, len(hoard), 4096):
            hoard[i] = 1  # resident, not just reserved
        return ctypes.string_at(0)
    """
    outcome = _run(tmp_path, source, models, memory=400 << 20)
    assert (outcome.status, outcome.failed_model) == ("crashed", 0)
    assert outcome.detail.startswith("killed by SIGSEGV")


def test_printing_50_megabytes_keeps_the_beginning_and_the_end(tmp_path, models) -> None:
    source = """
    def gradients(x, A, B, C):
        print("first line")
        for _ in range(250):
            print("σ" * 50_000)  # 100,001 bytes a line in UTF-8
        print("last line")
        return 3.0
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.returned) == ("ok", (3.0, 3.0))
    printed = 2 * (len("first line\n") + 250 * 100_001 + len("last line\n"))
    assert len(outcome.output.encode()) <= OUTPUT_KEPT
    assert outcome.output.startswith("first line\n" + "σ" * 50_000 + "\n")
    assert outcome.output.endswith("σ\nlast line\n")
    # Kept and left out add up to what was printed (give or take characters cut in two).
    assert printed - OUTPUT_KEPT <= outcome.output_dropped <= printed - OUTPUT_KEPT + 300
    assert f"[… {outcome.output_dropped:,} bytes of output left out …]" in outcome.output


def test_a_traceback_after_megabytes_of_output_is_kept(tmp_path, models) -> None:
    source = """
    def gradients(x, A, B, C):
        for i in range(20_000):
            print(f"step {i}: " + "-" * 200)
        return {}["loss"]
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.detail) == ("error", "KeyError: 'loss'")
    assert outcome.output_dropped > 0 and "bytes of output left out" in outcome.output
    assert outcome.output.startswith("step 0: ") and outcome.output.rstrip().endswith("KeyError: 'loss'")
    assert "Traceback (most recent call last):" in outcome.output


def test_short_output_is_kept_whole(tmp_path, models) -> None:
    outcome = _run(tmp_path, "def gradients(x, A, B, C):\n    print('K =', len(x))\n    return 0\n", models)
    assert (outcome.output, outcome.output_dropped) == ("K = 3\nK = 1\n", 0)


def test_a_forked_looping_child_is_gone_afterwards(tmp_path, models) -> None:
    source = """
    import os

    def gradients(x, A, B, C):
        pid = os.fork()
        if pid == 0:
            while True:
                pass
        print(pid, flush=True)
        return 1.0
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.returned) == ("ok", (1.0, 1.0))
    pids = [int(line) for line in outcome.output.split()]
    assert len(pids) == 2
    for pid in pids:
        _wait_until(lambda pid=pid: _gone(pid), f"the fork {pid} to be gone")


@pytest.mark.parametrize(
    ("signal_name", "status", "detail"),
    [("SIGTERM", "crashed", "killed by SIGTERM (Terminated)"),
     # Only the kernel's out-of-memory killer sends SIGKILL to a child the grader has not stopped.
     ("SIGKILL", "out-of-memory", "killed by SIGKILL (Killed), as the system does when memory runs out")],
)  # fmt: skip
def test_a_signal_is_a_crash_and_sigkill_is_out_of_memory(
    tmp_path, models, signal_name, status, detail
) -> None:
    source = f"""
    import os
    import signal

    def gradients(x, A, B, C):
        os.kill(os.getpid(), signal.{signal_name})
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.detail, outcome.failed_model) == (status, detail, 0)


def test_a_fork_that_returns_into_the_loop_does_not_answer_twice(tmp_path, models) -> None:
    source = """
    import os

    def gradients(x, A, B, C):
        pid = os.fork()  # both processes go on; only the submission's own may answer
        if pid == 0:
            if len(x) == 1:
                raise ValueError("the fork's mistake")
            return -1.0
        os.waitpid(pid, 0)  # the fork has come back and tried to answer first
        return float(len(x))
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.returned) == ("ok", (3.0, 1.0))


def test_a_thread_left_running_does_not_hold_up_the_run(tmp_path, models) -> None:
    source = """
    import threading
    import time

    def gradients(x, A, B, C):
        threading.Thread(target=time.sleep, args=(3600,)).start()  # not a daemon
        return 0.0
    """
    outcome = _run(tmp_path, source, models, timeout=SAFETY)
    assert (outcome.status, outcome.returned) == ("ok", (0.0, 0.0))


def test_raising_is_an_error_with_the_last_line_and_the_traceback_in_the_output(tmp_path, models) -> None:
    source = """
    def helper(v):
        return 1 / v

    def gradients(x, A, B, C):
        return helper(len(x) - 1)
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.failed_model, outcome.returned) == ("error", 1, (0.5,))
    assert outcome.detail == "ZeroDivisionError: division by zero"
    assert "Traceback" in outcome.output and "in helper" in outcome.output
    assert "grade_child" not in outcome.output  # the student's frames only


def test_reading_standard_input_finds_it_closed(tmp_path, models) -> None:
    source = """
    import sys

    def gradients(x, A, B, C):
        if sys.stdin.read() != "":
            return "not closed"
        return input("A? ")
    """
    outcome = _run(tmp_path, source, models, timeout=SAFETY)
    assert (outcome.status, outcome.detail) == ("error", "EOFError: EOF when reading a line")


def test_it_runs_in_an_empty_folder_that_is_removed_and_leaves_its_own_alone(tmp_path, models) -> None:
    source = """
    import os
    import tempfile

    START = sorted(os.listdir("."))

    def gradients(x, A, B, C):
        with open("scratch.txt", "w") as f:
            f.write("x")
        os.mkdir("locked")
        os.chmod("locked", 0)  # the grader must still be able to remove its folder
        return [os.getcwd(), START, tempfile.gettempdir()]
    """
    folder = tmp_path / "alice"
    before = _write(folder, source)
    outcome = run_submission(before, models[1:])
    assert outcome.status == "ok", outcome
    ((cwd, start, temp),) = outcome.returned  # type: ignore[misc]
    assert start == [] and temp == cwd
    assert Path(cwd) != folder and not Path(cwd).exists()
    assert sorted(p.name for p in folder.iterdir()) == ["submission.py"]  # no scratch, no __pycache__


def test_the_environment_is_stripped_and_the_checkout_is_not_importable(
    tmp_path, models, monkeypatch
) -> None:
    monkeypatch.setenv("BACKPROP_LAB_SECRET", "grader only")
    source = """
    import importlib.util
    import os
    import sys

    def gradients(x, A, B, C):
        hidden = [importlib.util.find_spec(name) is None for name in ("engine", "sandbox")]
        return [sorted(os.environ), hidden, sys.argv, __name__]
    """
    outcome = _run(tmp_path, source, models[1:])
    ((names, hidden, argv, name),) = outcome.returned  # type: ignore[misc]
    assert "BACKPROP_LAB_SECRET" not in names and "HOME" not in names
    assert {"PATH", "PYTHONDONTWRITEBYTECODE", "TMPDIR"} <= set(names)  # type: ignore[arg-type]
    # Neither this checkout's top-level folders (no PYTHONPATH) nor grade_child's neighbours (-P).
    assert hidden == [True, True]
    assert argv == [str((tmp_path / "submission.py").resolve())] and name == "submission"


def test_the_main_block_of_a_submission_does_not_run(tmp_path, models) -> None:
    source = """
    import sys

    def gradients(x, A, B, C):
        return 0.0

    if __name__ == "__main__":
        sys.exit(9)
    """
    assert _run(tmp_path, source, models).status == "ok"


# -- submissions that cannot be graded ------------------------------------------------------


def test_no_gradients_function_is_unloadable(tmp_path, models) -> None:
    outcome = _run(tmp_path, "def gradient(x, A, B, C):\n    return 0\n", models)
    assert (outcome.status, outcome.failed_model, outcome.returned) == ("unloadable", None, ())
    assert outcome.detail == "submission.py defines no function gradients(x, A, B, C)"


def test_gradients_that_is_not_a_function_is_unloadable(tmp_path, models) -> None:
    outcome = _run(tmp_path, "gradients = [1, 2]\n", models)
    assert outcome.status == "unloadable"
    assert outcome.detail == "gradients in submission.py is a list, not a function"


def test_a_syntax_error_is_unloadable_with_its_line(tmp_path, models) -> None:
    outcome = _run(tmp_path, "def gradients(x, A, B, C):\n    return (1,\n\nx = 1 +\n", models)
    assert outcome.status == "unloadable"
    assert outcome.detail.startswith("SyntaxError: ") and "(line " in outcome.detail


def test_a_missing_module_is_unloadable_with_its_name(tmp_path, models) -> None:
    outcome = _run(tmp_path, "import no_such_module_for_grading\n", models)
    assert outcome.status == "unloadable"
    assert outcome.detail == "ModuleNotFoundError: No module named 'no_such_module_for_grading'"
    assert "Traceback" in outcome.output


@pytest.mark.parametrize(
    ("value", "words"),
    [("{1.0, 2.0}", "returned a set"), ("object()", "returned a object"), ("1j", "complex"),
     ("{1: 2.0}", "keys must be text"), ("[0.0] * 1_000_000", "far more than"),
     ("Broken()", "Broken.tolist() failed: ValueError: no"), ("Loop()", "nested more than 8 deep"),
     ("__import__('numpy').zeros(200_000)", "an array of 200,000 numbers")],
)  # fmt: skip
def test_values_that_are_not_numbers_are_bad_output(tmp_path, models, value, words) -> None:
    source = f"""
    class Broken:
        def tolist(self):
            raise ValueError("no")

    class Loop:
        def tolist(self):
            return [self]

    def gradients(x, A, B, C):
        return {value}
    """
    outcome = _run(tmp_path, source, models)
    assert (outcome.status, outcome.failed_model, outcome.returned) == ("bad-output", 0, ())
    assert words in outcome.detail


def test_other_real_numbers_become_floats(tmp_path, models) -> None:
    source = """
    from fractions import Fraction

    def gradients(x, A, B, C):
        return Fraction(1, 4), [[Fraction(3, 2)]], True, None
    """
    outcome = _run(tmp_path, source, models[1:])
    assert outcome.returned == ([0.25, [[1.5]], True, None],)


def test_a_long_exception_message_is_cut_to_one_short_line(tmp_path, models) -> None:
    outcome = _run(tmp_path, "def gradients(x, A, B, C):\n    raise ValueError('x' * 10_000)\n", models)
    assert outcome.status == "error"
    assert outcome.detail.startswith("ValueError: xxx") and outcome.detail.endswith("…")
    assert len(outcome.detail) == 300


@pytest.mark.parametrize("limits", [{"timeout": 0}, {"memory": -1}, {"load_timeout": float("nan")}])
def test_limits_must_be_positive(tmp_path, models, limits) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        _run(tmp_path, CORRECT, models, **limits)


def test_a_missing_path_is_unloadable_without_starting_anything(tmp_path, models) -> None:
    outcome = run_submission(tmp_path / "nobody.py", models)
    assert (outcome.status, outcome.returned) == ("unloadable", ())
    assert "does not exist" in outcome.detail


# -- folders --------------------------------------------------------------------------------


def test_a_folder_with_one_file_runs_it(tmp_path) -> None:
    path = _write(tmp_path / "bob", CORRECT, "whatever_name.py")
    assert submission_file(tmp_path / "bob") == path


def test_a_folder_runs_gradients_py_and_its_helpers_import(tmp_path, models) -> None:
    folder = tmp_path / "Zoë O'Neil (late)"
    _write(folder, "def square(v):\n    return v * v\n", "helpers.py")
    _write(
        folder,
        "import helpers\n\ndef gradients(x, A, B, C):\n    return helpers.square(3.0)\n",
        "gradients.py",
    )
    _write(folder, "raise SystemExit('the wrong file ran')\n", "main.py")
    outcome = run_submission(folder, models)
    assert (outcome.status, outcome.returned) == ("ok", (9.0, 9.0))


def test_a_folder_without_gradients_py_runs_main_py(tmp_path) -> None:
    _write(tmp_path / "dan", "", "helpers.py")
    main = _write(tmp_path / "dan", "", "main.py")
    assert submission_file(tmp_path / "dan") == main


@pytest.mark.parametrize(
    ("files", "message"),
    [((), "the folder x holds no .py file"),
     (("a.py", "b.py", "c.py"), "the folder x holds 3 .py files (a.py, b.py, c.py) and none is named "
                                "gradients.py or main.py"),
     (("notes.txt",), "the folder x holds no .py file")],
)  # fmt: skip
def test_an_ambiguous_or_empty_folder_is_unloadable(tmp_path, models, files, message) -> None:
    (tmp_path / "x").mkdir()
    for name in files:
        _write(tmp_path / "x", "", name)
    with pytest.raises(SubmissionError, match=r"^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        submission_file(tmp_path / "x")
    outcome = run_submission(tmp_path / "x", models)
    assert (outcome.status, outcome.detail) == ("unloadable", message)


def test_a_file_that_is_not_python_is_unloadable(tmp_path, models) -> None:
    path = _write(tmp_path, CORRECT, "answers.txt")
    assert run_submission(path, models).detail == "answers.txt is not a .py file"


# -- the grader's side ----------------------------------------------------------------------


def test_a_job_larger_than_a_pipe_buffer_reaches_the_child(tmp_path) -> None:
    k = 150  # about 1.3 MB of JSON, twenty times a pipe's buffer
    A = [[float(i * k + j) for j in range(k)] for i in range(k)]
    big = [[1.0] * k, A, A, A]
    source = "def gradients(x, A, B, C):\n    return [len(x), sum(map(sum, A)), B[-1][-1]]\n"
    outcome = _run(tmp_path, source, [big, big])
    assert outcome.returned == ([k, sum(map(sum, A)), float(k * k - 1)],) * 2


def test_runs_side_by_side_do_not_interfere(tmp_path, models) -> None:
    talk = "def gradients(x, A, B, C):\n    print('{name}')\n    return '{name}'\n"
    sources = {"loop1": LOOP, "ok1": talk.format(name="ok1"), "loop2": LOOP, "ok2": talk.format(name="ok2")}
    results: dict[str, Outcome] = {}

    def grade(name: str) -> None:
        timeout = SHORT if name.startswith("loop") else SAFETY
        results[name] = _run(tmp_path / name, sources[name], models, timeout=timeout)

    threads = [threading.Thread(target=grade, args=(name,)) for name in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SAFETY)
    assert {name: results[name].status for name in sources} == {
        "loop1": "timeout", "ok1": "ok", "loop2": "timeout", "ok2": "ok",
    }  # fmt: skip
    for name in ("ok1", "ok2"):
        assert results[name].returned == (name, name) and results[name].output == f"{name}\n{name}\n"


def test_a_cancel_event_stops_a_run_at_once(tmp_path, models) -> None:
    marker = tmp_path / "started"
    source = f"""
    def gradients(x, A, B, C):
        open({str(marker)!r}, "w").close()
        while True:
            pass
    """
    cancel = threading.Event()
    results: list[Outcome] = []
    thread = threading.Thread(
        target=lambda: results.append(_run(tmp_path, source, models, timeout=SAFETY * 10, cancel=cancel))
    )  # type: ignore[arg-type]
    thread.start()
    _wait_until(marker.exists, "the submission to start")
    cancel.set()
    thread.join(SAFETY)
    assert results[0].status == "cancelled" and results[0].failed_model == 0


@pytest.mark.parametrize("missing", [("pidfd_open",), ("pidfd_open", "waitid")])
def test_without_pidfd_the_exit_is_polled(tmp_path, models, monkeypatch, missing) -> None:
    """Where os.pidfd_open is missing (not Linux, an old kernel), the same outcomes come back;
    also without os.waitid (macOS before Python 3.13)."""
    for name in missing:
        monkeypatch.delattr(os, name, raising=False)
    cases = [
        ("def gradients(x, A, B, C):\n    return 1.0\n", SAFETY, "ok", ""),
        ("import os\ndef gradients(x, A, B, C):\n    os._exit(5)\n", SAFETY,
         "crashed", "exited with status 5 before answering"),
        (LOOP, SHORT, "timeout", "the call took longer than 1.5 s"),
    ]  # fmt: skip
    for index, (source, timeout, status, detail) in enumerate(cases):
        outcome = _run(tmp_path / str(index), source, models, timeout=timeout)
        assert (outcome.status, outcome.detail) == (status, detail)


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.01, 0.05])
def test_cancel_at_any_moment_of_the_start_is_cancelled_and_leaves_nothing(
    tmp_path, models, delay, monkeypatch
):
    """Cancelled before the child exists, while Python starts, while it loads, while it loops."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    source = "import os\nprint(os.getpid(), flush=True)\n" + LOOP
    cancel = threading.Event()
    results: list[Outcome] = []
    thread = threading.Thread(
        target=lambda: results.append(
            _run(tmp_path / "sub", source, models, timeout=SAFETY * 10, cancel=cancel)
        )  # type: ignore[arg-type]
    )
    thread.start()
    time.sleep(delay)  # the race itself: the cancel lands 0-50 ms after the start
    cancel.set()
    thread.join(SAFETY)
    assert not thread.is_alive()
    ((outcome,),) = (results,)
    assert outcome.status == "cancelled" and outcome.returned == ()
    for pid in outcome.output.split():
        _wait_until(lambda pid=pid: _gone(int(pid)), "the cancelled child to be gone")
    assert list(temp.iterdir()) == []


def test_no_run_leaves_its_folder_behind(tmp_path, models, monkeypatch) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    endings = {
        "ok": "def gradients(x, A, B, C):\n    open('left.txt', 'w').close()\n    return 0.0\n",
        "timeout": "open('left.txt', 'w').close()\n" + LOOP,
        "crashed": "import os\ndef gradients(x, A, B, C):\n    os.makedirs('a/b')\n    os._exit(1)\n",
        "unloadable": "open('left.txt', 'w').close()\n",
    }
    for status, source in endings.items():
        assert _run(tmp_path / status, source, models, timeout=SHORT).status == status
    assert list(temp.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_when_the_grader_is_stopped_the_submission_goes_too(tmp_path, how) -> None:
    """Ctrl+C in the grader kills the process group (forks too); a grader killed outright takes the
    submission's own process with it (the kernel's parent-death signal)."""
    marker = tmp_path / "pids"
    source = f"""
    import os

    def gradients(x, A, B, C):
        fork = os.fork()
        if fork == 0:
            while True:
                pass
        with open({str(marker) + ".tmp"!r}, "w") as f:
            f.write(f"{{os.getpid()}} {{fork}}")
        os.rename({str(marker) + ".tmp"!r}, {str(marker)!r})
        while True:
            pass
    """
    submission = _write(tmp_path / "sub", source)
    script = (
        "import sys\nfrom backprop_lab.sandbox import run_submission\n"
        f"run_submission({str(submission)!r}, [([1.0], [[1.0]], [[1.0]], [[1.0]])], timeout=600)\n"
    )
    temp = tmp_path / "temp"  # where the run's folder goes (a killed grader cannot remove it)
    temp.mkdir()
    env = os.environ | {"TMPDIR": str(temp)}
    grader = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    try:
        _wait_until(marker.exists, "the submission to start")
        child, fork = (int(pid) for pid in marker.read_text().split())
        assert len(list(temp.iterdir())) == 1
        grader.send_signal(getattr(signal, how))
        grader.wait(SAFETY)
        _wait_until(lambda: _gone(child), "the submission's process to be gone")
        if how == "SIGINT":
            _wait_until(lambda: _gone(fork), "its fork to be gone")
            assert list(temp.iterdir()) == []
    finally:
        grader.kill()
        grader.wait()
        if marker.exists():  # a failed test leaves no loop behind
            for pid in marker.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


@pytest.mark.parametrize("layout", ["checkout", "installed"])
def test_it_runs_from_a_checkout_and_from_an_installed_package(tmp_path, models, layout) -> None:
    """An installed copy keeps grade_child.py beside sandbox.py; a checkout runs from the repository."""
    if layout == "installed":  # the layout pip gives: engine/ etc. inside backprop_lab/
        root = tmp_path / "site"
        shutil.copytree(
            REPO / "backprop_lab", root / "backprop_lab", ignore=shutil.ignore_patterns("__pycache__")
        )
        for name in ("engine", "gui", "resources"):
            shutil.copytree(
                REPO / name, root / "backprop_lab" / name, ignore=shutil.ignore_patterns("__pycache__")
            )
    else:
        root = REPO
    submission = _write(tmp_path / "sub", CORRECT)
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(root)!r})
        import backprop_lab.sandbox as sandbox
        assert sandbox.__file__.startswith({str(root)!r}), sandbox.__file__
        outcome = sandbox.run_submission({str(submission)!r}, json.loads(sys.stdin.read()))
        print(json.dumps([outcome.status, outcome.returned]))
    """)
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], input=json.dumps(models), capture_output=True, text=True,
        cwd=tmp_path, timeout=SAFETY, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    status, returned = json.loads(done.stdout)
    assert status == "ok" and _close(returned, [_truth(m) for m in models])
