"""Every model family trains a few real steps in a child process: a native crash fails one test.

torch 2.13's CPU build crashed the whole process (``double free``, SIGSEGV) in ``backward`` of
``stamp_resnet`` with ``widths=[8]`` on AMD EPYC machines with AVX-512, through the channels-last
input the model then forced. A crash like that inside the test process would end the test run with
no report; in a child process it is one failing test that names the signal. The smallest and the
default widths of each family are trained, with every layout option a user can set.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from preflight.models import StampResNet

# Builds each model of a family from the registry, trains it for a few Adam steps on seeded
# random data and prints one line of losses as JSON per model, flushed before the next starts (so
# a crash names the model it happened in); any native crash kills this child, not the test run.
_TRAIN = """
import json, sys
import torch
import torch.nn.functional as F
from preflight.models.registry import build_model

name = sys.argv[1]
for kwargs, shape in json.loads(sys.argv[2]):
    torch.manual_seed(0)
    model = build_model(name, **kwargs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(*shape)
    losses = []
    for _ in range(3):
        out = model(x)
        if name == "seizure_tcn":
            y = torch.zeros(shape[0], shape[2])
            y[0, : shape[2] // 2] = 1.0
            loss = F.binary_cross_entropy_with_logits(out.window, y.amax(dim=1))
            loss = loss + F.binary_cross_entropy_with_logits(out.sample, y)
        else:
            y = (torch.arange(shape[0]) % 2).float()
            loss = F.binary_cross_entropy_with_logits(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(json.dumps(losses), flush=True)
"""

# Per family: (constructor arguments, input shape), the narrowest first.
FAMILIES: dict[str, list[tuple[dict[str, object], list[int]]]] = {
    "stamp_resnet": [
        ({"widths": [8]}, [8, 3, 64, 64]),
        ({"widths": [8, 16]}, [8, 3, 64, 64]),
        ({"widths": [8], "channels_last": True}, [8, 3, 64, 64]),
        ({}, [4, 3, 64, 64]),
    ],
    "seizure_tcn": [({"hidden": 8, "levels": 1}, [4, 19, 512]), ({}, [2, 19, 2560])],
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_model_family_trains_in_a_child_process_without_a_native_crash(name: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-c", _TRAIN, name, json.dumps(FAMILIES[name])]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    trained = [json.loads(line) for line in done.stdout.splitlines()]
    if done.returncode < 0:
        died = signal.Signals(-done.returncode).name
        crashed = FAMILIES[name][len(trained)][0]
        pytest.fail(f"{name} {crashed} died natively ({died}):\n{done.stderr[-2000:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(trained) == len(FAMILIES[name])
    for losses in trained:
        assert len(losses) == 3
        assert all(torch.isfinite(torch.tensor(losses)))


@pytest.mark.parametrize("channels_last", [False, True])
def test_stamp_resnet_never_converts_a_cpu_input_to_channels_last(channels_last: bool) -> None:
    """The layout that crashed oneDNN is not forced on CPU, whatever the option says."""
    model = StampResNet(widths=[8], channels_last=channels_last)
    seen: list[torch.Tensor] = []
    model.stem.register_forward_hook(lambda _module, inputs, _output: seen.append(inputs[0]))
    model(torch.randn(2, 3, 16, 16))
    assert seen[0].is_contiguous()
    assert not seen[0].is_contiguous(memory_format=torch.channels_last)
