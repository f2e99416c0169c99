"""Data: loaders for standard data sets and bundled small data. Imports nothing from the model."""

from latentvi.datasets.lsat7 import load_lsat7
from latentvi.datasets.mnist import load_mnist

__all__ = ["load_lsat7", "load_mnist"]
