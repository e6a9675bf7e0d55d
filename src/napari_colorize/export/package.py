"""``export_bioimageio``: a napari-colorize model as a bioimage.io model package (a zip).

The package holds the network wrapped to take gray and return an image (:mod:`.wrapped`) as
TorchScript and as a state dict with its architecture source, test tensors from a real crop, a
cover, the model card as documentation, and the napari-colorize card and weights themselves, so
``load_model("package.zip")`` gives back exactly the exported model.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.color import gamut_limits
from ..core.intensity import PERCENTILES
from ..io.writable import check_writable, default_mode
from ..models.network import DEFAULT_COLOUR_SPREAD
from ..models.package import CONFIG_KEY, PACKAGE_RDF
from ..models.resolve import resolve_model
from ..models.spec import ColorModel
from .docs import package_readme
from .examples import example_image
from .rdf import CITATIONS, FORMAT_VERSION, HALO, input_tensor, min_side, output_tensors, tags
from .source import architecture_source
from .wrapped import GrayToFractions, GrayToRGB

#: Largest halo offered: more context than the network's receptive field adds nothing.
MAX_HALO = 256


def export_bioimageio(model: Any, path: str | os.PathLike[str], *, example: Any = None,
                      halo: int | None = None, overwrite: bool = False) -> Path:
    """Export a model as a bioimage.io model package (format 0.5), a ``.zip``.

    Parameters
    ----------
    model : str, path or ColorModel
        A bundled or user model name, a tuned model's ``.safetensors``/``.json``, or a loaded
        model.
    path : str or path
        The package to write; must end in ``.zip``.
    example : array-like or path, optional
        A 2-D grayscale image for the test tensors and the cover (centre-cropped to at most
        512 a side); default: a real crop shipped for the model's kind.
    halo : int, optional
        Context a tiled consumer crops from each side of each tile's output; default 32
        pixels for colour models, 64 for channel models (see :data:`.rdf.HALO`).
    overwrite : bool
        Replace ``path`` if it exists.

    Returns
    -------
    Path
        The package. It is written to a temporary name first: a failure leaves nothing.

    Raises
    ------
    ValueError
        A path that is not ``.zip``, an existing one without ``overwrite``, a bad example or
        halo, or a model that cannot be loaded (one line naming it).

    Examples
    --------
    >>> import tempfile, zipfile
    >>> out = export_bioimageio("he-histology", tempfile.mkdtemp() + "/he.zip")
    >>> sorted(zipfile.ZipFile(out).namelist())[:4]
    ['README.md', 'architecture.py', 'cover.png', 'he-histology.json']
    """
    out = Path(path)
    if out.suffix.lower() != ".zip":
        raise ValueError(f"package path {out} must end in .zip")
    if out.is_dir():
        raise ValueError(f"output {out} is a folder; a package never replaces a folder")
    if out.exists() and not overwrite:
        raise ValueError(f"output {out} already exists; pass overwrite=True (--overwrite) to "
                         "replace it")
    if not out.parent.is_dir():
        raise ValueError(f"output folder {out.parent} does not exist")
    check_writable(out.parent)  # before the work: tracing and test tensors take a while
    net = resolve_model(model, "cpu")
    if not isinstance(net, ColorModel) or not net.card.get("architecture"):
        raise ValueError("only models with a card can be exported: pass a model name, a "
                         ".safetensors/.json path or a model load_model returned")
    spec = net.spec
    halo = HALO[spec.kind] if halo is None else halo
    if isinstance(halo, bool) or not isinstance(halo, int) or not 0 < halo <= MAX_HALO:
        raise ValueError(f"halo {halo!r} must be an int from 1 to {MAX_HALO} pixels")
    image = example_image(spec.kind, example, spec.divisor, min_side(spec, halo))
    wrapper = _wrapper(net)
    files: dict[str, bytes] = {}
    # uint8 is fed as it is; other data as float32, the type the description declares
    test_input = image[None, None] if image.dtype == np.uint8 else image[None, None].astype(
        np.float32)
    gray = _preprocess(test_input)
    with torch.no_grad(), warnings.catch_warnings():
        # TorchScript is deprecated in torch but is what deepImageJ and QuPath run
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch")
        traced = torch.jit.trace(wrapper, torch.from_numpy(gray), check_trace=False)
        outputs = [t.numpy() for t in wrapper(torch.from_numpy(gray))]
        files["weights.torchscript.pt"] = _torch_bytes(torch.jit.save, traced)
    files["weights.pt"] = _torch_bytes(torch.save, wrapper.state_dict())
    files["architecture.py"] = architecture_source().encode()
    files["test_input.npy"] = _npy(test_input)
    files["sample_input.tif"] = _tif(image)
    out_desc = output_tensors(spec, halo)
    for desc, array in zip(out_desc, outputs, strict=True):
        files[f"test_output_{desc['id']}.npy"] = _npy(array.astype(np.float32))
        files[f"sample_output_{desc['id']}.tif"] = _tif(array[0].squeeze().astype(np.float32))
    files["cover.png"] = _cover(gray[0, 0], outputs[0][0], spec)
    files["README.md"] = package_readme(net.card, spec, halo).encode()
    card_name, weights_name = f"{spec.name}.json", f"{spec.name}.safetensors"
    files[weights_name] = _weights_bytes(net)
    # the same bytes as the model's own file; a network changed in memory gets its own digest
    card = dict(net.card, weights=weights_name,
                sha256=hashlib.sha256(files[weights_name]).hexdigest())
    files[card_name] = json.dumps(card, indent=2).encode() + b"\n"
    rdf = _description(net, spec, files, out_desc, card_name, weights_name, str(image.dtype),
                       halo)
    files[PACKAGE_RDF] = _yaml(rdf).encode()
    _write_zip(out, files)
    return out


def _wrapper(net: ColorModel) -> torch.nn.Module:
    """Build the float32 CPU wrapper of a model's network, its weights copied."""
    kwargs = architecture_kwargs(net.card)
    wrapper: GrayToRGB | GrayToFractions
    if net.spec.kind == "chroma":
        wrapper = GrayToRGB(**kwargs)
        wrapper.gamut.copy_(gamut_limits())
    else:
        wrapper = GrayToFractions(**kwargs)
    state = {k: v.float().cpu().contiguous() for k, v in net.net.state_dict().items()}
    wrapper.net.load_state_dict(state)
    return wrapper.eval()


