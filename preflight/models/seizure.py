"""SeizureTCN: a compact temporal-convolution seizure detector for multichannel EEG windows.

Shapes in comments: B batch, C EEG channels, T samples per window, H hidden features, F frames
(the model's internal time axis at about 16 Hz, ``F = ceil(T / stride)``).

The pipeline, and why each part is there:

1. **Input normalization, inside the model.** Each channel of each window is centred on its
   median and divided by its median absolute deviation (MAD x 1.4826; the standard deviation when
   the MAD is zero), then clipped to +-20. Corpora store EEG in uV, mV or V, with per-channel gains;
   normalizing in the model makes a checkpoint indifferent to the unit, so a model trained on one
   corpus can score another without a preprocessing step that must be remembered. The median and
   MAD ignore a seizure burst that fills less than half of the window, so the burst keeps its
   amplitude relative to the background. It is idempotent: a dataset that normalizes the same way
   first changes nothing. What is lost is absolute amplitude across windows.
2. **Stem.** Two strided convolutions (kernel ``2s+1``, stride ``s``) decimate the signal to about
   16 Hz (``s1 * s2 = round(sampling_rate / 16)``, e.g. 4 x 4 at 256 Hz). The first layer acts as a
   learned filterbank over all channels at full rate; every layer after it runs on 16x fewer steps,
   which keeps a (64, 19, 2560) training step near 0.35 s on two otherwise idle CPU cores.
3. **Dilated residual TCN.** ``levels`` pre-norm residual blocks, dilation ``1, 2, 4, ...``, kernel
   ``kernel_size``, non-causal ("same" padding): the detector scores recorded windows offline, so
   each frame may look at both sides. With the defaults the receptive field is
   ``1 + 6 * (1 + 2 + ... + 32) = 379`` frames (about 24 s), so every frame of a 10 s window sees
   the whole window. Dropout drops whole feature maps (``Dropout1d``): neighbouring frames are
   nearly equal, so zeroing single values would hardly regularize (and is far slower on CPU).
4. **Heads.** A 1x1 convolution gives one logit per frame; linear interpolation between frame
   centres (a fixed transposed convolution) gives the per-sample logits ``(B, T)``. The
   per-window logit is the log-mean-exp of the frame logits: a window is labelled positive when
   any part of it overlaps a seizure, so its score should follow the most confident frames (a
   smooth maximum) rather than their average, which would dilute a short seizure. Unlike a
   separate pooled head, this ties the two outputs together: training on window labels alone
   also teaches the per-sample logits where the seizure is (multiple-instance learning), and
   ``- log F`` keeps the window logit on the frame logits' scale whatever the window length.

Normalization layers are GroupNorm with one group (statistics over features and time of one
window), never BatchNorm: a window's logits do not depend on the other windows in its batch, so
training and evaluation compute the same function, and sharding a batch across ranks or
quarantining a sample does not change the others' outputs.

Determinism: ``torch.use_deterministic_algorithms(True)`` accepts the model (tested on CPU), and
two of its choices are made for CUDA, where ``torch.median`` and the backward pass of
``F.interpolate(mode="linear")`` have no deterministic implementation: off CPU the median is read
from a sort, and the per-sample upsampling is a fixed transposed convolution.

Weight initialization: convolutions use Kaiming-normal (fan-in, ReLU gain, for the GELUs after
them) instead of PyTorch's default, which shrinks activations by about sqrt(6) per layer; the
1x1 output projection of each residual block uses Kaiming-normal with linear gain scaled by
``1 / sqrt(levels)``, so the residual stream's variance grows about 2x over all blocks, not
``levels`` times (the GPT-2 scaled residual init that nanoGPT uses); the logit head starts at
``N(0, 0.01)`` with zero bias, so initial logits are near 0 (probability 0.5) and a balanced
batch starts at loss log 2; biases start at zero and GroupNorm at identity.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from preflight.errors import ConfigError
from preflight.models._args import require_float, require_int

__all__ = [
    "FRAME_RATE_HZ",
    "FrameUpsample",
    "SeizureOutput",
    "SeizureTCN",
    "TemporalBlock",
    "lower_median",
    "robust_standardize",
    "stem_strides",
]

FRAME_RATE_HZ = 16.0  # the TCN's time step: 62.5 ms per frame
_CLIP = 20.0  # normalized amplitudes beyond +-20 MADs are electrode pops, not seizures
_MAD_TO_SD = 1.4826  # MAD x 1.4826 estimates the standard deviation of Gaussian noise


class SeizureOutput(NamedTuple):
    """The two outputs of :class:`SeizureTCN`; unpacks as ``window, sample = model(x)``.

    Attributes:
        window: per-window logits, shape ``(B,)``.
        sample: per-sample logits, shape ``(B, T)``, on the input's time axis.
    """

    window: torch.Tensor
    sample: torch.Tensor


def lower_median(x: torch.Tensor, *, by_sort: bool) -> torch.Tensor:
    """The lower median of ``x`` along its last dimension, kept as a dimension of size 1.

    Args:
        x: values, shape ``(..., T)``.
        by_sort: take the middle of a sort instead of calling ``torch.median``. The two agree;
            ``torch.median`` (a selection) is about 4x faster on CPU, but on CUDA it has no
            deterministic implementation and raises under ``use_deterministic_algorithms``.

    Returns:
        Shape ``(..., 1)``: element ``(T - 1) // 2`` of each row in sorted order.
    """
    if by_sort:
        return x.sort(dim=-1).values.narrow(-1, (x.shape[-1] - 1) // 2, 1)
    return x.median(dim=-1, keepdim=True).values


def robust_standardize(x: torch.Tensor) -> torch.Tensor:
    """Centre each row of ``x`` on its median and scale it by its MAD, along the last dimension.

    Args:
        x: signals, shape ``(..., T)``, e.g. ``(B, C, T)``.

    Returns:
        A tensor of the same shape: ``(x - median) / (1.4826 * MAD)`` clipped to +-20. A row whose
        MAD is zero is scaled by its standard deviation instead; a constant row becomes zeros.
    """
    by_sort = x.device.type != "cpu"
    centred = x - lower_median(x, by_sort=by_sort)  # (..., T)
    scale = lower_median(centred.abs(), by_sort=by_sort) * _MAD_TO_SD  # (..., 1)
    if bool((scale == 0).any()):  # rare (a flat or mostly flat channel): fall back to the SD
        scale = torch.where(scale > 0, scale, centred.std(dim=-1, keepdim=True, correction=0))
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # constant row: centred is 0
    return (centred / scale).clamp(-_CLIP, _CLIP)


def stem_strides(sampling_rate: float) -> tuple[int, int]:
    """The strides of the two stem convolutions that bring ``sampling_rate`` to about 16 Hz.

    Args:
        sampling_rate: the input's sampling rate in Hz.

    Returns:
        ``(s1, s2)`` with ``s1 <= 4`` and ``s1 * s2`` close to ``sampling_rate / 16``.
    """
    total = max(1, round(sampling_rate / FRAME_RATE_HZ))
    first = min(4, total)
    return first, max(1, round(total / first))


class TemporalBlock(nn.Module):
    """Pre-norm residual block: ``x + proj(dropout(gelu(conv_dilated(norm(x)))))``.

    Args:
        hidden: feature count H, kept by the block.
        kernel_size: odd temporal kernel size of the dilated convolution.
        dilation: spacing between the kernel's taps, in frames.
        dropout: probability of zeroing a whole feature map after the activation.
    """

    def __init__(self, hidden: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, hidden)
        padding = dilation * (kernel_size - 1) // 2  # "same": frame t sees t +- padding
        self.conv = nn.Conv1d(hidden, hidden, kernel_size, dilation=dilation, padding=padding)
        self.drop = nn.Dropout1d(dropout)
        self.proj = nn.Conv1d(hidden, hidden, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, H, F)`` features to ``(B, H, F)``."""
        h = self.conv(self.norm(x))  # (B, H, F)
        h = self.proj(self.drop(F.gelu(h)))  # (B, H, F)
        return x + h


