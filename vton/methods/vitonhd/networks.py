"""VITON-HD's three networks: the segmentation generator, the geometric matching module and the ALIAS generator.

Choi et al., "VITON-HD: High-Resolution Virtual Try-On via Misalignment-Aware Normalization", CVPR 2021,
https://github.com/shadow2496/VITON-HD (02afa4b5, ``networks.py``). Written from the documented facts of that code
(``../shared/golden/README.md``, VITON-HD section); the state-dict keys and shapes equal the released checkpoints
(``seg_final.pth``, ``gmm_final.pth``, ``alias_final.pth``), so they load with ``strict=True``.

Convention: NCHW float32, batch first; images in [-1, 1], masks {0, 1}. The segmentation generator and the GMM read
maps at ``VITONHDConfig.low_res`` (256 × 192 in the authors' test script, whatever the load size); the TPS grid and
the ALIAS generator work at the load size (1024 × 768). The TPS grid is used with ``F.grid_sample(...,
align_corners=False)``: the authors required torch ≥ 1.6, where that is the default.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from vton.geometry.tps import control_points, tps_system
from vton.methods.cpvton.networks import FeatureExtraction, FeatureRegression, feature_correlation

__all__ = [
    "VITONHDConfig", "SegGenerator", "VITONHDTps", "GMM", "SNConv2d", "mask_norm", "ALIASNorm", "ALIASResBlock",
    "ALIASGenerator", "NETWORKS", "build_vitonhd_network", "alias_noise_shapes", "draw_alias_noise",
]

NETWORKS = ("seg", "gmm", "alias")


@dataclass
class VITONHDConfig:
    """Hyper-parameters of the three networks (defaults = the released checkpoints, test.py's options).

    Args:
        load_height, load_width: the try-on frame (the ALIAS output and the TPS grid); multiples of 128.
        low_res: ``(H, W)`` at which the segmentation generator and the GMM read their inputs (test.py: 256 × 192).
        seg_classes: classes of the generated segmentation (13).
        alias_classes: classes the ALIAS generator is conditioned on (7; the mask-normalised blocks add the
            misalignment channel).
        ngf: base width of all three networks (64; smaller values make tiny networks for plumbing tests).
        norm_hidden: hidden width of every ALIASNorm's modulation convs (128).
        grid_size: TPS control points per axis (5).
        tps_extent: the TPS base grid and control points span ``[-tps_extent, tps_extent]`` (0.9 in VITON-HD).
    """

    load_height: int = 1024
    load_width: int = 768
    low_res: tuple[int, int] = (256, 192)
    seg_classes: int = 13
    alias_classes: int = 7
    ngf: int = 64
    norm_hidden: int = 128
    grid_size: int = 5
    tps_extent: float = 0.9

    def __post_init__(self) -> None:
        for name in ("load_height", "load_width"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0 or v % 128:
                raise ValueError(f"{name} must be a positive multiple of 128, got {v!r}")
        h, w = (int(v) for v in self.low_res)
        if h <= 0 or w <= 0 or h % 64 or w % 64:
            raise ValueError(f"low_res must be (H, W) multiples of 64, got {self.low_res!r}")
        self.low_res = (h, w)
        for name in ("seg_classes", "alias_classes", "ngf", "norm_hidden"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.ngf % 2:
            raise ValueError(f"ngf must be even (the last ALIAS block has ngf / 2 channels), got {self.ngf}")
        if self.grid_size < 2 or not 0 < self.tps_extent <= 1:
            raise ValueError(f"grid_size must be >= 2 and tps_extent in (0, 1], got {self.grid_size}, "
                             f"{self.tps_extent}")

    @property
    def seg_in_channels(self) -> int:
        """cloth mask 1 + masked cloth 3 + parse-agnostic (seg_classes) + pose image 3 + noise 1."""
        return 1 + 3 + self.seg_classes + 3 + 1

    @property
    def gmm_person_channels(self) -> int:
        """The upper-clothes channel 1 + pose image 3 + agnostic image 3."""
        return 1 + 3 + 3

    @property
    def alias_in_channels(self) -> int:
        """agnostic image 3 + pose image 3 + warped cloth 3."""
        return 9

    @property
    def latent_size(self) -> tuple[int, int]:
        """``(H, W)`` of the ALIAS generator's coarsest level: the load size / 2⁷ (seven ×2 upsamplings)."""
        return self.load_height // 128, self.load_width // 128


# -------------------------------------------------------------------------------------------------------- seg


def _double_conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.InstanceNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1), nn.InstanceNorm2d(c_out), nn.ReLU()]


