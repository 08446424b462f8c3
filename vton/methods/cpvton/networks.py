"""CP-VTON and CP-VTON+ networks: the geometric matching module (GMM) and the try-on module (TOM).

CP-VTON: Wang et al., "Toward Characteristic-Preserving Image-based Virtual Try-On Network", ECCV 2018,
https://github.com/sergeywong/cp-vton (fbaf333b). CP-VTON+: Minar et al., "CP-VTON+: Clothing Shape and Texture
Preserving Image-Based Virtual Try-On", CVPR Workshops 2020, https://github.com/minar09/cp-vton-plus (5d7a8997).

Written from the documented facts of those repositories; the state-dict keys and shapes equal the released
checkpoints (``gmm_final.pth``, ``tom_final.pth``), so they load with ``strict=True``. Frame 256 × 192 (H × W),
images in [-1, 1], masks {0, 1}. The TPS grid is in ``align_corners=True`` coordinates
(:mod:`vton.geometry.tps`), as the checkpoints were trained with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vton.geometry.tps import TpsGridGen

__all__ = [
    "CPVTONConfig",
    "GMM",
    "TOM",
    "FeatureExtraction",
    "FeatureRegression",
    "UnetBlock",
    "feature_l2norm",
    "feature_correlation",
    "warp_cloth",
    "warp_mask",
    "tom_outputs",
    "compose",
]

AGNOSTIC_CHANNELS = 22  # shape 1 + head 3 + pose 18


@dataclass
class CPVTONConfig:
    """Hyper-parameters of the CP-VTON / CP-VTON+ networks (defaults = the released checkpoints).

    Args:
        variant: ``"original"`` (CP-VTON) or ``"plus"`` (CP-VTON+).
        fine_height, fine_width: frame size; both must be multiples of 64.
        grid_size: TPS control points per axis.
        ngf: base width of the feature extractors, the regressor and the U-Net.
        num_downs: U-Net levels of the TOM.
    """

    variant: Literal["original", "plus"] = "original"
    fine_height: int = 256
    fine_width: int = 192
    grid_size: int = 5
    ngf: int = 64
    num_downs: int = 6

    def __post_init__(self) -> None:
        if self.variant not in ("original", "plus"):
            raise ValueError(f"variant must be 'original' or 'plus', got {self.variant!r}")
        for name in ("fine_height", "fine_width"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0 or v % 64:
                raise ValueError(f"{name} must be a positive multiple of 64, got {v!r}")
        if self.grid_size < 2:
            raise ValueError(f"grid_size must be >= 2, got {self.grid_size}")
        if self.ngf < 1 or self.num_downs < 2:
            raise ValueError(f"ngf must be >= 1 and num_downs >= 2, got ngf={self.ngf}, num_downs={self.num_downs}")
        if self.fine_height % 2**self.num_downs or self.fine_width % 2**self.num_downs:
            raise ValueError(f"frame {self.fine_height}x{self.fine_width} is not divisible by 2**num_downs")

    @property
    def agnostic_channels(self) -> int:
        """Channels of the person representation: shape 1 + head 3 + pose 18."""
        return AGNOSTIC_CHANNELS

    @property
    def cloth_channels(self) -> int:
        """Channels of the GMM's cloth input: RGB cloth (original) or the cloth mask (plus)."""
        return 3 if self.variant == "original" else 1

    @property
    def tom_in_channels(self) -> int:
        """TOM input: representation 22 + warped cloth 3 (+ warped cloth mask 1 for plus)."""
        return AGNOSTIC_CHANNELS + 3 + (0 if self.variant == "original" else 1)

    @property
    def feature_size(self) -> tuple[int, int]:
        """(h, w) of the GMM feature maps: the frame / 16."""
        return self.fine_height // 16, self.fine_width // 16

    @property
    def theta_dim(self) -> int:
        """Length of theta: x and y offsets of grid_size² control points."""
        return 2 * self.grid_size**2


# ----------------------------------------------------------------------------------------------------------- GMM


