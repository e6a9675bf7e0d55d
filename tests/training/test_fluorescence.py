"""FractionNet, fraction targets, a few training steps, card round-trip, bundled weights."""

import json

import numpy as np
import pytest
import torch

from napari_colorize import load_model
from napari_colorize.core.events import drain
from napari_colorize.models.fraction_net import FractionNet
from napari_colorize.models.registry import WEIGHTS_DIR, build_network, save_model
from napari_colorize.training.fluorescence import (
    FractionConfig,
    FractionSampler,
    fraction_loss,
    iter_train_fractions,
)
from napari_colorize.training.fraction_targets import (
    ChannelSource,
    class_amounts,
    fractions_from_amounts,
    input_signal,
    normalise_channels,
)


@pytest.fixture
def cells() -> np.ndarray:
    """Two uint16 channels: nuclear blobs (ch 0) and rings of cytoplasm around them (ch 1)."""
    rng = np.random.default_rng(2)
    h = w = 256
    yy, xx = np.mgrid[0:h, 0:w]
    nuc, cyto = np.zeros((h, w)), np.zeros((h, w))
    for _ in range(25):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        nuc += 3000 * (d2 < 36)
        cyto += 1500 * ((d2 >= 36) & (d2 < 196))
    data = np.stack([nuc, cyto]) + 300 + rng.normal(0, 30, (2, h, w))
    return np.clip(data, 0, 65535).astype(np.uint16)


SOURCE = ChannelSource("synthetic", classes=(0, 1), floor_size=31, scale=(0.8, 1.2))


def test_fraction_net_outputs_fractions_and_confidence():
    torch.manual_seed(0)
    net = FractionNet((8, 8, 8, 8), channels=3)
    torch.nn.init.normal_(net.head.weight, std=0.5)
    x = torch.rand(2, 1, 64, 96) * 100
    with torch.no_grad():
        out, fractions = net(x), net(x, confidence=False)
    assert out.shape == (2, 4, 64, 96)
    torch.testing.assert_close(out[:, :3].sum(1), torch.ones(2, 64, 96))
    assert float(out[:, 3].min()) >= 0
    assert float(out[:, 3].max()) <= 1
    assert float(out[:, :3].std()) > 0.01  # the head's weights reach the fractions
    assert fractions.shape == (2, 3, 64, 96)
    torch.testing.assert_close(fractions, out[:, :3])


def test_prior_blend_follows_the_confidence():
    torch.manual_seed(0)
    raw = FractionNet((8, 8, 8, 8), channels=3)
    torch.nn.init.normal_(raw.head.weight, std=0.5)
    blended = FractionNet((8, 8, 8, 8), channels=3, prior=(0.2, 0.1, 0.7))
    blended.load_state_dict(raw.state_dict())
    x = torch.rand(2, 1, 64, 64) * 100
    with torch.no_grad():
        f, out, fractions = raw(x), blended(x), blended(x, confidence=False)
    conf = f[:, 3:]
    prior = torch.tensor([0.2, 0.1, 0.7]).view(1, 3, 1, 1)
    torch.testing.assert_close(out[:, :3], conf * f[:, :3] + (1 - conf) * prior)
    torch.testing.assert_close(out[:, 3], f[:, 3])
    torch.testing.assert_close(fractions, out[:, :3])
    torch.testing.assert_close(out[:, :3].sum(1), torch.ones(2, 64, 64))
    bad = r"prior \[0.5, 0.6, 0.1\] is not 3 fractions summing to 1"
    with pytest.raises(ValueError, match=bad):
        FractionNet((8, 8, 8, 8), channels=3, prior=(0.5, 0.6, 0.1))


def test_fraction_net_needs_two_channels():
    with pytest.raises(ValueError, match="needs >= 2 channels, got 1"):
        FractionNet((8, 8, 8, 8), channels=1)


def test_build_network_from_card():
    card = {"architecture": {"class": "FractionNet", "widths": [8, 8, 8, 8], "channels": 4}}
    net = build_network(card)
    assert isinstance(net, FractionNet)
    assert net.channels == 4
    with pytest.raises(ValueError, match="unknown architecture 'Nope'"):
        build_network({"architecture": {"class": "Nope"}})


