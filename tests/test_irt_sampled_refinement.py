"""Newton steps from sampled information (latentvi.irt.sampled_refinement) against the exact
maximum of a four-factor model whose likelihood factorizes into one-factor blocks."""

import numpy as np
import pandas as pd
from irt_quadrature import log_likelihood
from scipy.optimize import minimize

from latentvi import irt
from latentvi.irt.item_parameters import ItemParameters

PER_FACTOR = 4


def _block_values(items, block):
    rows = slice(PER_FACTOR * block, PER_FACTOR * (block + 1))
    return np.r_[items.iloc[rows, block], items["d"].iloc[rows]]


def test_refine_true_beyond_three_factors_reaches_the_exact_maximum():
    slopes = np.kron(np.eye(4), np.ones((PER_FACTOR, 1))) * np.tile(
        [0.8, 1.1, 1.4, 1.7], 4)[:, None]
    truth = ItemParameters.from_arrays(slopes, np.tile([-1.0, -0.3, 0.3, 1.0], 4))
    data, _ = irt.simulate(3000, parameters=truth, seed=7)
    pattern = pd.DataFrame((slopes != 0).astype(int), index=truth.items,
                           columns=[f"F{d + 1}" for d in range(4)])
    model = irt.ItemFactorModel(4, pattern=pattern, correlated_factors=False, seed=0,
                                refine=True).fit(data, verbose=0)
    refinement = model.refinement_
    assert refinement.steps >= 1 and refinement.num_samples == 256
    # near the maximum the sampled log-likelihood moves by less than its own Monte Carlo
    # noise (~1e-5 nats per person here)
    assert refinement.after >= refinement.before - 1e-4
    codes = data.to_numpy()
    se = model.standard_errors(data)
    for block in range(4):
        rows = slice(PER_FACTOR * block, PER_FACTOR * (block + 1))

        def negative(free, rows=rows):
            parameters = ItemParameters.from_arrays(free[:PER_FACTOR, None], free[PER_FACTOR:])
            return -log_likelihood(parameters, codes[:, rows], n_nodes=41)

        found = _block_values(model.items_, block)
        exact = minimize(negative, found, method="BFGS", options={"gtol": 1e-7}).x
        distance = (found - exact) / _block_values(se.items, block)
        # the Newton step carries the Monte Carlo error of the sampled score: ~0.1 SE (RMS)
        # at 256 draws per person; 0.3 SE is three of those, and the stochastic fit alone
        # is not bound by it
        assert np.sqrt(np.mean(distance ** 2)) < 0.3, (block, distance)
