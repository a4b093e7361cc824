"""Monitoring thresholds: the seed requirements by default, any of them overridden per tenant,
a misspelt or nonsensical one refused with the file and the key named."""

import pytest

from retail_intel.monitoring_config import PACKAGED, MonitoringConfigError, load_thresholds, thresholds_for
from tests.support import make_settings


def test_the_defaults_are_the_seed_requirements():
    defaults = load_thresholds(PACKAGED)
    assert (defaults["forecast"]["mape_target"], defaults["forecast"]["mape_alert"]) == (0.20, 0.25)
    assert (defaults["segments"]["stability_target"], defaults["segments"]["stability_alert"]) == (0.80, 0.70)
    assert (defaults["freshness"]["raw_target_hours"], defaults["freshness"]["raw_alert_hours"]) == (24, 48)
    assert defaults["data_quality"] == {"missing_share_alert": 0.01, "price_outlier_share_alert": 0.001}
    assert (defaults["drift"]["wasserstein_std"], defaults["drift"]["share_of_features"]) == (0.1, 0.5)


def test_a_tenants_file_overrides_only_what_it_names(tmp_path):
    acme = make_settings(tmp_path, tenant_id="acme")
    acme.tenant_dir.mkdir(parents=True)
    (acme.tenant_dir / "monitoring.yml").write_text("forecast:\n  mape_alert: 0.3\n")
    own = thresholds_for(acme)
    assert own["forecast"] == {"mape_target": 0.20, "mape_alert": 0.3, "wape_alert": 0.25}
    assert thresholds_for(make_settings(tmp_path, tenant_id="globex"))["forecast"]["mape_alert"] == 0.25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("forecast:\n  mape_alrt: 0.3\n", "unknown key forecast.mape_alrt"),
        ("forcast:\n  mape_alert: 0.3\n", "unknown section 'forcast'"),
        ("forecast:\n  mape_alert: -1\n", "forecast.mape_alert must be a non-negative number"),
        ("forecast:\n  mape_alert: high\n", "forecast.mape_alert must be a non-negative number"),
        ("forecast: 3\n", "section 'forecast' must be a mapping"),
        ("forecast: [\n", "cannot be read as YAML"),
    ],
)
def test_a_bad_file_is_refused_with_its_key(tmp_path, text, message):
    path = tmp_path / "monitoring.yml"
    path.write_text(text)
    with pytest.raises(MonitoringConfigError, match=message) as refused:
        load_thresholds(path)
    assert str(path) in str(refused.value)


def test_the_drift_defaults_are_the_drift_functions_own():
    """The drift functions (ml/, which reads no platform file) and the tenant's file start equal;
    the pipeline passes the file's values to them."""
    from dataclasses import asdict

    from ml.monitoring.drift import DriftThresholds

    assert load_thresholds(PACKAGED)["drift"] == {key: float(value) for key, value in asdict(DriftThresholds()).items()}
    assert DriftThresholds(**load_thresholds(PACKAGED)["drift"]) == DriftThresholds()


def test_a_tenants_data_quality_thresholds_reach_the_expectation_suites(tmp_path):
    import numpy as np
    import pandas as pd

    from orchestration.quality import quality_config
    from retail_intel import quality

    acme = make_settings(tmp_path, tenant_id="acme")
    default_config = quality_config(acme)
    assert (default_config.required_mostly, default_config.outlier_mostly) == (0.99, 0.999)
    acme.tenant_dir.mkdir(parents=True)
    (acme.tenant_dir / "monitoring.yml").write_text("data_quality:\n  price_outlier_share_alert: 0.05\n")
    # 2% of the products priced far out: beyond the default 0.1%, within this tenant's 5%.
    prices = np.r_[np.random.default_rng(0).normal(100, 5, 980), np.full(20, 10_000.0)]
    products = pd.DataFrame({"product_id": [f"p{i}" for i in range(1000)], "average_price": prices})

    def outliers_passed(config) -> bool:
        result = quality.validate_table("marts", "products", products, config=config)
        (check,) = [check for check in result.results if check.name == "products_average_price_outliers"]
        return check.passed

    assert not outliers_passed(default_config)
    assert quality_config(acme).outlier_mostly == 0.95 and outliers_passed(quality_config(acme))


def test_a_retired_key_in_an_old_tenant_file_is_ignored_with_a_warning(tmp_path):
    import pytest

    old = tmp_path / "monitoring.yml"
    old.write_text("data_quality:\n  duplicate_order_ids_alert: 0\n  missing_share_alert: 0.02\n")
    with pytest.warns(UserWarning, match="duplicate_order_ids_alert is no longer read"):
        thresholds = load_thresholds(old)
    assert thresholds["data_quality"] == {"missing_share_alert": 0.02, "price_outlier_share_alert": 0.001}
