"""Monitoring of data and models: drift, health, alerts (issue #15)."""
