"""MonteCarloEstimate: a number estimated by Monte Carlo, carrying its standard error.

It is a float (arithmetic, comparisons, formatting and JSON work as for the plain value) with
an `se` attribute, so a log-likelihood estimated by importance sampling is never separated from
its Monte Carlo error. `str` prints the value to the precision the error supports:

    >>> MonteCarloEstimate(-2658.8123, 0.043)
    MonteCarloEstimate(-2658.8 +- 0.043)
"""

import math

__all__ = ["MonteCarloEstimate", "decimals_for"]


class MonteCarloEstimate(float):
    """A float `value` with its Monte Carlo standard error `se` (>= 0; 0 for an exact value)."""

    def __new__(cls, value, se):
        estimate = super().__new__(cls, value)
        estimate.se = float(se)
        return estimate

    @property
    def value(self):
        return float(self)

    def __repr__(self):
        return f"MonteCarloEstimate({self})"

    def __str__(self):
        decimals = decimals_for(self.se)
        if self.se == 0:
            return f"{float(self):.{decimals}f} (exact)"
        return f"{float(self):.{decimals}f} +- {self.se:.2g}"

    def __reduce__(self):
        return (MonteCarloEstimate, (float(self), self.se))


def decimals_for(se, most=6):
    """Decimals worth printing for an estimate with Monte Carlo standard error `se`.

    The last digit printed is the finest whose unit is at least the SE: SE 0.09 -> 1 decimal,
    0.004 -> 2, 0.5 or more -> 0. A rerun with another seed then moves the printed value by
    about one unit of its last digit, so no digit is shown that a rerun would not keep. An SE
    that is unknown (NaN) or 0 (an exact value) gives `most`.
    """
    if not (se > 0 and math.isfinite(se)):
        return most
    return int(min(most, max(0, math.floor(-math.log10(se) + 1e-9))))
