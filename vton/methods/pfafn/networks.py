"""PF-AFN networks: the appearance-flow warping module (AFWM) and the residual U-Net generator.

Ge et al., "Parser-Free Virtual Try-on via Distilling Appearance Flows", CVPR 2021, geyuying/PF-AFN@e2bb71e2
(``PF-AFN_test``, non-commercial research licence). Written from the documented facts of that code; the
state-dict keys and shapes equal the released ``warp_model_final.pth`` / ``gen_model_final.pth``, which load with
``strict=True`` after :func:`adapt_state_dict`. The authors' cupy correlation kernel is replaced by
:func:`.flow.local_correlation`, plain PyTorch (CPU and CUDA). The fused CPU inference path the layers take in
eval mode lives in :mod:`.fused`.

Convention: frame 256 × 192 (H × W), NCHW, images in [-1, 1]. A flow is a normalised sampling grid
``(B, 2, H, W)``, channel 0 = x, channel 1 = y, in ``align_corners=True`` coordinates (``-1`` and ``1`` are the
centres of the corner pixels); ``flow.permute(0, 2, 3, 1)`` is the ``grid`` of ``F.grid_sample``. The
checkpoints were trained where ``grid_sample`` behaved as ``align_corners=True`` (``PFAFNConfig.align_corners``);
``False`` reproduces the authors' code run under torch >= 1.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from vton.errors import WeightsError
from vton.methods.pfafn.flow import local_correlation, offset_to_grid, warp_by_flow
from vton.methods.pfafn.fused import Conv2d, bn_relu, fpn_level, fused_ok, run, step

__all__ = [
    "PFAFNConfig",
    "AFWM",
    "AFWMOutput",
    "AFlowNet",
    "FeatureEncoder",
    "RefinePyramid",
    "ResUnetGenerator",
    "adapt_state_dict",
    "build_pfafn_network",
]


@dataclass
class PFAFNConfig:
    """Hyper-parameters of the PF-AFN test-time networks (defaults = the released checkpoints).

    Args:
        fine_height, fine_width: the frame the checkpoints use; any multiple of ``2**len(num_filters)`` runs.
        person_channels, cloth_channels: input channels of the person (cond) and cloth (image) encoders.
        num_filters: channels of the encoder stages (one pyramid level each).
        fpn_dim: channels of every FPN level.
        max_displacement: the local correlation window is ``(2d + 1)²`` (3 → 7 × 7 = 49 channels).
        gen_in_channels, gen_out_channels: generator input (person 3 + warped cloth 3 + warped edge 1) and output
            (3 rgb logits + 1 composition-mask logit).
        gen_num_downs: U-Net levels of the generator (>= 5).
        ngf: base width of the generator.
        align_corners: of every ``F.grid_sample`` call; True = how the checkpoints were trained.
    """

    fine_height: int = 256
    fine_width: int = 192
    person_channels: int = 3
    cloth_channels: int = 3
    num_filters: tuple[int, ...] = (64, 128, 256, 256, 256)
    fpn_dim: int = 256
    max_displacement: int = 3
    gen_in_channels: int = 7
    gen_out_channels: int = 4
    gen_num_downs: int = 5
    ngf: int = 64
    align_corners: bool = True

    def __post_init__(self) -> None:
        self.num_filters = tuple(int(c) for c in self.num_filters)
        if len(self.num_filters) < 1 or min(self.num_filters) < 1:
            raise ValueError(f"num_filters must be a non-empty list of positive ints, got {self.num_filters}")
        m = self.multiple
        for name in ("fine_height", "fine_width"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0 or v % m:
                raise ValueError(f"{name} must be a positive multiple of {m}, got {v!r}")
        if self.max_displacement < 0:
            raise ValueError(f"max_displacement must be >= 0, got {self.max_displacement}")
        if self.gen_num_downs < 5 or self.ngf < 1:
            raise ValueError(f"gen_num_downs must be >= 5 and ngf >= 1, got {self.gen_num_downs}, {self.ngf}")

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this (one stride-2 stage per pyramid level)."""
        return 2 ** len(self.num_filters)

    @property
    def correlation_channels(self) -> int:
        return (2 * self.max_displacement + 1) ** 2



# ------------------------------------------------------------------------------------------------------- AFWM


class DownSample(nn.Module):
    """Pre-activation stride-2 stage: ``block = [BN, ReLU, conv 3×3 s2 (no bias)]``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(),
            Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if fused_ok(x, self):
            bn, _, conv = self.block
            return step(conv)(bn_relu(bn, x))
        return self.block(x)


class ResBlock(nn.Module):
    """Pre-activation residual block: ``x + [BN, ReLU, conv, BN, ReLU, conv](x)`` (convs 3×3, no bias)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(), Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(), Conv2d(channels, channels, 3, padding=1, bias=False),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if fused_ok(x, self):
            bn1, _, conv1, bn2, relu2, conv2 = self.block
            return step(conv2)(step(conv1, bn2, relu2)(bn_relu(bn1, x)), x)
        return self.block(x) + x


