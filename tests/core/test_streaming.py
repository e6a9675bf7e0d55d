"""Big stacks: blocks, resume after a crash, dask.distributed, and their bad inputs."""

import errno
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_colorize import colorize
from napari_colorize.io.readers import read_image, read_metadata
from napari_colorize.models.registry import save_model

SETTINGS = {"tile_size": 64, "overlap": 16, "block_size": 96}


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its bytes."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture
def stack(gray_image) -> np.ndarray:
    planes = [np.roll(gray_image[:150, :200], 7 * i, axis=1) for i in range(5)]
    return np.stack(planes)


@pytest.fixture
def saved_tiny(tiny_model, tmp_path) -> Path:
    card = {"name": "tiny", "version": "1", "architecture": {"class": "ChromaNet",
                                                            "widths": [8, 8, 8, 8]}}
    save_model(tiny_model.net, card, tmp_path / "tiny.safetensors")
    return tmp_path / "tiny.safetensors"


def test_blocks_give_the_same_bytes_as_whole_planes(tiny_model, gray_image):
    result = colorize(gray_image, tiny_model, tile_size=64, overlap=16,
                                     confidence=True)
    whole_rgb, whole_conf = result.rgb, result.confidence
    result = colorize(gray_image, tiny_model, confidence=True, **SETTINGS)
    rgb, conf = result.rgb, result.confidence
    np.testing.assert_array_equal(rgb, whole_rgb)
    np.testing.assert_array_equal(conf, whole_conf)


def test_static_stack_is_identical_plane_to_plane(tiny_model, gray_image):
    rgb = colorize(np.stack([gray_image] * 3), tiny_model, **SETTINGS).rgb
    np.testing.assert_array_equal(rgb[0], rgb[1])
    np.testing.assert_array_equal(rgb[1], rgb[2])


