"""How dbt nodes become Dagster assets: keys and groups follow the dbt folders (layers).

Nothing here names a model: a model in ``models/marts/`` becomes ``marts/<name>`` in
group ``marts``, and the Olist sources become the ``raw/<table>`` assets that the raw
loader materializes, so lineage runs from the files to the score tables unbroken. The score
tables' sources (``meta.layer``) become the ``ml/`` and ``monitoring/`` assets that write them,
which the exposures (``bi/<exposure>``, orchestration/exposures.py) depend on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


def dbt_layer(props: Mapping[str, Any]) -> str:
    if props["resource_type"] == "source":
        # The score tables' sources name the layer of the Python assets that write them.
        return (props.get("source_meta") or {}).get("layer", "raw")
    # fqn: [project, folder, ..., model]
    fqn = props.get("fqn") or []
    return fqn[1] if len(fqn) > 2 else "models"


class LayeredDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dg.AssetKey([dbt_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_layer(dbt_resource_props)
