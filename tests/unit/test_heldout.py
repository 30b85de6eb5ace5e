"""Which splits validate and which are held out (``heldout.split_roles``)."""

from __future__ import annotations

import pytest

from preflight.errors import UsageError
from preflight.training.heldout import SplitRoles, peeking_record, split_roles
from preflight.training.monitors import Monitor

TUSZ = ("train", "dev", "eval")


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (TUSZ, SplitRoles("train", ("dev",), ("eval",))),  # TUSZ, and the stratified default
        (("train", "dev", "test"), SplitRoles("train", ("dev",), ("test",))),
        (("train", "dev"), SplitRoles("train", ("dev",), ())),  # nothing to hold out
        (("train", "val", "dev", "holdout"), SplitRoles("train", ("dev", "val"), ("holdout",))),
    ],
)
def test_by_default_a_test_named_split_is_held_out_and_the_others_validate(
    available: tuple[str, ...], expected: SplitRoles
) -> None:
    roles = split_roles(train="train", available=available)
    assert roles == expected
    assert peeking_record(roles) is None


def test_an_explicit_validation_split_wins_and_a_held_out_one_in_it_is_named() -> None:
    roles = split_roles(train="train", available=TUSZ, validation=["dev", "eval"])
    assert (roles.validation, roles.held_out, roles.peeking) == (("dev", "eval"), (), ("eval",))
    record = peeking_record(roles)
    assert record is not None
    assert (record.name, record.severity, record.passed) == (
        Monitor.HELD_OUT_IN_VALIDATION, "warning", False,
    )  # fmt: skip
    assert record.message.startswith("validation uses held-out split(s) eval:")


def test_explicit_held_out_names_other_splits() -> None:
    """Image-stamp tiers: dev validates, the debug tier is named held out."""
    roles = split_roles(
        train="train", available=("debug", "train", "dev"), evaluation=["dev", "debug"],
        held_out=["debug"],
    )  # fmt: skip
    assert (roles.validation, roles.held_out) == (("dev",), ("debug",))
    assert split_roles(train="train", available=TUSZ, held_out=[]).held_out == ()


def test_only_test_splits_left_they_validate_with_the_warning() -> None:
    roles = split_roles(train="train", available=("train", "test"))
    assert (roles.validation, roles.held_out, roles.peeking) == (("test",), (), ("test",))
    assert roles.warning is not None


def test_the_gate_evaluation_splits_bound_the_defaults() -> None:
    roles = split_roles(train="train", available=TUSZ, evaluation=["dev"])
    assert (roles.validation, roles.held_out) == (("dev",), ())


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"validation": ["dev2"]}, "split(s) dev2 not in the manifest"),
        ({"held_out": ["test"]}, "split(s) test not in the manifest"),
    ],
)
def test_absent_splits_are_usage_errors(kwargs: dict[str, list[str]], needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        split_roles(train="train", available=TUSZ, **kwargs)
