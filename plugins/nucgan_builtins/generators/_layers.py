"""Keras-faithful building blocks shared by the built-in architectures (init, BatchNorm, 'same' strides).

He-normal as Keras draws it: a normal truncated at two standard deviations, rescaled so the kept
values have standard deviation sqrt(2 / fan_in) (Keras' ``VarianceScaling(2.0, "fan_in",
"truncated_normal")``). Keras computes fan_in from its kernel layout (kh, kw, a, b) as kh * kw * a,
where ``a`` is the input width for Conv2D (kernel (kh, kw, in, out)) but the *output* width for
Conv2DTranspose (kernel (kh, kw, out, in)). PyTorch stores Conv2d weights as (out, in, kh, kw) and
ConvTranspose2d weights as (in, out, kh, kw), so ``weight.shape[1] * kh * kw`` is Keras' fan_in for
both; that is what :func:`he_normal_` uses.

'same' with stride 2 in PyTorch: ``padding = (k - 1) // 2`` halves any even size for every kernel, and
a transposed convolution with that padding and ``output_padding = 2 + 2 * padding - k`` (0 or 1)
doubles it, so sizes match Keras exactly. For odd kernels TensorFlow pads one pixel less at the top
and left, so its windows sit one input pixel later than PyTorch's; that matters only when porting
Keras weights, not for training.

Upsampling (:func:`upsample_conv`): ``transpose`` is the paper's stride-2 transposed convolution,
whose kernel overlaps unevenly and leaves a checkerboard (Odena et al. 2016); ``resize`` doubles by
nearest neighbour then applies a 'same' convolution, ``bilinear`` likewise with bilinear
interpolation (a head that narrows 8-fold runs as the equivalent polyphase convolution,
:func:`bilinear_conv_polyphase`); ``shuffle`` convolves to 4x the channels and
rearranges them with PixelShuffle (Shi et al. 2016), its weights ICNR-initialised (Aitken et al. 2017)
so it starts out as nearest-neighbour upsampling of one convolution; ``conv-bilinear`` convolves at the
input resolution, then doubles bilinearly: the cost of a transposed convolution (a quarter of
``bilinear``'s, which convolves at the doubled size) and no checkerboard. Its head (the last 2x step,
to the image) convolves to :data:`HEAD_WIDTH` channels, doubles them bilinearly, then LeakyReLU and a
'same' convolution at the image's size, so the image does not end in an interpolation (no pixel-level
detail) yet few channels travel at full size. All map H -> 2 H.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nucgan.plugin_api import InputError

#: Keras' default LeakyReLU slope, which the paper's script used everywhere
LEAKY_SLOPE = 0.3
#: Keras BatchNormalization defaults (momentum 0.99 of the old value = PyTorch momentum 0.01)
BN_MOMENTUM = 0.01
BN_EPS = 1e-3
_TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def he_normal_(weight: nn.Parameter) -> None:
    """Fill a Conv2d or ConvTranspose2d weight in place as Keras' ``he_normal`` would."""
    fan_in = weight.shape[1] * math.prod(weight.shape[2:])
    std = math.sqrt(2.0 / fan_in) / _TRUNC_STD
    nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)


def keras_init_(module: nn.Module) -> None:
    """He-normal weights and zero biases for every (transposed) convolution inside ``module``; ICNR for shuffles."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            he_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, ShuffleConv):
            m.icnr_()


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """BatchNorm2d with Keras' defaults (momentum 0.99 -> PyTorch 0.01, epsilon 1e-3)."""
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM, eps=BN_EPS)


def leaky_relu() -> nn.LeakyReLU:
    """LeakyReLU with Keras' default slope 0.3, in place (safe after BatchNorm and convolutions)."""
    return nn.LeakyReLU(LEAKY_SLOPE, inplace=True)


