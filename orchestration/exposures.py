"""dbt's exposures (dbt_project/models/bi/_bi__exposures.yml) as Dagster assets of group ``bi``:
the dashboard and the Tableau data sources appear in the UI's lineage downstream of the marts
and score tables they read. They are not materialized here (nothing in the graph builds a
dashboard); they show what a change to a table reaches."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DbtProject

from orchestration.translator import LayeredDbtTranslator


def exposure_specs(manifest: Mapping[str, Any], translator: LayeredDbtTranslator) -> list[dg.AssetSpec]:
    nodes = {**manifest["nodes"], **manifest["sources"]}
    specs = []
    for exposure in manifest["exposures"].values():
        meta = exposure.get("meta") or exposure.get("config", {}).get("meta") or {}
        metadata: dict[str, Any] = {"dbt_exposure": exposure["unique_id"], "type": exposure["type"]}
        if exposure.get("url"):
            metadata["url"] = dg.MetadataValue.url(exposure["url"])
        specs.append(
            dg.AssetSpec(
                key=["bi", exposure["name"]],
                deps=[translator.get_asset_key(nodes[unique_id]) for unique_id in exposure["depends_on"]["nodes"]],
                group_name="bi",
                description=(exposure.get("description") or "").strip(),
                kinds={meta["dagster_kind"]} if meta.get("dagster_kind") else None,
                metadata=metadata,
            )
        )
    return specs


def exposure_assets(project: DbtProject) -> list[dg.AssetSpec]:
    return exposure_specs(json.loads(project.manifest_path.read_text()), LayeredDbtTranslator())
