"""ACGPN networks: the Refine U-Net (G1, G2, G) and the cloth warper U (a TPS STN followed by the same U-Net).

Yang et al., "Towards Photo-Realistic Virtual Try-On by Adaptively Generating↔Preserving Image Content", CVPR 2020,
switchablenorms/DeepFashion_Try_On@f5f5598f (ACGPN_inference/models/networks.py: ``Refine``, ``UnetMask``,
``STNNet``, ``BoundedGridLocNet``, ``CNN``; ACGPN_inference/tps_grid_gen.py: ``TPSGridGen``).

Written from the documented facts of that code; the state-dict keys and shapes equal the released checkpoints
``latest_net_G1.pth``, ``latest_net_G2.pth``, ``latest_net_G.pth`` and ``latest_net_U.pth`` (no ``module.``
prefix), so they load with ``strict=True`` (see :func:`adapt_state_dict` for the authors' files). Frame 256 × 192
(H × W), images in [-1, 1], masks {0, 1}.

Conventions:
    * every InstanceNorm is ``InstanceNorm2d(affine=False)`` (no keys); the localiser's last two norms are
      ``InstanceNorm2d(64)`` applied to 256 channels in the authors' code, which is the same thing without affine
      parameters; dropout layers are identity in eval mode;
    * TPS: 5 × 5 target control points on ±0.9, ``(x, y)`` with x varying fastest; kernel ``0.5 · r² · ln r²``; the
      three constants (``inverse_kernel``, ``padding_matrix``, ``target_coordinate_repr``) are persistent buffers
      (they are in ``latest_net_U.pth``) computed here in float64 by :mod:`vton.geometry.tps` and stored in float32;
    * the sampling grid is in ``align_corners=True`` coordinates; the warp uses zero padding with a zero canvas,
      ``out = grid_sample(x) · grid_sample(ones)``, with ``align_corners`` from :class:`ACGPNConfig` (True = how
      the checkpoints were trained; False = the authors' code run under torch ≥ 1.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from vton.errors import WeightsError
from vton.geometry.tps import identity_grid, tps_basis, tps_system

__all__ = [
    "ACGPNConfig",
    "Refine",
    "LocalizerCNN",
    "BoundedGridLocNet",
    "TPSGridGen",
    "STN",
    "UnetMask",
    "UOutput",
    "target_control_points",
    "warp_zero_canvas",
    "build_acgpn_network",
    "adapt_state_dict",
    "NETWORK_NAMES",
    "CONSTANT_KEYS",
]

NETWORK_NAMES: tuple[str, ...] = ("G1", "G2", "G", "U")
CONSTANT_KEYS: tuple[str, ...] = ("stn.tps.inverse_kernel", "stn.tps.padding_matrix", "stn.tps.target_coordinate_repr")


@dataclass
class ACGPNConfig:
    """Hyper-parameters of the ACGPN networks (defaults = the released checkpoints).

    Args:
        fine_height, fine_width: frame size; multiples of 16 (four 2× pools in the U-Net), and for U the TPS
            buffers are computed for this size (the checkpoint's ``target_coordinate_repr`` is 256·192 rows).
        label_nc: labels of the layout (14).
        pose_nc: pose-map channels (18).
        ngf: base width of the U-Nets (64).
        grid_size: TPS control points per axis (5).
        control_range: the target control points span ``±control_range`` (0.9).
        align_corners: of the STN's ``grid_sample``: True = how the checkpoints were trained (fixtures'
            ``legacy_ac.*``); False reproduces the authors' code under torch ≥ 1.3 (fixtures' ``out.*``).
    """

    fine_height: int = 256
    fine_width: int = 192
    label_nc: int = 14
    pose_nc: int = 18
    ngf: int = 64
    grid_size: int = 5
    control_range: float = 0.9
    align_corners: bool = True

    def __post_init__(self) -> None:
        for name in ("fine_height", "fine_width"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0 or v % 16:
                raise ValueError(f"{name} must be a positive multiple of 16, got {v!r}")
        if self.grid_size < 2:
            raise ValueError(f"grid_size must be >= 2, got {self.grid_size}")
        if not 0 < self.control_range < 1:
            raise ValueError(f"control_range must be in (0, 1) (atanh of it seeds fc2), got {self.control_range}")
        if self.ngf < 1 or self.label_nc < 2 or self.pose_nc < 1:
            raise ValueError(f"bad widths: ngf={self.ngf}, label_nc={self.label_nc}, pose_nc={self.pose_nc}")

    @property
    def g1_channels(self) -> tuple[int, int]:
        """G1: [cloth mask 1, cloth 3, all-clothes one-hot, pose, noise 1] → layout logits (37 → 14)."""
        return 1 + 3 + self.label_nc + self.pose_nc + 1, self.label_nc

    @property
    def g2_channels(self) -> tuple[int, int]:
        """G2: [cloth mask 1, cloth 3, layout one-hot, pose, noise 1] → cloth-mask logit (37 → 1)."""
        return 1 + 3 + self.label_nc + self.pose_nc + 1, 1

    @property
    def g_channels(self) -> tuple[int, int]:
        """G: [hole image 3, refined layout one-hot, fused cloth 3, skin colour 3, noise 1] → RGB logits (24 → 3)."""
        return 3 + self.label_nc + 3 + 3 + 1, 3


# ------------------------------------------------------------------------------------------------ the U-Net body


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """conv 3×3 → IN → ReLU → conv 3×3 → IN → ReLU (keys ``0``, ``3``)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.InstanceNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.InstanceNorm2d(c_out), nn.ReLU(),
    )  # fmt: skip


