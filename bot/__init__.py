"""Guildhall core: events, bus, brains, config, store, scheduler, CLI."""

__version__ = "0.1.0"
