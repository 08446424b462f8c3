"""PF-AFN networks: the appearance-flow warping module (AFWM) and the residual U-Net generator.

Ge et al., "Parser-Free Virtual Try-on via Distilling Appearance Flows", CVPR 2021, geyuying/PF-AFN@e2bb71e2
(``PF-AFN_test``, non-commercial research licence). Written from the documented facts of that code; the
state-dict keys and shapes equal the released ``warp_model_final.pth`` / ``gen_model_final.pth``, which load with
``strict=True`` after :func:`adapt_state_dict`. The authors' cupy correlation kernel is replaced by
:func:`local_correlation`, plain PyTorch (CPU and CUDA).

Convention: frame 256 × 192 (H × W), NCHW, images in [-1, 1]. A flow is a normalised sampling grid
``(B, 2, H, W)``, channel 0 = x, channel 1 = y, in ``align_corners=True`` coordinates (``-1`` and ``1`` are the
centres of the corner pixels); ``flow.permute(0, 2, 3, 1)`` is the ``grid`` of ``F.grid_sample``. The
checkpoints were trained where ``grid_sample`` behaved as ``align_corners=True`` (``PFAFNConfig.align_corners``);
``False`` reproduces the authors' code run under torch >= 1.3.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from vton.errors import WeightsError

__all__ = [
    "PFAFNConfig",
    "AFWM",
    "AFWMOutput",
    "AFlowNet",
    "FeatureEncoder",
    "RefinePyramid",
    "ResUnetGenerator",
    "local_correlation",
    "offset_to_grid",
    "warp_by_flow",
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


# ----------------------------------------------------------------------------------------------- flow helpers


CORRELATION_TILE = 8  # pixels per side of the tiles ``local_correlation`` multiplies as one batch (see there)


def local_correlation(first: torch.Tensor, second: torch.Tensor, max_displacement: int = 3) -> torch.Tensor:
    """Local cost volume of two feature maps, as the authors' correlation kernel (stride 1, kernel 1).

    Computed as one batched matrix product: the map is cut into ``T × T`` tiles (``CORRELATION_TILE``); each
    tile's features ``(T², C)`` are multiplied with the ``(T + 2d)²`` displaced positions around it ``(C, (T+2d)²)``
    (one ``bmm`` over all tiles), and each pixel's ``(2d+1)²`` displacements are gathered from that product. This
    does about 4× the multiply-adds of the 49 shifted products at T = 8, but in a BLAS kernel, with one copy of
    the displaced windows instead of 49 strided elementwise passes over the map.

    Args:
        first: ``(B, C, H, W)`` (the warped cloth features).
        second: ``(B, C, H, W)`` (the person features); displaced, zero outside the map.
        max_displacement: ``d``; displacements ``dx, dy`` in ``[-d, d]``.

    Returns:
        ``(B, (2d+1)², H, W)``: channel ``(dy + d)·(2d+1) + (dx + d)`` holds
        ``mean_c first[:, c, y, x] · second[:, c, y + dy, x + dx]``.
    """
    if first.ndim != 4 or first.shape != second.shape:
        raise ValueError(f"features must be equal (B, C, H, W), got {tuple(first.shape)} and {tuple(second.shape)}")
    d = int(max_displacement)
    k = 2 * d + 1
    t = CORRELATION_TILE
    s = t + 2 * d  # side of the displaced window around a tile
    b, c, h, w = first.shape
    ny, nx = -(-h // t), -(-w // t)  # tiles per column and row (the map is zero-padded to whole tiles)
    hp, wp = ny * t, nx * t
    tiles = F.pad(first, (0, wp - w, 0, hp - h)).view(b, c, ny, t, nx, t)
    tiles = tiles.permute(0, 2, 4, 3, 5, 1).reshape(b * ny * nx, t * t, c)  # (B·tiles, T², C)
    windows = F.pad(second, (d, d + wp - w, d, d + hp - h)).unfold(2, s, t).unfold(3, s, t)  # (B, C, ny, nx, S, S)
    windows = windows.permute(0, 2, 3, 1, 4, 5).reshape(b * ny * nx, c, s * s)  # (B·tiles, C, S²)
    products = torch.bmm(tiles, windows)  # (B·tiles, T², S²): every tile pixel · every window position
    idx = _correlation_index(t, d, first.device).expand(b * ny * nx, -1, -1)  # (B·tiles, T², k²)
    corr = products.gather(2, idx).view(b, ny, nx, t, t, k * k)
    corr = corr.permute(0, 5, 1, 3, 2, 4).reshape(b, k * k, hp, wp)[:, :, :h, :w]  # (B, k², H, W)
    return corr / c


def _correlation_index(t: int, d: int, device: torch.device) -> torch.Tensor:
    """``(1, T², (2d+1)²)``: for tile pixel ``(ty, tx)`` and displacement ``(i, j)`` (0-based), the position
    ``(ty + i)·S + (tx + j)`` in the flattened ``S × S`` window, ``S = T + 2d``."""
    k, s = 2 * d + 1, t + 2 * d
    ty = torch.arange(t, device=device).view(t, 1, 1, 1)
    tx = torch.arange(t, device=device).view(1, t, 1, 1)
    i = torch.arange(k, device=device).view(1, 1, k, 1)
    j = torch.arange(k, device=device).view(1, 1, 1, k)
    return ((ty + i) * s + (tx + j)).reshape(1, t * t, k * k)


def offset_to_grid(offset: torch.Tensor) -> torch.Tensor:
    """Pixel offsets ``(B, 2, H, W)`` (x, y) → a normalised sampling grid ``(B, H, W, 2)`` (the authors'
    ``apply_offset``): ``(pixel index + offset) / ((size − 1) / 2) − 1``, align_corners=True coordinates."""
    if offset.ndim != 4 or offset.shape[1] != 2:
        raise ValueError(f"offset must be (B, 2, H, W), got {tuple(offset.shape)}")
    h, w = offset.shape[2:]
    xs = torch.arange(w, device=offset.device, dtype=offset.dtype).view(1, 1, w)  # (1, 1, W)
    ys = torch.arange(h, device=offset.device, dtype=offset.dtype).view(1, h, 1)  # (1, H, 1)
    gx = (xs + offset[:, 0]) / ((w - 1.0) / 2.0) - 1.0  # (B, H, W)
    gy = (ys + offset[:, 1]) / ((h - 1.0) / 2.0) - 1.0  # (B, H, W)
    return torch.stack([gx, gy], dim=-1)  # (B, H, W, 2)


def warp_by_flow(
    x: torch.Tensor, flow: torch.Tensor, padding_mode: Literal["border", "zeros"] = "border", align_corners: bool = True
) -> torch.Tensor:
    """Sample ``x (B, C, H, W)`` at the flow ``(B, 2, H', W')`` (bilinear) → ``(B, C, H', W')``."""
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (B, 2, H, W), got {tuple(flow.shape)}")
    grid = flow.permute(0, 2, 3, 1)  # (B, H', W', 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=align_corners)


# ------------------------------------------------------------------------------------------------------- AFWM


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs oneDNN (``torch.mkldnn_convolution``) for CPU float32 inputs.

    torch sends a batch-1 convolution whose input holds at most 20,480 values to its native
    ``_slow_conv2d_forward`` (``use_mkldnn`` in ATen's ``Convolution.cpp``: "for some case, native is faster").
    PF-AFN's coarse pyramid levels (8 × 6 and 16 × 12 maps, up to 256 channels) all fall under it; measured on the
    project's CPU, oneDNN runs their 3 × 3 convolutions faster (0.37 vs 0.59 ms for 256 channels at 8 × 6), so
    every convolution of these networks takes oneDNN. Same parameters, same state-dict keys, same numbers up to
    float rounding (the golden tests hold).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.device.type == "cpu" and x.dtype == torch.float32 and self.weight.dtype == torch.float32
                and self.padding_mode == "zeros" and not isinstance(self.padding, str)
                and torch.backends.mkldnn.is_available() and not torch.compiler.is_compiling()):
            return torch.mkldnn_convolution(x.contiguous(), self.weight, self.bias, self.padding, self.stride,
                                            self.dilation, self.groups)
        return super().forward(x)


# ------------------------------------------------------------------------------------- fused CPU inference path
#
# In inference on the CPU (float32, eval mode, no autograd) the networks run each convolution together with what
# follows it as one oneDNN call (``mkldnn::_convolution_pointwise``): an eval-mode BatchNorm right after a
# convolution is folded into its weights and bias, and the ReLU / LeakyReLU after it and a residual sum become
# oneDNN post-ops, so those elementwise passes over the feature maps are not made separately. The folded weights
# are derived from the modules' own parameters and buffers (the state dict is unchanged) and cached until one of
# them changes (``load_state_dict``, ``.to()``, an in-place edit). Same arithmetic up to float rounding (the golden
# tests hold); training, autograd, other devices and dtypes take the plain modules.

_POINTWISE = torch.ops.mkldnn._convolution_pointwise


_SMALL_INPUT = 20_480  # ATen's ``use_mkldnn`` threshold (values of a batch-1 input) below which it goes native
_ACTIVATIONS = {"relu": lambda y: torch.relu_(y), "leaky_relu": lambda y, slope: F.leaky_relu_(y, slope)}


def _fused_ok(x: torch.Tensor, module: nn.Module) -> bool:
    """Whether ``module`` may run the fused oneDNN path on ``x``."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not module.training
            and not torch.is_grad_enabled() and torch.backends.mkldnn.is_available()
            and not torch.compiler.is_compiling())  # fmt: skip


