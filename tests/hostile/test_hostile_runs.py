"""Hostile runs: resuming with another image, two writers on one output, stale locks, SIGTERM
and Ctrl-C mid-run, ``--resume`` on a foreign or finished output.

Refusals are one line (API: ValueError; CLI: exit 2) and leave every file as it was; interrupted
runs stay resumable and finish byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from napari_colorize import colorize
from napari_colorize.cli import main
from napari_colorize.io.locks import LOCK_NAME
from napari_colorize.io.readers import read_metadata
from napari_colorize.models.registry import save_model

SETTINGS = {"tile_size": 64, "overlap": 16, "block_size": 96}
CLI_SETTINGS = ["--tile", "64", "--overlap", "16", "--quiet"]
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="sends POSIX signals")


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


def files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root).items() if v is not None}


@pytest.fixture
def stack(gray_image) -> np.ndarray:
    return np.stack([np.roll(gray_image[:150, :200], 7 * i, axis=1) for i in range(4)])


@pytest.fixture
def model_path(tmp_path, tiny_model) -> str:
    return str(save_model(tiny_model.net, {"name": "tiny"}, tmp_path / "m" / "tiny.safetensors"))


def interrupt_after(monkeypatch, n: int) -> None:
    """Ctrl-C after ``n`` block writes."""
    from napari_colorize.io import ngff

    original, calls = ngff.NgffImage.write, {"n": 0}

    def write(self, *args, **kw):
        calls["n"] += 1
        if calls["n"] > n:
            raise KeyboardInterrupt
        return original(self, *args, **kw)

    monkeypatch.setattr(ngff.NgffImage, "write", write)


def interrupted(stack, model, out: Path, monkeypatch, **kw) -> None:
    """An output left incomplete by Ctrl-C after 3 blocks."""
    interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        colorize(stack, model, out=out, **SETTINGS, **kw)
    monkeypatch.undo()
    assert read_metadata(out)["complete"] is False


def one_line_cli(argv: list[str], capsys, message: str, code: int = 2) -> None:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err, err
    assert "Traceback" not in err


# --- resume with another image (section 0: silent corruption) --------------------------------

OTHER_IMAGES = {
    "rolled": lambda s: np.roll(s, 5, axis=-1),
    "one plane changed": lambda s: np.concatenate([s[:3], 255 - s[3:]]),
    "planes reordered": lambda s: s[::-1].copy(),
    "inverted": lambda s: 255 - s,
    "same borders": lambda s: np.where(_border(s.shape), s, 255 - s),
}


def _border(shape: tuple[int, ...], width: int = 64) -> np.ndarray:
    """True on a band of ``width`` pixels around each plane (two slides' shared background)."""
    inner = np.zeros(shape[-2:], bool)
    inner[width:-width, width:-width] = True
    return ~inner


@pytest.mark.parametrize("change", list(OTHER_IMAGES))
def test_resume_with_another_image_is_refused(stack, tiny_model, tmp_path, monkeypatch, change):
    out = tmp_path / "out.ome.zarr"
    interrupted(stack, tiny_model, out, monkeypatch)
    before = snapshot(tmp_path)
    other = OTHER_IMAGES[change](stack)
    assert other.shape == stack.shape
    assert other.dtype == stack.dtype
    with pytest.raises(ValueError, match="it was written from a different input") as info:
        colorize(other, tiny_model, out=out, resume=True, **SETTINGS)
    assert "\n" not in str(info.value)
    assert snapshot(tmp_path) == before


def test_cli_resume_with_another_file_is_refused(stack, tiny_model, model_path, tmp_path,
                                                 monkeypatch, capsys):
    out = tmp_path / "out.ome.zarr"
    interrupted(stack, model_path, out, monkeypatch)
    tifffile.imwrite(tmp_path / "b.tif", np.roll(stack, 1, axis=-2), photometric="minisblack")
    before = snapshot(tmp_path)
    one_line_cli(["colorize", str(tmp_path / "b.tif"), str(out), "--model", model_path,
                  "--resume", "--tile", "64", "--overlap", "16", "--quiet"], capsys,
                 "written from a different input")
    assert snapshot(tmp_path) == before


def test_resume_from_the_same_pixels_in_a_file_is_accepted(stack, model_path, tmp_path,
                                                           monkeypatch):
    # numpy first, then the same pixels read back from a TIFF: same fingerprint, same bytes
    (tmp_path / "ref").mkdir()
    reference = tmp_path / "ref" / "out.ome.zarr"
    colorize(stack, model_path, out=reference, **SETTINGS)
    out = tmp_path / "out.ome.zarr"
    interrupted(stack, model_path, out, monkeypatch)
    tifffile.imwrite(tmp_path / "a.tif", stack, tile=(64, 64), compression="zlib",
                     photometric="minisblack")
    colorize(str(tmp_path / "a.tif"), model_path, out=out, resume=True, **SETTINGS)
    assert files(out) == files(reference)


def test_resume_of_a_finished_output_with_another_image_is_refused(stack, tiny_model, tmp_path):
    out = tmp_path / "out.ome.zarr"
    colorize(stack, tiny_model, out=out, **SETTINGS)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="different input"):
        colorize(stack[::-1].copy(), tiny_model, out=out, resume=True, **SETTINGS)
    assert snapshot(tmp_path) == before


