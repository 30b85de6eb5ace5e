"""StampResNet: a small residual network that classifies image stamps (lens or not).

Shapes in comments: B batch, K input bands, W_i the width of stage i, and the spatial size of a
64 x 64 stamp as it shrinks (64 -> 32 -> 16 -> 8 with the default three stages).

Design:

- **Input** is the dataset's float32 ``(B, 3, 64, 64)`` stamps, already normalized per stamp
  (median / MAD) and augmented with flips and 90-degree rotations by the training input; the
  model does not normalize again. Any spatial size works (global average pooling); 64 x 64 is
  what the widths and strides are sized for.
- **Stem** at full resolution: one 3x3 convolution to ``widths[0]`` features before any
  downsampling, so thin arcs a few pixels wide reach a learned layer intact.
- **Stages**: one per entry of ``widths``; each starts with a stride-2 basic block (two 3x3
  convolutions, a 1x1 projection shortcut) and has ``blocks_per_stage`` blocks. Halving the side
  in every stage keeps the forward pass near 0.1 GFLOP per stamp (stem included), so a training
  step on 128 stamps takes about a second on two CPU cores.
- **Head**: global average pooling, then one linear layer to a logit per stamp.
- **Layout**: contiguous NCHW by default. ``channels_last=True`` makes a CUDA input NHWC (the
  layout tensor cores prefer); a CPU input is never converted. torch 2.13's CPU convolutions
  (oneDNN) on channels-last input crashed the process natively in ``backward`` (double free,
  SIGSEGV) on AMD EPYC machines with AVX-512 for narrow widths (``widths=[8]``), while they pass
  on AVX2 machines, so no CPU layout setting is forced; a test trains the narrowest model in a
  subprocess so that such a crash fails one test instead of ending the test run.
- **Normalization**: GroupNorm (``gcd(width, 8)`` groups), not BatchNorm, for the reason given
  in :mod:`preflight.models.seizure`: a stamp's logit never depends on the rest of its batch.

Weight initialization: Kaiming-normal (fan-out, ReLU gain) for convolutions, as torchvision's
ResNet; GroupNorm at identity; the head at ``N(0, 0.01)`` with zero bias, so initial logits are
near 0 and a balanced batch starts at loss log 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from preflight.errors import ConfigError
from preflight.models._args import require_int

__all__ = ["BasicBlock", "StampResNet"]


def _norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups of equal size (any channel count works)."""
    return nn.GroupNorm(math.gcd(channels, 8), channels)


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Residual block: ``relu(norm(conv(relu(norm(conv(x))))) + shortcut(x))``.

    Args:
        in_channels: input features.
        out_channels: output features.
        stride: spatial stride of the first convolution (2 halves the stamp's side).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.norm1 = _norm(out_channels)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.norm2 = _norm(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                _norm(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, W_in, S, S)`` to ``(B, W_out, S / stride, S / stride)``."""
        h = F.relu(self.norm1(self.conv1(x)))  # (B, W_out, S/stride, S/stride)
        h = self.norm2(self.conv2(h))  # (B, W_out, S/stride, S/stride)
        return F.relu(h + self.shortcut(x))


class StampResNet(nn.Module):
    """A small ResNet mapping image stamps ``(B, K, S, S)`` to one logit per stamp ``(B,)``.

    Args:
        in_channels: bands K of a stamp (3 for the lens finder's g, r, i).
        widths: features of each stage; every stage halves the side (64 -> 32 -> 16 -> 8).
        blocks_per_stage: basic blocks in each stage.
        channels_last: run CUDA inputs in channels-last (NHWC) memory format; ignored on CPU.

    Raises:
        ConfigError: an argument is of the wrong type or out of range.
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: Sequence[int] = (32, 64, 128),
        blocks_per_stage: int = 1,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        owner = "StampResNet"
        self.in_channels = require_int(owner, "in_channels", in_channels, minimum=1)
        if not isinstance(channels_last, bool):
            raise ConfigError(
                f"{owner}: channels_last must be true or false, got {channels_last!r}"
            )
        self.channels_last = channels_last
        require_int(owner, "blocks_per_stage", blocks_per_stage, minimum=1)
        if isinstance(widths, str | bytes) or not isinstance(widths, Sequence) or not widths:
            raise ConfigError(
                f"{owner}: widths must be a non-empty list of integers, got {widths!r}"
            )
        for width in widths:
            require_int(owner, "each of widths", width, minimum=1)
        self.stem = nn.Sequential(_conv3x3(in_channels, widths[0]), _norm(widths[0]), nn.ReLU())
        blocks: list[nn.Module] = []
        previous = widths[0]
        for width in widths:
            for index in range(blocks_per_stage):
                blocks.append(BasicBlock(previous, width, stride=2 if index == 0 else 1))
                previous = width
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Linear(previous, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming-normal convolutions (fan-out), a near-zero head."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score stamps.

        Args:
            x: normalized stamps, shape ``(B, in_channels, S, S)``, float32.

        Returns:
            Logits, shape ``(B,)``.

        Raises:
            ValueError: ``x`` is not ``(B, in_channels, H, W)``.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"StampResNet expects (B, {self.in_channels}, H, W) stamps, got {tuple(x.shape)}"
            )
        if self.channels_last and x.is_cuda:  # never on CPU: see the module docstring
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.stem(x)  # (B, W_0, 64, 64)
        h = self.stages(h)  # (B, W_last, 64 / 2**len(widths), ...), (B, 128, 8, 8) by default
        h = h.mean(dim=(2, 3))  # (B, W_last)
        return self.head(h).squeeze(1)  # (B,)
