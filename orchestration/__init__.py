"""The Dagster code location (assets over the dbt marts, checks, schedules).

Filled in by the Dagster issue; until then ``retail-intel run`` drives the pipeline
directly through ``retail_intel.warehouse``.
"""
