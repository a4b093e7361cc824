"""On DuckDB each tenant has files of its own: with tenant A's settings (what A's CLI, runs and
service use) every location is A's own, or a platform file that A sees only through A's
namespace; nothing of B is read or written."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.registry import RegistryError
from orchestration.lineage import registry_for
from retail_intel.events import EventStore, now
from retail_intel.warehouse import warehouse_for
from tests.ml.test_registry import log
from tests.support import make_settings

# Locations shared by every tenant, each keyed by tenant inside: the registry (rows), one
# Dagster instance (partitions), one MLflow store (model names).
SHARED = {"registry_path", "dagster_home", "mlflow_store_dir"}
OWN = (
    "tenant_dir",
    "warehouse_path",
    "build_dir",
    "publish_dir",
    "dbt_state_dir",
    "quality_reports_dir",
    "mlflow_artifact_root",
    "engine_switch_path",
    "events_path",
    "campaigns_dir",
)


def test_every_location_of_a_tenant_is_its_own(tmp_path):
    acme, globex = make_settings(tmp_path, tenant_id="acme"), make_settings(tmp_path, tenant_id="globex")
    for name in OWN:
        mine, theirs = getattr(acme, name), getattr(globex, name)
        assert acme.tenant_dir in (mine, *mine.parents), name
        assert globex.tenant_dir not in (mine, *mine.parents), name
        assert mine != theirs, name
    for name in SHARED:
        assert getattr(acme, name) == getattr(globex, name), name
        assert acme.tenant_dir not in getattr(acme, name).parents, name


def test_with_one_tenants_settings_nothing_of_another_is_read_or_written(tmp_path):
    acme, globex = make_settings(tmp_path, tenant_id="acme"), make_settings(tmp_path, tenant_id="globex")
    warehouse_for(globex).write("marts", "orders", pd.DataFrame({"order_id": ["globex-1"]}))
    log(registry_for(globex), 9.0, model_name="globex.forecast")
    stamp = now()
    events = EventStore(acme)
    events.add([{"event_id": "a1", "event_type": "click", "occurred_at": stamp, "received_at": stamp}])
    events.close()

    assert not warehouse_for(acme).exists("marts", "orders")
    warehouse_for(acme).write("marts", "orders", pd.DataFrame({"order_id": ["acme-1"]}))
    assert warehouse_for(globex).read("marts", "orders")["order_id"].tolist() == ["globex-1"]
    assert not globex.events_path.exists(), "acme's events went to globex's store"

    acme_models = registry_for(acme)
    assert acme_models.versions().empty
    with pytest.raises(RegistryError, match="tenant 'acme' has no model 'globex.forecast'"):
        acme_models.freeze("globex.forecast", by="test")
    assert not registry_for(globex).is_frozen("globex.forecast")
