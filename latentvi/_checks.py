"""Argument checks shared by the model parts: each raises an error that names the argument."""

import numbers

import numpy as np

__all__ = ["non_negative_int", "one_of", "positive_float", "positive_int", "resolve_seed"]


def positive_int(value, name):
    """Returns `value` as an int, or raises if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}")
    return int(value)


def one_of(value, choices, name):
    """Returns `value` if it is one of `choices`, else raises naming the allowed values."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def positive_float(value, name):
    """Returns `value` as a float, or raises if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number > 0, got {value!r} ({type(value).__name__})")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def non_negative_int(value, name):
    """Returns `value` as an int, or raises if it is not an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def resolve_seed(seed, name="seed"):
    """Returns `seed` as an int, or for None a fresh random one in [0, 2**31): one integer that
    seeds both TensorFlow's stateless draws (int32 pairs) and tf.data's shuffling.

    Raises ValueError if `seed` is neither None nor an integer >= 0.
    """
    if seed is None:
        return int(np.random.default_rng().integers(2**31))
    return non_negative_int(seed, name)
