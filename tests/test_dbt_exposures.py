"""dbt's exposures name exactly the tables the dashboard and the Tableau export read, and they
reach the Dagster graph as the ``bi`` assets downstream of those tables."""

from __future__ import annotations

import ast
import json

import dagster as dg

import apps.dashboard.data as dashboard_data
from apps.bi.tables import EXTRACTS, LIVE_TABLES
from orchestration.dbt_project import dbt_project_for
from orchestration.definitions_builder import build_definitions
from orchestration.translator import LayeredDbtTranslator
from tests.support import make_settings


def _exposures(settings) -> dict[str, set[tuple[str, ...]]]:
    manifest = json.loads(dbt_project_for(settings).manifest_path.read_text())
    nodes = {**manifest["nodes"], **manifest["sources"]}
    translator = LayeredDbtTranslator()
    return {
        exposure["name"]: {
            tuple(translator.get_asset_key(nodes[unique_id]).path) for unique_id in exposure["depends_on"]["nodes"]
        }
        for exposure in manifest["exposures"].values()
    }


def _table_literals(module) -> set[tuple[str, str]]:
    """Every ("layer", "table") pair written in a module: what its code can read."""
    layers = {"marts", "ml", "monitoring", "raw", "ops"}
    found = set()
    for node in ast.walk(ast.parse(open(module.__file__).read())):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2:
            values = [element.value for element in node.elts if isinstance(element, ast.Constant)]
            if len(values) == 2 and all(isinstance(value, str) for value in values) and values[0] in layers:
                found.add(tuple(values))
    return found


def test_the_exposures_name_what_the_dashboard_and_the_export_read(tmp_path):
    exposures = _exposures(make_settings(tmp_path / "home"))
    assert set(exposures) == {"retail_intel_dashboard", "tableau_data_sources"}
    assert exposures["retail_intel_dashboard"] == set(dashboard_data.TABLES_READ)
    # A table the dashboard's code names but TABLES_READ (hence the exposure) forgot.
    assert _table_literals(dashboard_data) <= set(dashboard_data.TABLES_READ)
    exported = set(LIVE_TABLES) | {source for extract in EXTRACTS for source in extract.sources}
    assert exposures["tableau_data_sources"] == exported


def test_the_exposures_are_assets_downstream_of_their_tables_in_dagster(tmp_path):
    settings = make_settings(tmp_path / "home")
    graph = build_definitions(settings).resolve_asset_graph()
    for name, tables in _exposures(settings).items():
        node = graph.get(dg.AssetKey(["bi", name]))
        assert not node.is_executable, name
        assert {tuple(parent.path) for parent in node.parent_keys} == tables
    # The score tables are the assets that write them, not new source assets.
    assert graph.get(dg.AssetKey(["ml", "segment_movement"])).is_executable