def _tensor_key(tensors: tuple[torch.Tensor | None, ...]) -> tuple | None:
    """Identity and version of the tensors a cached derivation was made from (None: cannot tell, do not cache)."""
    key = []
    for t in tensors:
        if t is None:
            key.append(None)
        elif t.is_inference():
            return None  # an inference tensor has no version counter
        else:
            key.append((t.data_ptr(), t._version, t.dtype))
    return tuple(key)


def _bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``x · scale + shift`` per channel."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _bn_relu(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """``ReLU(BN(x))`` of a pre-activation block in eval mode, the ReLU in place on BN's fresh output."""
    y = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    return torch.relu_(y)


def _foldable(bn: nn.Module) -> bool:
    return (isinstance(bn, nn.BatchNorm2d) and bn.affine and bn.track_running_stats
            and bn.running_mean is not None)  # fmt: skip


class _ConvStep:
    """One convolution run as one oneDNN call: ``act(conv(x) [· BN] [+ other])`` with BN folded into the weights.

    ``act`` is None, ``nn.ReLU`` or ``nn.LeakyReLU``; ``other`` (the residual) is added before ``act``.
    """

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, act: nn.Module | None = None) -> None:
        self.conv, self.bn = conv, bn
        if act is None:
            self.attr, self.scalars = "none", []
        elif isinstance(act, nn.LeakyReLU):
            self.attr, self.scalars = "leaky_relu", [float(act.negative_slope)]
        elif isinstance(act, nn.ReLU):
            self.attr, self.scalars = "relu", []
        else:
            raise TypeError(f"no oneDNN post-op for {type(act).__name__}")
        self._key: tuple | None = None
        self._wb: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self._packed: dict[tuple[int, ...], torch.Tensor] = {}

    def weights(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight and bias with the BatchNorm folded in, cached while the parameters stay as they are."""
        c, bn = self.conv, self.bn
        tensors = (c.weight, c.bias) + ((bn.weight, bn.bias, bn.running_mean, bn.running_var) if bn else ())
        key = _tensor_key(tensors)
        if key is None or key != self._key:
            w = c.weight.detach()
            b = None if c.bias is None else c.bias.detach()
            if bn is not None:
                scale, shift = _bn_scale_shift(bn)
                w = w * scale.view(-1, 1, 1, 1)
                b = shift if b is None else b * scale + shift
            self._wb, self._key, self._packed = self._prepare(w.contiguous(), b), key, {}
        return self._wb

    def packed(self, w: torch.Tensor, x: torch.Tensor, geometry: tuple) -> torch.Tensor:
        """``w`` in oneDNN's own layout for inputs of ``x``'s shape where the weights outweigh the input map (the
        coarse levels: there reordering the weights on every call costs as much as the convolution); else ``w``."""
        if w.numel() < x.numel():
            return w
        shape = tuple(x.shape)
        if shape not in self._packed:
            self._packed[shape] = torch._C._nn.mkldnn_reorder_conv2d_weight(w.to_mkldnn(), *geometry, list(shape))
        return self._packed[shape]

    def _prepare(self, w: torch.Tensor, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weights as the oneDNN call takes them (here: as they are)."""
        return w, b

    def __call__(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        w, b = self.weights()
        c = self.conv
        geometry = (list(c.padding), list(c.stride), list(c.dilation), c.groups)
        return _onednn_conv(x, self.packed(w, x, geometry), b, geometry, self.attr, self.scalars, other)


def _onednn_conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, geometry: tuple, attr: str = "none",
                 scalars: list | None = None, other: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """``attr(conv(x) + other)`` in one oneDNN call; ``geometry`` = (padding, stride, dilation, groups)."""
    scalars = scalars or []
    if other is None:
        return _POINTWISE(x.contiguous(), w, b, *geometry, attr, scalars, "")
    if x.numel() <= _SMALL_INPUT:  # the binary op hands such inputs to the slow native convolution
        y = _POINTWISE(x.contiguous(), w, b, *geometry, "none", [], "").add_(other)
        return y if attr == "none" else _ACTIVATIONS[attr](y, *scalars)
    unary = None if attr == "none" else attr
    return _POINTWISE.binary(x.contiguous(), other.contiguous(), w, b, *geometry, "add", None, unary, scalars, None)


# For output row parity a, the rows (i − 1, i, i + 1) of a nearest ×2 upsampled map are the input rows
# (i − 1 + a, i + a) with the 3 kernel rows summed into 2: ``_PARITY[a] @ (k0, k1, k2)``.
_PARITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)), ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0))


