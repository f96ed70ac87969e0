"""candlewire: algorithmic-trading research and trading engine."""

__version__ = "0.1.0"