def down_conv(cin: int, cout: int, k: int, bias: bool = False) -> nn.Conv2d:
    """Stride-2 convolution with Keras 'same' output size (H -> H / 2 for even H)."""
    return nn.Conv2d(cin, cout, k, stride=2, padding=(k - 1) // 2, bias=bias)


def up_conv(cin: int, cout: int, k: int, bias: bool = False) -> nn.ConvTranspose2d:
    """Stride-2 transposed convolution with Keras 'same' output size (H -> 2 H)."""
    pad = (k - 1) // 2
    return nn.ConvTranspose2d(cin, cout, k, stride=2, padding=pad, output_padding=2 + 2 * pad - k, bias=bias)


#: the ways a decoder can double its size; ``transpose`` is the paper's
UPSAMPLE_MODES = ("transpose", "resize", "bilinear", "shuffle", "conv-bilinear")


def bilinear_2x() -> nn.Upsample:
    """A 2x bilinear resize (``align_corners=False``), as every bilinear decoder step uses it."""
    return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)


@functools.lru_cache(maxsize=None)
def _phase_taps(k: int) -> torch.Tensor:
    """(2, k, 2 R + 1) float64: how tap ``a`` of a 'same' k-kernel on a 2x bilinear image reads input offsets -R..R.

    Output pixel ``2 i + p`` of the convolution sees upsampled pixels ``2 i + p + a`` (a in -r..r), each
    a 1/4-3/4 blend of two input pixels; summing the blends gives, per output phase p, a kernel over
    the input itself (``R = r // 2 + 1``). Cached per ``k``: read it, never write to it.
    """
    r = (k - 1) // 2
    reach = r // 2 + 1
    taps = torch.zeros(2, k, 2 * reach + 1, dtype=torch.float64)
    for p in range(2):
        for ai, a in enumerate(range(-r, r + 1)):
            i, q = divmod(p + a, 2)  # upsampled pixel 2 i + q, relative to the output's input pixel
            for d, weight in (((-1, 0.25), (0, 0.75)) if q == 0 else ((0, 0.75), (1, 0.25))):
                taps[p, ai, i + d + reach] += weight
    return taps