def _strided_conv(in_channels: int, out_channels: int, stride: int) -> nn.Conv1d:
    """A convolution of kernel ``2s+1`` and stride ``s``; output frame j is centred on input j*s."""
    return nn.Conv1d(
        in_channels, out_channels, kernel_size=2 * stride + 1, stride=stride, padding=stride
    )


class FrameUpsample(nn.Module):
    """Linear interpolation of frame logits onto the input's samples.

    Frame j is centred on sample ``j * stride`` (the stem's geometry); a sample between two
    centres gets their distance-weighted mean, and the samples after the last centre keep the
    last frame's value. A transposed convolution with a fixed triangular kernel computes exactly
    that; unlike ``F.interpolate`` its backward pass is deterministic on CUDA as well.

    Args:
        stride: input samples per frame S.
    """

    taps: torch.Tensor

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride
        offsets = torch.arange(1 - stride, stride, dtype=torch.float32)  # (2S-1,)
        taps = (1.0 - offsets.abs() / stride).view(1, 1, -1)  # (1, 1, 2S-1), peak 1 at offset 0
        self.register_buffer("taps", taps, persistent=False)  # fixed: not in the state dict

    def forward(self, frame: torch.Tensor, length: int) -> torch.Tensor:
        """Map frame logits ``(B, F)`` to sample logits ``(B, length)``, ``length <= S * F``."""
        extended = torch.cat([frame, frame[:, -1:]], dim=1).unsqueeze(1)  # (B, 1, F+1)
        sample = F.conv_transpose1d(
            extended, self.taps, stride=self.stride, padding=self.stride - 1
        )  # (B, 1, S*F+1): sample i sits at frame coordinate i / S
        return sample[:, 0, :length]  # (B, T)