# --- --resume on foreign and finished outputs ------------------------------------------------

def _foreign(kind: str, out: Path) -> None:
    if kind == "zarr array":
        zarr.create_array(out, shape=(4, 150, 200), dtype="uint8")[...] = 7
    elif kind == "other OME-Zarr":
        root = zarr.open_group(out, mode="w")
        root.create_array("0", shape=(3, 4, 150, 200), dtype="uint8")
        root.attrs["ome"] = {"version": "0.5", "multiscales": [{"datasets": [{"path": "0"}]}]}
    elif kind == "plain folder":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    elif kind == "garbled napari_colorize attrs":
        root = zarr.open_group(out, mode="w")
        root.attrs["napari_colorize"] = "complete"


@pytest.mark.parametrize("kind", ["zarr array", "other OME-Zarr", "plain folder",
                                  "garbled napari_colorize attrs"])
def test_cli_resume_on_a_foreign_store_is_refused(stack, model_path, tmp_path, capsys, kind):
    tifffile.imwrite(tmp_path / "a.tif", stack, photometric="minisblack")
    out = tmp_path / "out.ome.zarr"
    _foreign(kind, out)
    before = snapshot(tmp_path)
    one_line_cli(["colorize", str(tmp_path / "a.tif"), str(out), "--model", model_path,
                  "--resume", *CLI_SETTINGS], capsys, "cannot resume")
    assert snapshot(tmp_path) == before


def test_cli_resume_of_a_finished_output_returns_at_once(stack, model_path, tmp_path,
                                                         monkeypatch, capsys):
    from napari_colorize.core import engine

    tifffile.imwrite(tmp_path / "a.tif", stack, photometric="minisblack")
    out = tmp_path / "out.ome.zarr"
    args = ["colorize", str(tmp_path / "a.tif"), str(out), "--model", model_path,
            "--confidence", str(tmp_path / "out.confidence.ome.zarr"), *CLI_SETTINGS]
    assert main(args) == 0
    before = snapshot(tmp_path)

    def no_work(*a, **kw):
        raise AssertionError("a finished output was computed again")

    monkeypatch.setattr(engine, "BlockRunner", no_work)
    assert main([*args, "--resume"]) == 0
    assert snapshot(tmp_path) == before
    assert not (out / LOCK_NAME).exists()


# --- locks: two writers, stale locks ----------------------------------------------------------

def _write_lock(out: Path, **info) -> None:
    (out / LOCK_NAME).write_text(json.dumps(info))


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


STALE = {
    "dead process": lambda: {"pid": _dead_pid(), "host": socket.gethostname(), "started": 1.0},
    "pid reused": lambda: {"pid": os.getpid(), "host": socket.gethostname(), "started": 12.0},
    "half-written": None,
}


@pytest.mark.parametrize("kind", list(STALE))
def test_stale_lock_is_taken_over(stack, tiny_model, tmp_path, monkeypatch, kind):
    (tmp_path / "ref").mkdir()
    reference = tmp_path / "ref" / "out.ome.zarr"
    colorize(stack, tiny_model, out=reference, **SETTINGS)
    out = tmp_path / "out.ome.zarr"
    interrupted(stack, tiny_model, out, monkeypatch)
    if STALE[kind] is None:
        (out / LOCK_NAME).write_bytes(b'{"pid": 1')
    else:
        _write_lock(out, **STALE[kind]())
    colorize(stack, tiny_model, out=out, resume=True, **SETTINGS)
    assert not (out / LOCK_NAME).exists()
    assert files(out) == files(reference)


def test_lock_of_another_host_is_refused_and_named(stack, tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "out.ome.zarr"
    interrupted(stack, tiny_model, out, monkeypatch)
    _write_lock(out, pid=1, host="node-17.cluster", started=1.0)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"being written by another run \(process 1 on "
                                         r"node-17.cluster.*delete .*\.napari_colorize\.lock"):
        colorize(stack, tiny_model, out=out, resume=True, **SETTINGS)
    assert snapshot(tmp_path) == before