class _UpConvStep(_ConvStep):
    """``act(BN(conv3×3(nearest×2(x))))`` computed at the input's resolution (sub-pixel form), same numbers.

    Each of the 4 output pixels of a 2 × 2 block sees only 2 × 2 distinct input pixels, so the 3 × 3 kernel folds
    into one 2 × 2 kernel per output parity; one convolution with ``4 × out`` channels over the input, then the
    parities are interleaved: 16 multiply-adds per input pixel and channel pair instead of 36.
    """

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, act: nn.Module | None = None,
                 bias: bool = True) -> None:  # fmt: skip
        super().__init__(conv, bn, act)
        self.bias = bias

    @staticmethod
    def fits(up: nn.Module, conv: nn.Module) -> bool:
        return (isinstance(up, nn.Upsample) and up.mode == "nearest" and up.size is None
                and up.scale_factor in (2, 2.0, (2, 2), (2.0, 2.0)) and _UpConvStep.fits_conv(conv))  # fmt: skip

    @staticmethod
    def fits_conv(conv: nn.Module) -> bool:
        return (isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and conv.stride == (1, 1)
                and conv.padding == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
                and conv.padding_mode == "zeros")  # fmt: skip

    def _prepare(self, w: torch.Tensor, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(4·out, in, 2, 2)`` kernels, channel ``(a·2 + c)·out + o`` for output row parity a, column parity c."""
        m = torch.tensor(_PARITY, dtype=torch.float64, device=w.device)  # (parity, 2 taps, 3 kernel rows)
        sub = torch.einsum("ark,csl,oikl->acoirs", m, m, w.double()).to(w.dtype)  # sums of 1, 2 or 4 weights
        bias = None if (b is None or not self.bias) else b.repeat(4)
        return sub.reshape(4 * w.shape[0], w.shape[1], 2, 2).contiguous(), bias

    def __call__(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        w, b = self.weights()
        n, _, h, wd = x.shape
        geometry = ([1, 1], [1, 1], [1, 1], 1)
        out = _POINTWISE(x.contiguous(), self.packed(w, x, geometry), b, *geometry, self.attr, self.scalars, "")
        out = out.view(n, 2, 2, -1, h + 1, wd + 1)  # (N, a, b, C, h + 1, w + 1)
        y = out.new_empty(n, out.shape[3], h, 2, wd, 2)
        for a in (0, 1):
            for c in (0, 1):
                y[:, :, :, a, :, c] = out[:, a, c, :, a : a + h, c : c + wd]
        y = y.view(n, -1, 2 * h, 2 * wd)
        return y if other is None else y.add_(other)


class _ComposedStep:
    """``smooth(adaptive(x) + other)`` of an FPN level, a 1 × 1 conv followed by a 3 × 3 conv (zero padding), as
    one 3 × 3 conv over ``x`` with the composed kernel (``in`` instead of ``fpn_dim`` input channels) and ``other``
    (``smooth`` of the upsampled coarser level, without bias, from :class:`_UpConvStep`) as its post-op sum.

    The 1 × 1 conv's bias, seen through the 3 × 3 conv, is a constant inside the map and differs on its one-pixel
    border, where ``smooth`` sees zero padding: the constant is the bias of the composed conv, the border's
    difference is added to the border rows and columns (computed once per map size).
    """

    def __init__(self, adaptive: nn.Conv2d, smooth: nn.Conv2d) -> None:
        self.adaptive, self.smooth = adaptive, smooth
        self._key: tuple | None = None
        self._wb: tuple[torch.Tensor, torch.Tensor] | None = None
        self._border: dict[tuple[int, int], torch.Tensor] = {}

    @staticmethod
    def pays(adaptive: nn.Module, smooth: nn.Module, h: int, w: int) -> bool:
        """Whether composing (and the sub-pixel coarser term) takes fewer multiply-adds than the two convs."""
        if not (isinstance(adaptive, nn.Conv2d) and adaptive.kernel_size == (1, 1) and adaptive.stride == (1, 1)
                and adaptive.padding == (0, 0) and adaptive.groups == 1 and adaptive.bias is not None
                and _UpConvStep.fits_conv(smooth) and smooth.bias is not None and h % 2 == 0 and w % 2 == 0):
            return False  # fmt: skip
        c, o = adaptive.in_channels, smooth.out_channels
        plain = h * w * (c + 9 * o)
        split = h * w * 9 * c + 16 * o * (h // 2 + 1) * (w // 2 + 1)
        return split < 0.9 * plain

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        a, s = self.adaptive, self.smooth
        key = _tensor_key((a.weight, a.bias, s.weight, s.bias))
        if key is None or key != self._key:
            ws, wa = s.weight.detach().double(), a.weight.detach().double()[:, :, 0, 0]
            w = torch.einsum("omkl,mi->oikl", ws, wa)
            self._bias_kernel = torch.einsum("omkl,m->okl", ws, a.bias.detach().double())  # (out, 3, 3)
            inner = self._bias_kernel.sum((1, 2)) + s.bias.detach().double()
            self._wb, self._key, self._border = (w.to(s.weight.dtype).contiguous(), inner.to(s.weight.dtype)), key, {}
        return self._wb

    def border(self, h: int, w: int) -> torch.Tensor:
        """``(out, h, w)``: the bias term at each pixel minus its inner constant (zero inside the border)."""
        if (h, w) not in self._border:
            k = self._bias_kernel
            ones = torch.ones(1, 1, h, w, dtype=k.dtype, device=k.device)
            full = F.conv2d(ones, k.unsqueeze(1), padding=1)[0]  # (out, h, w): the bias map smooth would see
            self._border[(h, w)] = (full - k.sum((1, 2)).view(-1, 1, 1)).to(self._wb[0].dtype)
        return self._border[(h, w)]

    def __call__(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        w, b = self.weights()
        h, wd = x.shape[2:]
        y = _onednn_conv(x, w, b, ([1, 1], [1, 1], [1, 1], 1), other=other)
        d = self.border(h, wd)
        if h <= 2 or wd <= 2:
            return y.add_(d)
        y[:, :, 0].add_(d[:, 0])
        y[:, :, -1].add_(d[:, -1])
        y[:, :, 1:-1, 0].add_(d[:, 1:-1, 0])
        y[:, :, 1:-1, -1].add_(d[:, 1:-1, -1])
        return y


# The same folding as a transposed convolution (stride 2, 4 × 4 kernel, padding 1): output row 2i + a takes the
# kernel rows (1, 3) for a = 0 and (0, 2) for a = 1; ``_TRANSPOSED[tap] @ (k0, k1, k2)``.
_TRANSPOSED = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))


class _UpTransposedStep(_UpConvStep):
    """:class:`_UpConvStep` as one oneDNN transposed convolution, which writes the interleaved output directly
    (faster than the sub-pixel form plus interleaving for the FPN's 256-channel maps; same multiply-adds)."""

    def _prepare(self, w: torch.Tensor, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(in, out, 4, 4)``, the transposed convolution's weight layout."""
        m = torch.tensor(_TRANSPOSED, dtype=torch.float64, device=w.device)  # (4 taps, 3 kernel rows)
        t = torch.einsum("ak,bl,oikl->ioab", m, m, w.double()).to(w.dtype)
        return t.contiguous(), (b if self.bias else None)

    def __call__(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        w, b = self.weights()
        y = _TRANSPOSED_POINTWISE(x.contiguous(), w, b, [1, 1], [0, 0], [2, 2], [1, 1], 1, self.attr, self.scalars,
                                  "")  # fmt: skip
        return y if other is None else y.add_(other)


_TRANSPOSED_POINTWISE = torch.ops.mkldnn._convolution_transpose_pointwise


def _plan(layers: nn.Sequential) -> list:
    """The steps of a Sequential for the fused path: each ``Conv2d [BatchNorm2d] [ReLU | LeakyReLU]`` run as one
    :class:`_ConvStep`, every other module as itself. Built once per Sequential."""
    plan = _PLANS.get(layers)
    if plan is None:
        mods, plan, i = list(layers), [], 0
        while i < len(mods):
            m = mods[i]
            if i + 1 < len(mods) and _UpConvStep.fits(m, mods[i + 1]):
                bn = act = None
                j = i + 2
                if j < len(mods) and _foldable(mods[j]):
                    bn, j = mods[j], j + 1
                if j < len(mods) and type(mods[j]) in (nn.ReLU, nn.LeakyReLU):
                    act, j = mods[j], j + 1
                plan.append(_UpConvStep(mods[i + 1], bn, act))
                i = j
            elif (isinstance(m, nn.Conv2d) and m.padding_mode == "zeros" and not isinstance(m.padding, str)):
                bn = act = None
                j = i + 1
                if j < len(mods) and _foldable(mods[j]):
                    bn, j = mods[j], j + 1
                if j < len(mods) and type(mods[j]) in (nn.ReLU, nn.LeakyReLU):
                    act, j = mods[j], j + 1
                plan.append(_ConvStep(m, bn, act))
                i = j
            else:
                plan.append(m)
                i += 1
        _PLANS[layers] = plan
    return plan


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_UPSTEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COMPOSED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _step(conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, act: nn.Module | None = None) -> _ConvStep:
    """The cached :class:`_ConvStep` of ``conv`` (with ``bn`` and ``act`` after it, fixed for that conv)."""
    step = _STEPS.get(conv)
    if step is None:
        step = _STEPS[conv] = _ConvStep(conv, bn, act)
    return step


def _run(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``layers(x)`` through the fused path (see :func:`_plan`)."""
    for step in _plan(layers):
        x = step(x)
    return x



class DownSample(nn.Module):
    """Pre-activation stride-2 stage: ``block = [BN, ReLU, conv 3×3 s2 (no bias)]``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(),
            Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _fused_ok(x, self):
            bn, _, conv = self.block
            return _step(conv)(_bn_relu(bn, x))
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
        if _fused_ok(x, self):
            bn1, _, conv1, bn2, relu2, conv2 = self.block
            return _step(conv2)(_step(conv1, bn2, relu2)(_bn_relu(bn1, x)), x)
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
        fused = _fused_ok(features[0], self)
        for adaptive, smooth, x in zip(self.adaptive, self.smooth, reversed(features), strict=True):
            if fused and last is not None and _ComposedStep.pays(adaptive, smooth, *x.shape[2:]):
                # smooth(adaptive(x) + up(last)) = composed conv of x + smooth of the upsampled last (sub-pixel)
                top_down = _UPSTEPS.setdefault(smooth, _UpTransposedStep(smooth, bias=False))(last)
                last = _COMPOSED.setdefault(smooth, _ComposedStep(adaptive, smooth))(x, top_down)
                out.append(last)
                continue
            up = None if last is None else F.interpolate(last, scale_factor=2, mode="nearest")
            if fused:
                last = _step(smooth)(_step(adaptive)(x, up))  # the top-down sum as the 1×1 conv's post-op
            else:
                x = adaptive(x)
                if up is not None:
                    x = x + up
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
        if _fused_ok(x, self):
            conv1, bn1, relu1, conv2, bn2 = self.block
            return _step(conv2, bn2, self.relu)(_step(conv1, bn1, relu1)(x), x)  # ReLU(x + BN(conv)) in one call
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
        y = _run(self.model, x) if _fused_ok(x, self) else self.model(x)
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
