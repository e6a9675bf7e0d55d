"""The typed NGFF metadata: what we write reads back, other writers' images parse, bad metadata
gives one line naming the store and the problem."""

import json

import numpy as np
import pytest
import zarr

from napari_colorize.io.ngff import OmeZarrMerger
from napari_colorize.io.ngff_layout import build_ome, image_axes, with_transform
from napari_colorize.io.ngff_meta import (
    RGB_CHANNELS,
    Channel,
    ColorizeAttrs,
    parse_multiscale,
    read_image_metadata,
    result_block,
    validate_ome,
)
from napari_colorize.io.readers import read_metadata
from napari_colorize.io.writers import write_rgb

RUN = {
    "model": "m", "model_version": "2",
    "settings": {"tile_size": 64, "overlap": 16, "blending": "gaussian"},
    "window": [3.0, 250.0], "input": {"sha256": "ab" * 32},
    "channels": {"names": ["nuclear", "diffuse"], "palette": [[0, 0.5, 1], [1, 1, 0]]},
    "hints": {"points": [[1.0, 2.0]], "colors": [[1.0, 0.0, 0.0]]},
}


def _merge(path, shape, **kw):
    merger = OmeZarrMerger(path, shape, **kw)
    n = len(kw["channels"]["names"]) if kw.get("channels") else 0
    for index in np.ndindex(*shape[:-2]):
        full = (slice(None), slice(None))
        maps = np.full((n, *shape[-2:]), 0.25, np.float32) if n else None
        merger.write(index, full, np.full((*shape[-2:], 3), 7, np.uint8),
                     np.full(shape[-2:], 0.5, np.float32), maps)
    merger.finalize()


def _one_line(exc_info, path) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    assert text.startswith(str(path))
    return text


@pytest.mark.parametrize("leading", [(), (2,), (2, 3)])
def test_what_we_write_reads_back_typed(tmp_path, leading):
    path = tmp_path / "r.ome.zarr"
    _merge(path, (*leading, 600, 1100), confidence=True, metadata=RUN, channels=RUN["channels"])
    meta = read_image_metadata(path)
    ms = meta.multiscale
    want = {0: ["c", "y", "x"], 1: ["c", "z", "y", "x"], 2: ["t", "c", "z", "y", "x"]}
    assert ms.names == want[len(leading)]
    assert ms.channel_axis == (1 if len(leading) == 2 else 0)
    assert ms.paths == ("0", "1", "2")  # 1100 -> 550 -> 275 px
    assert [s[-2:] for s in ms.scales] == [(1.0, 1.0), (2.0, 2.0), (4.0, 4.0)]
    assert ms.scale == [1.0] * len(ms.names)
    assert ms.translation == [0.0] * len(ms.names)
    assert ms.name == "r.ome.zarr"
    assert meta.channels == RGB_CHANNELS
    attrs = meta.attrs
    assert (attrs.complete, attrs.kind, attrs.model, attrs.model_version) == (True, "rgb", "m", "2")
    assert attrs.window == (3.0, 250.0)
    assert attrs.settings["tile_size"] == 64
    assert attrs.input_sha256 == "ab" * 32
    assert attrs.channel_names == ("nuclear", "diffuse")
    assert attrs.palette == ((0.0, 0.5, 1.0), (1.0, 1.0, 0.0))
    assert attrs.hints == RUN["hints"]
    assert attrs.raw == read_metadata(path) == {"complete": True, **RUN}

    conf = read_image_metadata(tmp_path / "r.confidence.ome.zarr")
    assert "c" not in conf.multiscale.names
    assert conf.multiscale.channel_axis is None
    assert conf.channels == ()
    assert conf.attrs.kind == "confidence"
    maps = read_image_metadata(tmp_path / "r.channels.ome.zarr")
    assert maps.channels == (Channel("nuclear", "0080FF"), Channel("diffuse", "FFFF00"))
    assert maps.attrs.kind == "channels"