def test_amounts_split_the_input_exactly(cells):
    norm = normalise_channels(cells)
    assert norm.min() >= 0
    assert norm.max() <= 1
    amounts = class_amounts(norm, SOURCE, n_classes=3, diffuse_class=2)
    np.testing.assert_allclose(amounts.sum(0), 2 * input_signal(norm, SOURCE.classes), atol=1e-5)
    assert amounts.min() >= 0
    frac = fractions_from_amounts(torch.from_numpy(amounts), 2)
    torch.testing.assert_close(frac.sum(0), torch.ones(frac.shape[1:]))
    # nuclei are nuclear, rings cytoplasmic, the empty background diffuse
    yy, xx = np.unravel_index(np.argmax(cells[0]), cells[0].shape)
    assert float(frac[0, yy, xx]) > 0.7
    dark = (cells[0] < 1000) & (cells[1] < 1000)
    assert float(frac[2][torch.from_numpy(dark)].mean()) > 0.8


def test_empty_pixels_are_diffuse():
    frac = fractions_from_amounts(torch.zeros(3, 4, 4), diffuse_class=1)
    assert torch.equal(frac[1], torch.ones(4, 4))
    assert float(frac[0].abs().sum()) == 0


def test_sampler_checks_channel_count(cells):
    with pytest.raises(ValueError, match=r"expected \(3, H, W\) for its 3 channel classes"):
        FractionSampler([ChannelSource("x", (0, 1, 2))], FractionConfig(), images=[cells])


def _train(cells, steps, seed=0):
    config = FractionConfig(steps=steps, batch_size=4, patch=64, warmup=2, seed=seed,
                            widths=(8, 8, 8, 8), lr=5e-3)
    sampler = FractionSampler([SOURCE], config, images=[cells])
    losses = []
    model = drain(iter_train_fractions(sampler, config, name="tiny-fractions"),
                  lambda e: losses.append(e.loss))
    return model, losses


def test_training_learns_and_card_round_trips(tmp_path, cells):
    model, losses = _train(cells, steps=25)
    assert len(losses) == 25
    assert losses[-1] < losses[0]
    assert model.spec.kind == "fractions"
    assert model.spec.channels == 3
    card_path = save_model(model.net, model.card, tmp_path / "tiny.safetensors")
    card = json.loads(card_path.read_text())
    assert card["kind"] == "fractions"
    prior = card["architecture"].pop("prior")
    assert card["architecture"] == {"class": "FractionNet", "widths": [8, 8, 8, 8], "channels": 3}
    # the training targets' mean mix (round trip: the loaded model blends with it too)
    assert len(prior) == 3
    assert abs(sum(prior) - 1) < 1e-5
    assert min(prior) > 0
    assert card["channel_names"] == ["nuclear", "cytoplasmic", "diffuse"]
    assert len(card["palette"]) == 3
    loaded = load_model(tmp_path / "tiny.safetensors")
    assert loaded.spec.kind == "fractions"
    assert loaded.spec.channel_names == model.spec.channel_names
    assert loaded.spec.palette == model.spec.palette
    x = torch.rand(1, 1, 64, 64) * 100
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded(x, confidence=False).shape == (1, 3, 64, 64)


def test_training_is_seeded(cells):
    a, b, c = (_train(cells, 1, seed)[0].net.state_dict() for seed in (0, 0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.slow
@pytest.mark.skipif(not (WEIGHTS_DIR / "fluorescence-composite.json").exists(),
                    reason="bundled fluorescence weights not built")
def test_bundled_weights_give_fractions(cells):
    model = load_model("fluorescence-composite")
    assert model.spec.kind == "fractions"
    assert model.spec.channels == 3
    signal = normalise_channels(cells).mean(0)
    v = torch.from_numpy(np.clip(signal / np.percentile(signal, 99.5), 0, 1))
    from napari_colorize.core.color import gray_to_lightness

    out = model(gray_to_lightness(v)[None, None])
    assert out.shape == (1, 4, 256, 256)
    torch.testing.assert_close(out[0, :3].sum(0), torch.ones(256, 256))
    # blob centres read as more nuclear than the empty background
    nuclear = out[0, 0].numpy()
    assert nuclear[cells[0] > 2000].mean() > nuclear[cells[1] < 1000].mean()


def test_loss_stays_finite_when_the_error_vanishes():
    # a confident net on empty (all-diffuse) pixels: error ~0 and a tiny predicted scale
    net = FractionNet((8, 8, 8, 8), channels=3)
    with torch.no_grad():
        net.head.bias.view(4, 16)[2] = 50.0  # diffuse logit
        net.head.bias.view(4, 16)[3] = -500.0  # log scale
    target = torch.zeros(1, 3, 64, 64)
    target[:, 2] = 1.0
    kl, nll = fraction_loss(net, torch.zeros(1, 1, 64, 64), target, torch.ones(1, 1, 64, 64))
    assert torch.isfinite(kl)
    assert torch.isfinite(nll)
