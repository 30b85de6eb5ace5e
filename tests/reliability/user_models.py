"""Models a user might write wrongly (a run config names them ``module:Class``).

Each takes the ``hidden`` and ``levels`` the tests' default run config passes, and ignores them.
"""

from __future__ import annotations

import torch
from torch import nn


class WrongShape(nn.Module):
    """Returns two logits per window, (B, 2), where preflight needs (B,) or (B, 1)."""

    def __init__(self, in_channels: int = 1, hidden: int = 8, levels: int = 2) -> None:
        super().__init__()
        self.head = nn.Linear(in_channels, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, 2)
        return self.head(x.mean(dim=2))


class NoParameters(nn.Module):
    """Its layers live in a plain list, so it has no parameters: nothing to train."""

    def __init__(self, in_channels: int = 1, hidden: int = 8, levels: int = 2) -> None:
        super().__init__()
        self.layers = [nn.Linear(in_channels, 1)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B,)
        return self.layers[0](x.mean(dim=2)).squeeze(1)