def test_what_we_write_passes_the_ngff_schema_with_its_arrays(tmp_path):
    """ome-zarr-models checks the group as a whole: dataset arrays, dimensions and names."""
    from ome_zarr_models.v05.image import Image

    path = tmp_path / "r.ome.zarr"
    write_rgb(path, np.zeros((2, 700, 600, 3), np.uint8))
    image = Image.from_zarr(zarr.open_group(path, mode="r"))
    assert [a.name for a in image.ome_attributes.multiscales[0].axes] == ["c", "z", "y", "x"]
    assert len(image.ome_attributes.multiscales[0].datasets) == 2


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_reads_an_image_written_by_ome_zarr_py(tmp_path, version):
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image

    path = tmp_path / "in.ome.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=2 if version == "0.4" else 3)
    fmt = FormatV04() if version == "0.4" else FormatV05()
    image = np.zeros((2, 3, 130, 140), np.uint16)
    write_image(image, group, fmt=fmt, axes="tcyx", scale_factors=(2,))
    ms = parse_multiscale(dict(group.attrs), path)
    assert ms.names == ["t", "c", "y", "x"]
    assert [a.type for a in ms.axes] == ["time", "channel", "space", "space"]
    assert ms.channel_axis == 1
    assert [group[p].shape[-1] for p in ms.paths] == [140, 70]  # ome-zarr-py names them s0, s1
    assert ms.scales[1][-2:] == (2.0, 2.0)
    if version == "0.5":  # the strict reader takes any valid NGFF 0.5 image
        meta = read_image_metadata(path)
        assert meta.multiscale == ms
        assert meta.attrs is None  # not ours


def test_ngff_03_bare_axis_names_parse_leniently():
    ms = parse_multiscale({"multiscales": [{"version": "0.3", "axes": ["z", "c", "y", "x"],
                                            "datasets": [{"path": "a"}, {"path": "b"}]}]}, "in")
    assert ms.names == ["z", "c", "y", "x"]
    assert ms.channel_axis == 1
    assert ms.paths == ("a", "b")
    assert ms.scales == (None, None)
    assert ms.scale == [1.0] * 4
    assert parse_multiscale({"other": 1}, "in") is None  # no multiscales: a plain zarr group


def _edit(path, edit):
    meta = json.loads((path / "zarr.json").read_text())
    edit(meta["attributes"])
    (path / "zarr.json").write_text(json.dumps(meta))


def _ms(attrs):
    return attrs["ome"]["multiscales"][0]


def _drop_first_axis(attrs):
    """Consistent metadata for one axis fewer than the arrays have."""
    ms = _ms(attrs)
    ms["axes"] = ms["axes"][1:]
    for dataset in ms["datasets"]:
        for transform in dataset["coordinateTransformations"]:  # scale, then a translation
            kind = transform["type"]
            transform[kind] = transform[kind][1:]
    attrs["ome"].pop("omero")


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda a: a["ome"].pop("multiscales"), r"invalid OME-Zarr 0\.5 metadata: multiscales: "
                                                 r"Field required"),
        (lambda a: a.pop("ome"), r"no OME-Zarr 'ome' metadata"),
        (lambda a: _ms(a).update(axes=_ms(a)["axes"][::-1]),
         r"multiscales\.0\.axes: All space axes must be at the end"),
        (lambda a: _ms(a)["axes"][0].update(name="y"), r"Axis names must be unique"),
        (lambda a: _ms(a)["datasets"].append(
            {"path": "9", "coordinateTransformations": [{"type": "scale",
                                                         "scale": [1.0, 8.0, 8.0]}]}),
         r"multiscales lists 3 datasets but the group holds no array '9'"),
        (lambda a: _ms(a)["datasets"][1].update(coordinateTransformations=[
            {"type": "scale", "scale": [2.0, 2.0]}]),
         r"multiscales\.0\.datasets\.1: its scale has 2 values for 3 axes"),
        (_drop_first_axis, r"multiscales lists 2 axes but dataset '0' has 3 dimensions"),
        (lambda a: a["ome"]["omero"]["channels"][0].update(color="red"), r"omero\.channels\.0"),
        (lambda a: a["napari_colorize"].update(window="auto"),
         r"malformed napari_colorize metadata: 'window' must be \[low, high\] numbers"),
        (lambda a: a["napari_colorize"].update(complete="yes"),
         r"'complete' must be true or false"),
        (lambda a: a.update(napari_colorize=["complete"]),
         r"malformed napari_colorize metadata: it is a list"),
    ],
)
def test_malformed_metadata_gives_one_line(tmp_path, edit, fragment):
    path = tmp_path / "r.ome.zarr"
    write_rgb(path, np.zeros((700, 600, 3), np.uint8))
    _edit(path, edit)
    with pytest.raises(ValueError, match=fragment) as exc_info:
        read_image_metadata(path)
    _one_line(exc_info, path)


@pytest.mark.parametrize(
    ("attrs", "fragment"),
    [
        ({"ome": {"multiscales": "x"}}, r"'multiscales' must be a non-empty list of objects"),
        ({"multiscales": [{"axes": "yx", "datasets": [{"path": "0"}]}]},
         r"'axes' must be a list of axes"),
        ({"multiscales": [{"datasets": [{"path": "0"}, {"path": 1}]}]},
         r"multiscales\[0\] has no 'datasets' entry with a 'path'"),
        ({"ome": ["not", "an", "object"]}, r"'ome' is a list, not an object"),
    ],
)
def test_malformed_input_metadata_gives_one_line(tmp_path, attrs, fragment):
    path = tmp_path / "in.zarr"
    with pytest.raises(ValueError, match=fragment) as exc_info:
        parse_multiscale(attrs, path)
    _one_line(exc_info, path)


