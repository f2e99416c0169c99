"""Plots (matplotlib): each function draws on a given or new Axes and returns the Figure."""

__all__ = []
