"""PF-AFN's fused CPU inference path: convolutions through oneDNN, BatchNorm folded, post-ops, sub-pixel up-convs.

Ge et al., "Parser-Free Virtual Try-on via Distilling Appearance Flows", CVPR 2021, geyuying/PF-AFN@e2bb71e2
(``PF-AFN_test``, non-commercial research licence). The networks of :mod:`.networks` (the authors' layers and
state-dict keys) call into this module to run their layers faster on the CPU; nothing here has parameters of its
own.

In inference on the CPU (float32, eval mode, no autograd) the networks run each convolution together with what
follows it as one oneDNN call (``mkldnn::_convolution_pointwise``): an eval-mode BatchNorm right after a
convolution is folded into its weights and bias, and the ReLU / LeakyReLU after it and a residual sum become
oneDNN post-ops, so those elementwise passes over the feature maps are not made separately. The folded weights
are derived from the modules' own parameters and buffers (the state dict is unchanged) and cached until one of
them changes (``load_state_dict``, ``.to()``, an in-place edit). Same arithmetic up to float rounding (the golden
tests hold); training, autograd, other devices and dtypes take the plain modules.
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Conv2d", "bn_relu", "fpn_level", "fused_ok", "run", "step"]


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



_POINTWISE = torch.ops.mkldnn._convolution_pointwise


_SMALL_INPUT = 20_480  # ATen's ``use_mkldnn`` threshold (values of a batch-1 input) below which it goes native
_ACTIVATIONS = {"relu": lambda y: torch.relu_(y), "leaky_relu": lambda y, slope: F.leaky_relu_(y, slope)}


def fused_ok(x: torch.Tensor, module: nn.Module) -> bool:
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


def bn_relu(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
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
                conv = mods[i + 1]
                bn, act, i = _norm_and_activation(mods, i + 2)
                plan.append(_UpConvStep(conv, bn, act))
            elif (isinstance(m, nn.Conv2d) and m.padding_mode == "zeros" and not isinstance(m.padding, str)):
                bn, act, i = _norm_and_activation(mods, i + 1)
                plan.append(_ConvStep(m, bn, act))
            else:
                plan.append(m)
                i += 1
        _PLANS[layers] = plan
    return plan


def _norm_and_activation(mods: list, j: int) -> tuple:
    """The optional foldable BatchNorm and then the optional ReLU / LeakyReLU at ``mods[j:]`` that a convolution
    takes in: ``(bn or None, act or None, index after them)``."""
    bn = act = None
    if j < len(mods) and _foldable(mods[j]):
        bn, j = mods[j], j + 1
    if j < len(mods) and type(mods[j]) in (nn.ReLU, nn.LeakyReLU):
        act, j = mods[j], j + 1
    return bn, act, j


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_UPSTEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COMPOSED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def step(conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, act: nn.Module | None = None) -> _ConvStep:
    """The cached :class:`_ConvStep` of ``conv`` (with ``bn`` and ``act`` after it, fixed for that conv)."""
    cached = _STEPS.get(conv)
    if cached is None:
        cached = _STEPS[conv] = _ConvStep(conv, bn, act)
    return cached


def run(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``layers(x)`` through the fused path (see :func:`_plan`)."""
    for layer in _plan(layers):
        x = layer(x)
    return x


def fpn_level(adaptive: nn.Conv2d, smooth: nn.Conv2d, x: torch.Tensor, last: torch.Tensor | None) -> torch.Tensor:
    """``smooth(adaptive(x) + nearest×2(last))`` of one FPN level (``last`` None at the coarsest level).

    Where it pays (:meth:`_ComposedStep.pays`): the composed conv of ``x`` plus ``smooth`` of the upsampled
    ``last`` (sub-pixel, as one transposed convolution); else the 1×1 conv with the top-down sum as its post-op.
    """
    if last is not None and _ComposedStep.pays(adaptive, smooth, *x.shape[2:]):
        top_down = _UPSTEPS.setdefault(smooth, _UpTransposedStep(smooth, bias=False))(last)
        return _COMPOSED.setdefault(smooth, _ComposedStep(adaptive, smooth))(x, top_down)
    up = None if last is None else F.interpolate(last, scale_factor=2, mode="nearest")
    return step(smooth)(step(adaptive)(x, up))
