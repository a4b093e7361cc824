"""monitoring.experiment_results: every started experiment's readout, one row per arm.

The same readout as `retail-intel experiments analyze` (orchestration/experiments.py over
ml/experiments/readout.py): customers and visits per arm, click-through, the primary metric
with its difference to the control and interval, the sample-ratio check, and the verdict of
the rule fixed up front. Rewritten each run for dashboards; the experiments themselves live in
the tenant's experiment store.
"""

import dagster as dg

from orchestration.experiments import RESULTS_TABLE, readouts, results_table
from orchestration.metadata import frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.warehouse import WarehouseBusyError


@dg.asset(key=list(RESULTS_TABLE), group_name="monitoring", kinds={"python"}, **PARTITIONED)
def experiment_results(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each started experiment read out from the serving events: per arm and with its verdict."""
    settings = warehouse.settings()
    try:
        found = readouts(settings)
    except WarehouseBusyError as error:  # DuckDB: the running service holds the events file
        return dg.MaterializeResult(metadata={"skipped_reason": f"events not read: {error}"[:300]})
    table = results_table(found)
    rows = warehouse.write(*RESULTS_TABLE, table)
    verdicts = {item.experiment.name: item.readout.reason for item in found}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "experiments": len(found),
            "verdicts": dg.MetadataValue.json(verdicts),
            "preview": frame_preview(table),
        }
    )
