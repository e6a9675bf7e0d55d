"""The npe2 manifest, reader, writer and sample data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_colorize._napari import _sample_data
from napari_colorize._napari._reader import get_reader
from napari_colorize._napari._writer import write_rgb_layer
from napari_colorize.io.colour_files import read_rgb
from napari_colorize.io.writers import write_rgb


def _rgb(shape=(64, 96)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)


def test_manifest_docks_the_widget(make_napari_viewer, tiny_model_dir):
    from napari_colorize._napari._widget import ColorizeWidget

    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget("napari-colorize", "Colorize")
    assert isinstance(widget, ColorizeWidget)
    assert "tiny" in widget._model_combo.choices


def test_reader_ignores_foreign_paths(tmp_path):
    import zarr

    png = tmp_path / "plain.png"
    png.write_bytes(b"")
    zarr.create_array(tmp_path / "other.zarr", shape=(4, 4), dtype="u1")
    assert get_reader(str(png)) is None
    assert get_reader(str(tmp_path / "other.zarr")) is None
    assert get_reader(str(tmp_path / "missing.ome.zarr")) is None


@pytest.mark.parametrize("shape", [(64, 96), (3, 64, 96)])
def test_writer_round_trips_with_scale(tmp_path, shape):
    rgb = _rgb(shape)
    scale = (2.0, 0.5, 0.25)[-len(shape):]
    path = str(tmp_path / "out.ome.zarr")
    assert write_rgb_layer(path, rgb, {"rgb": True, "scale": scale, "name": "x"}) == [path]
    reader = get_reader(path)
    assert reader is not None
    (data, meta, kind), = reader(path)
    levels = data if isinstance(data, list) else [data]
    np.testing.assert_array_equal(np.asarray(levels[0]), rgb)
    assert kind == "image"
    assert meta["rgb"]
    np.testing.assert_allclose(meta["scale"], scale)


def test_writer_tiff_and_refuses_gray(tmp_path):
    rgb = _rgb()
    path = str(tmp_path / "out.tif")
    write_rgb_layer(path, rgb, {"rgb": True})
    np.testing.assert_array_equal(read_rgb(path), rgb)
    with pytest.raises(ValueError, match="RGB layers only"):
        write_rgb_layer(str(tmp_path / "g.tif"), rgb[..., 0], {"rgb": False, "name": "g"})


def test_writer_keeps_a_gray_source_and_replaces_a_colour_result(tmp_path):
    import tifffile

    gray = tmp_path / "input.tif"
    tifffile.imwrite(gray, _rgb()[..., 0])
    with pytest.raises(ValueError, match="holds an image that is not a colour result"):
        write_rgb_layer(str(gray), _rgb(), {"rgb": True, "name": "input colorized"})
    assert tifffile.imread(gray).ndim == 2  # untouched
    channels = tmp_path / "fluo.ome.tif"  # three fluorescence channels are data, not colour
    tifffile.imwrite(channels, np.zeros((3, 32, 32), np.uint16), metadata={"axes": "CYX"})
    with pytest.raises(ValueError, match="not a colour result"):
        write_rgb_layer(str(channels), _rgb(), {"rgb": True})
    assert tifffile.imread(channels).shape == (3, 32, 32)
    for name in ("old.tif", "old.ome.zarr"):  # an earlier colour result is replaced
        path = str(tmp_path / name)
        write_rgb_layer(path, _rgb(), {"rgb": True})
        assert write_rgb_layer(path, _rgb((32, 32)), {"rgb": True}) == [path]


def test_writer_warns_of_transforms_it_cannot_store(tmp_path):
    meta = {"rgb": True, "name": "x", "rotate": [[0.94, -0.34], [0.34, 0.94]],
            "shear": [0.0], "affine": np.eye(3).tolist()}
    with pytest.warns(UserWarning, match="'x' has rotate that .* cannot store"):
        write_rgb_layer(str(tmp_path / "r.ome.zarr"), _rgb(), meta)
    plain = {**meta, "rotate": np.eye(2).tolist()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_rgb_layer(str(tmp_path / "p.ome.zarr"), _rgb(), plain)


def test_viewer_opens_our_output_and_saves_layers(make_napari_viewer, tmp_path):
    rgb = _rgb((1200, 1100))  # large enough for a multiscale pyramid
    path = tmp_path / "result.ome.zarr"
    write_rgb(path, rgb)
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin="napari-colorize")
    assert len(layers) == 1
    assert layers[0].rgb
    assert layers[0].multiscale
    np.testing.assert_array_equal(np.asarray(layers[0].data[0]), rgb)
    saved = viewer.layers.save(str(tmp_path / "again.ome.zarr"), plugin="napari-colorize")
    assert saved
    assert get_reader(saved[0]) is not None


@pytest.mark.parametrize(
    ("func", "shape", "rgb"),
    [
        (_sample_data.cmu1_gray, (1000, 1000), False),
        (_sample_data.cmu1_truth, (1000, 1000, 3), True),
        (_sample_data.histo_gray, (300, 500), False),
        (_sample_data.histo_truth, (300, 500, 3), True),
        (_sample_data.focus_stack, (9, 512, 512), False),
        (_sample_data.scratch_assay, (5, 210, 576), False),
        (_sample_data.neuron, (623, 502), False),
    ],
)
def test_sample_data(func, shape, rgb):
    (data, meta, kind), = func()
    assert data.shape == shape
    assert kind == "image"
    assert meta.get("rgb", False) == rgb


@pytest.mark.slow
def test_default_model_colours_the_canvas(qtbot, make_napari_viewer, run_and_wait):
    """The bundled model on the CMU sample: the canvas is clearly more saturated after a run."""
    from skimage.color import rgb2hsv

    from napari_colorize._napari._widget import ColorizeWidget

    viewer = make_napari_viewer(show=True)
    (data, meta, _), = _sample_data.cmu1_gray()
    src = viewer.add_image(data, **meta)
    widget = ColorizeWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget._layer_combo.value = src
    gray_sat = rgb2hsv(viewer.screenshot(canvas_only=True)[..., :3])[..., 1].mean()
    run_and_wait(widget, timeout=300_000)
    assert viewer.layers[-1].name == "CMU-1 region (gray) colorized"
    qtbot.wait(200)
    colour_sat = rgb2hsv(viewer.screenshot(canvas_only=True)[..., :3])[..., 1].mean()
    assert gray_sat < 0.02, gray_sat
    assert colour_sat > gray_sat + 0.05, (gray_sat, colour_sat)


def test_channel_maps_open_as_one_additive_layer_each(make_napari_viewer, tmp_path):
    from napari_colorize.io.ngff import OmeZarrMerger, confidence_path

    path = tmp_path / "r.ome.zarr"
    channels = {"names": ["nuclear", "cytoplasmic", "diffuse"],
                "palette": [[0, 0.5, 1], [1, 0, 1], [0.5, 0.5, 0.5]]}
    merger = OmeZarrMerger(path, (64, 80), confidence=False, channels=channels,
                           metadata={"model": "m"})
    maps = np.random.default_rng(0).random((3, 64, 80)).astype(np.float32)
    full = (slice(None), slice(None))
    merger.write((), full, np.zeros((64, 80, 3), np.uint8), None, maps)
    merger.finalize()
    viewer = make_napari_viewer()
    layers = viewer.open(str(confidence_path(path, "channels")), plugin="napari-colorize")
    assert [lay.name for lay in layers] == ["r nuclear", "r cytoplasmic", "r diffuse"]
    assert all(lay.blending == "additive" and not lay.rgb for lay in layers)
    np.testing.assert_array_equal(np.asarray(layers[1].data), maps[1])
    np.testing.assert_allclose(layers[1].colormap.colors[-1], [1, 0, 1, 1])
