"""The metric backbones in plain torch (no torchvision): LPIPS v0.1 on AlexNet, and the FID Inception-v3.

LPIPS: Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018,
richzhang/PerceptualSimilarity (the ``lpips`` package, 0.1.4): inputs in [−1, 1], shifted and scaled by the
``ScalingLayer`` constants, AlexNet's five ReLU outputs (torchvision's ``alexnet().features`` indices 0–11),
unit-normalised over channels, squared differences weighted by the v0.1 linear heads (1 × 1 convolutions, no bias),
averaged over space and summed over layers. The AlexNet keys are torchvision's (``features.N.*`` of
``alexnet-owt-7be5be79.pth``; its ``classifier.*`` is dropped by :func:`convert_alexnet_state_dict`) and the heads'
keys are the package's (``lin{k}.model.1.weight`` of ``weights/v0.1/alex.pth``).

FID Inception: the TensorFlow Inception graph of 2015-12-05 ported to PyTorch by pytorch-fid (mseitzer/pytorch-fid,
``FIDInceptionA/C/E_1/E_2``: average pools that ignore the zero padding, and a max pool in the last block), keys of
``pt_inception-2015-12-05-6726825d.pth`` (torchvision's ``Inception3`` names with a 1008-way ``fc``, no aux
classifier); features are the 2048-d output of the final average pool.

How images reach 299 × 299 (``RESIZE_MODES``, after clean-fid, GaParmar/clean-fid):

- ``clean`` (default): clean-fid's PIL bicubic resize of each channel as 32-bit float, clipped to [0, 255], then
  ``(x − 128) / 128`` as clean-fid feeds its Inception;
- ``legacy_pytorch``: pytorch-fid's ``F.interpolate(bilinear, align_corners=False)`` on [0, 1], then ``2x − 1``;
- ``legacy_tensorflow``: TensorFlow 1's ``resize_bilinear`` (``align_corners=False``, no half-pixel centres: source
  coordinate = output index × in/out), which the original TF FID graph applied, then ``(x − 128) / 128``.

Weights are manifest entries (``eval/alexnet``, ``eval/lpips-alex``, ``eval/inception``; the authors' files with
their sha256). They are looked for in the local weights folder, then in vton's cache folder, and, unless offline
(``HF_HUB_OFFLINE=1``), downloaded once from the pinned URL in the entry's ``original`` into the cache folder,
checked for size and sha256 before anything opens them; then converted once to safetensors and loaded with
``strict=True`` by :mod:`vton.weights`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from vton import weights
from vton.errors import InputError, WeightsError

__all__ = [
    "ALEXNET_KEY", "LPIPS_KEY", "INCEPTION_KEY", "BACKBONE_KEYS", "RESIZE_MODES", "AlexNetFeatures", "LPIPSHeads",
    "LPIPS", "FIDInceptionV3", "convert_alexnet_state_dict", "BackboneWeights", "find_backbone", "load_lpips",
    "load_inception", "inception_input", "inception_features", "lpips_distances", "write_random_backbones",
    "fetch_pinned",
]

ALEXNET_KEY = "eval/alexnet"
LPIPS_KEY = "eval/lpips-alex"
INCEPTION_KEY = "eval/inception"
BACKBONE_KEYS = {"lpips": (ALEXNET_KEY, LPIPS_KEY), "fid": (INCEPTION_KEY,), "kid": (INCEPTION_KEY,)}
RESIZE_MODES = ("clean", "legacy_pytorch", "legacy_tensorflow")
INCEPTION_SIZE = 299


# ----------------------------------------------------------------------------------------------------------------
# LPIPS


class AlexNetFeatures(nn.Module):
    """torchvision's ``alexnet().features`` up to its last ReLU; returns the five ReLU outputs (LPIPS's taps)."""

    TAPS = (1, 4, 7, 9, 11)  # indices of relu1..relu5 in ``features``
    CHANNELS = (64, 192, 384, 256, 256)

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.TAPS:
                out.append(x)
        return out


class _Lin(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPSHeads(nn.Module):
    """The v0.1 linear heads ``lin0``..``lin4`` (1 × 1 convolutions to one channel, no bias)."""

    def __init__(self, channels: Sequence[int] = AlexNetFeatures.CHANNELS) -> None:
        super().__init__()
        for k, c in enumerate(channels):
            self.add_module(f"lin{k}", _Lin(c))

    def forward(self, diffs: list[torch.Tensor]) -> torch.Tensor:
        return sum(getattr(self, f"lin{k}")(d).mean(dim=(2, 3)) for k, d in enumerate(diffs))[:, 0]


class LPIPS(nn.Module):
    """LPIPS v0.1 (AlexNet): ``(B, 3, H, W)`` pairs in [−1, 1] → ``(B,)`` distances."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)
        self.net = AlexNetFeatures()
        self.heads = LPIPSHeads()

    @staticmethod
    def _unit(f: torch.Tensor) -> torch.Tensor:
        return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise InputError(f"LPIPS compares (B, 3, H, W) pairs of one shape, got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}")
        fx = self.net((x - self.shift) / self.scale)
        fy = self.net((y - self.shift) / self.scale)
        return self.heads([(self._unit(a) - self._unit(b)) ** 2 for a, b in zip(fx, fy, strict=True)])


