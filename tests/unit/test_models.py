"""The models: shapes, gradients, determinism, input normalization, and a learning check.

The registry has its own module, ``test_model_registry.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from preflight.errors import ConfigError
from preflight.models import SeizureOutput, SeizureTCN, StampResNet
from preflight.models.seizure import lower_median, robust_standardize, stem_strides


def seizure_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Window plus per-sample BCE of a SeizureTCN; ``y`` holds per-sample labels ``(B, T)``."""
    window, sample = model(x)
    window_loss = F.binary_cross_entropy_with_logits(window, y.amax(dim=1))
    return window_loss + F.binary_cross_entropy_with_logits(sample, y)


def stamp_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """BCE of a StampResNet; ``y`` holds one label per stamp ``(B,)``."""
    return F.binary_cross_entropy_with_logits(model(x), y)


def seizure_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random EEG in uV, ``(4, 19, 512)``, and per-sample labels with one positive window."""
    g = torch.Generator().manual_seed(seed)
    y = torch.zeros(4, 512)
    y[0, 100:300] = 1.0
    return 50.0 * torch.randn(4, 19, 512, generator=g), y


def stamp_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random normalized stamps ``(4, 3, 64, 64)`` and labels ``(4,)``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 3, 64, 64, generator=g), torch.tensor([1.0, 0.0, 1.0, 0.0])


Batch = Callable[[], tuple[torch.Tensor, torch.Tensor]]
Loss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
CASES: dict[str, tuple[type[nn.Module], Batch, Loss]] = {
    "seizure_tcn": (SeizureTCN, seizure_batch, seizure_loss),
    "stamp_resnet": (StampResNet, stamp_batch, stamp_loss),
}


@pytest.fixture
def deterministic() -> Iterator[None]:
    """Turn on ``torch.use_deterministic_algorithms``: any non-deterministic op raises."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(previous)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Run torch on one thread: these small models run faster so on a shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --- shapes and dtypes -------------------------------------------------------------------------


@pytest.mark.parametrize("length", [2560, 1000, 37, 1])
def test_seizure_tcn_gives_window_and_sample_logits(length: int) -> None:
    model = SeizureTCN()
    window, sample = model(50.0 * torch.randn(3, 19, length))
    assert window.shape == (3,)
    assert sample.shape == (3, length)
    assert window.dtype == sample.dtype == torch.float32
    assert torch.isfinite(window).all()
    assert torch.isfinite(sample).all()


@pytest.mark.parametrize("rate", [8.0, 64.0, 200.0, 250.0, 256.0, 400.0, 512.0])
def test_stem_brings_any_sampling_rate_near_16_hz(rate: float) -> None:
    first, second = stem_strides(rate)
    assert first <= 4
    if rate >= 64:
        assert 12.0 <= rate / (first * second) <= 21.0
    model = SeizureTCN(in_channels=2, sampling_rate=rate, hidden=8, levels=2)
    window, sample = model(torch.randn(2, 2, int(rate * 3)))
    assert window.shape == (2,)
    assert sample.shape == (2, int(rate * 3))


