"""Run a student's ``gradients(x, A, B, C)`` in a process of its own, never in the grader's.

``run_submission(path, models, *, timeout, memory, load_timeout, cancel) -> Outcome`` starts
``python -P -u grade_child.py`` (this package's :mod:`backprop_lab.grade_child`, by its file
path: see there why) in an empty temporary working directory (also its ``TMPDIR``; removed
afterwards), standard input closed, a stripped environment (``PATH``, ``LANG``,
``PYTHONDONTWRITEBYTECODE``, one thread for OpenMP/OpenBLAS/MKL), its own session (its process
group is killed at the end, forks included), a memory limit (``resource.setrlimit``: address
space; no core files), a wall-clock limit per model and one for loading, and a CPU-time backstop.
Its standard output and error are captured together and capped (:data:`OUTPUT_KEPT` bytes kept:
the beginning and the end). The child reports each model's returned value (converted with
``.tolist()`` where it has one, as JSON) through a pipe of its own, so what the submission prints
never mixes with its answers.

A submission is a ``.py`` file or a folder: the folder's only ``.py`` file, else its
``gradients.py``, else its ``main.py`` (:func:`submission_file`). A folder's own modules import
(the folder is on ``sys.path``); a single file's neighbours do not (they are other students').

These limits protect the grader from mistakes, not from malice: untrusted code belongs in a
container or a throwaway account.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_LOAD_TIMEOUT",
    "DEFAULT_MEMORY",
    "DEFAULT_TIMEOUT",
    "OUTPUT_KEPT",
    "STATUSES",
    "Outcome",
    "SubmissionError",
    "run_submission",
    "submission_file",
]

OUTPUT_KEPT = 1_000_000
#: Of the bytes kept, how many come from the end of the output.
OUTPUT_TAIL = 100_000
DEFAULT_TIMEOUT = 10.0
#: Loading is not a model: importing PyTorch alone takes seconds on a busy machine.
DEFAULT_LOAD_TIMEOUT = 60.0
DEFAULT_MEMORY = 1 << 30
#: Every status an Outcome can have, in the order the grader reports them.
STATUSES = ("ok", "error", "timeout", "out-of-memory", "crashed", "unloadable", "bad-output", "cancelled")
#: A folder submission's file when it holds several: the first of these names present.
ENTRY_NAMES = ("gradients.py", "main.py")
#: The answers pipe carries a few numbers per model; more than this is not answers.
ANSWERS_KEPT = 64_000_000
_CHILD = Path(__file__).resolve().with_name("grade_child.py")
_READ = 65536


@dataclass(frozen=True)
class Outcome:
    """How a run ended. ``status``: "ok" (every model answered), "error" (it raised: ``detail`` is
    the exception's last line), "timeout", "out-of-memory", "crashed" (exit or signal: ``detail``
    says which), "unloadable" (no ``gradients`` function, or the file does not import: ``detail``),
    "bad-output" (a returned value that is not numbers, e.g. a set or an object without
    ``.tolist()``: ``detail``), "cancelled" (the caller's ``cancel`` event was set).
    ``returned``: one JSON value per model answered, in order (a prefix when it stopped early).
    ``output``: its standard output and error, at most OUTPUT_KEPT bytes: all of it, or its
    beginning and its last :data:`OUTPUT_TAIL` bytes (where a traceback is) around a line saying
    how much is left out; ``output_dropped`` counts the bytes left out. ``seconds``: wall time.
    ``failed_model``: the index of the model being computed when it stopped (None when it stopped
    while loading, or did not stop early)."""

    status: str
    returned: tuple[object, ...] = ()
    detail: str = ""
    output: str = ""
    seconds: float = 0.0
    failed_model: int | None = field(default=None)
    output_dropped: int = 0


class SubmissionError(ValueError):
    """A submission path that names no Python file to run; the message says why, in one line."""


def submission_file(path: Path) -> Path:
    """The ``.py`` file a submission runs: the path itself, or the one ``.py`` in a folder.

    A folder holding several ``.py`` files runs its ``gradients.py``, else its ``main.py`` (the
    others are its helper modules); several without either name is ambiguous, an error."""
    if path.is_file():
        if path.suffix != ".py":
            raise SubmissionError(f"{path.name} is not a .py file")
        return path
    if not path.is_dir():
        raise SubmissionError(f"{path} does not exist")
    files = sorted(p for p in path.iterdir() if p.suffix == ".py" and p.is_file())
    if len(files) == 1:
        return files[0]
    for name in ENTRY_NAMES:
        if (path / name).is_file():
            return path / name
    if not files:
        raise SubmissionError(f"the folder {path.name} holds no .py file")
    names = ", ".join(p.name for p in files[:4]) + (", …" if len(files) > 4 else "")
    raise SubmissionError(
        f"the folder {path.name} holds {len(files)} .py files ({names}) and none is named "
        f"{' or '.join(ENTRY_NAMES)}"
    )


def run_submission(
    path: Path | str,
    models: Sequence[Sequence[object]],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    memory: int = DEFAULT_MEMORY,
    load_timeout: float = DEFAULT_LOAD_TIMEOUT,
    cancel: threading.Event | None = None,
) -> Outcome:
    """Run the submission at ``path`` on each model ``(x, A, B, C)`` (plain nested lists).

    ``timeout``: seconds of wall time allowed to each model's call; ``load_timeout``: to starting
    and importing the file. ``memory``: bytes of address space. ``cancel``: set it (from any
    thread) to stop the run at once; the outcome is then "cancelled". Safe to call from several
    threads at a time."""
    start = time.monotonic()
    path = Path(path)
    try:
        file = submission_file(path)
    except SubmissionError as exc:
        return Outcome("unloadable", detail=str(exc), seconds=time.monotonic() - start)
    if not (timeout > 0 and load_timeout > 0 and memory > 0):
        raise ValueError(
            f"timeouts and memory must be positive: {timeout!r} s, {load_timeout!r} s, {memory!r} bytes"
        )
    plain = [list(model) for model in models]
    if any(len(model) != 4 for model in plain):
        raise ValueError("each model is (x, A, B, C)")
    job = {
        "file": str(file.resolve()),
        "folder": str(file.parent.resolve()) if path.is_dir() else None,
        "memory": int(memory),
        # A CPU-time backstop: generous, since the wall-clock limit per model is the real one.
        "cpu": int(2 * (load_timeout + timeout * len(plain))) + 10,
        "parent": os.getpid(),
        "models": plain,
    }
    payload = json.dumps(job).encode("utf-8")
    work = Path(tempfile.mkdtemp(prefix="backprop-lab-submission-"))
    try:
        run = _Run(payload, work, (load_timeout, timeout), cancel)
        try:
            run.loop()
        finally:
            run.stop()
        return run.outcome(time.monotonic() - start)
    finally:
        _remove(work)


def _environment(work: Path) -> dict[str, str]:
    """Only what a Python program needs, nothing of the grader's; one thread per numeric library
    (the grader runs submissions side by side, and a thread pool's stacks would eat the memory limit)."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONDONTWRITEBYTECODE": "1",  # nothing written beside the student's files
        "TMPDIR": str(work),  # its temporary files go where the run's folder is removed
    }
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


class _Capture:
    """The beginning and the end of an output stream, OUTPUT_KEPT bytes in all, however long it runs."""

    _MARK = 200  # room for the line that says how much is left out

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = OUTPUT_KEPT - OUTPUT_TAIL - self._MARK - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * OUTPUT_TAIL:  # trimmed now and then, not at every read
                del self.tail[:-OUTPUT_TAIL]

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - min(len(self.tail), OUTPUT_TAIL)

    def last(self, count: int) -> bytes:
        return bytes((self.head + self.tail)[-count:])

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail[-OUTPUT_TAIL:].decode("utf-8", errors="replace")
        if not self.dropped:
            return head + tail
        return f"{head}\n[… {self.dropped:,} bytes of output left out …]\n{tail}"


class _Run:
    """One child process and the three pipes between it and the grader, driven by one selector."""

    def __init__(
        self, job: bytes, work: Path, timeouts: tuple[float, float], cancel: threading.Event | None
    ) -> None:
        self.load_timeout, self.timeout = timeouts
        self.cancel = cancel
        self.output = _Capture()
        self.answers = bytearray()
        self.events: list[dict[str, object]] = []
        self.timed_out = self.cancelled = self.exited = False
        self.status = 0
        self._job = memoryview(job)
        models_in, self._models = os.pipe()
        self._answers, answers_out = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-u", str(_CHILD), str(models_in), str(answers_out)],
                cwd=work,
                env=_environment(work),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(models_in, answers_out),
                start_new_session=True,
            )
        except BaseException:
            for fd in (self._models, self._answers):
                os.close(fd)
            raise
        finally:
            os.close(models_in)
            os.close(answers_out)
        assert self.proc.stdout is not None
        self._output = self.proc.stdout.fileno()
        for fd in (self._models, self._answers, self._output):
            os.set_blocking(fd, False)
        self.deadline = time.monotonic() + self.load_timeout
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._output, selectors.EVENT_READ, self._read_output)
        self._sel.register(self._answers, selectors.EVENT_READ, self._read_answers)
        self._sel.register(self._models, selectors.EVENT_WRITE, self._write_job)
        self._pidfd: int | None = None
        self._reaped: int | None = None  # the wait status, once reaped
        if hasattr(os, "pidfd_open"):
            try:
                self._pidfd = os.pidfd_open(self.proc.pid)
                self._sel.register(self._pidfd, selectors.EVENT_READ, self._on_exit)
            except OSError:
                self._pidfd = None

    # -- the loop --------------------------------------------------------------------------

    def loop(self) -> None:
        """Until the child ends, gives its final event, overruns its deadline or is cancelled."""
        while not (self.exited or self._final() is not None):
            now = time.monotonic()
            if now >= self.deadline:
                self.timed_out = True
                return
            if self.cancel is not None and self.cancel.is_set():
                self.cancelled = True
                return
            wait = self.deadline - now
            # Without a pidfd the exit is polled; a cancel event is polled either way.
            if self._pidfd is None or self.cancel is not None:
                wait = min(wait, 0.02)
            for key, _ in self._sel.select(wait):
                key.data()
            if self._pidfd is None:
                self._poll_exit()

    def _write_job(self) -> None:
        try:
            written = os.write(self._models, self._job[:_READ])
        except BrokenPipeError:
            written = len(self._job)  # the child is gone; its exit tells the rest
        except BlockingIOError:
            return
        self._job = self._job[written:]
        if not self._job:
            self._sel.unregister(self._models)
            os.close(self._models)
            self._models = -1

    def _read_output(self) -> bool:
        data = self._read(self._output)
        if not data:
            return False
        self.output.add(data)
        return True

    def _read_answers(self) -> bool:
        data = self._read(self._answers)
        if not data:
            return False
        self.answers += data
        if len(self.answers) > ANSWERS_KEPT:
            self.events.append({"event": "bad-output", "detail": "wrote too much on the answers pipe"})
            self._sel.unregister(self._answers)
            return False
        *lines, rest = self.answers.split(b"\n")
        self.answers = bytearray(rest)
        for line in lines:
            self._take(line)
        return True

    def _take(self, line: bytes | bytearray) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            event = {"event": "bad-output", "detail": "wrote something other than answers on their pipe"}
        self.events.append(event)
        # Every sign of progress (loaded, a model begun or answered) starts a new wall-clock allowance.
        self.deadline = time.monotonic() + self.timeout

    def _read(self, fd: int) -> bytes | None:
        """What the descriptor has now; b"" at its end (then it is no longer watched)."""
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self._sel.unregister(fd)
        return data

    def _on_exit(self) -> None:
        self.exited = True

    def _poll_exit(self) -> None:
        if hasattr(os, "waitid"):
            # WNOWAIT: the child stays a zombie, so its group id cannot be reused before stop().
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            self.exited = info is not None
            return
        # macOS before Python 3.13 has no waitid: reap now, and the group is killed a moment
        # after its leader's pid is freed (a reuse within that moment is the risk taken there).
        pid, status = os.waitpid(self.proc.pid, os.WNOHANG)
        if pid:
            self._reaped = status
            self.exited = True

    def _final(self) -> dict[str, object] | None:
        if self.events and self.events[-1]["event"] not in ("loaded", "begin", "returned"):
            return self.events[-1]
        return None

    # -- the end ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Kill the whole process group (forks included), reap the child, read what is left."""
        try:
            # Before the reaping below: while the child is unreaped its group id is not reused,
            # so this can never reach another run's processes.
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._reaped is None:
            self._reaped = os.waitpid(self.proc.pid, 0)[1]
        self.status = self._reaped
        self.proc.returncode = os.waitstatus_to_exitcode(self.status)
        for fd, reader in ((self._answers, self._read_answers), (self._output, self._read_output)):
            # Bounded: a fork still dying may write a little more; what is there now is enough.
            for _ in range(OUTPUT_KEPT // _READ + 64):
                if fd not in self._watched() or not reader():
                    break
        self._sel.close()
        for end in (self._models, self._answers, self._pidfd):
            if end is not None and end >= 0:
                os.close(end)
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def _watched(self) -> set[int]:
        return {key.fd for key in self._sel.get_map().values()}

    def outcome(self, seconds: float) -> Outcome:
        """The run's status from its final event, else from how the process ended."""
        returned = tuple(e.get("value") for e in self.events if e["event"] == "returned")
        begun = [e.get("model") for e in self.events if e["event"] == "begin"]
        current = begun[-1] if begun and len(begun) > len(returned) else None
        failed = current if isinstance(current, int) else None
        status, detail = self._ending()
        if status == "ok":
            failed = None
        return Outcome(
            status,
            returned=returned,
            detail=detail,
            output=self.output.text(),
            seconds=seconds,
            failed_model=failed,
            output_dropped=self.output.dropped,
        )

    def _ending(self) -> tuple[str, str]:
        final = self._final()
        if final is not None:
            kind = str(final["event"])
            detail = str(final.get("detail", ""))
            return _EVENT_STATUS.get(kind, "bad-output"), detail
        if self.cancelled:
            return "cancelled", "stopped by the grader"
        if self.timed_out:
            if not any(e["event"] == "loaded" for e in self.events):
                return "timeout", f"loading the file took longer than {self.load_timeout:g} s"
            return "timeout", f"the call took longer than {self.timeout:g} s"
        return _died(self.status, self.output.last(4096))


_EVENT_STATUS = {
    "done": "ok",
    "raised": "error",
    "exit": "crashed",
    "out-of-memory": "out-of-memory",
    "unloadable": "unloadable",
    "bad-output": "bad-output",
}
_CRASH_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT)
#: What native code prints as it dies of a failed allocation (C++'s runtime, glibc, BLAS, PyTorch).
_ALLOCATION_WORDS = (
    b"bad_alloc",
    b"cannot allocate memory",
    b"can't allocate memory",
    b"out of memory",
    b"memory allocation failed",
    b"memoryerror",
)


