"""Starting values (latentvi/irt/start.py): closed-form checks of each step and recovery.

The pairwise correlation is compared with pandas' pairwise-complete Pearson correlation, the
principal-axis loadings with an exact factor-model correlation matrix (whose reduced matrix has
rank D, so the loadings are recovered up to a rotation), and the whole start with simulated
truth: it is only a start, but it must already point every factor the right way.
"""

import numpy as np
import pandas as pd

from latentvi import irt
from latentvi.irt.rotation import rotate
from latentvi.irt.start import pairwise_correlation, principal_axes, starting_values


def test_pairwise_correlation_matches_pandas_with_missing_answers():
    data, _ = irt.simulate(500, 6, 2, missing_rate=0.2, seed=0)
    mask = data.notna().to_numpy()
    correlation, spread = pairwise_correlation(np.nan_to_num(data.to_numpy(float)), mask)
    np.testing.assert_allclose(correlation, data.corr().to_numpy(), atol=1e-12)
    np.testing.assert_allclose(spread, data.std(ddof=0).to_numpy(), atol=1e-12)


def test_principal_axes_recover_exact_loadings_up_to_rotation():
    rng = np.random.default_rng(1)
    loadings = rng.uniform(0.3, 0.8, size=(12, 2)) * (rng.uniform(size=(12, 2)) < 0.7)
    loadings[0] = [0.7, 0.0]
    loadings[1] = [0.0, 0.7]
    correlation = loadings @ loadings.T
    np.fill_diagonal(correlation, 1.0)
    found = principal_axes(correlation, 2)
    # Same common part Lambda Lambda^T (the rotation-free content of the loadings), to the
    # iteration's tolerance of 1e-4 on the communalities.
    np.testing.assert_allclose(found @ found.T, loadings @ loadings.T, atol=2e-3)


def test_start_points_every_factor_the_right_way():
    data, truth = irt.simulate(4000, 30, 3, factor_corr=0.3, seed=2)
    start = starting_values(data.to_numpy(float), np.ones(data.shape, bool), [2] * 30, 3)
    true_slopes = truth["items"][["a1", "a2", "a3"]].to_numpy()
    rotated = rotate(start.slopes, method="target", normalize=False,
                     target_loadings=true_slopes).loadings
    # Measured 0.079 (slopes) and 0.052 (intercepts): the polyserial correction is approximate
    # for logistic items. 0.12 and 0.1 catch a start whose factors are mixed up (RMSE ~0.5) or
    # whose scale is off by the normal-logistic factor 1.7.
    assert np.sqrt(np.mean((rotated - true_slopes) ** 2)) < 0.12
    assert np.sqrt(np.mean((start.intercepts[:, 0] - truth["items"]["d"]) ** 2)) < 0.1


def test_confirmatory_start_keeps_the_pattern_and_graded_intercepts_decrease():
    data, truth = irt.simulate(2000, 12, 2, item_type="graded", n_categories=4, seed=3)
    pattern = truth["pattern"].to_numpy()
    start = starting_values(data.to_numpy(float), np.ones(data.shape, bool), [4] * 12, 2,
                            pattern=pattern)
    assert np.all(start.slopes[pattern == 0] == 0) and np.all(start.slopes[pattern == 1] > 0)
    assert np.all(np.diff(start.intercepts, axis=1) < 0)
    true_slopes = truth["items"][["a1", "a2"]].to_numpy()
    # Measured 0.087; 0.3 catches a start on the wrong scale.
    assert np.sqrt(np.mean((start.slopes - true_slopes)[pattern == 1] ** 2)) < 0.3
    assert isinstance(truth["items"], pd.DataFrame)