class SeizureTCN(nn.Module):
    """A dilated residual temporal-convolution network that detects seizures in EEG windows.

    The module docstring explains the design; ``forward`` takes raw windows in any unit.

    Args:
        in_channels: EEG channels C of the input (19 for the 10-20 montage).
        sampling_rate: the input's sampling rate in Hz; sets the stem's decimation so the TCN
            always runs at about 16 Hz and its receptive field is the same in seconds.
        hidden: features H of every layer.
        levels: residual blocks, with dilations ``1, 2, ..., 2**(levels - 1)``.
        kernel_size: odd temporal kernel size of the dilated convolutions.
        dropout: feature-map dropout probability inside each residual block.

    Raises:
        ConfigError: an argument is of the wrong type or out of range.
    """

    def __init__(
        self,
        in_channels: int = 19,
        sampling_rate: float = 256.0,
        hidden: int = 64,
        levels: int = 6,
        kernel_size: int = 7,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        owner = "SeizureTCN"
        self.in_channels = require_int(owner, "in_channels", in_channels, minimum=1)
        self.sampling_rate = require_float(owner, "sampling_rate", sampling_rate, low=1.0)
        require_int(owner, "hidden", hidden, minimum=1)
        require_int(owner, "levels", levels, minimum=1)
        require_int(owner, "kernel_size", kernel_size, minimum=3)
        if kernel_size % 2 == 0:
            raise ConfigError(f"{owner}: kernel_size must be odd (centred taps), got {kernel_size}")
        require_float(owner, "dropout", dropout, low=0.0, high=1.0)
        first, second = stem_strides(self.sampling_rate)
        self.stride = first * second  # input samples per frame
        self.stem = nn.Sequential(
            _strided_conv(in_channels, hidden, first),
            nn.GroupNorm(1, hidden),
            nn.GELU(),
            _strided_conv(hidden, hidden, second),
        )
        self.blocks = nn.Sequential(
            *(TemporalBlock(hidden, kernel_size, 2**i, dropout) for i in range(levels))
        )
        self.norm = nn.GroupNorm(1, hidden)
        self.head = nn.Conv1d(hidden, 1, kernel_size=1)
        self.upsample = FrameUpsample(self.stride)
        self._init_weights(levels)

    def _init_weights(self, levels: int) -> None:
        """Kaiming-normal convolutions, scaled residual projections, a near-zero head."""
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for module in self.modules():
            if isinstance(module, TemporalBlock):
                proj = module.proj.weight
                nn.init.kaiming_normal_(proj, mode="fan_in", nonlinearity="linear")
                with torch.no_grad():
                    proj.mul_(1.0 / math.sqrt(levels))
        nn.init.normal_(self.head.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> SeizureOutput:
        """Score EEG windows.

        Args:
            x: raw EEG, shape ``(B, C, T)``, float32, any unit.

        Returns:
            ``SeizureOutput(window, sample)``: logits of shape ``(B,)`` and ``(B, T)``.

        Raises:
            ValueError: ``x`` is not ``(B, in_channels, T)`` with ``T >= 1``.
        """
        if x.ndim != 3 or x.shape[1] != self.in_channels or x.shape[2] < 1:
            raise ValueError(
                f"SeizureTCN expects (B, {self.in_channels}, T) windows, got {tuple(x.shape)}"
            )
        length = x.shape[2]
        x = robust_standardize(x)  # (B, C, T), per channel and window: median 0, MAD-scale 1
        h = self.stem(x)  # (B, H, F), F = ceil(T / stride)
        h = self.blocks(h)  # (B, H, F)
        frame = self.head(F.gelu(self.norm(h))).squeeze(1)  # (B, F)
        window = torch.logsumexp(frame, dim=1) - math.log(frame.shape[1])  # (B,) log-mean-exp
        sample = self.upsample(frame, length)  # (B, T)
        return SeizureOutput(window=window, sample=sample)
