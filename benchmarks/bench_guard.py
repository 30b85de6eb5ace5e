"""Benchmark the batch guard's cost against a training step of the default seizure model.

Prints figures; never asserts. Rerun with::

    .venv/bin/python benchmarks/bench_guard.py               # batch 64 of (19, 2560): 256 Hz x 10 s
    .venv/bin/python benchmarks/bench_guard.py --batch 32 --steps 30

The baseline, measured in the same run and interleaved with the guard so both see the same CPU
load: one training step of ``SeizureTCN`` with its defaults (forward, ``BCEWithLogitsLoss`` on the
window logits, backward, ``AdamW`` step). If ``preflight.models.seizure`` cannot be imported, a
stand-in temporal conv net of similar size is used and the output says so. Figures are medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from preflight.validators.batch_guard import BatchGuard


class StandIn(nn.Module):
    """A temporal conv net of about the seizure model's size: (B, C, T) -> (B,) logits."""

    def __init__(self, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, hidden, 9, stride=4, padding=4),
            nn.GELU(),
            nn.Conv1d(hidden, hidden, 9, stride=4, padding=4),
            *(
                m
                for d in (1, 2, 4, 8)
                for m in (nn.Conv1d(hidden, hidden, 7, padding=3 * d, dilation=d), nn.GELU())
            ),
            nn.Conv1d(hidden, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Window logits (B,) from the mean of the frame logits (B, F)."""
        return self.net(x).squeeze(1).mean(dim=1)


def default_model(
    channels: int, rate: float
) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor], str]:
    """The model, a function from its output to window logits (B,), and its name."""
    try:
        from preflight.models.seizure import SeizureTCN
    except ImportError:
        return StandIn(channels), lambda out: out, "stand-in TCN (preflight.models.seizure absent)"
    model = SeizureTCN(in_channels=channels, sampling_rate=rate)
    return model, lambda out: out.window, "SeizureTCN (defaults)"


def median_ms(fn: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> None:
    """Time the training step and the guard, interleaved, and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=19)
    parser.add_argument("--rate", type=float, default=256.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, c, t = args.batch, args.channels, round(args.rate * args.seconds)
    x = torch.randn(b, c, t) * 50.0  # (B, C, T) in uV
    y = (torch.arange(b) % 2).float()  # (B,)
    ids = torch.stack([torch.arange(b), torch.arange(b) * 3], dim=1)  # (B, 2) int64
    model, window_logits, name = default_model(c, args.rate)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    guard = BatchGuard(c, t, min_positives=1, max_quarantine_fraction=1.0)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(window_logits(model(x)), y).backward()
        optimizer.step()

    nan = x.clone()
    nan[3, 4, 5] = float("nan")
    for _ in range(3):  # warm-up: allocator, AdamW state, first-call dispatch
        step()
        guard((x, y, ids))
    steps, guards = [], []
    for _ in range(args.steps):
        steps += median_ms(step, 1)
        guards += median_ms(lambda: guard((x, y, ids)), 5)
    failing = median_ms(lambda: guard.check(nan, y, ids), 5 * args.steps)
    step_ms, guard_ms = statistics.median(steps), statistics.median(guards)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"model: {name}, {params:,} parameters; batch ({b}, {c}, {t}); "
        f"{torch.get_num_threads()} torch threads; load {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(f"training step (fwd + bwd + AdamW)  {step_ms:8.1f} ms  (median of {args.steps})")
    print(f"batch guard, healthy batch        {guard_ms:8.2f} ms  (median of {len(guards)})")
    print(f"batch guard, batch with a NaN     {statistics.median(failing):8.2f} ms")
    print(f"guard / step                      {guard_ms / step_ms:8.2%}  (target <= 2 %)")


if __name__ == "__main__":
    main()