class FeatureExtraction(nn.Module):
    """Four 4×4 stride-2 convs then two 3×3 convs, each followed by ReLU then BatchNorm; the last by ReLU only.

    Keys ``model.{0,3,6,9,12,15}`` (convs) and ``model.{2,5,8,11,14}`` (BatchNorm), as in the checkpoint.
    """

    def __init__(self, in_channels: int, ngf: int = 64, n_down: int = 4, max_channels: int = 512) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for i in range(n_down):
            c_out = min(ngf * 2**i, max_channels)
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU(), nn.BatchNorm2d(c_out)]
            c_in = c_out
        layers += [nn.Conv2d(c_in, c_in, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c_in)]
        layers += [nn.Conv2d(c_in, c_in, 3, padding=1), nn.ReLU()]
        self.model = nn.Sequential(*layers)
        self.out_channels = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def feature_l2norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Divide ``(B, C, H, W)`` features by their channel L2 norm, ``sqrt(sum(x²) + eps)``."""
    norm = torch.sqrt((x * x).sum(dim=1, keepdim=True) + eps)  # (B, 1, H, W)
    return x / norm


def feature_correlation(person: torch.Tensor, cloth: torch.Tensor) -> torch.Tensor:
    """Dot products of every person feature with every cloth feature.

    Args:
        person: ``(B, C, h, w)`` (CP-VTON's feature A).
        cloth: ``(B, C, h, w)`` (feature B).

    Returns:
        ``(B, h·w, h, w)``: channel ``x_p · h + y_p`` (column-major over the person map), position
        ``(y_c, x_c)`` of the cloth map.
    """
    if person.shape != cloth.shape or person.ndim != 4:
        raise ValueError(f"features must be equal (B, C, h, w), got {tuple(person.shape)} and {tuple(cloth.shape)}")
    b, _, h, w = person.shape
    corr = torch.einsum("bcyx,bcij->bxyij", person, cloth)  # (B, w_p, h_p, h_c, w_c)
    return corr.reshape(b, w * h, h, w)  # (B, x_p*h + y_p, h_c, w_c)


class FeatureRegression(nn.Module):
    """Correlation → theta: two 4×4 stride-2 and two 3×3 convs (each BatchNorm + ReLU), linear, tanh."""

    def __init__(self, in_channels: int, feature_size: tuple[int, int], out_dim: int, ngf: int = 64) -> None:
        super().__init__()
        c = [ngf * 8, ngf * 4, ngf * 2, ngf]
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, c[0], 4, stride=2, padding=1), nn.BatchNorm2d(c[0]), nn.ReLU(),
            nn.Conv2d(c[0], c[1], 4, stride=2, padding=1), nn.BatchNorm2d(c[1]), nn.ReLU(),
            nn.Conv2d(c[1], c[2], 3, padding=1), nn.BatchNorm2d(c[2]), nn.ReLU(),
            nn.Conv2d(c[2], c[3], 3, padding=1), nn.BatchNorm2d(c[3]), nn.ReLU(),
        )  # fmt: skip
        h, w = feature_size[0] // 4, feature_size[1] // 4
        self.linear = nn.Linear(c[3] * h * w, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)  # (B, ngf, h/4, w/4)
        x = x.reshape(x.shape[0], -1)  # (B, ngf*h/4*w/4), flattened C, H, W
        return torch.tanh(self.linear(x))  # (B, theta_dim)


class GMM(nn.Module):
    """Geometric matching module: ``(agnostic (B,22,H,W), cloth_in (B,3|1,H,W)) -> (grid (B,H,W,2), theta)``.

    ``cloth_in`` is the RGB cloth for CP-VTON and the cloth mask for CP-VTON+. The grid is for
    ``F.grid_sample(..., align_corners=True)`` (see :func:`warp_cloth`).
    """

    def __init__(self, cfg: CPVTONConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or CPVTONConfig()
        self.extractionA = FeatureExtraction(cfg.agnostic_channels, cfg.ngf)
        self.extractionB = FeatureExtraction(cfg.cloth_channels, cfg.ngf)
        fh, fw = cfg.feature_size
        self.regression = FeatureRegression(fh * fw, (fh, fw), cfg.theta_dim, cfg.ngf)
        self.grid_gen = TpsGridGen(cfg.fine_height, cfg.fine_width, cfg.grid_size)

    def person_features(self, agnostic: torch.Tensor) -> torch.Tensor:
        """The normalised person features ``(B, C, h, w)``; they do not depend on the garment (a garment swap on
        the same person can pass them back in)."""
        return feature_l2norm(self.extractionA(agnostic))

    def correlation(self, agnostic: torch.Tensor, cloth_in: torch.Tensor,
                    person_features: torch.Tensor | None = None) -> torch.Tensor:
        """The normalised feature correlation ``(B, h·w, h, w)`` (for display and analysis)."""
        self._check(agnostic, cloth_in)
        fa = self.person_features(agnostic) if person_features is None else person_features  # (B, C, h, w)
        fb = feature_l2norm(self.extractionB(cloth_in))  # (B, C, h, w)
        return feature_correlation(fa, fb)  # (B, h*w, h, w)

    def forward(self, agnostic: torch.Tensor, cloth_in: torch.Tensor,
                person_features: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``person_features``: ``self.person_features(agnostic)`` computed before, or None to compute them."""
        theta = self.regression(self.correlation(agnostic, cloth_in, person_features))  # (B, 2N)
        return self.grid_gen(theta), theta

    def _check(self, agnostic: torch.Tensor, cloth_in: torch.Tensor) -> None:
        cfg = self.cfg
        hw = (cfg.fine_height, cfg.fine_width)
        if agnostic.ndim != 4 or agnostic.shape[1] != cfg.agnostic_channels or tuple(agnostic.shape[2:]) != hw:
            raise ValueError(
                f"agnostic must be (B, {cfg.agnostic_channels}, {hw[0]}, {hw[1]}), got {tuple(agnostic.shape)}"
            )
        if cloth_in.ndim != 4 or cloth_in.shape[1] != cfg.cloth_channels or tuple(cloth_in.shape[2:]) != hw:
            what = "RGB cloth" if cfg.variant == "original" else "cloth mask"
            raise ValueError(
                f"cloth_in ({what}) must be (B, {cfg.cloth_channels}, {hw[0]}, {hw[1]}), got {tuple(cloth_in.shape)}"
            )
        if cloth_in.shape[0] != agnostic.shape[0]:
            raise ValueError(f"batch sizes differ: agnostic {agnostic.shape[0]}, cloth_in {cloth_in.shape[0]}")


def warp_cloth(cloth: torch.Tensor, grid: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
    """Warp the RGB cloth ``(B, 3, H, W)`` by a GMM grid with border padding.

    ``align_corners=True`` is the behaviour the checkpoints were trained with; ``False`` reproduces the authors'
    code run under torch >= 1.3.
    """
    return F.grid_sample(cloth, grid, mode="bilinear", padding_mode="border", align_corners=align_corners)


def warp_mask(mask: torch.Tensor, grid: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
    """Warp a mask ``(B, 1, H, W)`` (or any image) by a GMM grid with zero padding (values stay in [0, 1])."""
    return F.grid_sample(mask, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)


# ----------------------------------------------------------------------------------------------------------- TOM


class UnetBlock(nn.Module):
    """One level of the TOM U-Net; ``model`` holds the layers under the checkpoint's indices.

    outermost: ``[down conv, sub, ReLU, up ×2, conv 3×3, IN]``
    middle:    ``[LeakyReLU, down conv, IN, sub, ReLU, up ×2, conv 3×3, IN]``, output ``cat(skip, up)``
    innermost: ``[LeakyReLU, down conv, ReLU, up ×2, conv 3×3, IN]``, output ``cat(skip, up)``

    The authors' in-place LeakyReLU also rewrote the skip tensor; that makes no difference, since the parent's
    up path starts with a ReLU and ``ReLU(LeakyReLU(x)) = ReLU(x)``.
    """

    def __init__(
        self, outer_nc: int, inner_nc: int, in_nc: int | None = None, sub: UnetBlock | None = None,
        outermost: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.outermost = outermost
        in_nc = outer_nc if in_nc is None else in_nc
        down = nn.Conv2d(in_nc, inner_nc, 4, stride=2, padding=1)
        up_in = inner_nc if sub is None else inner_nc * 2
        up = [nn.ReLU(), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
              nn.Conv2d(up_in, outer_nc, 3, padding=1), nn.InstanceNorm2d(outer_nc)]  # fmt: skip
        if outermost:
            layers = [down, sub, *up]
        elif sub is None:
            layers = [nn.LeakyReLU(0.2), down, *up]
        else:
            layers = [nn.LeakyReLU(0.2), down, nn.InstanceNorm2d(inner_nc), sub, *up]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)  # (B, 2*outer_nc, H, W)


class TOM(nn.Module):
    """Try-on module: a U-Net ``(B, 25|26, H, W) -> raw (B, 4, H, W)``; see :func:`tom_outputs` and :func:`compose`.

    Input = cat(representation 22, warped cloth 3 [, warped cloth mask 1 for CP-VTON+]).
    """

    def __init__(self, cfg: CPVTONConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or CPVTONConfig()
        ngf = cfg.ngf
        block = UnetBlock(ngf * 8, ngf * 8)  # innermost
        for _ in range(cfg.num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, sub=block)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, sub=block)
        self.model = UnetBlock(4, ngf, in_nc=cfg.tom_in_channels, sub=block, outermost=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if x.ndim != 4 or x.shape[1] != cfg.tom_in_channels or tuple(x.shape[2:]) != (cfg.fine_height, cfg.fine_width):
            raise ValueError(
                f"TOM input must be (B, {cfg.tom_in_channels}, {cfg.fine_height}, {cfg.fine_width}), "
                f"got {tuple(x.shape)}"
            )
        return self.model(x)  # (B, 4, H, W) raw: 3 rendered + 1 mask logits


def tom_outputs(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split the TOM output ``(B, 4, H, W)`` into ``rendered = tanh(raw[:, :3])`` and ``m = sigmoid(raw[:, 3:])``."""
    if raw.ndim != 4 or raw.shape[1] != 4:
        raise ValueError(f"TOM output must be (B, 4, H, W), got {tuple(raw.shape)}")
    return torch.tanh(raw[:, :3]), torch.sigmoid(raw[:, 3:])


def compose(warped_cloth: torch.Tensor, rendered: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The try-on image: ``warped_cloth · m + rendered · (1 − m)``."""
    return warped_cloth * m + rendered * (1 - m)