def _died(status: int, output: bytes) -> tuple[str, str]:
    """The status of a child that ended without a final event: os._exit, a signal, the kernel.

    A child's peak memory cannot tell: Linux hands a new program the peak of the process it was
    started from (here the grader, often the larger), so the signal and the output decide."""
    if os.WIFEXITED(status):
        return "crashed", f"exited with status {os.WEXITSTATUS(status)} before answering"
    number = os.WTERMSIG(status)
    name = _signal_name(number)
    if number == signal.SIGXCPU:
        return "timeout", "used up its CPU time"
    if number == signal.SIGKILL:
        # The grader's own SIGKILL comes only after the child ended, overran or was cancelled,
        # none of which reaches here: this one is the kernel's out-of-memory killer's.
        return "out-of-memory", f"killed by {name}, as the system does when memory runs out"
    # Native code that finds malloc returning NULL under the limit crashes rather than raises.
    if number in _CRASH_SIGNALS and any(word in output.lower() for word in _ALLOCATION_WORDS):
        return "out-of-memory", f"killed by {name} after an allocation failed"
    return "crashed", f"killed by {name}"


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    described = signal.strsignal(number)
    return f"{name} ({described})" if described else name


def _remove(folder: Path) -> None:
    """Remove the run's folder, even where the submission took permissions away inside it."""
    shutil.rmtree(folder, ignore_errors=True)
    if not folder.exists():
        return
    for root, dirs, _files in os.walk(folder):  # top-down: each folder opened before it is entered
        for name in dirs:
            try:
                os.chmod(os.path.join(root, name), stat.S_IRWXU)
            except OSError:
                pass
    shutil.rmtree(folder, ignore_errors=True)
