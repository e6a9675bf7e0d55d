"""Hostile model cards and weights: refused in one line, before any network is built or any
weight read, naming the card key or the tensor at fault.

Cards are written beside real (tiny) safetensors weights saved by :func:`save_model`, then
edited the way a typo, a download gone wrong or a malicious folder would edit them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from napari_colorize import colorize, load_model
from napari_colorize.cli import main
from napari_colorize.models import registry
from napari_colorize.models.registry import save_model, sha256_file


@pytest.fixture
def saved(tmp_path, tiny_model) -> Path:
    """A valid card (tiny ChromaNet, widths 8) in its own folder."""
    folder = tmp_path / "models"
    return save_model(tiny_model.net, {"name": "tiny"}, folder / "tiny.safetensors")


def edit(card_path: Path, **changes) -> Path:
    card = json.loads(card_path.read_text())
    for key, value in changes.items():
        if value is None:
            card.pop(key, None)
        else:
            card[key] = value
    card_path.write_text(json.dumps(card))
    return card_path


def edit_arch(card_path: Path, **changes) -> Path:
    card = json.loads(card_path.read_text())
    return edit(card_path, architecture={**card["architecture"], **changes})


def refused(card_path: Path, match: str, exc: type = ValueError) -> str:
    with pytest.raises(exc, match=match) as info:
        load_model(card_path)
    text = str(info.value)
    assert "\n" not in text
    return text


def no_network(monkeypatch):
    """Fail the test if a real (allocated) network, of either kind, is built."""
    from napari_colorize.models.trunk import Trunk

    real = Trunk.__init__

    def guarded(self, *args, **kwargs):
        real(self, *args, **kwargs)
        if next(self.parameters()).device.type != "meta":
            raise AssertionError("a network was built for a card that is refused")

    monkeypatch.setattr(Trunk, "__init__", guarded)


# --- the card itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("widths", "match"),
    [
        ([100000] * 4, r"architecture.widths must be 4 integers in \[1, 1024\]"),
        ([-8, 8, 8, 8], r"architecture.widths must be 4 integers"),
        ([0, 8, 8, 8], r"architecture.widths must be 4 integers"),
        ([8, 8], r"architecture.widths must be 4 integers in \[1, 1024\]; got \[8, 8\]"),
        ([8, 8, 8, 8, 8], r"architecture.widths must be 4 integers"),
        ([8.0, 8, 8, 8], r"architecture.widths must be 4 integers"),
        (["8", 8, 8, 8], r"architecture.widths must be 4 integers"),
        ([True, 8, 8, 8], r"architecture.widths must be 4 integers"),
        ("8,8,8,8", r"architecture.widths must be 4 integers"),
        (8, r"architecture.widths must be 4 integers"),
    ],
)
def test_absurd_widths_are_refused_before_anything_is_built(saved, monkeypatch, widths, match):
    no_network(monkeypatch)
    refused(edit_arch(saved, widths=widths), match)


@pytest.mark.parametrize("spread", [-1, 11, "1", True, None, float("nan")])
def test_bad_colour_spread_is_refused(saved, monkeypatch, spread):
    no_network(monkeypatch)
    refused(edit_arch(saved, colour_spread=spread),
            r"architecture.colour_spread must be a number in \[0, 10.0\]")


def test_colour_spread_travels_with_the_card(saved):
    edit_arch(saved, colour_spread=0.5)
    assert load_model(saved).net.colour_spread == 0.5


def test_absurd_widths_never_allocate(saved):
    """[100000]*4 would need hundreds of GB: the answer comes at once, in this process."""
    edit_arch(saved, widths=[100000] * 4)
    result = {}

    def load():
        try:
            load_model(saved)
        except ValueError as exc:
            result["error"] = str(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    assert "architecture.widths" in result["error"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("[1, 2, 3]", "must be a JSON object; got a JSON array"),
        ('"he-histology"', "must be a JSON object; got a JSON string"),
        ("42", "must be a JSON object; got a JSON number"),
        ("true", "must be a JSON object; got a JSON boolean"),
        ("null", "must be a JSON object; got a JSON null"),
        ("{not json", "cannot read model card"),
        ("", "cannot read model card"),
    ],
)
def test_cards_that_are_not_objects(saved, content, match):
    saved.write_text(content)
    refused(saved, match)


def test_binary_card_is_refused_in_one_line(saved):
    saved.write_bytes(bytes(range(256)) * 4)
    refused(saved, "cannot read model card .*UnicodeDecodeError")


def test_huge_card_is_not_read(saved):
    with open(saved, "r+b") as f:
        f.truncate(64 << 20)  # sparse: cheap to make, would be slow to parse
    refused(saved, "a card is at most")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"divisor": 32.5}, "divisor must be a multiple of 32 .* got 32.5"),
        ({"divisor": "32"}, "divisor must be a multiple of 32 .* got '32'"),
        ({"divisor": 0}, "divisor must be a multiple of 32"),
        ({"divisor": -32}, "divisor must be a multiple of 32"),
        ({"divisor": 16}, "divisor must be a multiple of 32"),
        ({"divisor": 10**9}, "divisor must be a multiple of 32 .*at most 8192; got 1000000000"),
        ({"min_tile": 100}, "min_tile must be a multiple of divisor 32"),
        ({"min_tile": 0}, "min_tile must be a multiple of divisor 32"),
        ({"min_tile": 10**9}, "min_tile must be .* at most 8192"),
        ({"card_version": 99}, "card_version 99 is newer than this napari-colorize reads"),
        ({"card_version": "2"}, "card_version must be a positive integer; got '2'"),
        ({"card_version": 0}, "card_version must be a positive integer"),
        ({"kind": "magic"}, "kind 'magic' must be 'chroma' or 'fractions'"),
        ({"kind": "fractions"}, "a fractions model needs >= 2 channel_names"),
        ({"name": 5}, "name must be a string"),
        ({"sha256": 5}, "sha256 must be a string"),
        ({"sha256": None}, "has no sha256 of its weights"),
        ({"version": [1]}, "version must be a string"),
        ({"architecture": [8, 8, 8, 8]}, "architecture must be an object"),
        ({"architecture": {"class": "ResNet"}}, "unknown architecture class 'ResNet'"),
        ({"architecture": {"class": "ChromaNet", "depth": 9}},
         r"unknown architecture keys \['depth'\] for ChromaNet"),
        ({"channel_names": "nuclei"}, "channel_names must be a list of strings"),
        ({"palette": [[2, 0, 0]]}, r"palette must be a list of \[r, g, b\] colours in \[0, 1\]"),
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None,
)
def test_bad_card_keys_are_named(saved, monkeypatch, changes, match):
    no_network(monkeypatch)
    refused(edit(saved, **changes), match)


@pytest.mark.parametrize(
    ("arch", "card", "match"),
    [
        ({"class": "FractionNet", "widths": [8] * 4, "channels": 10**6}, {},
         r"architecture.channels must be an integer in \[2, 64\]"),
        ({"class": "FractionNet", "widths": [8] * 4, "channels": 1}, {},
         r"architecture.channels must be an integer in \[2, 64\]"),
        ({"class": "FractionNet", "widths": [8] * 4, "channels": 2, "prior": [0.9, 0.9]}, {},
         "architecture.prior must be 2 fractions summing to 1"),
        ({"class": "FractionNet", "widths": [8] * 4, "channels": 3}, {},
         "kind 'chroma' does not match architecture FractionNet"),
        ({"class": "FractionNet", "widths": [8] * 4, "channels": 3},
         {"kind": "fractions", "channel_names": ["a", "b"], "palette": [[0, 1, 1], [1, 0, 1]]},
         "architecture.channels 3 differs from the 2 channel_names"),
    ],
)
def test_bad_fraction_architectures(saved, arch, card, match):
    refused(edit(saved, architecture=arch, **card), match)


# --- the weights file: where it is, what it is ------------------------------------------------


@pytest.mark.parametrize(
    "weights", ["/dev/zero", "../../etc/passwd", "../tiny.safetensors", "sub/tiny.safetensors",
                "..", ".", "", "C:\\\\x.safetensors", "a\\\\b.safetensors"],
)
def test_weights_must_be_a_file_name_beside_the_card(saved, weights):
    refused(edit(saved, weights=weights), "must be a file name beside the card")


def test_weights_must_be_a_string(saved):
    refused(edit(saved, weights=["tiny.safetensors"]), "weights must be a string")


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_weights_linking_outside_the_folder_are_refused(saved, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes((saved.parent / "tiny.safetensors").read_bytes())
    link = saved.parent / "linked.safetensors"
    link.symlink_to(outside)
    refused(edit(saved, weights="linked.safetensors"), "links outside the model's folder")


@pytest.mark.skipif(sys.platform == "win32", reason="no /dev/zero on Windows")
def test_weights_linking_to_a_device_are_refused(saved):
    (saved.parent / "zero.safetensors").symlink_to("/dev/zero")
    refused(edit(saved, weights="zero.safetensors"), "links outside|not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_weights_that_are_a_pipe_never_hang(saved):
    os.mkfifo(saved.parent / "pipe.safetensors")
    refused(edit(saved, weights="pipe.safetensors"), "is not a regular file")


def test_weights_that_are_a_folder(saved):
    (saved.parent / "dir.safetensors").mkdir()
    refused(edit(saved, weights="dir.safetensors"), "is not a regular file")


def test_missing_weights(saved):
    refused(edit(saved, weights="gone.safetensors"), "weights file .*gone.safetensors not found")


def test_weights_that_are_text(saved):
    weights = saved.parent / "tiny.safetensors"
    weights.write_text("these are not weights\n" * 10)
    edit(saved, sha256=sha256_file(weights))  # even with a matching digest
    refused(saved, "does not fit its card .*not a safetensors file")


def test_weights_whose_sha256_differs(saved):
    refused(edit(saved, sha256="0" * 64), "has sha256 .*, expected 0000000000000000")


def test_huge_weights_file_is_refused_before_hashing(saved, monkeypatch):
    weights = saved.parent / "tiny.safetensors"
    with open(weights, "r+b") as f:
        f.truncate(8 << 30)  # sparse 8 GiB: hashing it would take minutes
    monkeypatch.setattr(registry, "sha256_file", lambda path: pytest.fail("hashed"))
    refused(saved, "far more than the .* tensors need")


def _rewrite(saved: Path, state: dict) -> Path:
    weights = saved.parent / "tiny.safetensors"
    save_file(state, weights)
    return edit(saved, sha256=sha256_file(weights))


def test_missing_tensor_is_named(saved, tiny_model):
    state = {k: v.contiguous() for k, v in tiny_model.net.state_dict().items()}
    del state["head.bias"]
    refused(_rewrite(saved, state), r"missing tensors head\.bias")


def test_extra_tensor_is_named(saved, tiny_model):
    state = {k: v.contiguous() for k, v in tiny_model.net.state_dict().items()}
    state["backdoor.weight"] = torch.zeros(3)
    refused(_rewrite(saved, state), r"unexpected tensors backdoor\.weight")


def test_misshapen_tensor_is_named(saved, tiny_model):
    state = {k: v.contiguous() for k, v in tiny_model.net.state_dict().items()}
    state["lut"] = torch.zeros(2, 7)
    refused(_rewrite(saved, state), r"misshapen tensors: lut is \[2, 7\], expected \[2, 101\]")


def test_weights_of_wider_network_name_the_tensors(saved):
    """The card says widths 16, the file holds widths 8: shapes compared from the header."""
    text = refused(edit_arch(saved, widths=[16, 16, 16, 16]), "misshapen tensors: ")
    assert "expected [16, 16, 3, 3]" in text or "expected [16" in text


def test_header_mismatch_is_found_without_hashing(saved, tiny_model, monkeypatch):
    state = {k: v.contiguous() for k, v in tiny_model.net.state_dict().items()}
    del state["lut"]
    _rewrite(saved, state)
    monkeypatch.setattr(registry, "sha256_file", lambda path: pytest.fail("hashed"))
    refused(saved, "missing tensors lut")


# --- what the engine and the CLI make of it ---------------------------------------------------


@pytest.mark.parametrize("model", [42, 2.5, ["tiny"], {"name": "tiny"}, object()])
def test_model_of_the_wrong_type_is_a_type_error(model):
    image = np.zeros((64, 64), np.uint8)
    with pytest.raises(TypeError, match=r"^model must be a model name .*got "):
        colorize(image, model)


def test_unknown_model_name_lists_the_models():
    with pytest.raises(ValueError, match=r"unknown model 'no-such-model'; available: .*he-hist"):
        load_model("no-such-model")


def test_bad_card_through_colorize_and_cli(saved, tmp_path, capsys):
    edit_arch(saved, widths=[100000] * 4)
    image = np.zeros((64, 64), np.uint8)
    with pytest.raises(ValueError, match=r"architecture\.widths"):
        colorize(image, saved)
    import tifffile

    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image)
    code = main(["colorize", str(src), str(tmp_path / "o.ome.zarr"), "--model", str(saved),
                 "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "architecture.widths" in err
    assert not (tmp_path / "o.ome.zarr").exists()


@pytest.mark.parametrize("name", ["he-histology", "fluorescence-composite"])
def test_bundled_cards_pass_every_check(name):
    model = load_model(name)
    assert model.spec.name == name
    assert all(torch.isfinite(p).all() for p in model.net.parameters())


def test_saved_cards_round_trip_through_the_checks(tmp_path, tiny_model):
    from napari_colorize.models.fraction_net import FractionNet

    net = FractionNet((8, 8, 8, 8), channels=2, prior=(0.25, 0.75))
    card = {"name": "frac", "kind": "fractions", "channel_names": ["a", "b"],
            "palette": [[0, 1, 1], [1, 0, 1]],
            "architecture": {"class": "FractionNet", "widths": [8, 8, 8, 8], "channels": 2,
                             "prior": [0.25, 0.75]}}
    loaded = load_model(save_model(net, card, tmp_path / "frac.safetensors"))
    loaded.precision = "fp32"  # the weights round-trip: compare in the arithmetic they were in
    x = torch.rand(1, 1, 64, 64) * 100
    torch.testing.assert_close(loaded(x), net.eval()(x))
    chroma = load_model(save_model(tiny_model.net, {"name": "c"}, tmp_path / "c.safetensors"))
    chroma.precision = tiny_model.precision = "fp32"
    torch.testing.assert_close(chroma(x), tiny_model(x))


def test_saved_cards_record_their_format(tmp_path, tiny_model):
    card = json.loads(save_model(tiny_model.net, {"name": "v"}, tmp_path / "v.safetensors")
                      .read_text())
    assert card["card_version"] == 1