def _up_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1),
                         nn.InstanceNorm2d(c_out), nn.ReLU())


class SegGenerator(nn.Module):
    """A 5-level U-Net (double 3×3 conv + non-affine InstanceNorm + ReLU, 2×2 max-pool, dropout after the two
    deepest levels, nearest ×2 + conv on the way up, skip first in each concat) ending in a sigmoid.

    ``(B, 21, h, w) -> (B, 13, h, w)`` probabilities (not logits). Keys ``conv1..conv9``, ``up6..up9``.
    """

    def __init__(self, cfg: VITONHDConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or VITONHDConfig()
        c = [cfg.ngf * 2**i for i in range(5)]  # 64, 128, 256, 512, 1024
        self.conv1 = nn.Sequential(*_double_conv(cfg.seg_in_channels, c[0]))
        self.conv2 = nn.Sequential(*_double_conv(c[0], c[1]))
        self.conv3 = nn.Sequential(*_double_conv(c[1], c[2]))
        self.conv4 = nn.Sequential(*_double_conv(c[2], c[3]))
        self.conv5 = nn.Sequential(*_double_conv(c[3], c[4]))
        self.up6, self.conv6 = _up_conv(c[4], c[3]), nn.Sequential(*_double_conv(c[4], c[3]))
        self.up7, self.conv7 = _up_conv(c[3], c[2]), nn.Sequential(*_double_conv(c[3], c[2]))
        self.up8, self.conv8 = _up_conv(c[2], c[1]), nn.Sequential(*_double_conv(c[2], c[1]))
        self.up9 = _up_conv(c[1], c[0])
        self.conv9 = nn.Sequential(*_double_conv(c[1], c[0]), nn.Conv2d(c[0], cfg.seg_classes, 3, padding=1))
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.cfg.seg_in_channels or x.shape[2] % 16 or x.shape[3] % 16:
            raise ValueError(f"SegGenerator reads (B, {self.cfg.seg_in_channels}, H, W) with H, W multiples of 16, "
                             f"got {tuple(x.shape)}")
        c1 = self.conv1(x)
        c2 = self.conv2(self.pool(c1))
        c3 = self.conv3(self.pool(c2))
        c4 = self.drop(self.conv4(self.pool(c3)))
        c5 = self.drop(self.conv5(self.pool(c4)))
        c6 = self.conv6(torch.cat([c4, self.up6(c5)], 1))
        c7 = self.conv7(torch.cat([c3, self.up7(c6)], 1))
        c8 = self.conv8(torch.cat([c2, self.up8(c7)], 1))
        c9 = self.conv9(torch.cat([c1, self.up9(c8)], 1))
        return torch.sigmoid(c9)  # (B, seg_classes, h, w)


# -------------------------------------------------------------------------------------------------------- gmm


@lru_cache(maxsize=2)
def _tps_constants(out_h: int, out_w: int, grid_size: int, extent: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(matrix (H·W, N), base (H, W, 2))`` float32, computed in float64 (cached: every build of the GMM reuses
    them; callers must not modify them in place)."""
    n = grid_size * grid_size
    ctrl = extent * control_points(grid_size, dtype=torch.float64)  # (N, 2)
    l_inv = torch.linalg.inv(tps_system(ctrl))  # (N+3, N+3)
    ys = extent * torch.linspace(-1.0, 1.0, out_h, dtype=torch.float64)
    xs = extent * torch.linspace(-1.0, 1.0, out_w, dtype=torch.float64)
    dx2 = (xs[:, None] - ctrl[None, :, 0]) ** 2  # (W, N)
    matrix = torch.empty(out_h, out_w, n, dtype=torch.float32)
    for i in range(0, out_h, 64):  # 64 rows of output pixels at a time (float64 intermediates stay ~10 MB)
        y = ys[i:i + 64, None, None]  # (r, 1, 1)
        d2 = dx2 + (y - ctrl[:, 1]) ** 2  # (r, W, N)
        u = d2 * torch.log(torch.where(d2 > 0, d2, torch.ones_like(d2)))  # U(0) = 0
        affine = l_inv[n, :n] + xs[:, None] * l_inv[n + 1, :n] + y * l_inv[n + 2, :n]  # (r, W, N): 1, x, y rows
        matrix[i:i + 64] = (u @ l_inv[:n, :n] + affine).float()
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return matrix.view(out_h * out_w, n), torch.stack([gx, gy], -1).float()


class VITONHDTps(nn.Module):
    """``theta (B, 2N) -> grid (B, H, W, 2)``: CP-VTON's TPS with base grid and control points on ±``extent``.

    Control point ``k`` is at ``extent · (a[k // g], a[k % g])`` with ``a = linspace(-1, 1, g)`` (y fastest),
    ``theta[:, :N]`` are x offsets and ``theta[:, N:]`` y offsets; the output pixels sample
    ``extent · linspace(-1, 1)`` on each axis, so ``theta = 0`` gives a ``1 / extent`` zoom on the source when used
    with ``align_corners=False``. The linear map from the offsets to the grid is built once in float64 (the
    constants are non-persistent buffers; nothing of this module is in a state dict).
    """

    def __init__(self, out_h: int, out_w: int, grid_size: int = 5, extent: float = 0.9) -> None:
        super().__init__()
        self.out_h, self.out_w, self.grid_size, self.extent = out_h, out_w, grid_size, extent
        matrix, base = _tps_constants(out_h, out_w, grid_size, float(extent))
        self.register_buffer("matrix", matrix, persistent=False)  # (H*W, N): grid = base + matrix @ offsets
        self.register_buffer("base", base, persistent=False)  # (H, W, 2)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        n = self.grid_size * self.grid_size
        if theta.ndim != 2 or theta.shape[1] != 2 * n:
            raise ValueError(f"theta must be (B, {2 * n}): {n} x offsets then {n} y offsets, got {tuple(theta.shape)}")
        offsets = theta.reshape(theta.shape[0], 2, n).transpose(1, 2)  # (B, N, 2): x offsets then y offsets
        delta = torch.matmul(self.matrix.to(theta.dtype), offsets)  # (B, H*W, 2)
        return self.base.to(theta.dtype).unsqueeze(0) + delta.view(-1, self.out_h, self.out_w, 2)

    def extra_repr(self) -> str:
        return f"out_h={self.out_h}, out_w={self.out_w}, grid_size={self.grid_size}, extent={self.extent}"


class GMM(nn.Module):
    """``(person (B, 7, h, w), cloth (B, 3, h, w)) -> (theta (B, 2N), grid (B, H, W, 2))`` at ``h, w = low_res``.

    The feature extractors, the correlation and the regressor are CP-VTON's (:mod:`vton.methods.cpvton.networks`;
    keys ``extractionA``, ``extractionB``, ``regression``); the features are L2-normalised with ``F.normalize``
    (ε = 1e-12) and the TPS grid is made at the load size by :class:`VITONHDTps`.
    """

    def __init__(self, cfg: VITONHDConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or VITONHDConfig()
        top = 8 * cfg.ngf  # 512
        self.extractionA = FeatureExtraction(cfg.gmm_person_channels, cfg.ngf, max_channels=top)
        self.extractionB = FeatureExtraction(3, cfg.ngf, max_channels=top)
        fh, fw = cfg.low_res[0] // 16, cfg.low_res[1] // 16
        self.regression = FeatureRegression(fh * fw, (fh, fw), 2 * cfg.grid_size**2, cfg.ngf)
        self.grid_gen = VITONHDTps(cfg.load_height, cfg.load_width, cfg.grid_size, cfg.tps_extent)

    def forward(self, person: torch.Tensor, cloth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (self.cfg.gmm_person_channels, *self.cfg.low_res)
        if person.ndim != 4 or tuple(person.shape[1:]) != shape or tuple(cloth.shape[1:]) != (3, *self.cfg.low_res):
            raise ValueError(f"GMM reads person (B, {', '.join(map(str, shape))}) and cloth (B, 3, "
                             f"{self.cfg.low_res[0]}, {self.cfg.low_res[1]}), got {tuple(person.shape)} and "
                             f"{tuple(cloth.shape)}")
        fa = F.normalize(self.extractionA(person), dim=1)  # (B, C, h/16, w/16)
        fb = F.normalize(self.extractionB(cloth), dim=1)
        theta = self.regression(feature_correlation(fa, fb))  # (B, 2N): x offsets then y offsets
        return theta, self.grid_gen(theta)


# ------------------------------------------------------------------------------------------------------ alias


class SNConv2d(nn.Module):
    """A conv with spectral normalisation as the released checkpoints hold it, in eval: the weight used is
    ``weight_orig / σ`` with ``σ = weight_u · (weight_orig.reshape(out, -1) @ weight_v)``, u and v exactly as stored
    (no power iteration, no re-normalisation). Keys ``weight_orig``, ``weight_u``, ``weight_v`` [, ``bias``]."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        self.weight_orig = nn.Parameter(torch.empty(c_out, c_in, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.register_buffer("weight_u", torch.empty(c_out))
        self.register_buffer("weight_v", torch.empty(c_in * kernel_size * kernel_size))
        nn.init.kaiming_uniform_(self.weight_orig, a=5**0.5)
        nn.init.normal_(self.weight_u)
        nn.init.normal_(self.weight_v)

    def weight(self) -> torch.Tensor:
        w = self.weight_orig
        sigma = torch.dot(self.weight_u, torch.mv(w.reshape(w.shape[0], -1), self.weight_v))
        return w / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


def mask_norm(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """VITON-HD's MaskNorm: instance-normalise the regions inside and outside ``mask`` separately.

    For ``(region, m)`` in ``(x·mask, mask)`` and ``(x·(1 − mask), 1 − mask)``: ``n = Σm`` (soft; 0 → 1),
    ``μ = Σregion / n``, ``IN(region + (1 − m)·μ) · sqrt(n / (h·w))``; the two parts are added.

    Args:
        x: ``(B, C, H, W)``; mask: ``(B, 1, H, W)`` in [0, 1].
    """
    h, w = x.shape[2:]
    out = None
    for m in (mask, 1 - mask):
        region = x * m
        n = m.sum((2, 3), keepdim=True)  # (B, 1, 1, 1)
        n = torch.where(n == 0, torch.ones_like(n), n)
        mu = region.sum((2, 3), keepdim=True) / n  # (B, C, 1, 1)
        part = F.instance_norm(region + (1 - m) * mu, eps=eps) * torch.sqrt(n / (h * w))
        out = part if out is None else out + part
    return out


class ALIASNorm(nn.Module):
    """Noise, a parameter-free norm (MaskNorm with the misalignment mask, or InstanceNorm), then a spatial affine
    ``norm · (1 + γ) + β`` with ``γ, β = conv3(ReLU(conv3(seg)))``.

    The noise is one normal draw per pixel shared by all channels, scaled per channel by ``noise_scale`` and added
    before the norm. ``forward`` takes the draw in the authors' shape ``(B, W, H, 1)`` (W before H) so their draws
    can be injected: ``noise[b, c, y, x] = draw[b, x, y, 0] · noise_scale[c]``.
    """

    def __init__(self, kind: str, channels: int, label_nc: int, hidden: int = 128) -> None:
        super().__init__()
        if kind not in ("mask", "instance"):
            raise ValueError(f"ALIASNorm kind is 'mask' or 'instance', got {kind!r}")
        self.kind = kind
        self.noise_scale = nn.Parameter(torch.zeros(channels))
        self.conv_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, 3, padding=1), nn.ReLU())
        self.conv_gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.conv_beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor, draw: torch.Tensor,
                misalign: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        if tuple(draw.shape) != (b, w, h, 1):
            raise ValueError(f"an ALIASNorm noise draw is (B, W, H, 1) = {(b, w, h, 1)}, got {tuple(draw.shape)}")
        noise = draw.to(x)[..., 0].transpose(1, 2)[:, None] * self.noise_scale[:, None, None]  # (B, C, H, W)
        if self.kind == "mask":
            if misalign is None:
                raise ValueError("a mask ALIASNorm needs the misalignment mask")
            normalized = mask_norm(x + noise, misalign)
        else:
            normalized = F.instance_norm(x + noise, eps=1e-5)
        del noise
        actv = self.conv_shared(seg)
        out = self.conv_gamma(actv).add_(1).mul_(normalized)
        del normalized
        return out.add_(self.conv_beta(actv))


class ALIASResBlock(nn.Module):
    """SPADE-style residual block with ALIASNorm and spectral-normalised convs: ``x_s + dx``.

    ``x_s = conv_s(norm_s(x))`` when the width changes (1×1, no bias), else ``x``; ``dx = conv_1(act(norm_1(
    conv_0(act(norm_0(x))))))`` with LeakyReLU 0.2 and ``conv_0`` to ``min(in, out)`` channels. ``seg`` and the
    misalignment mask are nearest-resized to ``x``'s size here. Mask-normalised blocks read ``seg_div``
    (classes + misalignment, ``label_nc = classes + 1``), the others the class one-hot.
    """

    def __init__(self, c_in: int, c_out: int, label_nc: int, use_mask_norm: bool, hidden: int = 128) -> None:
        super().__init__()
        self.learned_shortcut = c_in != c_out
        mid = min(c_in, c_out)
        kind = "mask" if use_mask_norm else "instance"
        self.use_mask_norm = use_mask_norm
        self.conv_0 = SNConv2d(c_in, mid, 3)
        self.conv_1 = SNConv2d(mid, c_out, 3)
        if self.learned_shortcut:
            self.conv_s = SNConv2d(c_in, c_out, 1, bias=False)
        self.norm_0 = ALIASNorm(kind, c_in, label_nc, hidden)
        self.norm_1 = ALIASNorm(kind, mid, label_nc, hidden)
        if self.learned_shortcut:
            self.norm_s = ALIASNorm(kind, c_in, label_nc, hidden)

    def norm_names(self) -> tuple[str, ...]:
        """The ALIASNorms in the order they draw noise: ``norm_s`` (learned shortcut) first, then ``norm_0``,
        ``norm_1``."""
        return (("norm_s",) if self.learned_shortcut else ()) + ("norm_0", "norm_1")

    def forward(self, x: torch.Tensor, seg: torch.Tensor, draws: Mapping[str, torch.Tensor],
                misalign: torch.Tensor | None = None) -> torch.Tensor:
        size = x.shape[2:]
        seg = F.interpolate(seg, size=size, mode="nearest")
        if misalign is not None:
            misalign = F.interpolate(misalign, size=size, mode="nearest")
        if self.learned_shortcut:
            x_s = self.conv_s(self.norm_s(x, seg, draws["norm_s"], misalign))
        else:
            x_s = x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg, draws["norm_0"], misalign), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg, draws["norm_1"], misalign), 0.2))
        return dx.add_(x_s)


