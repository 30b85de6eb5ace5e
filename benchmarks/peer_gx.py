"""Great Expectations alone, validating the per-window table: per split, both classes present
and at least one positive window. Prints JSON counts read from GX's observed values.

    python benchmarks/peer_gx.py WINDOWS.parquet      # columns split, label (0/1), one row a window
"""

import json
import sys

import great_expectations as gx
import pandas as pd


def main(path: str) -> None:
    table = pd.read_parquet(path)
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("peer").add_dataframe_asset("windows")
    batch_definition = asset.add_batch_definition_whole_dataframe("split")
    suite = gx.ExpectationSuite(
        name="per_split",
        expectations=[
            gx.expectations.ExpectColumnDistinctValuesToContainSet(
                column="label", value_set=[0, 1]
            ),
            gx.expectations.ExpectColumnSumToBeBetween(column="label", min_value=1),
            gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
        ],
    )
    counts = {}
    for split, rows in table.groupby("split"):
        batch = batch_definition.get_batch(batch_parameters={"dataframe": rows})
        result = batch.validate(suite)
        observed = [r.result.get("observed_value") for r in result.results]
        counts[split] = {
            "passed": bool(result.success),
            "positive_windows": int(observed[1]),
            "windows": int(observed[2]),
        }
    print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
