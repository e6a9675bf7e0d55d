"""Devices torch can use here, best first, and the check of a device a user names."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    """List the devices torch can use here, best first.

    Returns
    -------
    list of str
        ``"cuda"``, ``"mps"`` where available, and ``"cpu"``.

    Examples
    --------
    >>> available_devices()[-1]
    'cpu'
    """
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return [*devices, "cpu"]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Return the device a name stands for, checked to exist here.

    Parameters
    ----------
    device : str, torch.device or None
        A device; ``"auto"`` or ``None``: the best available one.

    Returns
    -------
    torch.device

    Raises
    ------
    TypeError
        ``device`` is not a name or a device.
    ValueError
        Not a device name, or not available here.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device 'gpu' is not a device name; available: [...]
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device(available_devices()[0])
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a name such as 'cpu', 'cuda' or 'auto'; got "
                        f"{type(device).__name__} {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device {device!r} is not a device name; available: {available_devices()}"
        ) from None
    if dev.type not in available_devices():
        raise ValueError(
            f"device {device!r} is not available here; available: {available_devices()}"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} is not available here: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    return dev