class FeatureEncoder(nn.Module):
    """One stage per entry of ``channels``: ``[DownSample, ResBlock, ResBlock]``; returns every stage's output."""

    def __init__(self, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        ins = (in_channels, *channels[:-1])
        self.encoders = nn.ModuleList(
            nn.Sequential(DownSample(c_in, c_out), ResBlock(c_out), ResBlock(c_out))
            for c_in, c_out in zip(ins, channels, strict=True)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for encoder in self.encoders:
            x = encoder(x)
            features.append(x)  # (B, channels[i], H/2^(i+1), W/2^(i+1))
        return features


class RefinePyramid(nn.Module):
    """FPN: 1×1 convs to ``fpn_dim`` (``adaptive``, coarsest first), top-down nearest ×2 sum, 3×3 ``smooth``."""

    def __init__(self, channels: tuple[int, ...], fpn_dim: int = 256) -> None:
        super().__init__()
        self.adaptive = nn.ModuleList(Conv2d(c, fpn_dim, 1) for c in reversed(channels))
        self.smooth = nn.ModuleList(Conv2d(fpn_dim, fpn_dim, 3, padding=1) for _ in channels)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Encoder features (finest first) → FPN features (finest first), each ``(B, fpn_dim, h_i, w_i)``."""
        out: list[torch.Tensor] = []
        last = None
        fused = fused_ok(features[0], self)
        for adaptive, smooth, x in zip(self.adaptive, self.smooth, reversed(features), strict=True):
            if fused:
                last = fpn_level(adaptive, smooth, x, last)
            else:
                x = adaptive(x)
                if last is not None:
                    x = x + F.interpolate(last, scale_factor=2, mode="nearest")
                last = smooth(x)
            out.append(last)
        return out[::-1]


def _flow_head(in_channels: int) -> nn.Sequential:
    """``in → 128 → 64 → 32 → 2`` convs 3×3 with LeakyReLU 0.1 between: a pixel offset (x, y)."""
    chans = (in_channels, 128, 64, 32)
    layers: list[nn.Module] = []
    for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
        layers += [Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(0.1)]
    layers.append(Conv2d(chans[-1], 2, 3, padding=1))
    return nn.Sequential(*layers)


class AFlowNet(nn.Module):
    """Coarse-to-fine appearance flow: per level a correlation head (``netMain``) and a refinement head
    (``netRefine``), each predicting a pixel offset that is composed with the flow so far."""

    def __init__(self, num_levels: int, fpn_dim: int = 256, max_displacement: int = 3, align_corners: bool = True):
        super().__init__()
        self.max_displacement = max_displacement
        self.align_corners = align_corners
        corr_channels = (2 * max_displacement + 1) ** 2
        self.netMain = nn.ModuleList(_flow_head(corr_channels) for _ in range(num_levels))
        self.netRefine = nn.ModuleList(_flow_head(2 * fpn_dim) for _ in range(num_levels))

    def _compose(self, flow: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """The flow sampled at ``grid (B, h, w, 2)``: first move by ``grid``, then by ``flow``."""
        return F.grid_sample(flow, grid, mode="bilinear", padding_mode="border", align_corners=self.align_corners)

    def forward(self, cloth_pyramid: list[torch.Tensor], person_pyramid: list[torch.Tensor]) -> list[torch.Tensor]:
        """FPN features (finest first) → the flow after each level, upsampled ×2 (coarsest first)."""
        ac = self.align_corners
        flow = None
        flows = []
        for i, (fc, fp) in enumerate(zip(reversed(cloth_pyramid), reversed(person_pyramid), strict=True)):
            fc_now = fc if flow is None else warp_by_flow(fc, flow, "border", ac)
            corr = F.leaky_relu(local_correlation(fc_now, fp, self.max_displacement), 0.1)  # (B, 49, h, w)
            grid = offset_to_grid(self.netMain[i](corr))  # (B, h, w, 2)
            flow = grid.permute(0, 3, 1, 2) if flow is None else self._compose(flow, grid)  # (B, 2, h, w)
            refine_in = torch.cat([warp_by_flow(fc, flow, "border", ac), fp], 1)  # (B, 2*fpn_dim, h, w)
            flow = self._compose(flow, offset_to_grid(self.netRefine[i](refine_in)))
            flow = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=False)  # (B, 2, 2h, 2w)
            flows.append(flow)
        return flows


class AFWMOutput(NamedTuple):
    """What :class:`AFWM` returns.

    warped_cloth: ``(B, 3, H, W)`` the cloth input sampled at ``flow`` with border padding, in [-1, 1].
    flow: ``(B, 2, H, W)`` the final normalised sampling grid (x, y) (the authors' ``last_flow``).
    level_flows: the flows after the coarser levels, each upsampled ×2, coarsest first: ``(B, 2, H/16, W/16)``
        … ``(B, 2, H/2, W/2)`` for 5 levels (the flow after the finest level is ``flow``).
    """

    warped_cloth: torch.Tensor
    flow: torch.Tensor
    level_flows: tuple[torch.Tensor, ...]


class AFWM(nn.Module):
    """Appearance-flow warping module: ``(person (B,3,H,W), cloth (B,3,H,W)) -> AFWMOutput``.

    ``cloth`` is the RGB cloth already multiplied by its edge mask (see :func:`..assembly.prepare_cloth`).
    Two encoders + FPNs (``cond_*`` = person, ``image_*`` = cloth), then :class:`AFlowNet`.
    """

    def __init__(self, cfg: PFAFNConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or PFAFNConfig()
        self.image_features = FeatureEncoder(cfg.cloth_channels, cfg.num_filters)
        self.cond_features = FeatureEncoder(cfg.person_channels, cfg.num_filters)
        self.image_FPN = RefinePyramid(cfg.num_filters, cfg.fpn_dim)
        self.cond_FPN = RefinePyramid(cfg.num_filters, cfg.fpn_dim)
        self.aflow_net = AFlowNet(len(cfg.num_filters), cfg.fpn_dim, cfg.max_displacement, cfg.align_corners)

    def person_pyramid(self, person: torch.Tensor) -> list[torch.Tensor]:
        """The person's FPN features (finest first); they do not depend on the garment (a garment swap on the same
        person can pass them back in)."""
        return self.cond_FPN(self.cond_features(person))

    def forward(self, person: torch.Tensor, cloth: torch.Tensor,
                person_pyramid: list[torch.Tensor] | None = None) -> AFWMOutput:
        """``person_pyramid``: ``self.person_pyramid(person)`` computed before, or None to compute it."""
        self._check(person, cloth)
        if person_pyramid is None:
            person_pyramid = self.person_pyramid(person)
        cloth_pyramid = self.image_FPN(self.image_features(cloth))
        flows = self.aflow_net(cloth_pyramid, person_pyramid)
        flow = flows[-1]  # (B, 2, H, W)
        warped = warp_by_flow(cloth, flow, "border", self.cfg.align_corners)
        return AFWMOutput(warped, flow, tuple(flows[:-1]))

    def _check(self, person: torch.Tensor, cloth: torch.Tensor) -> None:
        cfg = self.cfg
        for name, x, c in (("person", person, cfg.person_channels), ("cloth", cloth, cfg.cloth_channels)):
            if x.ndim != 4 or x.shape[1] != c or x.shape[2] % cfg.multiple or x.shape[3] % cfg.multiple:
                raise ValueError(
                    f"{name} must be (B, {c}, H, W) with H, W multiples of {cfg.multiple}, got {tuple(x.shape)}"
                )
        if person.shape[0] != cloth.shape[0] or person.shape[2:] != cloth.shape[2:]:
            raise ValueError(f"person {tuple(person.shape)} and cloth {tuple(cloth.shape)} differ in batch or size")


# -------------------------------------------------------------------------------------------------- generator


class ResidualBlock(nn.Module):
    """``ReLU(x + [conv, BN, ReLU, conv, BN](x))`` (convs 3×3, no bias)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
        )  # fmt: skip
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if fused_ok(x, self):
            conv1, bn1, relu1, conv2, bn2 = self.block
            return step(conv2, bn2, self.relu)(step(conv1, bn1, relu1)(x), x)  # ReLU(x + BN(conv)) in one call
        return self.relu(self.block(x) + x)


class ResUnetBlock(nn.Module):
    """One level of the generator U-Net; ``model`` holds the layers under the checkpoint's indices.

    outermost: ``[conv s2, ReLU, Res, Res, sub, up ×2 nearest, conv]``
    middle:    ``[conv s2, BN, ReLU, Res, Res, sub, up, conv, BN, ReLU, Res, Res]``, output ``cat(x, ·)``
    innermost: ``[conv s2, ReLU, Res, Res, up, conv, BN, ReLU, Res, Res]``, output ``cat(x, ·)``
    All convs 3×3 without bias.
    """

    def __init__(
        self, outer_nc: int, inner_nc: int, in_nc: int | None = None, sub: ResUnetBlock | None = None,
        outermost: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.outermost = outermost
        in_nc = outer_nc if in_nc is None else in_nc
        down = Conv2d(in_nc, inner_nc, 3, stride=2, padding=1, bias=False)
        res_down = [ResidualBlock(inner_nc), ResidualBlock(inner_nc)]
        up_in = inner_nc if sub is None else inner_nc * 2
        up = [nn.Upsample(scale_factor=2, mode="nearest"), Conv2d(up_in, outer_nc, 3, padding=1, bias=False)]
        if outermost:
            layers = [down, nn.ReLU(), *res_down, sub, *up]
        elif sub is None:
            layers = [down, nn.ReLU(), *res_down, *up, nn.BatchNorm2d(outer_nc), nn.ReLU()]
            layers += [ResidualBlock(outer_nc), ResidualBlock(outer_nc)]
        else:
            layers = [down, nn.BatchNorm2d(inner_nc), nn.ReLU(), *res_down, sub, *up, nn.BatchNorm2d(outer_nc)]
            layers += [nn.ReLU(), ResidualBlock(outer_nc), ResidualBlock(outer_nc)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = run(self.model, x) if fused_ok(x, self) else self.model(x)
        if self.outermost:
            return y
        return torch.cat([x, y], dim=1)  # (B, 2*outer_nc, H, W)


class ResUnetGenerator(nn.Module):
    """Try-on generator: ``cat(person, warped cloth, warped edge) (B, 7, H, W) -> raw (B, 4, H, W)``.

    Raw channels 0..2 are rgb logits (tanh → rendered person), channel 3 the composition-mask logit; see
    :func:`..assembly.generator_outputs`. Widths ngf·(1, 2, 4, 8, 8), BatchNorm (eval mode after building).
    """

    def __init__(self, cfg: PFAFNConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or PFAFNConfig()
        ngf = cfg.ngf
        block = ResUnetBlock(ngf * 8, ngf * 8)  # innermost
        for _ in range(cfg.gen_num_downs - 5):
            block = ResUnetBlock(ngf * 8, ngf * 8, sub=block)
        for mult in (4, 2, 1):
            block = ResUnetBlock(ngf * mult, ngf * mult * 2, sub=block)
        self.model = ResUnetBlock(cfg.gen_out_channels, ngf, in_nc=cfg.gen_in_channels, sub=block, outermost=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        m = 2**cfg.gen_num_downs
        if x.ndim != 4 or x.shape[1] != cfg.gen_in_channels or x.shape[2] % m or x.shape[3] % m:
            raise ValueError(
                f"generator input must be (B, {cfg.gen_in_channels}, H, W) with H, W multiples of {m}, "
                f"got {tuple(x.shape)}"
            )
        return self.model(x)  # (B, 4, H, W): 3 rgb logits + 1 mask logit


# ---------------------------------------------------------------------------------------------------- weights

_NETWORKS = {"warp": AFWM, "gen": ResUnetGenerator}


def build_pfafn_network(network: str, cfg: PFAFNConfig | None = None) -> nn.Module:
    """A freshly initialised ``"warp"`` (:class:`AFWM`) or ``"gen"`` (:class:`ResUnetGenerator`) in eval mode."""
    if network not in _NETWORKS:
        raise ValueError(f"unknown PF-AFN network {network!r}; valid: {', '.join(_NETWORKS)}")
    return _NETWORKS[network](cfg).eval()


def adapt_state_dict(
    network: str, sd: dict[str, torch.Tensor], cfg: PFAFNConfig | None = None
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Fit an authors' checkpoint to our network: strip a ``module.`` prefix, drop keys the network lacks.

    The authors' loader copies only the model's own keys from the checkpoint; the dropped keys are returned so
    the caller can report them. Missing keys are left for ``load_state_dict(strict=True)`` to report.

    Args:
        network: ``"warp"`` (AFWM) or ``"gen"`` (ResUnetGenerator).
        sd: the checkpoint's state dict.
        cfg: the network's config (default: the released checkpoints').

    Returns:
        ``(state dict to load, sorted dropped keys)``.

    Raises:
        WeightsError: a kept key has another shape than the network's.
    """
    if network not in _NETWORKS:
        raise ValueError(f"unknown PF-AFN network {network!r}; valid: {', '.join(_NETWORKS)}")
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in _NETWORKS[network](cfg).state_dict().items()}
    prefix = "module."
    if sd and all(k.startswith(prefix) for k in sd):
        sd = {k[len(prefix) :]: v for k, v in sd.items()}
    kept = {k: v for k, v in sd.items() if k in expected}
    dropped = sorted(k for k in sd if k not in expected)
    bad = [f"{k}: {tuple(v.shape)} != {expected[k]}" for k, v in kept.items() if tuple(v.shape) != expected[k]]
    if bad:
        raise WeightsError(f"PF-AFN {network} checkpoint has {len(bad)} mis-shaped tensors: " + "; ".join(bad[:5]))
    return kept, dropped