_BLOCKS = ("head_0", "G_middle_0", "G_middle_1", "up_0", "up_1", "up_2", "up_3", "up_4")
_MASK_NORM_BLOCKS = 5  # head_0 .. up_1 use MaskNorm with the misalignment mask; up_2 .. up_4 InstanceNorm


class ALIASGenerator(nn.Module):
    """The ALIAS generator (``num_upsampling_layers = 'most'``): ``(x (B, 9, H, W), seg (B, 7, H, W), seg_div
    (B, 8, H, W), misalign (B, 1, H, W), noise) -> pre-tanh image (B, 3, H, W)``; the try-on is its ``tanh``.

    ``x`` is nearest-resized to eight levels ``latent · 2^i`` (i = 0..7) and each level is convolved
    (``conv_0`` to 16·ngf channels, ``conv_1..7`` to 16); block ``i`` (:data:`_BLOCKS`) runs at level ``i`` on the
    ×2-upsampled (nearest) output of block ``i − 1`` concatenated with level ``i``'s features.

    ``noise`` maps ``"<block>.<norm>"`` to the draw of each ALIASNorm (:func:`alias_noise_shapes`,
    :func:`draw_alias_noise`).
    """

    def __init__(self, cfg: VITONHDConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or VITONHDConfig()
        nf, k, hid = cfg.ngf, cfg.alias_classes, cfg.norm_hidden
        self.conv_0 = nn.Conv2d(cfg.alias_in_channels, 16 * nf, 3, padding=1)
        for i in range(1, len(_BLOCKS)):
            self.add_module(f"conv_{i}", nn.Conv2d(cfg.alias_in_channels, 16, 3, padding=1))
        widths = [16 * nf, 16 * nf, 16 * nf, 16 * nf, 8 * nf, 4 * nf, 2 * nf, nf, nf // 2]
        for i, name in enumerate(_BLOCKS):
            c_in = widths[i] + (16 if i else 0)
            mask = i < _MASK_NORM_BLOCKS
            self.add_module(name, ALIASResBlock(c_in, widths[i + 1], k + 1 if mask else k, mask, hid))
        self.conv_img = nn.Conv2d(nf // 2, 3, 3, padding=1)

    def blocks(self) -> Iterator[tuple[str, ALIASResBlock]]:
        for name in _BLOCKS:
            yield name, getattr(self, name)

    def forward(self, x: torch.Tensor, seg: torch.Tensor, seg_div: torch.Tensor, misalign: torch.Tensor,
                noise: Mapping[str, torch.Tensor]) -> torch.Tensor:
        cfg = self.cfg
        h, w = cfg.load_height, cfg.load_width
        want = {"x": cfg.alias_in_channels, "seg": cfg.alias_classes, "seg_div": cfg.alias_classes + 1,
                "misalign": 1}
        for name, t in (("x", x), ("seg", seg), ("seg_div", seg_div), ("misalign", misalign)):
            if t.ndim != 4 or tuple(t.shape[1:]) != (want[name], h, w):
                raise ValueError(f"ALIASGenerator: {name} must be (B, {want[name]}, {h}, {w}), got {tuple(t.shape)}")
        sh, sw = cfg.latent_size
        out = None
        for i, (name, block) in enumerate(self.blocks()):
            level = F.interpolate(x, size=(sh * 2**i, sw * 2**i), mode="nearest")
            feat = getattr(self, f"conv_{i}")(level)  # (B, 16·ngf | 16, sh·2^i, sw·2^i)
            if out is not None:
                feat = torch.cat([F.interpolate(out, scale_factor=2, mode="nearest"), feat], 1)
            draws = {n: noise[f"{name}.{n}"] for n in block.norm_names()}
            if block.use_mask_norm:
                out = block(feat, seg_div, draws, misalign)
            else:
                out = block(feat, seg, draws)
            del feat
        return self.conv_img(F.leaky_relu(out, 0.2))  # (B, 3, H, W), before tanh


def alias_noise_shapes(cfg: VITONHDConfig, batch: int = 1) -> dict[str, tuple[int, int, int, int]]:
    """Every ALIASNorm's noise draw shape ``(B, W_level, H_level, 1)``, keyed ``"<block>.<norm>"``, in the order
    the authors' forward draws them (block by block; ``norm_s``, ``norm_0``, ``norm_1``)."""
    sh, sw = cfg.latent_size
    out = {}
    for i, name in enumerate(_BLOCKS):
        norms = ("norm_0", "norm_1") if i == 0 else ("norm_s", "norm_0", "norm_1")  # head_0 keeps its width
        for n in norms:
            out[f"{name}.{n}"] = (batch, sw * 2**i, sh * 2**i, 1)
    return out


def draw_alias_noise(cfg: VITONHDConfig, generator: torch.Generator, batch: int = 1) -> dict[str, torch.Tensor]:
    """Standard normal draws for every ALIASNorm (:func:`alias_noise_shapes`), in the authors' order, from
    ``generator`` (CPU float32)."""
    return {k: torch.randn(s, generator=generator) for k, s in alias_noise_shapes(cfg, batch).items()}


def build_vitonhd_network(name: str, cfg: VITONHDConfig | None = None) -> nn.Module:
    """A freshly initialised ``seg``, ``gmm`` or ``alias`` in eval mode."""
    cfg = cfg or VITONHDConfig()
    nets = {"seg": SegGenerator, "gmm": GMM, "alias": ALIASGenerator}
    if name not in nets:
        raise ValueError(f"VITON-HD has the networks {', '.join(NETWORKS)}; got {name!r}")
    return nets[name](cfg).eval()
