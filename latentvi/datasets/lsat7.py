"""LSAT7: the classic 1000 x 5 binary response matrix (Bock & Lieberman, 1970).

Law School Admission Test, section 7: 1,000 examinees, 5 binary items. The package bundles the
32 response patterns with their counts (`data/lsat7_patterns.csv`); `load_lsat7` expands them
into one row per examinee. It is the standard small check for unidimensional 2PL software:
mirt's marginal maximum-likelihood estimates (slope-intercept form, theta ~ N(0, 1)) are
a = .988 1.081 1.706 .765 .736, d = 1.856 .808 1.804 .486 1.855, log-likelihood -2658.805.

References:
  [1] Bock & Lieberman (1970). Fitting a response model for n dichotomously scored items.
      Psychometrika 35, 179-197.
"""

from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["load_lsat7", "lsat7_patterns"]


def lsat7_patterns():
    """The 32 response patterns: columns item1..item5 (0/1) and count (sums to 1000)."""
    with resources.files("latentvi.datasets").joinpath("data/lsat7_patterns.csv").open() as file:
        return pd.read_csv(file)


def load_lsat7():
    """LSAT7 as a persons x items DataFrame.

    Returns:
      DataFrame of shape (1000, 5), columns item1..item5 holding 0/1 integers, a RangeIndex
      named 'person'; rows are in the order of the bundled pattern table.

    Examples:
      >>> from latentvi.datasets import load_lsat7
      >>> load_lsat7().mean().round(3).tolist()
      [0.828, 0.658, 0.772, 0.606, 0.843]
    """
    patterns = lsat7_patterns()
    counts = patterns.pop("count").to_numpy()
    rows = np.repeat(np.arange(len(patterns)), counts)
    frame = patterns.iloc[rows].reset_index(drop=True)
    frame.index.name = "person"
    return frame
