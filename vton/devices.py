"""Which torch device a run uses: the caller's choice checked against the devices this machine has.

``torch.device("cuda")`` is accepted by torch on a machine without CUDA, and ``meta`` or ``cuda:99`` fail only
deep inside a network (``AssertionError: Torch not compiled with CUDA enabled``) or, for a method without
networks, not at all while the run records a device it never used. ``pick_device`` refuses such a device up front
with a message that names the devices available; ``device_used`` says what a loaded method really ran on.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .errors import InputError

__all__ = ["available_devices", "pick_device", "device_used"]

_MAX_SHOWN = 60  # characters of a bad device name repeated in a message


def available_devices() -> list[str]:
    """The devices vton can run on here: ``cpu``, then ``cuda:0`` … and ``mps`` where present."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def pick_device(device: str | torch.device | None) -> torch.device:
    """The torch device to run on: None picks CUDA when available, else the CPU; anything else must exist here.

    Raises:
        InputError: not a device name, a device type vton does not run on (``meta``, ``xla``, …), CUDA or MPS on
            a machine without it, or a CUDA index beyond the GPUs present; the message lists the available devices.
    """
    available = available_devices()
    if device is None:
        return torch.device("cuda" if "cuda:0" in available else "cpu")
    shown = repr(device) if len(repr(device)) <= _MAX_SHOWN else repr(device)[:_MAX_SHOWN] + "…"
    if not isinstance(device, (str, torch.device)):
        raise InputError(f"the device must be a name such as 'cpu' or 'cuda', got {type(device).__name__}; "
                         f"available here: {', '.join(available)}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"{shown} is not a torch device name; available here: {', '.join(available)}") from None
    name = dev.type if dev.index is None else f"{dev.type}:{dev.index}"
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type == "cuda":
        if "cuda:0" not in available:
            reason = ("this torch build has no CUDA" if not torch.backends.cuda.is_built()
                      else "no CUDA GPU is visible")
            raise InputError(f"device {name!r} was asked for, but {reason}; available here: "
                             f"{', '.join(available)}")
        if dev.index is not None and f"cuda:{dev.index}" not in available:
            raise InputError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA "
                             f"GPU(s); available here: {', '.join(available)}")
        return dev
    if dev.type == "mps" and "mps" in available:
        return dev
    raise InputError(f"vton does not run on device {name!r}; available here: {', '.join(available)}")


def device_used(devices: Iterable[torch.device]) -> str:
    """The device a run's networks are on (``cpu`` when it has none: such methods compute in NumPy on the CPU)."""
    found = sorted({str(d) for d in devices})
    return ", ".join(found) if found else "cpu"
