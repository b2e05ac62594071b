"""The compiled kernels' disk cache (engine.kernel_cache): hit, miss, and every kind of bad entry
ignored and rebuilt; a folder that cannot be written means no cache, never an error.

Every test points the cache at its own tmp_path (the suite's conftest already keeps it out of
the user's home)."""

from __future__ import annotations

import builtins
import hashlib
import math
import sys
import threading
import time

import pytest

from backprop_lab.engine import kernel_cache, kernels
from backprop_lab.engine.variant import Variant

K = 4
VARIANT = Variant("softplus", "column", (0.5, -1.0, 2.0, 0.0))
BATCH = [[0.1, 0.2, 0.3, 0.4], [0.9, 0.0, 0.5, 0.25]]
M = [[0.25 * (i - j) for j in range(K)] for i in range(K)]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder, and a process that has compiled nothing yet."""
    folder = tmp_path / "kernels"
    monkeypatch.setenv(kernel_cache.ENV_VAR, str(folder))
    monkeypatch.setattr(kernels, "_PRECOMPILED", {})
    monkeypatch.setattr(kernels, "_COMPILED", set())
    _forget()
    yield folder
    _forget()


def _forget() -> None:
    """As a new process: no compiled function kept in memory."""
    kernels.unrolled_kernel.cache_clear()
    kernels._unrolled_step.cache_clear()
    kernels._unrolled_forward.cache_clear()


def _entry(name: str = "kernel"):
    """(key, file name, path) of this generated function's cache entry."""
    key, filename = kernels._cache_key(name, K, VARIANT), kernels._filename(name, K, kernels._form(VARIANT))
    return key, filename, kernel_cache.entry_path(key, filename, generation=kernels._generation())


