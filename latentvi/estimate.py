"""MonteCarloEstimate: a number estimated by Monte Carlo, carrying its standard error.

It is a float (arithmetic, comparisons, formatting and JSON work as for the plain value) with
an `se` attribute, so a log-likelihood estimated by importance sampling is never separated from
its Monte Carlo error. `str` prints the value to the precision the error supports:

    >>> MonteCarloEstimate(-2658.8123, 0.043)
    MonteCarloEstimate(-2658.81 +- 0.043)
"""

import math

__all__ = ["MonteCarloEstimate", "significant_decimals"]


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
        decimals = significant_decimals(self.se)
        return f"{float(self):.{decimals}f} +- {self.se:.2g}"

    def __reduce__(self):
        return (MonteCarloEstimate, (float(self), self.se))


def significant_decimals(se, digits=1, most=6):
    """Decimals that show a value to `digits` significant digits of its standard error `se`
    (0.043 -> 2, 0.9 -> 1, 12 -> 0); `most` for an exact value (se = 0)."""
    if not se > 0 or not math.isfinite(se):
        return most
    return int(min(most, max(0, digits - 1 - math.floor(math.log10(se)))))