def bilinear_conv_polyphase(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(bilinear_2x()(x))`` without building the 2x image: one convolution to 4 x out channels, PixelShuffle.

    The same value up to float rounding (tests/test_decoder.py). The interior uses the per-phase
    kernels of :func:`_phase_taps` on the edge-replicated input (what the resize does at the borders);
    the outer ``r`` rows and columns, where the convolution's zero padding lies on the 2x image, are
    convolved the direct way from thin strips.
    """
    k = conv.kernel_size[0]
    r, reach = (k - 1) // 2, (k - 1) // 2 // 2 + 1
    taps = _phase_taps(k).to(device=conv.weight.device, dtype=conv.weight.dtype)
    w = conv.weight
    phased = torch.einsum("oiab,pay,qbx->opqiyx", w, taps, taps).reshape(4 * w.shape[0], w.shape[1], 2 * reach + 1,
                                                                         2 * reach + 1)
    bias = None if conv.bias is None else conv.bias.repeat_interleave(4)  # PixelShuffle reads channel 4 c + s
    y = F.pixel_shuffle(F.conv2d(F.pad(x, (reach,) * 4, mode="replicate"), phased, bias), 2)
    if r:
        h, wd, m = x.shape[-2], x.shape[-1], r + 1  # m input rows give the 2x image's first 2 r rows exactly
        up = bilinear_2x()
        y[..., :r, :] = conv(up(x[..., :m, :]))[..., :r, :]
        y[..., -r:, :] = conv(up(x[..., h - m:, :]))[..., -r:, :]
        y[..., :, :r] = conv(up(x[..., :, :m]))[..., :, :r]
        y[..., :, -r:] = conv(up(x[..., :, wd - m:]))[..., :, -r:]
    return y


class ResizeConv(nn.Sequential):
    """A 2x resize (``nearest`` or ``bilinear``) then a 'same' convolution: no uneven kernel overlap, no checkerboard.

    A bilinear one that narrows 8-fold or more (``cin >= 8 cout``: a decoder's head) runs as
    :func:`bilinear_conv_polyphase`, which never writes the wide 2x input: at the generalist's head
    (32 channels to 1 at 512 px) 5 ms instead of 29 on the CPU, the same result. The weights and
    their names are the plain resize-then-convolve ones.
    """

    def __init__(self, cin: int, cout: int, k: int, bias: bool = False, interpolation: str = "nearest") -> None:
        resize = nn.Upsample(scale_factor=2, mode="nearest") if interpolation == "nearest" else bilinear_2x()
        super().__init__(resize, same_conv(cin, cout, k, bias=bias))
        self.polyphase = interpolation == "bilinear" and k % 2 == 1 and cin >= 8 * cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self[1].kernel_size[0]
        if self.polyphase and min(x.shape[-2:]) > (k - 1) // 2 + 1:
            return bilinear_conv_polyphase(x, self[1])
        return super().forward(x)


class ConvBilinear(nn.Sequential):
    """A 'same' convolution at the input size, then a 2x bilinear resize: a transposed convolution's cost, no checkerboard."""

    def __init__(self, cin: int, cout: int, k: int, bias: bool = False) -> None:
        super().__init__(same_conv(cin, cout, k, bias=bias), bilinear_2x())


#: channels a conv-bilinear head carries to the image's size (a bilinear head carries all of them)
HEAD_WIDTH = 8


class ConvBilinearHead(nn.Sequential):
    """The conv-bilinear head: convolution to a few channels, bilinear 2x, LeakyReLU, convolution at full size."""

    def __init__(self, cin: int, cout: int, k: int, bias: bool = True) -> None:
        width = min(HEAD_WIDTH, cin)
        super().__init__(same_conv(cin, width, k), bilinear_2x(), leaky_relu(), same_conv(width, cout, k, bias=bias))


class ShuffleConv(nn.Sequential):
    """A 'same' convolution to 4 x ``cout`` channels, then PixelShuffle(2); :meth:`icnr_` starts it grid-free."""

    def __init__(self, cin: int, cout: int, k: int, bias: bool = False) -> None:
        super().__init__(same_conv(cin, 4 * cout, k, bias=bias), nn.PixelShuffle(2))

    def icnr_(self) -> None:
        """ICNR: He-normal weights for ``cout`` kernels, each copied to its 4 sub-pixels (and zero biases)."""
        conv = self[0]
        sub = conv.weight.new_empty((conv.out_channels // 4, *conv.weight.shape[1:]))
        he_normal_(sub)
        with torch.no_grad():
            conv.weight.copy_(sub.repeat_interleave(4, dim=0))  # PixelShuffle reads channel 4 c + s as sub-pixel s of c
            if conv.bias is not None:
                conv.bias.zero_()


def upsample_conv(cin: int, cout: int, k: int, mode: str = "transpose", bias: bool = False,
                  head: bool = False) -> nn.Module:
    """A 2x upsampling layer (H -> 2 H) built the ``mode`` way (``head``: the step to the image, see the module doc)."""
    if mode == "conv-bilinear":
        return ConvBilinearHead(cin, cout, k, bias=bias) if head else ConvBilinear(cin, cout, k, bias=bias)
    if mode == "transpose":
        return up_conv(cin, cout, k, bias=bias)
    if mode in ("resize", "bilinear"):
        return ResizeConv(cin, cout, k, bias=bias, interpolation="nearest" if mode == "resize" else "bilinear")
    if mode == "shuffle":
        return ShuffleConv(cin, cout, k, bias=bias)
    raise ValueError(f"unknown upsample mode {mode!r}; check it with check_choice first")


def same_conv(cin: int, cout: int, k: int, bias: bool = False) -> nn.Conv2d:
    """Stride-1 convolution keeping the size ('same'; odd kernels are symmetric, even ones as PyTorch)."""
    return nn.Conv2d(cin, cout, k, stride=1, padding="same", bias=bias)


def check_int(owner: str, name: str, value: object, minimum: int, maximum: int = 1 << 16) -> int:
    """``value`` as an int in [``minimum``, ``maximum``], or InputError naming the setting.

    The upper bound keeps a hostile or mistyped config (``levels=10**6``) from running for minutes
    before failing; real settings are far below it.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InputError(f"{owner}: {name} must be an integer in {minimum}..{maximum}, got {value!r}")
    return value


def check_rate(owner: str, name: str, value: object) -> float:
    """``value`` as a float in [0, 1), or InputError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InputError(f"{owner}: {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_choice(owner: str, name: str, value: object, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``, or InputError naming the setting and the allowed values."""
    if not isinstance(value, str) or value not in allowed:
        raise InputError(f"{owner}: {name} must be one of {', '.join(allowed)}, got {value!r}")
    return value
