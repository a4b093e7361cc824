"""Monitoring thresholds as data, per tenant (``monitoring.yml``): the packaged defaults are the
platform's seed requirements; a tenant's own file (or RETAIL_INTEL_MONITORING) overrides any
of them. Every threshold the monitoring checks read comes from here."""

from __future__ import annotations

import warnings
from pathlib import Path

import yaml

from retail_intel.settings import Settings

PACKAGED = Path(__file__).resolve().parent / "monitoring.yml"
# Keys earlier defaults had and nothing reads any more: a tenant's copy of them is ignored with a
# warning rather than refused, so that an old file keeps working.
RETIRED = {("data_quality", "duplicate_order_ids_alert"): "a duplicate order id always blocks the run"}


class MonitoringConfigError(ValueError):
    """The file is malformed; the message names the file and the key."""


def load_thresholds(path: Path) -> dict[str, dict[str, float]]:
    """The packaged defaults with ``path``'s values over them. Unknown sections or keys, and
    values that are not non-negative numbers, are refused with the file and the key named:
    a misspelt threshold would otherwise be silently ignored."""
    defaults = _read(PACKAGED)
    if path.resolve() == PACKAGED:
        return defaults
    merged = {section: dict(values) for section, values in defaults.items()}
    for section, values in _read(path).items():
        if section not in defaults:
            raise MonitoringConfigError(f"{path}: unknown section {section!r}; known: {', '.join(sorted(defaults))}")
        for key, value in values.items():
            if (section, key) in RETIRED:
                warnings.warn(f"{path}: {section}.{key} is no longer read: {RETIRED[section, key]}", stacklevel=2)
                continue
            if key not in defaults[section]:
                known = ", ".join(sorted(defaults[section]))
                raise MonitoringConfigError(f"{path}: unknown key {section}.{key}; known: {known}")
            merged[section][key] = value
    return merged


def thresholds_for(settings: Settings) -> dict[str, dict[str, float]]:
    return load_thresholds(settings.monitoring_config_path)


def _read(path: Path) -> dict[str, dict[str, float]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise MonitoringConfigError(f"{path}: cannot be read as YAML: {error}") from None
    if not isinstance(document, dict):
        raise MonitoringConfigError(f"{path}: expected a mapping of sections")
    document.pop("version", None)
    sections: dict[str, dict[str, float]] = {}
    for section, values in document.items():
        if not isinstance(values, dict):
            raise MonitoringConfigError(f"{path}: section {section!r} must be a mapping of thresholds")
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise MonitoringConfigError(f"{path}: {section}.{key} must be a non-negative number, got {value!r}")
        sections[str(section)] = {str(key): float(value) for key, value in values.items()}
    return sections
