"""The metric backbones, LPIPS v0.1 on AlexNet and the FID Inception-v3: their inputs, and finding and loading their
weights. The networks themselves, in plain torch, are in :mod:`vton.evaluate.networks`.

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

from vton import weights
from vton.errors import InputError, WeightsError
from vton.evaluate.networks import (
    LPIPS,
    AlexNetFeatures,
    FIDInceptionV3,
    LPIPSHeads,
    convert_alexnet_state_dict,
)

__all__ = [
    "ALEXNET_KEY", "LPIPS_KEY", "INCEPTION_KEY", "BACKBONE_KEYS", "RESIZE_MODES", "BackboneWeights", "find_backbone",
    "load_lpips", "load_inception", "inception_input", "inception_features", "lpips_distances",
    "write_random_backbones", "fetch_pinned",
]

ALEXNET_KEY = "eval/alexnet"
LPIPS_KEY = "eval/lpips-alex"
INCEPTION_KEY = "eval/inception"
BACKBONE_KEYS = {"lpips": (ALEXNET_KEY, LPIPS_KEY), "fid": (INCEPTION_KEY,), "kid": (INCEPTION_KEY,)}
RESIZE_MODES = ("clean", "legacy_pytorch", "legacy_tensorflow")
INCEPTION_SIZE = 299


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
