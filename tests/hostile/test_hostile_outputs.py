"""Hostile outputs: where a result may not go, what it may not replace, what may not hold it.

Each case asserts one clear line (API: ValueError/TypeError; CLI: exit 2, one line on stderr, no
traceback), that nothing new was written and that the input is byte-unchanged (every file under
the test folder is compared before and after).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import zarr

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.models.registry import save_model

FAST = {"tile_size": 64, "overlap": 16}
CLI_FAST = ["--tile", "64", "--overlap", "16", "--quiet"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``root``, with the bytes of files."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


@pytest.fixture
def gray(gray_image) -> np.ndarray:
    return np.ascontiguousarray(gray_image[:96, :128])


@pytest.fixture
def work(tmp_path, tiny_model) -> Path:
    """A folder holding the test's files; the model is saved outside it."""
    save_model(tiny_model.net, {"name": "tiny"}, tmp_path / "model" / "tiny.safetensors")
    (tmp_path / "w").mkdir()
    return tmp_path / "w"


@pytest.fixture
def model_path(work) -> str:
    return str(work.parent / "model" / "tiny.safetensors")


def refused_cli(argv: list[str], capsys, message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err, err
    assert "Traceback" not in err


def write_input(work: Path, kind: str, gray: np.ndarray) -> Path:
    if kind == "zarr":
        path = work / "in.zarr"
        arr = zarr.create_array(path, shape=gray.shape, chunks=(32, 32), dtype=gray.dtype)
        arr[...] = gray
    elif kind == "ome.zarr":
        path = work / "in.ome.zarr"
        root = zarr.open_group(path, mode="w", zarr_format=3)
        arr = root.create_array("0", shape=gray.shape, chunks=(32, 32), dtype=gray.dtype)
        arr[...] = gray
        root.attrs["ome"] = {"version": "0.5", "multiscales": [{
            "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
            "datasets": [{"path": "0", "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 1.0]}]}]}]}
    elif kind == "tif":
        path = work / "in.tif"
        tifffile.imwrite(path, gray)
    else:
        path = work / "in.png"
        iio.imwrite(path, gray)
    return path


# --- OUT equal to IN, however spelled (section 0: data loss) --------------------------------

SPELLINGS = {
    "same": lambda p, work: str(p),
    "relative": lambda p, work: os.path.relpath(p, work),
    "dot-slash": lambda p, work: "./" + os.path.relpath(p, work),
    "absolute-dotdot": lambda p, work: str(work / ".." / work.name / p.name),
    "symlink": lambda p, work: _link(p, work),
    "trailing-slash": lambda p, work: str(p) + "/",
}


def _link(path: Path, work: Path) -> str:
    link = work / ("alias" + "".join(path.suffixes))
    link.symlink_to(path)
    return str(link)


CASES = [(kind, spelling) for kind in ("zarr", "tif") for spelling in SPELLINGS
         if not (kind == "tif" and spelling == "trailing-slash")] + [("png", "same"),
                                                                    ("png", "relative")]


@pytest.mark.parametrize(("kind", "spelling"), CASES, ids=[f"{k}-{s}" for k, s in CASES])
def test_cli_output_equal_to_input_is_refused(work, gray, model_path, capsys, monkeypatch,
                                              kind, spelling):
    src = write_input(work, kind, gray)
    monkeypatch.chdir(work)
    out = SPELLINGS[spelling](src, work)
    before = snapshot(work)
    refused_cli(["colorize", str(src), out, "--model", model_path, "--overwrite", *CLI_FAST],
                capsys, "is the input")
    assert snapshot(work) == before


@pytest.mark.parametrize(("inside", "message"), [("in", "contains the input"),
                                                 ("out", "is inside the input")],
                         ids=["IN inside OUT", "OUT inside IN"])
def test_cli_nested_input_and_output_are_refused(work, gray, model_path, capsys, inside,
                                                 message):
    store = write_input(work, "ome.zarr", gray)
    src, out = (store / "0", store) if inside == "in" else (store, store / "x.ome.zarr")
    before = snapshot(work)
    refused_cli(["colorize", str(src), str(out), "--model", model_path, "--overwrite",
                 *CLI_FAST], capsys, message)
    assert snapshot(work) == before


def _api_input(kind: str, work: Path, gray: np.ndarray):
    """(image to pass, output path) pairs that resolve to the same place."""
    if kind == "path":
        path = write_input(work, "zarr", gray)
        return str(path), path
    if kind == "relative path":
        path = write_input(work, "zarr", gray)
        return Path(os.path.relpath(path)), str(path) + "/"
    if kind == "zarr array":
        path = write_input(work, "zarr", gray)
        return zarr.open_array(path, mode="r"), path
    if kind == "ome-zarr level":
        path = write_input(work, "ome.zarr", gray)
        return zarr.open_group(path, mode="r")["0"], path
    if kind == "dask over zarr":
        import dask.array as da

        path = write_input(work, "zarr", gray)
        return da.from_zarr(str(path)), path
    if kind == "memmap inside out":
        folder = work / "d.zarr"
        folder.mkdir()
        tifffile.imwrite(folder / "in.tif", gray)
        return tifffile.memmap(folder / "in.tif", mode="r"), folder
    if kind == "memmap view":
        folder = work / "d.zarr"
        folder.mkdir()
        np.save(folder / "in.npy", gray)
        return np.asarray(np.load(folder / "in.npy", mmap_mode="r")[::1]), folder
    raise AssertionError(kind)


API_KINDS = ["path", "relative path", "zarr array", "ome-zarr level", "dask over zarr",
             "memmap inside out", "memmap view"]


@pytest.mark.parametrize("kind", API_KINDS)
def test_api_output_equal_to_input_is_refused(work, gray, tiny_model, monkeypatch, kind):
    monkeypatch.chdir(work)
    image, out = _api_input(kind, work, gray)
    before = snapshot(work)
    with pytest.raises(ValueError, match=r"(is|contains) the input") as info:
        colorize(image, tiny_model, out=out, overwrite=True, **FAST)
    assert "\n" not in str(info.value)
    assert snapshot(work) == before


# --- confidence clashes -----------------------------------------------------------------------

CONF_CASES = {
    # name: (input kind, OUT, --confidence, expected message)
    "confidence is IN": ("tif", "out.ome.zarr", "in.tif", "--confidence"),
    "confidence is OUT (tif)": ("tif", "out.tif", "out.tif", "is the output"),
    "confidence is OUT (zarr)": ("tif", "out.ome.zarr", "out.ome.zarr", "is the output"),
    "confidence inside OUT": ("tif", "out.ome.zarr", "out.ome.zarr/c.tif", "is inside the output"),
    "IN is the confidence store beside OUT": ("zarr-beside", "x.ome.zarr", "c.tif",
                                              "is the input"),
}


@pytest.mark.parametrize("case", list(CONF_CASES))
def test_cli_confidence_clash_is_refused(work, gray, model_path, capsys, case):
    kind, out, conf, message = CONF_CASES[case]
    if kind == "zarr-beside":
        src = work / "x.confidence.ome.zarr"
        zarr.create_array(src, shape=gray.shape, dtype=gray.dtype)[...] = gray
    else:
        src = write_input(work, kind, gray)
    if (work / out).suffix == ".tif" and out != "in.tif":
        (work / out).write_bytes(b"keep")  # taken: would be replaced with --overwrite
    before = snapshot(work)
    refused_cli(["colorize", str(src), str(work / out), "--model", model_path, "--confidence",
                 str(work / conf), "--overwrite", *CLI_FAST], capsys, message)
    assert snapshot(work) == before


# --- what --overwrite may replace -------------------------------------------------------------

REPLACE_CASES = {
    # OUT name: (what is there, expected message)
    "out.png": ("folder", "never replaces a folder"),
    "out.tif": ("folder", "never replaces a folder"),
    "out.ome.zarr": ("folder", "not a zarr store"),
    "out.zarr": ("file", "is a file, not a zarr store"),
}


@pytest.mark.parametrize("name", list(REPLACE_CASES))
def test_overwrite_never_replaces_another_kind(work, gray, model_path, capsys, name):
    src = write_input(work, "tif", gray)
    what, message = REPLACE_CASES[name]
    target = work / name
    if what == "folder":  # a folder tree of someone's data that happens to share the name
        (target / "sub").mkdir(parents=True)
        (target / "sub" / "notes.txt").write_text("precious")
    else:
        target.write_bytes(b"precious")
    before = snapshot(work)
    refused_cli(["colorize", str(src), str(target), "--model", model_path, "--overwrite",
                 *CLI_FAST], capsys, message)
    assert snapshot(work) == before


def test_overwrite_replaces_a_zarr_store_with_a_zarr_store(work, gray, model_path):
    src = write_input(work, "tif", gray)
    target = work / "out.ome.zarr"
    zarr.create_array(target, shape=(4, 4), dtype="uint8")
    assert main(["colorize", str(src), str(target), "--model", model_path, "--overwrite",
                 *CLI_FAST]) == 0
    assert zarr.open_group(target, mode="r")["0"].shape == (3, *gray.shape)


# --- where an output cannot go ----------------------------------------------------------------

PLACES = {
    "missing folder": (lambda w: w / "nowhere" / "o.tif", "does not exist"),
    "folder is a file": (lambda w: _file(w / "notes.txt") / "o.tif", "is not a folder"),
    "suffix .jpg": (lambda w: w / "o.jpg", "must end in one of"),
    "suffix .npy": (lambda w: w / "o.npy", "must end in one of"),
    "no suffix": (lambda w: w / "o", "must end in one of"),
    "suffix .zarr.txt": (lambda w: w / "o.zarr.txt", "must end in one of"),
}


def _file(path: Path) -> Path:
    path.write_text("a regular file")
    return path


@pytest.mark.parametrize("place", list(PLACES))
def test_cli_output_place_is_refused(work, gray, model_path, capsys, place):
    src = write_input(work, "tif", gray)
    where, message = PLACES[place]
    out = where(work)
    before = snapshot(work)
    refused_cli(["colorize", str(src), str(out), "--model", model_path, *CLI_FAST],
                capsys, message)
    assert snapshot(work) == before


@pytest.mark.parametrize("suffix", [".tif", ".ome.zarr"])
def test_read_only_folder_is_refused(work, gray, model_path, capsys, monkeypatch, suffix):
    # The tests run as root, for whom chmod 555 does not stop writes: os.access reports what
    # an ordinary user would be told, so it is faked here for the output folder alone.
    src = write_input(work, "tif", gray)
    locked = work / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if Path(p) == locked and mode & os.W_OK else real(p, mode, **kw)))
    before = snapshot(work)
    refused_cli(["colorize", str(src), str(locked / f"o{suffix}"), "--model", model_path,
                 *CLI_FAST], capsys, "is not writable")
    assert snapshot(work) == before


# --- out= arrays that cannot hold the result --------------------------------------------------

def _out_array(kind: str, work: Path, shape: tuple[int, ...]):
    full = (*shape, 3)
    if kind == "read-only numpy":
        arr = np.zeros(full, np.uint8)
        arr.flags.writeable = False
        return arr
    if kind == "read-only zarr":
        zarr.create_array(work / "o.zarr", shape=full, dtype="uint8")
        return zarr.open_array(work / "o.zarr", mode="r")
    if kind == "wrong dtype":
        return np.zeros(full, np.float32)
    if kind == "wrong shape":
        return np.zeros((*shape, 4), np.uint8)
    if kind == "channel-first":
        return np.zeros((3, *shape), np.uint8)
    if kind == "dask":
        import dask.array as da

        return da.zeros(full, dtype=np.uint8)
    if kind == "a list":
        return [[0, 0, 0]]
    raise AssertionError(kind)


OUT_KINDS = {"read-only numpy": (ValueError, "read-only"), "read-only zarr": (ValueError,
             "read-only"), "wrong dtype": (ValueError, "must be uint8"),
             "wrong shape": (ValueError, "image.shape + (3,)"),
             "channel-first": (ValueError, "image.shape + (3,)"),
             "dask": (ValueError, "cannot be written into"), "a list": (TypeError, "got list")}


@pytest.mark.parametrize("kind", list(OUT_KINDS))
def test_unusable_out_array_is_refused(work, gray, tiny_model, kind):
    out = _out_array(kind, work, gray.shape)
    before = snapshot(work)
    error, message = OUT_KINDS[kind]
    with pytest.raises(error, match=re.escape(message)) as info:
        colorize(gray, tiny_model, out=out, **FAST)
    assert "\n" not in str(info.value)
    assert snapshot(work) == before


def test_read_only_memmap_out_is_refused_not_a_crash(work, gray, saved_tiny_path):
    # Writing into a read-only memory map kills the process (SIGSEGV): run it in a child.
    np.save(work / "in.npy", gray)
    np.lib.format.open_memmap(work / "o.npy", mode="w+", dtype=np.uint8,
                              shape=(*gray.shape, 3)).flush()
    before = snapshot(work)
    child = textwrap.dedent(f"""
        import numpy as np
        from napari_colorize import colorize
        out = np.load({str(work / "o.npy")!r}, mmap_mode="r")
        try:
            colorize(np.load({str(work / "in.npy")!r}), {saved_tiny_path!r}, out=out,
                     tile_size=64, overlap=16)
        except ValueError as exc:
            print("refused:", exc)
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: out (memmap) is read-only" in done.stdout
    assert snapshot(work) == before


@pytest.fixture
def saved_tiny_path(work) -> str:
    return str(work.parent / "model" / "tiny.safetensors")


# --- memory bombs: in-memory results that cannot fit ------------------------------------------

HUGE = (400_000, 400_000)  # 480 GB of RGB: declared, never allocated


@pytest.mark.parametrize("options", [{}, {"confidence": True}], ids=["rgb", "rgb+confidence"])
def test_huge_in_memory_result_is_refused_before_any_work(tiny_model, monkeypatch, options):
    import dask.array as da

    from napari_colorize.core import prepare

    monkeypatch.setattr(prepare, "make_plan", _never)
    image = da.zeros(HUGE, dtype=np.uint8, chunks=4096)
    with pytest.raises(ValueError, match=r"needs .* of memory but .* is available; write it "
                                         r"to OME-Zarr") as info:
        colorize(image, tiny_model, **FAST, **options)
    assert "\n" not in str(info.value)
    if options:
        assert "RGB + confidence" in str(info.value)


def _never(*args, **kwargs):
    raise AssertionError("the run was planned before the memory check")


def test_side_maps_of_an_out_array_count(gray, tiny_model, monkeypatch):
    import psutil

    class Tight:
        available = gray.size * 3  # the RGB lives in `out`; the confidence does not fit

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tight)
    out = np.zeros((*gray.shape, 3), np.uint8)
    with pytest.raises(ValueError, match="confidence of shape"):
        colorize(gray, tiny_model, out=out, confidence=True, **FAST)
    assert not out.any()


@pytest.mark.parametrize("suffix", [".tif", ".png", ".ome.tif"])
def test_cli_huge_file_output_is_refused(work, model_path, capsys, suffix):
    src = work / "huge.zarr"  # a sparse store: declared 200k x 200k, one chunk written
    huge = zarr.create_array(src, shape=(200_000, 200_000), chunks=(4096, 4096), dtype="uint8")
    huge[-1, -1] = 1  # the last chunk is there: a complete-looking store of fill values
    before = snapshot(work)
    refused_cli(["colorize", str(src), str(work / f"o{suffix}"), "--model", model_path,
                 *CLI_FAST], capsys, "write it to OME-Zarr")
    assert snapshot(work) == before


# --- pyramidal OME-TIFF results ---------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1100, 700), (2, 600, 530)], ids=["2-D", "stack"])
def test_ome_tiff_result_is_a_pyramid(work, model_path, shape):
    rng = np.random.default_rng(3)
    src = work / "in.tif"
    tifffile.imwrite(src, rng.integers(0, 255, shape, dtype=np.uint8))
    out = work / "out.ome.tif"
    assert main(["colorize", str(src), str(out), "--model", model_path, "--tile", "256",
                 "--overlap", "32", "--quiet"]) == 0
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome
        series = tif.series[0]
        levels = [level.shape for level in series.levels]
        first = series.levels[0].asarray()
        page = tif.pages[0]
        assert page.tilewidth == page.tilelength == 256
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        half = series.levels[1].asarray()
    assert levels[0] == (*shape, 3)
    assert levels[1] == (*shape[:-2], (shape[-2] + 1) // 2, (shape[-1] + 1) // 2, 3)
    assert len(levels) >= 2
    assert max(levels[-1][-3:-1]) <= 512
    assert not list(work.glob("*.part"))
    # level 1 is the 2x mean of level 0
    f = first.astype(np.float32)[..., : 2 * (shape[-2] // 2), : 2 * (shape[-1] // 2), :]
    mean = (f[..., ::2, ::2, :] + f[..., 1::2, ::2, :] + f[..., ::2, 1::2, :]
            + f[..., 1::2, 1::2, :]) / 4
    h, w = mean.shape[-3:-1]
    assert np.abs(half[..., :h, :w, :].astype(np.float32) - mean).max() <= 0.5
