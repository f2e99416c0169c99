"""Data: loaders for standard data sets and bundled small data. Imports nothing from the model."""

__all__ = []