def test_resume_after_kill_is_byte_identical(stack, saved_tiny, tmp_path):
    np.save(tmp_path / "stack.npy", stack)
    (tmp_path / "ref").mkdir()
    (tmp_path / "run").mkdir()
    reference = tmp_path / "ref" / "out.ome.zarr"
    colorize(stack, saved_tiny, out=reference, confidence=True, **SETTINGS)
    target = tmp_path / "run" / "out.ome.zarr"
    child = textwrap.dedent(f"""
        import numpy as np, sys
        from napari_colorize import iter_colorize
        gen = iter_colorize(np.load({str(tmp_path / "stack.npy")!r}), {str(saved_tiny)!r},
                            out={str(target)!r}, confidence=True, **{SETTINGS!r})
        for event in gen:
            print(event.done, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    stop_at = int(np.random.default_rng(7).integers(20, 80))  # a random tile, fixed seed
    for line in proc.stdout:
        if int(line) >= stop_at:
            proc.kill()  # SIGKILL: no cleanup runs
            break
    proc.wait()
    assert read_metadata(target)["complete"] is False
    with pytest.warns(UserWarning, match="incomplete"):
        read_image(target)
    with pytest.raises(ValueError, match=r"incomplete.*resume"):
        colorize(stack, saved_tiny, out=target, **SETTINGS)
    colorize(stack, saved_tiny, out=target, confidence=True, resume=True, **SETTINGS)
    assert files(target) == files(reference)
    conf = Path(str(target).replace("out.ome", "out.confidence.ome"))
    assert files(conf) == files(Path(str(reference).replace("out.ome", "out.confidence.ome")))


@pytest.mark.parametrize("changed", [{"overlap": 8}, {"confidence": True}],
                         ids=["overlap", "confidence added"])
def test_resume_refuses_other_settings(stack, tiny_model, tmp_path, monkeypatch, changed):
    out = tmp_path / "out.ome.zarr"
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        colorize(stack, tiny_model, out=out, **SETTINGS)
    monkeypatch.undo()
    # e.g. the finished blocks have no confidence: adding it now would leave them empty
    with pytest.raises(ValueError, match=f"other settings.{next(iter(changed))} \\("):
        colorize(stack, tiny_model, out=out, resume=True, **{**SETTINGS, **changed})
    assert not Path(str(out).replace("out.ome", "out.confidence.ome")).exists()


def test_resume_refuses_other_arithmetic(stack, tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "out.ome.zarr"
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        colorize(stack, tiny_model, out=out, **{**SETTINGS, "precision": "fp32"})
    monkeypatch.undo()
    # bf16 blocks after fp32 ones would match no straight run
    with pytest.raises(ValueError, match=r"other settings\.precision \(\"fp32\", now \"bf16\"\)"):
        colorize(stack, tiny_model, out=out, resume=True, **{**SETTINGS, "precision": "bf16"})
    # a store written before the precision was recorded still resumes
    group = zarr.open_group(out, mode="r+")
    block = dict(group.attrs["napari_colorize"])
    block["settings"] = {k: v for k, v in block["settings"].items() if k != "precision"}
    group.attrs["napari_colorize"] = block
    colorize(stack, tiny_model, out=out, resume=True, **{**SETTINGS, "precision": "fp32"})


def test_refused_side_store_leaves_nothing_new(stack, tiny_model, tmp_path):
    other = tmp_path / "other.ome.zarr"
    colorize(stack, tiny_model, out=other, confidence=True, **SETTINGS)
    out = tmp_path / "out.ome.zarr"  # a confidence store of another run where ours would go
    Path(str(other).replace("other.ome", "other.confidence.ome")).rename(
        Path(str(out).replace("out.ome", "out.confidence.ome")))
    with pytest.raises(ValueError, match="cannot resume"):
        colorize(stack[:, :100], tiny_model, out=out, confidence=True, resume=True, **SETTINGS)
    assert not out.exists()


def test_resume_of_a_finished_run_computes_nothing(stack, tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "out.ome.zarr"
    first = colorize(stack, tiny_model, out=out, confidence=True, **SETTINGS).rgb
    before = files(out)
    _interrupt_after(monkeypatch, 0)  # any block written would raise
    again = colorize(stack, tiny_model, out=out, confidence=True, resume=True, **SETTINGS).rgb
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert files(out) == before


def _interrupt_after(monkeypatch, n: int, exc: BaseException | None = None) -> None:
    from napari_colorize.io import ngff

    original = ngff.NgffImage.write
    calls = {"n": 0}

    def write(self, *args, **kw):
        calls["n"] += 1
        if calls["n"] > n:
            raise exc or KeyboardInterrupt()
        return original(self, *args, **kw)

    monkeypatch.setattr(ngff.NgffImage, "write", write)


def test_full_disk_keeps_a_resumable_output(stack, tiny_model, tmp_path, monkeypatch):
    (tmp_path / "ref").mkdir()
    reference = tmp_path / "ref" / "out.ome.zarr"
    colorize(stack, tiny_model, out=reference, **SETTINGS)
    out = tmp_path / "out.ome.zarr"
    _interrupt_after(monkeypatch, 4, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OSError, match="No space"):
        colorize(stack, tiny_model, out=out, **SETTINGS)
    monkeypatch.undo()
    assert read_metadata(out)["complete"] is False
    colorize(stack, tiny_model, out=out, resume=True, **SETTINGS)
    assert files(out) == files(reference)


def test_cancel_without_resume_discards(stack, tiny_model, tmp_path):
    from napari_colorize import iter_colorize

    out = tmp_path / "out.ome.zarr"
    gen = iter_colorize(stack, tiny_model, out=out, **SETTINGS)
    next(gen)
    gen.close()
    assert not out.exists()


def test_distributed_equals_local(stack, saved_tiny, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = colorize(stack, saved_tiny, **SETTINGS).rgb
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = colorize(stack, saved_tiny, scheduler=client, **SETTINGS).rgb
        np.testing.assert_array_equal(got, local)
        out = tmp_path / "d.ome.zarr"
        colorize(stack, saved_tiny, scheduler=client, out=out, **SETTINGS)
        np.testing.assert_array_equal(np.moveaxis(np.asarray(zarr.open_group(out)["0"]), 0, -1),
                                      local)


def test_unreachable_scheduler_fails_fast_and_writes_nothing(gray_image, tiny_model, tmp_path):
    out = tmp_path / "x.ome.zarr"
    start = time.monotonic()
    with pytest.raises(ValueError, match="did not answer"):
        colorize(gray_image, tiny_model, out=out, scheduler="tcp://127.0.0.1:9")
    assert time.monotonic() - start < 12
    assert not out.exists()


def _server(reply: bytes | None):
    """A local TCP server that accepts and then answers ``reply`` (or nothing, ever)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if reply is not None:
                conn.recv(65536)
                conn.sendall(reply)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


@pytest.mark.parametrize("reply", [None, b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"])
def test_a_port_that_is_not_a_scheduler_fails_fast(gray_image, tiny_model, tmp_path,
                                                   monkeypatch, reply):
    # a port that accepts but never answers, or answers HTTP (a dashboard's, a web server's)
    from napari_colorize.core import distributed

    pytest.importorskip("distributed")
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 2)
    server = _server(reply)
    out = tmp_path / "x.ome.zarr"
    start = time.monotonic()
    try:
        with pytest.raises(ValueError, match=r"dask scheduler|not as a dask scheduler"):
            colorize(gray_image, tiny_model, out=out,
                     scheduler=f"tcp://127.0.0.1:{server.getsockname()[1]}")
    finally:
        server.close()
    assert time.monotonic() - start < 10
    assert not out.exists()


def test_a_real_schedulers_address_connects():
    # the probe that refuses silent ports lets a dask scheduler through, with or without tcp://
    distributed = pytest.importorskip("distributed")
    from napari_colorize.core.distributed import connect

    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                  protocol="tcp", dashboard_address=":0") as cluster:
        for address in (cluster.scheduler_address,
                        cluster.scheduler_address.removeprefix("tcp://")):
            client = connect(address)
            try:
                assert client.scheduler_info()["address"] == cluster.scheduler_address
            finally:
                client.close()


@pytest.mark.parametrize("events", [1, 2], ids=["after the plan", "after a block"])
def test_a_lost_cluster_is_one_error_and_the_output_stays_resumable(gray_image, tiny_model,
                                                                     tmp_path, events):
    distributed = pytest.importorskip("distributed")
    from napari_colorize import iter_colorize
    from napari_colorize.core.distributed import SchedulerLost

    stack = np.stack([gray_image[:128, :128]] * 12)
    out = tmp_path / "lost.ome.zarr"
    cluster = distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                       dashboard_address=":0")
    with distributed.Client(cluster) as client:
        gen = iter_colorize(stack, tiny_model, out=out, scheduler=client, tile_size=64,
                            overlap=16, block_size=64)
        for _ in range(events):
            next(gen)
        cluster.close()  # the scheduler and its worker go away mid-run
        with pytest.raises(SchedulerLost, match="lost the dask cluster during the run"):
            for _ in gen:
                pass
    assert read_metadata(out)["complete"] is False  # kept for --resume
    resumed = colorize(stack, tiny_model, out=out, resume=True, tile_size=64, overlap=16,
                       block_size=64)
    whole = colorize(stack, tiny_model, tile_size=64, overlap=16, block_size=64)
    np.testing.assert_array_equal(np.moveaxis(np.asarray(resumed), 0, -1), whole.rgb)