def test_built_metadata_is_checked_before_it_is_written(tmp_path):
    path = tmp_path / "r.ome.zarr"
    with pytest.raises(ValueError, match=r"'window' must be \[low, high\] numbers"):
        OmeZarrMerger(path, (64, 64), confidence=False, metadata={"window": [0, 1, 2]})
    assert not path.exists()  # refused before the store was made
    with pytest.raises(ValueError, match="at most 2 axes before"):
        image_axes(3, channels=True)
    with pytest.raises(ValueError, match="'#00FF00' is not RRGGBB hex"):
        Channel("green", "#00FF00")
    assert result_block({"complete": True, "model": "m"}, complete=False) == {
        "complete": False, "model": "m"}


def test_transform_for_a_layer_scale_and_translate():
    ome = build_ome(image_axes(1, channels=True), 3, "r.ome.zarr", channels=RGB_CHANNELS,
                    top=255)
    edited = with_transform(ome, [3.0, 0.5, 0.25], [10.0, 0.0, 0.0], "r.ome.zarr")
    datasets = edited["multiscales"][0]["datasets"]
    assert datasets[0]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 3.0, 0.5, 0.25]},
        {"type": "translation", "translation": [0.0, 10.0, 0.0, 0.0]}]
    assert datasets[2]["coordinateTransformations"][0]["scale"] == [1.0, 3.0, 2.0, 1.0]
    # a 4x4 block's centre sits 1.5 level-0 pixels further on
    assert datasets[2]["coordinateTransformations"][1]["translation"] == [0.0, 10.0, 0.75, 0.375]
    assert ome["multiscales"][0]["datasets"][0]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 1.0, 1.0, 1.0]}]  # the input is left as it was
    with pytest.raises(ValueError, match=r"r\.ome\.zarr: a scale and translation for 4 axes"):
        with_transform(ome, [1.0, 1.0], [0.0, 0.0], "r.ome.zarr")
    with pytest.raises(ValueError, match=r"^x: invalid OME-Zarr 0\.5 metadata: version"):
        validate_ome({**ome, "version": "0.4"}, "x")


def test_colorize_attrs_defaults_and_extra_keys():
    attrs = ColorizeAttrs.from_dict({"complete": False, "kind": "confidence", "extra": 1}, "p")
    assert (attrs.complete, attrs.kind, attrs.window, attrs.palette) == (False, "confidence",
                                                                         None, ())
    assert attrs.raw["extra"] == 1  # kept: a resume compares the whole block
    with pytest.raises(ValueError, match=r"^p: .*'kind' must be one of confidence, channels"):
        ColorizeAttrs.from_dict({"kind": "mask"}, "p")


def test_resume_reads_the_metadata_through_the_typed_reader(tmp_path):
    path = tmp_path / "r.ome.zarr"
    merger = OmeZarrMerger(path, (64, 80), confidence=False, metadata=RUN)
    merger.close()  # interrupted: incomplete, resumable
    again = OmeZarrMerger(path, (64, 80), confidence=False, metadata=RUN, resume=True)
    assert not again.complete
    again.close()
    _edit(path, lambda a: _ms(a)["axes"].reverse())
    with pytest.raises(ValueError, match=r"^cannot resume \S+r\.ome\.zarr: invalid OME-Zarr 0\.5 "
                                         r"metadata: multiscales\.0\.axes"):
        OmeZarrMerger(path, (64, 80), confidence=False, metadata=RUN, resume=True)


def test_coarser_levels_sit_at_their_blocks_centres(tmp_path):
    # placed or not, level k's pixel is the mean of a 2^k block: centred half a block in
    path = tmp_path / "r.ome.zarr"
    write_rgb(path, np.zeros((700, 600, 3), np.uint8))
    datasets = _ms(json.loads((path / "zarr.json").read_text())["attributes"])["datasets"]
    assert datasets[0]["coordinateTransformations"] == [{"type": "scale",
                                                         "scale": [1.0, 1.0, 1.0]}]
    level1 = datasets[1]["coordinateTransformations"]
    assert level1 == [{"type": "scale", "scale": [1.0, 2.0, 2.0]},
                      {"type": "translation", "translation": [0.0, 0.5, 0.5]}]
