"""The Great Expectations boundary: the only module that imports it (~3 s), lazily, once.

``suites.run_suite`` imports this module inside the function, so ``import preflight`` and
``import preflight.validators.gate`` stay free of GX. GX errors are caught here and re-raised as
``ConfigError`` naming the suite file and the expectation.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuite
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.exceptions import GreatExpectationsError
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from pydantic import ValidationError

from preflight.errors import ConfigError

if TYPE_CHECKING:
    from preflight.validators.suites import Suite

_RESULT_FORMAT = {"result_format": "SUMMARY"}
# GX returns results in its own order: each expectation carries its index in the suite file.
INDEX_KEY = "preflight_index"


@functools.cache
def batch_definition() -> BatchDefinition:
    """A whole-dataframe batch definition in an ephemeral, quiet context, made once."""
    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_pandas("preflight")
    asset = source.add_dataframe_asset("split_aggregates")
    return asset.add_batch_definition_whole_dataframe("one_split")


def build_suite(suite: Suite, indices: Sequence[int]) -> ExpectationSuite:
    """A GX suite of the expectations at ``indices``; one GX rejects is a ``ConfigError``.

    ``ExpectationSuite(expectations=[...])`` logs and drops an invalid expectation, so each one
    is built here first, where its error can be reported.
    """
    built = []
    for index in indices:
        spec = suite.expectations[index]
        fields = spec.model_dump(mode="json", exclude_none=True)
        fields["meta"] = {**fields.get("meta", {}), INDEX_KEY: index}
        try:
            built.append(ExpectationConfiguration(**fields).to_domain_obj())
        except (GreatExpectationsError, ValidationError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"expectations.{index} ({spec.type}): Great Expectations rejects it: {exc}",
                path=suite.path,
            ) from None
    return ExpectationSuite(name=suite.name, expectations=built)


def validate(
    batch_def: BatchDefinition,
    gx_suite: ExpectationSuite,
    row: pd.DataFrame,
    params: dict[str, Any],
    suite: Suite,
) -> dict[int, tuple[bool, Any]]:
    """(success, observed value or None) by the expectation's index in the suite file.

    Raises:
        ConfigError: an expectation raised while running (GX records it instead of raising).
    """
    batch = batch_def.get_batch(batch_parameters={"dataframe": row})
    result = batch.validate(gx_suite, expectation_parameters=params, result_format=_RESULT_FORMAT)
    out = {}
    for outcome in result.results:
        config = outcome.expectation_config
        if config is None:  # GX always sets it for suite runs; mypy cannot know
            continue
        index = int(config.meta[INDEX_KEY])
        info = outcome.exception_info or {}
        if info.get("raised_exception"):
            raise ConfigError(
                f"expectations.{index} ({config.type}) failed to run: "
                f"{info.get('exception_message')}",
                path=suite.path,
            )
        out[index] = (bool(outcome.success), (outcome.result or {}).get("observed_value"))
    return out