def architecture_kwargs(card: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments that build a card's wrapper from the architecture source.

    Examples
    --------
    >>> architecture_kwargs({"architecture": {"class": "ChromaNet", "widths": [8, 8, 8, 8]}})
    {'widths': [8, 8, 8, 8], 'colour_spread': 1.0}
    """
    arch = card["architecture"]
    kwargs: dict[str, Any] = {"widths": list(arch["widths"])}
    if arch.get("class") == "FractionNet":
        kwargs.update(channels=int(arch["channels"]), prior=arch.get("prior"))
    else:
        kwargs.update(colour_spread=float(arch.get("colour_spread", DEFAULT_COLOUR_SPREAD)))
    return kwargs


def _preprocess(raw: np.ndarray) -> np.ndarray:
    """Apply the package's preprocessing as bioimage.io consumers do (see :mod:`.rdf`)."""
    if raw.dtype == np.uint8:
        return (raw.astype(np.float32) * np.float32(1 / 255)).astype(np.float32)
    x = raw.astype(np.float32)
    low, high = np.percentile(x, PERCENTILES)  # the window the description declares
    return np.clip((x - low) / (high - low + 1e-6), 0, 1).astype(np.float32)


def _description(net: ColorModel, spec: Any, files: dict[str, bytes], outputs: list[dict],
                 card_name: str, weights_name: str, dtype: str, halo: int) -> dict[str, Any]:
    from .. import __version__

    card = net.card
    inputs = [dict(input_tensor(spec, dtype, halo), test_tensor=_file("test_input.npy", files),
                   sample_tensor=_file("sample_input.tif", files))]
    outs = [dict(o, test_tensor=_file(f"test_output_{o['id']}.npy", files),
                 sample_tensor=_file(f"sample_output_{o['id']}.tif", files)) for o in outputs]
    callable_name = "GrayToRGB" if spec.kind == "chroma" else "GrayToFractions"
    torch_version = torch.__version__.split("+")[0]
    return {
        "format_version": FORMAT_VERSION,
        "type": "model",
        "name": f"napari-colorize {spec.name}",
        "description": str(card.get("description") or f"napari-colorize model {spec.name}")[:1000],
        "version": str(card.get("version", spec.version)),
        "authors": [{"name": "napari-colorize developers"}],
        "cite": CITATIONS,
        "license": "BSD-3-Clause",
        "tags": tags(spec),
        "documentation": "README.md",
        "covers": ["cover.png"],
        "timestamp": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "inputs": inputs,
        "outputs": outs,
        "weights": {
            "pytorch_state_dict": dict(
                _file("weights.pt", files),
                architecture=dict(_file("architecture.py", files), callable=callable_name,
                                  kwargs=architecture_kwargs(card)),
                pytorch_version=torch_version),
            "torchscript": dict(_file("weights.torchscript.pt", files),
                                pytorch_version=torch_version, parent="pytorch_state_dict"),
        },
        "attachments": [_file(card_name, files), _file(weights_name, files)],
        "config": {CONFIG_KEY: {"version": __version__, "card": card_name,
                                "weights": weights_name, "model": spec.name,
                                "training_data": card.get("data") or []}},
    }


def _file(name: str, files: dict[str, bytes]) -> dict[str, str]:
    return {"source": name, "sha256": hashlib.sha256(files[name]).hexdigest()}


def _torch_bytes(save: Any, obj: Any) -> bytes:
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array))
    return buffer.getvalue()


def _tif(array: np.ndarray) -> bytes:
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, compression="zlib", photometric="minisblack")
    return buffer.getvalue()


def _weights_bytes(net: ColorModel) -> bytes:
    """Serialise the network's weights as a safetensors file (as ``save_model`` does)."""
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in net.net.state_dict().items()})


def _cover(gray: np.ndarray, first: np.ndarray, spec: Any) -> bytes:
    """Draw a 2:1 cover: the gray input beside the output (fractions in the palette)."""
    from PIL import Image

    from ..core.render import render_composite

    left = np.repeat((gray * 255 + 0.5).astype(np.uint8)[..., None], 3, -1)
    if spec.kind == "chroma":
        right = (np.moveaxis(first, 0, -1) * 255 + 0.5).astype(np.uint8)
    else:
        right = render_composite(first * gray[None], spec.palette)
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate([left, right], axis=1)).save(buffer, format="PNG")
    return buffer.getvalue()


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # spell shared values out, no &anchors
            return True

    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


def _write_zip(out: Path, files: dict[str, bytes]) -> None:
    """Write the zip under a temporary name in the same folder, then move it into place."""
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                entry = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
                entry.external_attr = 0o644 << 16  # readable by all once unpacked (not 0o600)
                zf.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
        default_mode(tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
