"""Fixtures of the format matrix: the tiny seeded model, saved once for the CLI."""

from __future__ import annotations

import pytest
import torch

from napari_colorize.models.network import ChromaNet
from napari_colorize.models.registry import load_model, save_model


@pytest.fixture(scope="session")
def model_file(tmp_path_factory) -> str:
    """The tiny seeded model of tests/conftest.py, saved once for the CLI."""
    torch.manual_seed(0)
    net = ChromaNet((8, 8, 8, 8))
    for p in net.head.parameters():
        torch.nn.init.normal_(p, std=0.05)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_model(net, {"name": "tiny"}, path))


@pytest.fixture(scope="session")
def model(model_file):
    return load_model(model_file, device="cpu")
