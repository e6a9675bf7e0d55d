"""ModelCard: the one shape of the cards the package writes and reads."""

import json

import pytest
import torch

from napari_colorize.models.cards import UNSET, Architecture, ModelCard
from napari_colorize.models.fraction_net import FractionNet
from napari_colorize.models.network import ChromaNet
from napari_colorize.models.registry import WEIGHTS_DIR
from napari_colorize.models.trunk import Trunk


@pytest.mark.parametrize("name", ["he-histology", "fluorescence-composite"])
def test_bundled_cards_read_and_write_the_same_keys_and_values(name):
    data = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    card = ModelCard.from_dict(data)
    assert card.to_dict() == data
    assert list(card.to_dict()) == list(data)
    assert card.spec().kind == data.get("kind", "chroma")


def test_keys_a_card_leaves_out_stay_out():
    card = ModelCard.from_dict({"name": "m", "architecture": {"class": "ChromaNet"}})
    assert card.base is UNSET
    assert card.kind is None
    assert set(card.to_dict()) == {"name", "version", "architecture", "divisor", "min_tile"}
    assert ModelCard("m", base=None).to_dict()["base"] is None  # from scratch: written as null


def test_unknown_keys_are_kept_in_extra():
    card = ModelCard.from_dict({"name": "m", "input": "S", "recipe": {"command": "c"}})
    assert card.extra == {"input": "S"}
    assert card.to_dict()["input"] == "S"


def test_architecture_describes_and_builds_networks():
    net = FractionNet((8, 8, 8, 8), channels=2, prior=(0.2, 0.8))
    arch = Architecture.of(net)
    assert arch.to_dict() == {"class": "FractionNet", "widths": [8, 8, 8, 8], "channels": 2,
                              "prior": [0.2, 0.8]}
    assert set(arch.build().state_dict()) == set(net.state_dict())
    with pytest.raises(ValueError, match="unknown architecture 'Nope' in model card"):
        Architecture("Nope")
    with pytest.raises(ValueError, match="kind 'chroma' does not match architecture FractionNet"):
        ModelCard("m", kind="chroma", architecture=arch)


def test_chroma_and_fraction_nets_share_the_trunk_not_the_head():
    chroma, fractions = ChromaNet((8, 8, 8, 8)), FractionNet((8, 8, 8, 8), channels=3)
    assert isinstance(chroma, Trunk)
    assert isinstance(fractions, Trunk)
    assert not isinstance(fractions, ChromaNet)
    assert not hasattr(fractions, "lut")
    assert not hasattr(fractions, "prior")  # the lookup-table prior is the chroma head's
    trunk = {k: v.shape for k, v in Trunk((8, 8, 8, 8)).state_dict().items()}
    for net in (chroma, fractions):
        shapes = {k: v.shape for k, v in net.state_dict().items() if not k.startswith("head.")}
        shapes.pop("lut", None)
        assert shapes == trunk  # parameter names of the bundled weights: enc1..., dec1
    x = torch.full((1, 1, 32, 32), 50.0)
    assert chroma.features(x).shape == fractions.features(x).shape