def _up(c_in: int, c_out: int) -> nn.Sequential:
    """nearest ×2 → conv 3×3 → IN → ReLU (key ``1``)."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1), nn.InstanceNorm2d(c_out),
        nn.ReLU(),
    )  # fmt: skip


class _UNet(nn.Module):
    """The 5-level U-Net shared by Refine and UnetMask: widths ngf·(1, 2, 4, 8, 16), max-pool 2×2 between levels,
    dropout 0.5 after levels 4 and 5, decoder = :func:`_up` + skip concat + :func:`_double_conv`, a final 3×3 conv.
    """

    def _build(self, in_channels: int, out_channels: int, ngf: int) -> None:
        c = [ngf * 2**i for i in range(5)]  # 64, 128, 256, 512, 1024
        self.conv1 = _double_conv(in_channels, c[0])
        self.conv2 = _double_conv(c[0], c[1])
        self.conv3 = _double_conv(c[1], c[2])
        self.conv4 = _double_conv(c[2], c[3])
        self.conv5 = _double_conv(c[3], c[4])
        self.pool = nn.MaxPool2d(2)
        self.drop4 = nn.Dropout(0.5)
        self.drop5 = nn.Dropout(0.5)
        self.up6, self.conv6 = _up(c[4], c[3]), _double_conv(c[4], c[3])
        self.up7, self.conv7 = _up(c[3], c[2]), _double_conv(c[3], c[2])
        self.up8, self.conv8 = _up(c[2], c[1]), _double_conv(c[2], c[1])
        self.up9 = _up(c[1], c[0])
        self.conv9 = nn.Sequential(*_double_conv(c[1], c[0]), nn.Conv2d(c[0], out_channels, 3, padding=1))
        self.in_channels, self.out_channels = in_channels, out_channels

    def unet(self, x: torch.Tensor) -> torch.Tensor:
        conv1 = self.conv1(x)  # (B, 64, H, W)
        conv2 = self.conv2(self.pool(conv1))  # (B, 128, H/2, W/2)
        conv3 = self.conv3(self.pool(conv2))  # (B, 256, H/4, W/4)
        drop4 = self.drop4(self.conv4(self.pool(conv3)))  # (B, 512, H/8, W/8)
        drop5 = self.drop5(self.conv5(self.pool(drop4)))  # (B, 1024, H/16, W/16)
        conv6 = self.conv6(torch.cat([drop4, self.up6(drop5)], 1))  # (B, 512, H/8, W/8)
        conv7 = self.conv7(torch.cat([conv3, self.up7(conv6)], 1))  # (B, 256, H/4, W/4)
        conv8 = self.conv8(torch.cat([conv2, self.up8(conv7)], 1))  # (B, 128, H/2, W/2)
        return self.conv9(torch.cat([conv1, self.up9(conv8)], 1))  # (B, out, H, W)

    def _check_input(self, x: torch.Tensor, cfg: ACGPNConfig, what: str) -> None:
        want = (self.in_channels, cfg.fine_height, cfg.fine_width)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"{what} input must be (B, {want[0]}, {want[1]}, {want[2]}), got {tuple(x.shape)}")


class Refine(_UNet):
    """The authors' ``Refine``: ``x (B, in, H, W) -> raw logits (B, out, H, W)`` (their ``.refine``).

    G1 = ``Refine(37, 14)`` (layout; sigmoid then argmax), G2 = ``Refine(37, 1)`` (cloth mask; sigmoid),
    G = ``Refine(24, 3)`` (try-on; tanh).
    """

    def __init__(self, in_channels: int, out_channels: int, cfg: ACGPNConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or ACGPNConfig()
        self._build(in_channels, out_channels, self.cfg.ngf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, self.cfg, "Refine")
        return self.unet(x)


# ------------------------------------------------------------------------------------------------------ the STN


def target_control_points(cfg: ACGPNConfig | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The STN's target (identity) control points ``(N, 2)`` as ``(x, y)``, y the outer and x the fastest index."""
    cfg = cfg or ACGPNConfig()
    a = torch.linspace(-cfg.control_range, cfg.control_range, cfg.grid_size, dtype=torch.float64)
    y = a.repeat_interleave(cfg.grid_size)  # (N,) outer index
    x = a.repeat(cfg.grid_size)  # (N,) fastest index
    return torch.stack([x, y], dim=1).to(dtype)  # (N, 2)


