"""engine.export: the history as CSV, the model and its gradients as JSON, arrays as .npz (read back
with the standard library and, when it is installed, NumPy), curves as CSV; all atomic and streamed."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import struct
import zipfile
from array import array

import pytest

from backprop_lab.engine import export
from backprop_lab.engine.export import (
    CSV_HEADER,
    Curve,
    ExportError,
    curves_csv,
    export_format,
    export_session,
    history_csv,
    model_json,
    session_npz,
    write_curves_csv,
)
from backprop_lab.engine.model import Model, model_loss_and_grads
from backprop_lab.engine.session import HISTORY_COLUMNS, History, Session
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.engine.variant import Variant

#: Values whose text is easy to get wrong: the smallest subnormal, a huge one, zero, a long one.
AWKWARD = [5e-324, 1e300, 0.0, 0.1 + 0.2, 1e-05, 123456789.0, 2.5]


def _awkward_history() -> History:
    n = len(AWKWARD)
    columns = {name: AWKWARD[i:] + AWKWARD[:i] for i, name in enumerate(HISTORY_COLUMNS)}
    return History.from_columns(columns, [1, 1, 2, 2, 2, 3, 2**40][:n])


def _trained(k: int = 3) -> Session:
    s = Session.random(k, 4)
    trainer = s.make_trainer(
        TrainingSettings(learning_rate=0.05, batch_size=4, n_samples=10, epochs=2, seed=1)
    )
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    return s


def _text(chunks) -> str:
    return b"".join(chunks).decode("utf-8")


def _bits(values) -> bytes:
    return array("d", values).tobytes()


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(("name", "ext"), [("a.csv", ".csv"), ("B.JSON", ".json"), ("dir.v2/c.Npz", ".npz")])
def test_the_extension_names_the_format_in_any_case(name, ext):
    assert export_format(name) == ext


@pytest.mark.parametrize(
    ("name", "found"), [("out.txt", "'.txt'"), ("out", "no extension"), ("a.csv.gz", "'.gz'")]
)
def test_an_unknown_extension_is_one_line_naming_the_choices(name, found):
    with pytest.raises(ExportError) as info:
        export_format(name)
    assert str(info.value) == (
        f"{name}: cannot tell what to export from {found}; name the file .csv (the history), "
        ".json (the model and its gradients) or .npz (both, as NumPy arrays)"
    )


# --------------------------------------------------------------------------- CSV


def test_the_csv_is_one_header_and_one_row_per_step_reading_back_bit_for_bit():
    h = _awkward_history()
    text = _text(history_csv(h))
    assert text.splitlines()[0] == "step,epoch,loss,loss_at_x,grad_norm_A,grad_norm_B,grad_norm_C"
    assert text.splitlines()[1] == "1,1,5e-324,1e+300,0.0,0.30000000000000004,1e-05"
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == len(h) + 1
    assert [int(r[0]) for r in rows[1:]] == list(range(1, len(h) + 1))
    assert [int(r[1]) for r in rows[1:]] == h.column("epoch").tolist()
    for j, name in enumerate(HISTORY_COLUMNS, start=2):
        assert _bits(float(r[j]) for r in rows[1:]) == h.column(name).tobytes()
    assert text.isascii() and text.endswith("\n") and "\r" not in text


def test_the_csv_is_streamed_in_chunks_that_join_into_the_same_text(monkeypatch):
    h = _trained().history  # 6 steps
    whole = _text(history_csv(h))
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 4)
    chunks = list(history_csv(h))
    assert len(chunks) == 3 and b"".join(chunks).decode() == whole  # header, 4 rows, 2 rows
    assert [c.count(b"\n") for c in chunks] == [1, 4, 2]


def test_an_empty_history_is_the_header_alone():
    assert _text(history_csv(History())) == ",".join(CSV_HEADER) + "\n"


def test_numpy_reads_the_csv():
    np = pytest.importorskip("numpy")
    h = _awkward_history()
    data = np.loadtxt(io.StringIO(_text(history_csv(h))), delimiter=",", skiprows=1)
    assert data.shape == (len(h), 7)
    assert data[:, 2].tobytes() == h.column("loss").tobytes()


def test_pandas_reads_the_csv_with_the_right_types_bit_for_bit():
    pd = pytest.importorskip("pandas")
    h = _awkward_history()
    frame = pd.read_csv(io.StringIO(_text(history_csv(h))))
    assert tuple(frame.columns) == CSV_HEADER
    assert str(frame["step"].dtype) == "int64" and frame["epoch"].tolist() == h.column("epoch").tolist()
    for name in HISTORY_COLUMNS:
        assert frame[name].to_numpy().tobytes() == h.column(name).tobytes(), name


# --------------------------------------------------------------------------- JSON


def test_the_json_holds_the_model_its_loss_and_its_gradients_exactly():
    s = _trained()
    s.name = "Runs — σ′ “quoted”"
    d = json.loads(_text(model_json(s)))
    assert list(d) == ["format", "version", "app_version", "name", "variant", "model", "loss", "gradients"]
    assert (d["format"], d["version"], d["name"]) == ("backprop-lab-export", 1, s.name)
    assert d["variant"] == {"activation": "sigmoid", "convention": "row", "target": None}
    assert d["model"] == {"K": 3, "x": s.model.x, "A": s.model.A, "B": s.model.B, "C": s.model.C}
    loss, grads = model_loss_and_grads(s.model)
    assert _bits([d["loss"]]) == _bits([loss])
    for name in "ABC":
        assert _bits(v for row in d["gradients"][name] for v in row) == _bits(
            v for row in grads[name] for v in row
        )


def test_the_json_is_in_the_models_own_variant():
    s = _trained()
    s.model = s.model.with_variant(Variant("tanh", "column", (0.5, -0.0, 2.0)))
    d = json.loads(_text(model_json(s)))
    assert d["variant"] == {"activation": "tanh", "convention": "column", "target": [0.5, -0.0, 2.0]}
    loss, grads = model_loss_and_grads(s.model)
    assert d["loss"] == loss and d["gradients"]["C"] == grads["C"]


# --------------------------------------------------------------------------- NPZ


def _read_npy(data: bytes):
    """A .npy read with the standard library: (descr, shape, values)."""
    assert data[:8] == b"\x93NUMPY\x01\x00"
    (length,) = struct.unpack("<H", data[8:10])
    assert (10 + length) % 64 == 0 and data[10 + length - 1 : 10 + length] == b"\n"
    header = ast.literal_eval(data[10 : 10 + length].decode("latin-1"))
    assert header["fortran_order"] is False
    values = array("q" if header["descr"] == "<i8" else "d")
    values.frombytes(data[10 + length :])
    return header["descr"], header["shape"], values


def _npz(s: Session) -> dict:
    with zipfile.ZipFile(io.BytesIO(b"".join(session_npz(s)))) as zf:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
        return {name.removesuffix(".npy"): _read_npy(zf.read(name)) for name in zf.namelist()}


def test_the_npz_holds_every_array_with_its_dtype_and_shape():
    s = _trained()
    arrays = _npz(s)
    names = ["L", "x", "A", "B", "C", "dA", "dB", "dC", "step", "epoch", *HISTORY_COLUMNS]
    assert list(arrays) == names
    loss, grads = model_loss_and_grads(s.model)
    n = len(s.history)
    assert arrays["L"] == ("<f8", (), array("d", [loss]))
    assert arrays["x"] == ("<f8", (3,), array("d", s.model.x))
    for name in "ABC":
        assert arrays[name] == ("<f8", (3, 3), array("d", [v for row in s.model.matrix(name) for v in row]))
        assert arrays[f"d{name}"][2].tobytes() == _bits(v for row in grads[name] for v in row)
    assert arrays["step"] == ("<i8", (n,), array("q", range(1, n + 1)))
    assert arrays["epoch"] == ("<i8", (n,), s.history.column("epoch"))
    for name in HISTORY_COLUMNS:
        assert (
            arrays[name][:2] == ("<f8", (n,))
            and arrays[name][2].tobytes() == s.history.column(name).tobytes()
        )


def test_the_npz_of_a_long_history_is_written_in_pieces(monkeypatch):
    s = Session.random(2, 0)
    s.history = _awkward_history()
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 2)
    arrays = _npz(s)
    assert arrays["step"][2].tolist() == list(range(1, 8))
    assert arrays["loss_at_x"][2].tobytes() == s.history.column("loss_at_x").tobytes()
    assert max(map(len, session_npz(s))) < 1000  # no piece holds a whole column


def test_numpy_loads_the_npz():
    np = pytest.importorskip("numpy")
    s = _trained(4)
    s.history = _awkward_history()
    with np.load(io.BytesIO(b"".join(session_npz(s))), allow_pickle=False) as z:
        assert z["A"].shape == (4, 4) and z["A"].tolist() == s.model.A
        assert z["L"].shape == () and z["step"].dtype == np.int64 and z["epoch"][-1] == 2**40
        assert z["loss"].tobytes() == s.history.column("loss").tobytes()
        assert z["dB"].tolist() == model_loss_and_grads(s.model)[1]["B"]
    empty = Session.random(2, 0)
    with np.load(io.BytesIO(b"".join(session_npz(empty)))) as z:
        assert z["loss"].shape == (0,) and z["step"].shape == (0,)


# --------------------------------------------------------------------------- the files


@pytest.mark.parametrize("ext", [".csv", ".json", ".npz"])
def test_export_session_writes_the_format_its_extension_names(tmp_path, ext):
    s = _trained()
    path = tmp_path / f"out{ext.upper()}"
    assert export_session(s, path) == ext
    expected = {".csv": history_csv(s.history), ".json": model_json(s), ".npz": session_npz(s)}[ext]
    assert path.read_bytes() == b"".join(expected)
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.reliability("export-faults")
def test_a_failed_export_keeps_the_file_that_was_there(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    path.write_bytes(b"mine")

    def failing(history):
        yield b"step,epoch\n"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "history_csv", failing)
    with pytest.raises(OSError, match=r"^cannot write .*out\.csv: No space left on device$"):
        export_session(_trained(), path)
    assert path.read_bytes() == b"mine" and os.listdir(tmp_path) == ["out.csv"]


@pytest.mark.reliability("export-faults")
def test_gradients_that_overflow_are_refused_before_any_file_is_touched(tmp_path):
    big = [[1e200, 1e200], [1e200, 1e200]]
    s = Session(model=Model([1.0, 1.0], big, big, big), initial=Model([1.0, 1.0], big, big, big))
    for ext in (".json", ".npz"):
        with pytest.raises(ExportError, match=rf"out{ext}: the gradients cannot be exported: ") as info:
            export_session(s, tmp_path / f"out{ext}")
        assert "\n" not in str(info.value)
    assert os.listdir(tmp_path) == []
    export_session(s, tmp_path / "out.csv")  # the history needs no gradient


@pytest.mark.reliability("export-faults")
def test_an_unknown_extension_writes_nothing(tmp_path):
    with pytest.raises(ExportError):
        export_session(_trained(), tmp_path / "out.xlsx")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- curves


def test_curves_sit_side_by_side_and_a_shorter_one_ends_in_empty_cells(tmp_path):
    curves = [
        Curve('lr 0.1, "fast"', "step", [1.0, 2.0, 3.0], "loss at x", [0.5, 0.25, 5e-324]),
        Curve("Run 2 — σ", "samples seen", [10, 20.5], "batch loss", [1e300, 0.1 + 0.2]),
    ]
    text = _text(curves_csv(curves))
    rows = list(csv.reader(io.StringIO(text)))
    first, second = 'lr 0.1, "fast"', "Run 2 — σ"
    assert rows[0] == [
        f"{first}: step",
        f"{first}: loss at x",
        f"{second}: samples seen",
        f"{second}: batch loss",
    ]
    assert rows[1:] == [
        ["1", "0.5", "10", "1e+300"],
        ["2", "0.25", "20.5", "0.30000000000000004"],
        ["3", "5e-324", "", ""],
    ]
    write_curves_csv(curves, tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_text(encoding="utf-8") == text


def test_curves_take_numpy_arrays_and_write_plain_numbers():
    np = pytest.importorskip("numpy")
    curve = Curve("a", "step", np.arange(1.0, 4.0), "loss", np.array([0.1, 0.2, 0.3]))
    assert _text(curves_csv([curve])).splitlines()[1:] == ["1,0.1", "2,0.2", "3,0.3"]


def test_no_curves_is_refused_before_any_file_is_touched(tmp_path):
    with pytest.raises(ValueError, match=r"^there are no curves to export: show at least one run$"):
        write_curves_csv([], tmp_path / "c.csv")
    assert os.listdir(tmp_path) == []


def test_a_curve_with_more_x_than_y_is_refused():
    with pytest.raises(ValueError, match=r"curve 'a' has 2 x values but 1 y values"):
        Curve("a", "step", [1, 2], "loss", [0.5])


# --------------------------------------------------------------------------- faults


STAGES = ("mkstemp", "open", "write", "flush", "close", "fsync", "rename")


@pytest.mark.reliability("export-faults")
@pytest.mark.parametrize("ext", [".csv", ".json", ".npz"])
@pytest.mark.parametrize("stage", STAGES)
def test_an_export_failing_at_any_stage_keeps_the_previous_file(
    tmp_path, monkeypatch, save_fault, stage, ext
):
    path = tmp_path / f"out{ext}"
    path.write_bytes(b"the user's file")
    save_fault(monkeypatch, stage, OSError(28, "No space left on device"))
    with pytest.raises(OSError) as info:
        export_session(_trained(), path)
    monkeypatch.undo()
    assert str(info.value) == f"cannot write {path}: No space left on device"
    assert path.read_bytes() == b"the user's file" and os.listdir(tmp_path) == [path.name]
    export_session(_trained(), path)  # the disk fixed, the next export works
    assert path.read_bytes() != b"the user's file"


@pytest.mark.reliability("export-faults")
@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit, MemoryError])
def test_an_export_cut_off_half_way_leaves_no_temporary_and_the_previous_file(
    tmp_path, monkeypatch, interruption
):
    path = tmp_path / "out.csv"
    path.write_bytes(b"the user's file")
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 2)
    real = export.history_csv

    def cut(history):
        chunks = real(history)
        yield next(chunks)
        yield next(chunks)
        raise interruption

    monkeypatch.setattr(export, "history_csv", cut)
    with pytest.raises(interruption):
        export_session(_trained(), path)
    assert path.read_bytes() == b"the user's file" and os.listdir(tmp_path) == [path.name]
