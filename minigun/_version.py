"""Version of the minigun package (base layer)."""

__version__ = "0.1.0"