class LocalizerCNN(nn.Module):
    """The authors' ``CNN``: ``(B, 5, H, W) -> (B, 2N)`` pre-tanh control-point coordinates.

    conv 4×4 s2 5→8, ReLU, IN; five conv 4×4 s2 (8→16→…→256), IN, ReLU; two conv 3×3 256→256, IN, ReLU (keys
    ``model.{0,3,…,21}``); max-pool 2×2 (→ 256 × 2 × 1 at 256 × 192); fc1 512→128, ReLU, dropout; fc2 128→2N.
    """

    def __init__(self, num_output: int, in_channels: int = 5, ngf: int = 8, n_layers: int = 5,
                 fc_in: int = 512) -> None:
        super().__init__()
        first = nn.Conv2d(in_channels, ngf, 4, stride=2, padding=1)
        layers: list[nn.Module] = [first, nn.ReLU(), nn.InstanceNorm2d(ngf)]  # ReLU before the norm here only
        c = ngf
        for _ in range(n_layers):
            layers += [nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU()]
            c *= 2
        for _ in range(2):
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.InstanceNorm2d(c), nn.ReLU()]
        self.model = nn.Sequential(*layers)
        self.maxpool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(fc_in, 128)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, num_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.model(x))  # (B, 256, H/128, W/128)
        x = x.reshape(x.shape[0], -1)  # (B, 256·h·w), flattened C, H, W
        return self.fc2(self.drop(F.relu(self.fc1(x))))  # (B, 2N)


class BoundedGridLocNet(nn.Module):
    """``(B, 5, H, W) -> control points (B, N, 2)`` in (−1, 1) via tanh; fc2 starts at the identity warp."""

    def __init__(self, target: torch.Tensor, fc_in: int) -> None:
        super().__init__()
        self.cnn = LocalizerCNN(target.numel(), fc_in=fc_in)
        with torch.no_grad():
            self.cnn.fc2.weight.zero_()
            self.cnn.fc2.bias.copy_(torch.atanh(target.to(torch.float64)).reshape(-1).float())  # (2N,) x, y pairs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        points = torch.tanh(self.cnn(x))  # (B, 2N)
        return points.view(points.shape[0], -1, 2)  # (B, N, 2) as (x, y)