@pytest.fixture(scope="module")
def running(tmp_path_factory, request):
    """A child process part-way through writing an OME-Zarr (paused, holding its lock)."""
    import torch

    from napari_colorize.models.network import ChromaNet

    base = tmp_path_factory.mktemp("locked")
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 255, (4, 150, 200), dtype=np.uint8)
    tifffile.imwrite(base / "a.tif", stack, photometric="minisblack")
    torch.manual_seed(0)
    model = str(save_model(ChromaNet((8, 8, 8, 8)), {"name": "tiny"}, base / "m" / "t.safetensors"))
    out = base / "out.ome.zarr"
    child = textwrap.dedent(f"""
        import sys, time
        from napari_colorize import iter_colorize
        gen = iter_colorize({str(base / "a.tif")!r}, {model!r}, out={str(out)!r},
                            tile_size=64, overlap=16, block_size=96)
        next(gen)
        print("running", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        yield base, out, model, proc
    finally:
        proc.kill()
        proc.wait()


ATTEMPTS = {
    "API overwrite": lambda a, o, m: colorize(a, m, out=o, overwrite=True, **SETTINGS),
    "API resume": lambda a, o, m: colorize(a, m, out=o, resume=True, **SETTINGS),
    "CLI": lambda a, o, m: _cli(a, o, m),
    "CLI --overwrite": lambda a, o, m: _cli(a, o, m, "--overwrite"),
    "CLI --resume": lambda a, o, m: _cli(a, o, m, "--resume"),
}


def _cli(a: Path, o: Path, m: str, *extra: str) -> None:
    if main(["colorize", str(a), str(o), "--model", m, *CLI_SETTINGS, *extra]) == 2:
        raise ValueError("exit 2")


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
def test_second_writer_is_refused_while_the_first_runs(running, attempt, capsys):
    base, out, model, proc = running
    assert proc.poll() is None
    lock = json.loads((out / LOCK_NAME).read_text())
    assert lock["pid"] == proc.pid
    before = snapshot(base)
    with pytest.raises(ValueError, match=r"exit 2|being written") as info:
        ATTEMPTS[attempt](base / "a.tif", out, model)
    text = capsys.readouterr().err if attempt.startswith("CLI") else str(info.value)
    assert f"being written by another run (process {proc.pid}" in text
    assert text.strip().count("\n") == 0
    assert snapshot(base) == before


def test_lock_of_a_killed_run_is_stale_and_resume_finishes(tmp_path, stack, model_path):
    np.save(tmp_path / "stack.npy", stack)
    (tmp_path / "ref").mkdir()
    reference = tmp_path / "ref" / "out.ome.zarr"
    colorize(stack, model_path, out=reference, **SETTINGS)
    out = tmp_path / "out.ome.zarr"
    child = textwrap.dedent(f"""
        import numpy as np, time
        from napari_colorize import iter_colorize
        gen = iter_colorize(np.load({str(tmp_path / "stack.npy")!r}), {model_path!r},
                            out={str(out)!r}, **{SETTINGS!r})
        for i, event in enumerate(gen):
            if i == 5:
                print("running", flush=True)
                time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "running"
    with pytest.raises(ValueError, match="being written by another run"):
        colorize(stack, model_path, out=out, resume=True, **SETTINGS)
    proc.kill()  # SIGKILL: the lock stays behind
    proc.wait()
    assert (out / LOCK_NAME).exists()
    colorize(stack, model_path, out=out, resume=True, **SETTINGS)
    assert files(out) == files(reference)


# --- SIGTERM and Ctrl-C mid-run ---------------------------------------------------------------

@POSIX_ONLY
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_mid_run_leaves_a_resumable_output(tmp_path, stack, model_path, capsys, sig,
                                                  code):
    tifffile.imwrite(tmp_path / "a.tif", stack, photometric="minisblack")
    (tmp_path / "ref").mkdir()
    reference = tmp_path / "ref" / "out.ome.zarr"
    args = [str(tmp_path / "a.tif"), "--model", model_path, *CLI_SETTINGS]
    assert main(["colorize", args[0], str(reference), *args[1:]]) == 0
    out = tmp_path / "out.ome.zarr"
    child = textwrap.dedent(f"""
        import sys, time
        from napari_colorize.cli import main
        from napari_colorize.io import ngff
        done = ngff.OmeZarrMerger.mark_done
        marked = []
        def mark_done(self, key):
            done(self, key)
            marked.append(key)
            print(key, flush=True)
            # the signal lands mid-run, however fast the rest would be or slow the parent is
            time.sleep(0.2 if len(marked) < 2 else 60)
        ngff.OmeZarrMerger.mark_done = mark_done
        sys.exit(main(["colorize", {args[0]!r}, {str(out)!r}, *{args[1:]!r}]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for n, _ in enumerate(proc.stdout):
        if n == 1:  # two blocks recorded
            proc.send_signal(sig)
            break
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == code, err
    assert "partial result kept in" in err
    assert "--resume" in err
    assert "Traceback" not in err
    assert read_metadata(out)["complete"] is False
    assert not (out / LOCK_NAME).exists()  # released on the way out
    assert main(["colorize", args[0], str(out), *args[1:], "--resume"]) == 0
    assert files(out) == files(reference)


def test_side_stores_are_locked_while_a_run_writes_them(tmp_path):
    from napari_colorize.io.ngff import OmeZarrMerger

    out = tmp_path / "r.ome.zarr"
    first = OmeZarrMerger(out, (64, 64), confidence=True)
    side = tmp_path / "r.confidence.ome.zarr"
    assert (side / ".napari_colorize.lock").is_file()  # taken before the store's metadata
    with pytest.raises(ValueError, match="being written by another run"):
        OmeZarrMerger(tmp_path / "other.ome.zarr", (64, 64), confidence=True,
                      confidence_to=side, overwrite=True)
    assert (side / "zarr.json").is_file()
    assert not (tmp_path / "other.ome.zarr").exists()
    first.discard()
    assert not out.exists()
    assert not side.exists()