def convert_alexnet_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's AlexNet checkpoint → :class:`AlexNetFeatures`: the ``classifier.*`` tensors (unused by
    LPIPS) are dropped; every ``features.*`` key is kept as it is."""
    return {k: v for k, v in sd.items() if not k.startswith("classifier.")}


# ----------------------------------------------------------------------------------------------------------------
# FID Inception


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)  # TF ignores the padding


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg3(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """``max_pool=False``: pytorch-fid's ``FIDInceptionE_1``; True: ``FIDInceptionE_2`` (a 3 × 3 max pool)."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID Inception: ``(B, 3, 299, 299)`` normalised to [−1, 1] → ``(B, 2048)`` pool features."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)  # the checkpoint's classifier; not used for the features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise InputError(f"the Inception reads (B, 3, H, W) images, got {tuple(x.shape)}")
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean(dim=(2, 3))  # (B, 2048): the final average pool


# ----------------------------------------------------------------------------------------------------------------
# inputs


def _rgb_array(img: Image.Image | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(img.convert("RGB")) if isinstance(img, Image.Image) else np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise InputError(f"the {what} must be an 8-bit RGB image (H, W, 3) uint8, got {arr.shape} {arr.dtype}")
    return arr


def _tf1_resize_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """TensorFlow 1 ``resize_bilinear(align_corners=False)``: source = index × in/out, edge-clamped."""
    def axis(n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        src = torch.arange(size, dtype=torch.float64, device=x.device) * (n_in / size)
        i0 = src.floor().long().clamp(max=n_in - 1)
        i1 = (i0 + 1).clamp(max=n_in - 1)
        return i0, i1, (src - i0).to(x.dtype)

    y0, y1, wy = axis(x.shape[2])
    x0, x1, wx = axis(x.shape[3])
    rows = x[:, :, y0] * (1 - wy)[:, None] + x[:, :, y1] * wy[:, None]  # (B, C, size, W)
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx  # (B, C, size, size)


def inception_input(img: Image.Image | np.ndarray, mode: str = "clean") -> torch.Tensor:
    """One 8-bit RGB image → ``(3, 299, 299)`` float32 input of the FID Inception for resize ``mode``."""
    if mode not in RESIZE_MODES:
        raise InputError(f"unknown resize mode {mode!r}; vton has {', '.join(RESIZE_MODES)}")
    arr = _rgb_array(img, "image")
    if mode == "clean":
        chans = [np.asarray(Image.fromarray(arr[:, :, c].astype(np.float32), mode="F").resize(
            (INCEPTION_SIZE, INCEPTION_SIZE), resample=Image.BICUBIC)) for c in range(3)]
        x = torch.from_numpy(np.stack(chans, 0).clip(0, 255).astype(np.float32))
        return (x - 128) / 128
    t = torch.from_numpy(arr.astype(np.float32)).permute(2, 0, 1)[None]  # (1, 3, H, W), 0..255
    if mode == "legacy_pytorch":
        t = F.interpolate(t / 255, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        return (2 * t - 1)[0]
    return ((_tf1_resize_bilinear(t, INCEPTION_SIZE) - 128) / 128)[0]


@torch.inference_mode()
def inception_features(net: FIDInceptionV3, images: Sequence[Image.Image | np.ndarray], *, mode: str = "clean",
                       batch: int = 8, device: str | torch.device = "cpu") -> np.ndarray:
    """``(N, 2048)`` float64 pool features of ``images`` (8-bit RGB, any size)."""
    out = []
    for i in range(0, len(images), batch):
        x = torch.stack([inception_input(im, mode) for im in images[i:i + batch]]).to(device)
        out.append(net(x).double().cpu().numpy())
    return np.concatenate(out, 0) if out else np.zeros((0, 2048))


def lpips_input(img: Image.Image | np.ndarray) -> torch.Tensor:
    """One 8-bit RGB image → ``(3, H, W)`` float32 in [−1, 1] (``x / 127.5 − 1``)."""
    arr = _rgb_array(img, "image")
    return torch.from_numpy(arr.astype(np.float32)).permute(2, 0, 1) / 127.5 - 1


@torch.inference_mode()
def lpips_distances(net: LPIPS, preds: Sequence[Image.Image | np.ndarray],
                    targets: Sequence[Image.Image | np.ndarray], *, batch: int = 8,
                    device: str | torch.device = "cpu") -> np.ndarray:
    """Per-pair LPIPS distances of images of one size, at that size (no resize)."""
    if len(preds) != len(targets):
        raise InputError(f"LPIPS needs pairs: {len(preds)} predictions vs {len(targets)} ground truths")
    if len({np.asarray(p).shape for p in preds}) > 1:
        batch = 1  # images of several sizes: one pair at a time
    out = []
    for i in range(0, len(preds), batch):
        x = torch.stack([lpips_input(p) for p in preds[i:i + batch]]).to(device)
        y = torch.stack([lpips_input(t) for t in targets[i:i + batch]]).to(device)
        if x.shape != y.shape:
            raise InputError(f"LPIPS needs images of one size: {tuple(x.shape[2:])} vs {tuple(y.shape[2:])} (H, W)")
        out.append(net(x, y).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


# ----------------------------------------------------------------------------------------------------------------
# weights


@dataclass(frozen=True)
class BackboneWeights:
    """Where a backbone file was found: ``origin`` is ``local`` (the weights folder), ``cache`` (vton's cache
    folder) or ``downloaded`` (fetched now from the pinned URL); ``random`` marks generated test weights."""

    key: str
    file: str
    path: Path
    root: Path
    sha256: str
    verified: bool
    random: bool
    origin: str
    source: str

    def as_dict(self) -> dict:
        return {"key": self.key, "file": self.file, "sha256": self.sha256, "verified": self.verified,
                "random": self.random, "origin": self.origin, "source": self.source}


def _roots(weights_dir: str | os.PathLike | None) -> list[tuple[Path, str]]:
    out = []
    local = weights.weights_dir_from_env(weights_dir)
    if local is not None:
        out.append((local, "local"))
    out.append((weights.cache_dir(), "cache"))
    return out


def _url(e: weights.WeightEntry) -> str | None:
    url = (e.original or {}).get("url")
    return url if isinstance(url, str) and url else None


def _missing(e: weights.WeightEntry, weights_dir: str | os.PathLike | None, reason: str) -> WeightsError:
    local = weights.weights_dir_from_env(weights_dir)
    where = (f"{local / e.folder / e.filename}" if local is not None else
             f"WEIGHTS_DIR/{e.folder}/{e.filename} (no --weights-dir given)")
    url = _url(e)
    fetch = (f"download {url} (sha256 {e.sha256 or 'unknown'}, {e.bytes:,} bytes) and place it at {where}, or run "
             f"once online (without HF_HUB_OFFLINE=1) so that vton downloads and checks it into "
             f"{weights.cache_dir() / e.folder}" if url else f"place the file at {where}")
    return WeightsError(f"The metric backbone file {e.filename} ({e.key}: {e.description.split('.')[0]}) is missing: "
                        f"{reason}. To get it, {fetch}. `python -m vton random-weights DIR --eval-backbones` "
                        "writes RANDOM stand-ins for testing (the scores are then meaningless).")


def fetch_pinned(key: str, dest_root: str | os.PathLike, *, chunk: int = 1 << 20) -> Path:
    """Download ``key``'s file from the pinned URL in its manifest entry into ``dest_root/<folder>/<file>``,
    checking size and sha256 before the file is moved into place (nothing is kept on a mismatch).

    Raises:
        WeightsError: no URL or digest is recorded, the download fails, or the size or digest differ.
    """
    import urllib.request

    e = weights.entry(key)
    url = _url(e)
    if url is None or e.sha256 is None:
        raise WeightsError(f"{key}: the manifest records no pinned URL with a sha256 for {e.filename}; vton never "
                           "downloads an unverified file.")
    target = Path(dest_root) / e.folder / e.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=e.filename + ".", suffix=".part", dir=target.parent)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - pinned
            while True:
                block = resp.read(chunk)
                if not block:
                    break
                size += len(block)
                if e.bytes is not None and size > e.bytes:
                    raise WeightsError(f"{key}: {url} sent more than the {e.bytes:,} bytes the manifest records; "
                                       "refused.")
                digest.update(block)
                out.write(block)
        if e.bytes is not None and size != e.bytes:
            raise WeightsError(f"{key}: {url} sent {size:,} bytes, the manifest records {e.bytes:,}; refused.")
        if digest.hexdigest() != e.sha256:
            raise WeightsError(f"{key}: {url} has sha256 {digest.hexdigest()}, the manifest expects {e.sha256}; "
                               "refused (nothing was opened or kept).")
        os.replace(tmp, target)
    except OSError as exc:
        raise WeightsError(f"{key}: downloading {url} failed ({type(exc).__name__}: {exc}).") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def find_backbone(key: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True
                  ) -> BackboneWeights:
    """Find and sha256-verify ``key``'s file: the local folder, vton's cache, else (online, ``download``) the pinned
    URL into the cache.

    Raises:
        WeightsError: the file is missing (offline or ``download=False``; the message names the file and how to get
            it) or its digest does not match.
    """
    e = weights.entry(key)
    for root, origin in _roots(weights_dir):
        le, _ = weights.local_entry(key, root)
        if (root / le.folder / le.filename).is_file():
            r = weights.resolve(key, root, download=False)
            random = weights.local_status(key, root)["random"]
            return BackboneWeights(key, le.filename, r.path, root, r.sha256, r.verified, random, origin, e.source)
    if not download:
        raise _missing(e, weights_dir, "it is in neither the weights folder nor vton's cache, and downloading was "
                                       "not allowed")
    if weights.hub_offline():
        raise _missing(e, weights_dir, "it is in neither the weights folder nor vton's cache, and HF_HUB_OFFLINE=1 "
                                       "(offline) forbids the download")
    if _url(e) is None:
        raise _missing(e, weights_dir, "it is in neither the weights folder nor vton's cache")
    root = weights.cache_dir()
    fetch_pinned(key, root)
    r = weights.resolve(key, root, download=False)
    return BackboneWeights(key, e.filename, r.path, root, r.sha256, r.verified, False, "downloaded", e.source)


def load_lpips(weights_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu", *,
               download: bool = True) -> tuple[LPIPS, list[BackboneWeights]]:
    """LPIPS v0.1 (AlexNet) with both files loaded ``strict=True``; the network and the files' provenance."""
    net = LPIPS()
    found = []
    for key, module, rename in ((ALEXNET_KEY, net.net, convert_alexnet_state_dict), (LPIPS_KEY, net.heads, None)):
        b = find_backbone(key, weights_dir, download=download)
        weights.load_into(module, key, b.root, rename)
        found.append(b)
    return net.eval().to(device), found


def load_inception(weights_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu", *,
                   download: bool = True) -> tuple[FIDInceptionV3, list[BackboneWeights]]:
    """The FID Inception loaded ``strict=True``; the network and its file's provenance."""
    net = FIDInceptionV3()
    b = find_backbone(INCEPTION_KEY, weights_dir, download=download)
    weights.load_into(net, INCEPTION_KEY, b.root)
    return net.eval().to(device), [b]


def write_random_backbones(out_dir: str | os.PathLike, *, seed: int = 0) -> dict[str, Path]:
    """RANDOM stand-ins of the three backbone files in ``out_dir/<folder>/`` under the authors' file names, with
    their keys (AlexNet without its unused ``classifier.*``), declared ``synthetic`` with their sha256 in the
    folder's ``manifest.json`` so that they load verified and are reported as RANDOM. Convolutions are He-normal and
    BatchNorm the identity, so the features neither vanish nor explode; the heads are non-negative, as trained ones.

    Returns:
        ``{manifest key: file}``.
    """
    g = torch.Generator().manual_seed(seed)

    def he(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for k, v in sd.items():
            if k.endswith("weight") and v.ndim == 4:
                fan_in = v.shape[1] * v.shape[2] * v.shape[3]
                out[k] = torch.randn(v.shape, generator=g) * (2.0 / fan_in) ** 0.5
            elif k.endswith("weight") and v.ndim == 2:
                out[k] = torch.randn(v.shape, generator=g) / v.shape[1] ** 0.5
            elif k.endswith("bias"):
                out[k] = torch.zeros_like(v)
            else:
                out[k] = v.clone()  # BatchNorm running stats and weights: the identity
        return out

    heads = {k: torch.rand(v.shape, generator=g) / v.shape[1] for k, v in LPIPSHeads().state_dict().items()}
    files = {ALEXNET_KEY: he(AlexNetFeatures().state_dict()), LPIPS_KEY: heads,
             INCEPTION_KEY: he(FIDInceptionV3().state_dict())}
    written = {}
    for key, sd in files.items():
        e = weights.entry(key)
        path = Path(out_dir) / e.folder / e.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(sd, path)
        weights.declare_local_file(path, key, "pth", f"RANDOM stand-in for {e.filename} (seed {seed}); scores "
                                                     "computed with it are meaningless.")
        written[key] = path
    return written
