"""engine.atomic_folder: a folder of files written all or nothing (reports, gradebooks, sweeps)."""

from __future__ import annotations

import errno
import os

import pytest

from backprop_lab.engine import atomic_folder
from backprop_lab.engine.atomic_folder import FolderError, write_folder


def test_a_new_folder_gets_every_file_including_streamed_ones(tmp_path):
    out = write_folder(tmp_path / "new", {"a.txt": b"one", "b.csv": iter([b"x,", b"y\n"])})
    assert out == (tmp_path / "new").absolute()
    assert (out / "a.txt").read_bytes() == b"one"
    assert (out / "b.csv").read_bytes() == b"x,y\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]  # no temporary left


def test_an_existing_folder_keeps_the_users_other_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    (out / "a.txt").write_text("old")
    write_folder(out, {"a.txt": b"new"})
    assert (out / "mine.txt").read_text() == "keep me"
    assert (out / "a.txt").read_text() == "new"


def test_a_failure_half_way_changes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old a")
    real = atomic_folder._write_file

    def fails_on_b(path, content):
        if path.name == "b.txt":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, content)

    monkeypatch.setattr(atomic_folder, "_write_file", fails_on_b)
    with pytest.raises(OSError, match="No space left"):
        write_folder(out, {"a.txt": b"new a", "b.txt": b"new b"})
    assert sorted(os.listdir(out)) == ["a.txt"] and (out / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_in_the_place_of_the_folder_is_refused_in_one_line(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(FolderError, match="exists and is not a folder"):
        write_folder(tmp_path / "out", {"a.txt": b""})


@pytest.mark.parametrize("name", ["", "..", "sub/a.txt"])
def test_names_are_plain_file_names(tmp_path, name):
    with pytest.raises(ValueError, match="not a plain file name"):
        write_folder(tmp_path / "out", {name: b""})
    assert not (tmp_path / "out").exists()
