"""Checks for model constructor arguments, which arrive from YAML configs as plain values.

A bad value raises :class:`~preflight.errors.ConfigError` naming the model, the argument and the
value, before any layer is built.
"""

from __future__ import annotations

import math

from preflight.errors import ConfigError


def require_int(owner: str, name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` if it is an int (not a bool) of at least ``minimum``.

    Raises:
        ConfigError: ``value`` is of another type or below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return value


def require_float(
    owner: str, name: str, value: object, *, low: float, high: float = math.inf
) -> float:
    """Return ``value`` as a float if it is a finite number with ``low <= value < high``.

    Raises:
        ConfigError: ``value`` is not a number, not finite, or out of range.
    """
    bound = f"in [{low:g}, {high:g})" if math.isfinite(high) else f">= {low:g}"
    message = f"{owner}: {name} must be a finite number {bound}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(message)
    number = float(value)
    if not (math.isfinite(number) and low <= number < high):
        raise ConfigError(message)
    return number
