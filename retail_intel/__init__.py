"""Retail intelligence platform: core package (settings, raw contract, loader, generator, CLI)."""

__version__ = "0.1.0"