def test_scheduler_without_distributed_says_what_to_install(gray_image, tiny_model, tmp_path,
                                                            monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    out = tmp_path / "x.ome.zarr"
    with pytest.raises(ValueError, match=r'pip install "napari-colorize\[distributed\]"'):
        colorize(gray_image, tiny_model, out=out, scheduler="tcp://127.0.0.1:9")
    assert not out.exists()


def test_zarr_missing_chunks_names_the_array(tiny_model, tmp_path):
    z = zarr.create_array(tmp_path / "in.zarr", shape=(128, 128), chunks=(64, 64), dtype=np.uint8)
    z[:64] = 100  # half the chunks never written
    with pytest.raises(ValueError, match=r"zarr array .*in.zarr is missing 2 of 4 chunks"):
        colorize(zarr.open_array(tmp_path / "in.zarr", mode="r"), tiny_model)


def test_zarr_wrong_dtype_names_the_array(tiny_model, tmp_path):
    z = zarr.create_array(tmp_path / "b.zarr", shape=(64, 64), dtype=bool)
    z[...] = True
    with pytest.raises(ValueError, match=r"b.zarr: image is boolean"):  # the path as given
        colorize(tmp_path / "b.zarr", tiny_model)
    with pytest.raises(ValueError, match=r"zarr array .*b.zarr: image is boolean"):
        colorize(zarr.open_array(tmp_path / "b.zarr", mode="r"), tiny_model)


def test_one_client_serves_runs_in_a_row(stack, tiny_model):
    """Each run ships its own copy of an in-memory model and image: a later run never picks
    up the data an earlier one is releasing."""
    distributed = pytest.importorskip("distributed")
    local = colorize(stack, tiny_model, **SETTINGS).rgb
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        for _ in range(3):
            got = colorize(stack, tiny_model, scheduler=client, **SETTINGS).rgb
            np.testing.assert_array_equal(got, local)