def test_per_sample_logits_interpolate_frame_logits_exactly() -> None:
    """Samples interpolate frame logits linearly; the window logit is their log-mean-exp."""
    model = SeizureTCN(in_channels=2, hidden=8, levels=2).eval()
    frames: list[torch.Tensor] = []
    model.head.register_forward_hook(lambda _m, _i, out: frames.append(out.squeeze(1)))
    window, sample = model(torch.randn(2, 2, 1000))
    frame = frames[0]  # (2, F)
    assert frame.shape[1] == math.ceil(1000 / model.stride)
    torch.testing.assert_close(sample[:, :: model.stride], frame)
    midpoints = sample[:, model.stride // 2 :: model.stride]  # halfway between frame centres
    torch.testing.assert_close(midpoints, (frame[:, :-1] + frame[:, 1:]) / 2)
    torch.testing.assert_close(window, torch.logsumexp(frame, 1) - math.log(frame.shape[1]))


@pytest.mark.parametrize(
    ("kwargs", "size"),
    [({}, 64), ({"widths": (8, 12), "blocks_per_stage": 2}, 64), ({"in_channels": 1}, 48)],
)
def test_stamp_resnet_gives_one_logit_per_stamp(kwargs: dict[str, object], size: int) -> None:
    model = StampResNet(**kwargs)  # type: ignore[arg-type]
    channels = model.in_channels
    logits = model(torch.randn(5, channels, size, size))
    assert logits.shape == (5,)
    assert logits.dtype == torch.float32


@pytest.mark.parametrize(
    ("factory", "shape"),
    [
        (SeizureTCN, (2, 18, 256)),
        (SeizureTCN, (19, 256)),
        (StampResNet, (2, 1, 64, 64)),
        (StampResNet, (3, 64, 64)),
    ],
)
def test_wrong_input_shape_is_named(
    factory: Callable[[], nn.Module], shape: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        factory()(torch.zeros(shape))


# --- gradients and determinism -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_reach_every_parameter(name: str) -> None:
    factory, batch, loss_fn = CASES[name]
    torch.manual_seed(0)
    model = factory()
    loss_fn(model, *batch()).backward()
    for pname, parameter in model.named_parameters():
        assert parameter.grad is not None, pname
        assert torch.isfinite(parameter.grad).all(), pname
        assert parameter.grad.abs().sum() > 0, pname


def _one_step(name: str, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Build with ``seed``, take one AdamW step (dropout on), return the next output and params."""
    factory, batch, loss_fn = CASES[name]
    torch.manual_seed(seed)
    model = factory()
    x, y = batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn(model, x, y).backward()
    optimizer.step()
    output = model(x)
    first = output[0] if isinstance(output, tuple) else output
    return first.detach(), {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.usefixtures("deterministic")
@pytest.mark.parametrize("name", list(CASES))
def test_same_seed_gives_identical_step(name: str) -> None:
    out_a, params_a = _one_step(name, seed=0)
    out_b, params_b = _one_step(name, seed=0)
    assert torch.equal(out_a, out_b)
    assert params_a.keys() == params_b.keys()
    assert all(torch.equal(params_a[k], params_b[k]) for k in params_a)
    _, params_c = _one_step(name, seed=1)
    assert not all(torch.equal(params_a[k], params_c[k]) for k in params_a)


@pytest.mark.parametrize("name", list(CASES))
def test_a_windows_logits_do_not_depend_on_its_batch(name: str) -> None:
    factory, batch, _ = CASES[name]
    model = factory().eval()
    x, _ = batch()
    with torch.no_grad():
        together = model(x)
        alone = model(x[1:2])
    if isinstance(together, SeizureOutput):
        together, alone = together.sample, alone.sample  # (B, T): the finest output
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-5)


# --- input normalization -----------------------------------------------------------------------


def test_seizure_tcn_is_indifferent_to_the_signal_unit() -> None:
    """The same EEG in uV and in V scores the same: the model normalizes its input."""
    model = SeizureTCN().eval()
    x, _ = seizure_batch()
    with torch.no_grad():
        micro, volts = model(x), model(x * 1e-6)
    torch.testing.assert_close(micro.window, volts.window, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(micro.sample, volts.sample, atol=1e-4, rtol=1e-4)


def test_robust_standardize_keeps_a_burst_above_the_background() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2000, generator=g)
    x[0, 1800:] *= 8.0  # a high-amplitude burst over a tenth of the window
    z = robust_standardize(1e-5 * x + 3.0)
    assert z[0, :1800].std() == pytest.approx(1.0, abs=0.15)
    assert z[0, 1800:].std() > 6.0
    torch.testing.assert_close(robust_standardize(z), z, atol=1e-5, rtol=1e-5)  # idempotent


@pytest.mark.parametrize("length", [1, 2, 7, 2560])
def test_the_sort_median_for_cuda_equals_torch_median(length: int) -> None:
    x = torch.randn(3, 19, length).round(decimals=1)  # ties included
    assert torch.equal(lower_median(x, by_sort=True), lower_median(x, by_sort=False))


def test_robust_standardize_handles_flat_and_mostly_flat_rows() -> None:
    x = torch.zeros(3, 100)
    x[0] = 7.0  # flat channel
    x[1, :10] = 1.0  # MAD is zero: scaled by the standard deviation
    x[2] = torch.linspace(-1.0, 1.0, 100)
    x[2, 0] = 1e9  # one electrode pop: clipped
    z = robust_standardize(x)
    assert torch.equal(z[0], torch.zeros(100))
    assert z[1].std(correction=0) == pytest.approx(1.0, abs=1e-4)
    assert z[2].abs().max() == 20.0
    assert torch.isfinite(z).all()


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (SeizureTCN, {"hidden": 0}, "hidden must be an integer >= 1, got 0"),
        (SeizureTCN, {"kernel_size": 4}, "kernel_size must be odd"),
        (SeizureTCN, {"dropout": 1.0}, "dropout must be a finite number in [0, 1)"),
        (SeizureTCN, {"sampling_rate": 0}, "sampling_rate must be a finite number >= 1"),
        (SeizureTCN, {"in_channels": True}, "in_channels must be an integer"),
        (StampResNet, {"widths": []}, "widths must be a non-empty list"),
        (StampResNet, {"widths": "32"}, "widths must be a non-empty list"),
        (StampResNet, {"widths": [32, 0]}, "each of widths must be an integer >= 1"),
    ],
)
def test_bad_constructor_arguments_raise_config_error(
    factory: Callable[..., nn.Module], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        factory(**kwargs)


# --- learning sanity ---------------------------------------------------------------------------


def burst_windows(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` windows of 5 s at 64 Hz, 4 channels: half hold a 3-5 Hz high-amplitude burst.

    Returns:
        EEG ``(n, 4, 320)`` and per-sample labels ``(n, 320)``.
    """
    rate, length = 64.0, 320
    t = torch.arange(length) / rate  # (T,)
    x = torch.randn(n, 4, length, generator=g)  # (n, C, T) background noise
    y = torch.zeros(n, length)
    for i in range(0, n, 2):
        start = int(torch.randint(0, length - 128, (1,), generator=g))
        stop = start + int(torch.randint(96, 128, (1,), generator=g))  # 1.5-2 s
        freq = 3.0 + 2.0 * float(torch.rand(1, generator=g))
        phase = 2 * math.pi * torch.rand(4, 1, generator=g)  # (C, 1)
        x[i, :, start:stop] += 4.0 * torch.sin(2 * math.pi * freq * t[start:stop] + phase)
        y[i, start:stop] = 1.0
    return x, y


def test_seizure_tcn_learns_bursts_from_noise() -> None:
    """40 steps of 32 windows take about 1 s; the loss ends near 0.01 (0.69 at the start)."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = SeizureTCN(in_channels=4, sampling_rate=64.0, hidden=32, levels=3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = seizure_loss(model, *burst_windows(32, g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = burst_windows(64, g)
    model.eval()
    with torch.no_grad():
        window, sample = model(x)
        held_out = seizure_loss(model, x, y)
    assert held_out < 0.15
    assert ((window > 0).float() == y.amax(dim=1)).float().mean() >= 0.95
    assert ((sample > 0).float() == y).float().mean() >= 0.9
