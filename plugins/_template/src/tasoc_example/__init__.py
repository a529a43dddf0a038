"""Example tasoc plugin: fixed circular-aperture photometry."""

from __future__ import annotations

from tasoc_example.method import CircularAperture

__all__ = ["CircularAperture"]