class TPSGridGen(nn.Module):
    """``control points (B, N, 2) -> sampling grid (B, H, W, 2)`` through the checkpoint's three constant buffers.

    ``inverse_kernel = L⁻¹`` of the target points (:func:`vton.geometry.tps.tps_system`, kernel scale 0.5),
    ``padding_matrix = 0 (3, 2)``, ``target_coordinate_repr`` = the TPS features of every output pixel in row-major
    order (:func:`vton.geometry.tps.tps_basis`); grid = ``repr @ (L⁻¹ @ [points; 0])``, i.e. the TPS that carries
    each target point to its control point (a backward map, :func:`vton.geometry.tps.tps_warp_grid`).
    """

    def __init__(self, out_h: int, out_w: int, target: torch.Tensor) -> None:
        super().__init__()
        self.out_h, self.out_w = out_h, out_w
        inverse_kernel, padding_matrix, coordinate_repr = self.constants(out_h, out_w, target)
        self.register_buffer("inverse_kernel", inverse_kernel)  # (N+3, N+3)
        self.register_buffer("padding_matrix", padding_matrix)  # (3, 2)
        self.register_buffer("target_coordinate_repr", coordinate_repr)  # (H*W, N+3)

    @staticmethod
    def constants(out_h: int, out_w: int, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The three buffers in float32, computed in float64."""
        t64 = target.to(torch.float64)
        inverse_kernel = torch.linalg.inv(tps_system(t64, kernel_scale=0.5))  # (N+3, N+3)
        pix = identity_grid(out_h, out_w, dtype=torch.float64).view(-1, 2)  # (H*W, 2) (x, y), row-major
        coordinate_repr = tps_basis(pix, t64, kernel_scale=0.5)  # (H*W, N+3)
        return inverse_kernel.float(), torch.zeros(3, 2), coordinate_repr.float()

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        b = points.shape[0]
        # float64 arithmetic (float32 on MPS, which lacks it): a float32 product is ~1e-5 off, and U's sharp mask
        # edges turn that into ~5e-3 on its output.
        dt = torch.float32 if points.device.type == "mps" else torch.float64
        y = torch.cat([points, self.padding_matrix.expand(b, 3, 2)], 1).to(dt)  # (B, N+3, 2)
        mapping = torch.matmul(self.inverse_kernel.to(dt), y)  # (B, N+3, 2)
        grid = torch.matmul(self.target_coordinate_repr.to(dt), mapping)  # (B, H*W, 2)
        return grid.view(b, self.out_h, self.out_w, 2).to(points.dtype)  # (B, H, W, 2) (x, y)


def warp_zero_canvas(x: torch.Tensor, grid: torch.Tensor, align_corners: bool) -> torch.Tensor:
    """The STN warp: bilinear ``grid_sample`` with zero padding times the warped ones-canvas (canvas value 0)."""
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)
    ones = torch.ones_like(x)
    return out * F.grid_sample(ones, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)


class STN(nn.Module):
    """The authors' ``STNNet``: a bounded localiser (``loc_net``) and the TPS (``tps``)."""

    def __init__(self, cfg: ACGPNConfig) -> None:
        super().__init__()
        target = target_control_points(cfg)
        fc_in = 256 * (cfg.fine_height // 128) * (cfg.fine_width // 128)
        self.loc_net = BoundedGridLocNet(target, fc_in)
        self.tps = TPSGridGen(cfg.fine_height, cfg.fine_width, target)
        self.register_buffer("target_control_points", target.float(), persistent=False)  # (N, 2)

    def forward(self, loc_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, 5, H, W) -> (control points (B, N, 2), sampling grid (B, H, W, 2))``."""
        points = self.loc_net(loc_input)
        return points, self.tps(points)


class UOutput(NamedTuple):
    """What U returns. Shapes at 256 × 192."""

    conv9: torch.Tensor  # (B, 4, H, W) raw: RGB logits (tanh) + mask logit (sigmoid)
    warped_cloth: torch.Tensor  # (B, 3, H, W) in [-1, 1], 0 outside the cloth's image
    warped_mask: torch.Tensor  # (B, 1, H, W) in [0, 1]
    warped_grid: torch.Tensor | None  # (B, 3, H, W) the ``grid`` image warped (display), None if not given
    control_points: torch.Tensor  # (B, N, 2) (x, y) where each target point samples the cloth
    sampling_grid: torch.Tensor  # (B, H, W, 2) (x, y), align_corners=True coordinates


class UnetMask(_UNet):
    """U: warp the cloth by the STN, then the U-Net on ``[refer, warped cloth]`` (4 → 4).

    ``forward(cloth (B,3,H,W), refer (B,1,H,W), mask (B,1,H,W), grid (B,C,H,W) | None) -> UOutput``: ``refer`` is
    the predicted cloth mask (``fake_cl_dis``), ``mask`` the cloth's own mask; the localiser sees
    ``[mask, refer, cloth]``; ``grid`` is any image to warp for display (the authors pass the person image).
    """

    def __init__(self, cfg: ACGPNConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or ACGPNConfig()
        self.stn = STN(cfg)
        self._build(4, 4, cfg.ngf)

    def forward(self, cloth: torch.Tensor, refer: torch.Tensor, mask: torch.Tensor,
                grid: torch.Tensor | None = None) -> UOutput:
        cfg = self.cfg
        hw = (cfg.fine_height, cfg.fine_width)
        for name, t, c in (("cloth", cloth, 3), ("refer", refer, 1), ("mask", mask, 1)):
            if t.ndim != 4 or t.shape[1] != c or tuple(t.shape[2:]) != hw:
                raise ValueError(f"U's {name} must be (B, {c}, {hw[0]}, {hw[1]}), got {tuple(t.shape)}")
        points, sampling_grid = self.stn(torch.cat([mask, refer, cloth], 1))  # loc input (B, 5, H, W)
        ac = cfg.align_corners
        warped = warp_zero_canvas(cloth, sampling_grid, ac)
        warped_mask = warp_zero_canvas(mask, sampling_grid, ac)
        warped_grid = None if grid is None else warp_zero_canvas(grid, sampling_grid, ac)
        conv9 = self.unet(torch.cat([refer, warped], 1))  # (B, 4, H, W)
        return UOutput(conv9, warped, warped_mask, warped_grid, points, sampling_grid)


# ------------------------------------------------------------------------------------------- building and loading


def build_acgpn_network(network: str, cfg: ACGPNConfig | None = None) -> nn.Module:
    """A freshly initialised ``"G1"``, ``"G2"``, ``"G"`` or ``"U"`` in eval mode (load weights next)."""
    cfg = cfg or ACGPNConfig()
    if network == "U":
        return UnetMask(cfg).eval()
    channels = {"G1": cfg.g1_channels, "G2": cfg.g2_channels, "G": cfg.g_channels}
    if network not in channels:
        raise ValueError(f"unknown ACGPN network {network!r}; valid: {', '.join(NETWORK_NAMES)}")
    return Refine(*channels[network], cfg).eval()


def adapt_state_dict(network: str, sd: dict[str, torch.Tensor], cfg: ACGPNConfig | None = None,
                     atol: float = 1e-4) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Make the authors' state dict of ``network`` loadable with ``strict=True``.

    Strips a ``module.`` prefix (DataParallel saves). For U, checks the three TPS constant buffers against ours
    (computed for ``cfg``) and replaces them by ours, so the numbers used are ours, not the file's; a missing
    constant is filled in.

    Args:
        network: ``"G1"``, ``"G2"``, ``"G"`` or ``"U"``.
        sd: the checkpoint's state dict.
        cfg: the config the model is built with (frame size decides the buffers).
        atol: the largest accepted difference of a constant buffer.

    Returns:
        ``(state dict, notes)``: the notes say what was changed, one line each.

    Raises:
        ValueError: unknown network name.
        WeightsError: a constant buffer has another shape or differs from ours by more than ``atol`` (named).
    """
    if network not in NETWORK_NAMES:
        raise ValueError(f"unknown ACGPN network {network!r}; valid: {', '.join(NETWORK_NAMES)}")
    notes: list[str] = []
    out: dict[str, torch.Tensor] = {}
    stripped = 0
    for k, v in sd.items():
        if k.startswith("module."):
            k = k[len("module."):]
            stripped += 1
        out[k] = v
    if stripped:
        notes.append(f"stripped the 'module.' prefix from {stripped} keys")
    if network == "U":
        cfg = cfg or ACGPNConfig()
        ours = dict(zip(CONSTANT_KEYS, TPSGridGen.constants(cfg.fine_height, cfg.fine_width,
                                                            target_control_points(cfg)), strict=True))
        for k, mine in ours.items():
            if k not in out:
                notes.append(f"{k} missing: computed")
            else:
                theirs = out[k]
                if tuple(theirs.shape) != tuple(mine.shape):
                    raise WeightsError(f"U checkpoint: {k} has shape {tuple(theirs.shape)}, expected "
                                       f"{tuple(mine.shape)} (another frame size or grid?)")
                diff = float((theirs.detach().double().cpu() - mine.double()).abs().max())
                if not diff <= atol:
                    raise WeightsError(f"U checkpoint: constant buffer {k} differs from the computed one by {diff:.3g} "
                                       f"(> {atol:g}); this is not an ACGPN U checkpoint for this config")
                notes.append(f"{k} matches the computed constant (max |diff| {diff:.2g}); using ours")
            out[k] = mine
    return out, notes