def _compiles(monkeypatch) -> list[str]:
    """Record every compile() of a generated kernel from now on."""
    seen: list[str] = []
    real = builtins.compile

    def recording(source, filename, *args, **kwargs):
        if str(filename).startswith("<engine.kernels"):
            seen.append(filename)
        return real(source, filename, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", recording)
    return seen


def test_a_miss_compiles_and_stores_then_the_next_process_loads_without_compiling(cache, monkeypatch):
    compiled = _compiles(monkeypatch)
    first = kernels.batch_sums(BATCH, M, M, M, VARIANT)
    _, filename, path = _entry()
    assert compiled == [filename] and path.is_file() and path.parent == cache
    assert path.name.startswith(sys.implementation.cache_tag + "-")
    _forget()
    kernels._COMPILED.clear()
    assert kernels.batch_sums(BATCH, M, M, M, VARIANT) == first
    assert compiled == [filename]  # taken from the disk: no second compile


def test_the_cached_code_is_the_compiled_code(cache):
    source, filename = kernels.step_source(K, VARIANT), "<a step>"
    code = compile(source, filename, "exec")
    key = source.encode()
    assert kernel_cache.load(key, filename) is None  # a miss
    assert kernel_cache.store(key, filename, code)
    loaded = kernel_cache.load(key, filename)
    assert loaded is not None and loaded == code and loaded.co_filename == filename
    assert kernel_cache.load(key + b"\n", filename) is None  # another source is another entry
    assert kernel_cache.load(key, "<another name>") is None


def test_the_key_is_what_the_source_is_made_from(cache, monkeypatch):
    # A changed generator (another fingerprint) finds no entry and compiles afresh.
    compiled = _compiles(monkeypatch)
    kernels.batch_sums(BATCH, M, M, M, VARIANT)
    assert len(compiled) == 1
    monkeypatch.setattr(kernels, "fingerprint", lambda: b"another generator")
    monkeypatch.setattr(kernels, "_COMPILED", set())
    _forget()
    kernels.batch_sums(BATCH, M, M, M, VARIANT)
    assert len(compiled) == 2
    # Without a fingerprint (the generator's file unreadable) the source itself is the key.
    monkeypatch.setattr(kernels, "fingerprint", lambda: None)
    assert kernels._cache_key("kernel", K, VARIANT) == kernels.kernel_source(K, VARIANT).encode()


@pytest.mark.parametrize(
    "damage", ["truncated", "flipped byte", "empty", "garbage", "another python", "another source"]
)
def test_a_bad_entry_is_ignored_and_rebuilt(cache, monkeypatch, damage):
    key, filename, path = _entry()
    want = kernels.batch_sums(BATCH, M, M, M, VARIANT)
    data = path.read_bytes()
    if damage == "truncated":
        bad = data[: len(data) // 2]
    elif damage == "flipped byte":
        bad = data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:]
    elif damage == "empty":
        bad = b""
    elif damage == "garbage":
        bad = b"\x00" * len(data)
    elif damage == "another python":  # this name, but the magic number of another interpreter's bytecode
        payload = data[kernel_cache._HEADER :]
        header = kernel_cache._SIGNATURE + b"\x01\x02\r\n" + kernel_cache._key_hash(key, filename)
        bad = header + hashlib.sha256(payload).digest() + payload
    else:  # another kernel's sound entry under this name
        other_path = _entry("loss")[2]
        kernels.loss_at(BATCH[0], M, M, M, VARIANT)
        bad = other_path.read_bytes()
    path.write_bytes(bad)
    assert kernel_cache.load(key, filename, generation=kernels._generation()) is None
    monkeypatch.setattr(kernels, "_COMPILED", set())
    _forget()
    compiled = _compiles(monkeypatch)
    assert kernels.batch_sums(BATCH, M, M, M, VARIANT) == want
    assert compiled == [filename]
    assert path.read_bytes() == data  # rewritten whole
    assert kernel_cache.load(key, filename, generation=kernels._generation()) is not None


def test_an_entry_too_large_to_be_a_kernel_is_not_read(cache, monkeypatch):
    key, filename, path = _entry()
    kernels.batch_sums(BATCH, M, M, M, VARIANT)
    assert kernel_cache.load(key, filename, generation=kernels._generation()) is not None
    monkeypatch.setattr(kernel_cache, "MAX_ENTRY_BYTES", path.stat().st_size - 1)
    assert kernel_cache.load(key, filename, generation=kernels._generation()) is None


def test_an_unwritable_cache_folder_means_no_cache(tmp_path, monkeypatch, cache):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(kernel_cache.ENV_VAR, str(blocker / "kernels"))
    assert not kernel_cache.store(b"x = 1", "<x>", compile("x = 1", "<x>", "exec"))
    assert kernel_cache.load(b"x = 1", "<x>") is None
    loss, *_ = kernels.batch_sums(BATCH, M, M, M, VARIANT)  # compiled as before, no error
    assert math.isfinite(loss) and blocker.read_text() == "not a folder"


def test_an_empty_setting_turns_the_cache_off(cache, monkeypatch):
    monkeypatch.setenv(kernel_cache.ENV_VAR, "")
    assert kernel_cache.cache_dir() is None
    kernels.batch_sums(BATCH, M, M, M, VARIANT)
    assert not cache.exists()


def test_the_default_folder_follows_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv(kernel_cache.ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernel_cache.cache_dir() == tmp_path / "xdg" / "backprop-lab" / "kernels"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored, as the spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kernel_cache.cache_dir() == tmp_path / "home" / ".cache" / "backprop-lab" / "kernels"


def test_a_child_s_compilation_is_cached_for_the_next_process(cache, monkeypatch):
    k = 13
    variant = Variant("tanh", "row", tuple(0.1 * j for j in range(k)))
    assert kernels.compile_in_subprocess(k, names=("step",), variant=variant)
    form = kernels._form(variant)
    assert ("step", k, form) in kernels._PRECOMPILED
    key = kernels._cache_key("step", k, variant)
    assert kernel_cache.load(key, kernels._filename("step", k, form), generation=kernels._generation())
    # A later process, which could not start a child at all, still gets it ready from the disk.
    monkeypatch.setattr(kernels, "_PRECOMPILED", {})
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert kernels.compile_in_subprocess(k, names=("step",), variant=variant)
    compiled = _compiles(monkeypatch)
    X = [[0.5] * k, [0.25] * k]
    W = [[0.01 * (i + j) for j in range(k)] for i in range(k)]
    result = kernels.step_function(k, variant)(X, W, W, W, X[0], 0.1)
    assert compiled == [] and result[8:] == (True, True, True)


def test_a_new_generator_s_entries_replace_the_old_one_s(cache):
    code = compile("x = 1", "<x>", "exec")
    assert kernel_cache.store(b"one", "<x>", code, generation="aaaa")
    assert kernel_cache.store(b"two", "<x>", code, generation="aaaa")
    tag = sys.implementation.cache_tag
    strangers = [
        cache / f"cpython-399-bbbb-{'0' * 40}.marshal",
        cache / "notes.txt",
        cache / f"{tag}-{'1' * 40}.marshal",
    ]
    for path in strangers:  # another Python's entry, a file of the user's, an entry without a generation
        path.write_bytes(b"kept")
    assert len(list(cache.glob(f"{tag}-aaaa-*.marshal"))) == 2
    assert kernel_cache.store(b"one", "<x>", code, generation="bbbb")
    assert [p.name.split("-")[2] for p in cache.glob(f"{tag}-*-*.marshal")] == ["bbbb"]
    assert all(p.read_bytes() == b"kept" for p in strangers)
    assert kernel_cache.load(b"one", "<x>", generation="bbbb") == code
    assert kernel_cache.load(b"two", "<x>", generation="aaaa") is None


@pytest.mark.parametrize("delay_ms", [0, 1, 5, 20, 50])
def test_writers_and_readers_racing_on_one_entry_see_it_whole_or_not_at_all(cache, delay_ms):
    # Two writers (one of them of another generator version, whose store removes the first's
    # entries) and a reader, started delay_ms apart: a load is the code or None, never an error.
    source = kernels.step_source(K, VARIANT)
    code = compile(source, "<race>", "exec")
    seen: list[object] = []
    errors: list[BaseException] = []

    def write(generation: str) -> None:
        try:
            for _ in range(10):
                kernel_cache.store(b"race", "<race>", code, generation=generation)
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(30):
                seen.append(kernel_cache.load(b"race", "<race>", generation="aaaa"))
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [
        threading.Thread(target=f, args=a) for f, a in ((write, ("aaaa",)), (read, ()), (write, ("bbbb",)))
    ]
    for thread in threads:
        thread.start()
        time.sleep(delay_ms / 1000)  # the events delay_ms apart
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert len(seen) == 30 and all(c is None or c == code for c in seen)
    # Each version's last store may have removed the other's entry (then the next run compiles).
    assert all(kernel_cache.load(b"race", "<race>", generation=g) in (None, code) for g in ("aaaa", "bbbb"))
    assert not list(cache.glob("*.tmp"))  # no temporary left behind
