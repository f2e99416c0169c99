"""Adaptive Gauss-Hermite quadrature of the marginal likelihood, and the exact-ML refinement.

The marginal likelihood of a person's answers x is p(x) = int p(x | z) p(z) dz. Around a
Gaussian N(m, L L^T) close to the posterior p(z | x), the product Gauss-Hermite rule with
nodes z_g = m + L u_g and weights w_g (summing to 1 against the standard normal) gives

    p(x) ~ sum_g w_g p(x | z_g) p(z_g) / N(z_g; m, L L^T),

which is exact when the posterior is Gaussian and, for item response posteriors, accurate to
~1e-6 nats per person with a handful of nodes per factor (Naylor & Smith 1982; the "adaptive
quadrature" of Schilling & Bock 2005). The amortized posterior q(z | x) of a variational fit
is such a Gaussian, and the quadrature's own posterior moments improve it.

With the nodes held fixed, log p(x) is a smooth deterministic function of the item parameters
(and of the factor correlations), so a quasi-Newton method maximizes it to the precision of
the arithmetic: `refine` does so after the stochastic fit, which is what makes the estimates
equal to the exact marginal ML (or MAP, with priors) that mirt computes, also along the flat
ridges of small exploratory models where the stochastic gradients stop short. The nodes are
re-centred at the posterior moments after each maximization until log p(x) no longer moves.

References:
  [1] Naylor & Smith (1982). Applications of a method for the efficient computation of
      posterior distributions. Applied Statistics 31(3).
  [2] Schilling & Bock (2005). High-dimensional maximum marginal likelihood item factor
      analysis by adaptive quadrature. Psychometrika 70(3).
"""

import itertools
from typing import NamedTuple

import numpy as np
import scipy.optimize
import tensorflow as tf
from numpy.polynomial.hermite_e import hermegauss

__all__ = ["Nodes", "Refinement", "assign_flat", "cells", "flat", "free_basis", "information",
           "jacobian_matrix", "log_likelihood", "log_marginal", "n_points", "nodes_from_q",
           "penalized", "posterior_moments", "recentre", "refine", "values_flat"]

POINTS = {1: 21, 2: 11, 3: 7}  # nodes per factor; see n_points
MAX_ROUNDS = 6
ROUND_TOL = 1e-6  # nats per person: re-centring no longer changes log p(x)
GRADIENT_TOL = 1e-6  # nats per person per unit of a parameter
STALL_GRADIENT = 1e-4  # nats per person per unit: a maximum, to float32 precision
NEWTON_STEPS = 1
NEWTON_SLACK = 1e-7  # nats per person: float32 rounding of the log-likelihood
FUNCTION_TOL = 1e-10  # relative change of log p(x) per person at which L-BFGS stops


class Nodes(NamedTuple):
    """Quadrature nodes of P answer patterns: z [G, P, D] and log weights [G, P] that include
    the division by the Gaussian the nodes were placed around."""
    z: tf.Tensor
    log_weights: tf.Tensor


class Refinement(NamedTuple):
    """What `refine` did: the log-likelihood (or log-posterior, with priors) before and after,
    in nats per person; the quasi-Newton iterations; the rounds of re-centred nodes; the nodes
    per factor; and whether the last round's gradient met the tolerance."""
    before: float
    after: float
    iterations: int
    rounds: int
    points: int
    converged: bool


def n_points(n_factors):
    """Nodes per factor: 21 for one factor, 11 for two, 7 for three (on Science's two-factor
    graded model, 11 x 11 adaptive nodes give log p(x) within 1e-5 nats of a 41 x 41 fixed
    grid); None above three factors, where the product grid grows too fast."""
    return POINTS.get(int(n_factors))


def cells(n_patterns, n_items, n_factors):
    """Item evaluations per pass over the data: patterns x nodes x items (None above 3 D)."""
    points = n_points(n_factors)
    return None if points is None else n_patterns * points ** n_factors * n_items


def _standard_grid(n_factors, points):
    """Product Gauss-Hermite rule for N(0, I_D): u [G, D] and log w [G] (sum of w = 1)."""
    nodes, weights = hermegauss(points)
    log_weights = np.log(weights / weights.sum())
    grid = np.array(list(itertools.product(range(points), repeat=n_factors)))
    return nodes[grid].astype(np.float32), log_weights[grid].sum(axis=1).astype(np.float32)


def _place(loc, scale_tril, points):
    """Nodes around N(loc, L L^T) for each pattern: loc [P, D], scale_tril [P, D, D]."""
    loc = tf.convert_to_tensor(loc, tf.float32)
    scale_tril = tf.convert_to_tensor(scale_tril, tf.float32)
    u, log_w = _standard_grid(int(loc.shape[-1]), points)
    z = loc[tf.newaxis] + tf.einsum("pde,ge->gpd", scale_tril, u)
    half_log_det = tf.reduce_sum(tf.math.log(tf.abs(tf.linalg.diag_part(scale_tril))), -1)
    # log N(z_g; m, L L^T) = log N(u_g; 0, I) - log|L|
    log_density = (-0.5 * tf.reduce_sum(u ** 2, -1)[:, tf.newaxis]
                   - 0.5 * u.shape[-1] * np.log(2 * np.pi) - half_log_det[tf.newaxis])
    return Nodes(z, log_w[:, tf.newaxis] - log_density)


def nodes_from_q(model, x, mask, points):
    """Nodes around the amortized posterior q(z | x) of each pattern (rows of x)."""
    q = model.encode(x, mask=mask)
    covariance = q.covariance()
    if covariance.shape.rank == 2:  # one factor: [P, 1]
        covariance = covariance[..., tf.newaxis]
    return _place(q.mean(), tf.linalg.cholesky(covariance), points)


def _log_terms(model, x, mask, nodes):
    return nodes.log_weights + model.log_joint(x, nodes.z, mask=mask)


def log_marginal(model, x, mask, nodes):
    """log p(x) [P] of each pattern by the quadrature `nodes`."""
    return tf.reduce_logsumexp(_log_terms(model, x, mask, nodes), axis=0)


def recentre(model, x, mask, nodes, points):
    """Nodes around each pattern's posterior mean and covariance as the quadrature `nodes`
    compute them under the model's current parameters."""
    weights = tf.nn.softmax(_log_terms(model, x, mask, nodes), axis=0)[..., tf.newaxis]
    loc = tf.reduce_sum(weights * nodes.z, axis=0)
    centred = nodes.z - loc
    covariance = tf.einsum("gpd,gpe->pde", weights * centred, centred)
    jitter = 1e-6 * tf.eye(int(loc.shape[-1]))
    return _place(loc, tf.linalg.cholesky(covariance + jitter), points)


def _chunks(model, x, mask, points, max_cells):
    """(rows, their mask, nodes re-centred twice) for chunks of at most `max_cells` item
    evaluations."""
    rows = max(1, max_cells // (points ** model.latent_dim * x.shape[1]))
    for start in range(0, len(x), rows):
        chunk = tf.constant(x[start:start + rows], tf.float32)
        observed = None if mask is None else tf.constant(mask[start:start + rows], tf.float32)
        nodes = nodes_from_q(model, chunk, observed, points)
        for _ in range(2):
            nodes = recentre(model, chunk, observed, nodes, points)
        yield chunk, observed, nodes


def log_likelihood(model, x, mask, points, max_cells=2_000_000):
    """log p(x) [P] of each row of x by adaptive quadrature (nodes around q(z | x), re-centred
    twice), in chunks of at most `max_cells` item evaluations; float64 NumPy."""
    return np.concatenate([log_marginal(model, chunk, observed, nodes).numpy().astype(np.float64)
                           for chunk, observed, nodes in _chunks(model, x, mask, points,
                                                                 max_cells)])


def posterior_moments(model, x, mask, points, max_cells=2_000_000):
    """Posterior means [P, D] and covariances [P, D, D] of z for each row of x by adaptive
    quadrature (float64 NumPy): the EAP scores and their SEs, exact to quadrature error."""
    means, covariances = [], []
    for chunk, observed, nodes in _chunks(model, x, mask, points, max_cells):
        weights = tf.nn.softmax(_log_terms(model, chunk, observed, nodes), axis=0)[..., tf.newaxis]
        loc = tf.reduce_sum(weights * nodes.z, axis=0)
        centred = nodes.z - loc
        means.append(loc.numpy().astype(np.float64))
        covariances.append(tf.einsum("gpd,gpe->pde", weights * centred, centred).numpy())
    return np.concatenate(means), np.concatenate(covariances).astype(np.float64)


def refine(model, x, mask, counts, points, max_iterations=500, newton=True):
    """Maximizes sum_p counts_p log p(x_p) (+ the items' log-prior) over the likelihood's and
    the prior's trainable weights by L-BFGS, with the nodes re-centred between rounds.

    Args:
      model: a fitted `LatentModel` (its encoder places the first nodes).
      x, mask: [P, J] distinct answer patterns and their observed cells (mask may be None).
      counts: [P] persons per pattern.
      points: nodes per factor.
      newton: finish with Newton steps (`newton_steps`: the last ~1e-7 nats per person that
        float32 rounding hides from L-BFGS; they cost a Hessian).

    Returns:
      `Refinement`. The model's weights hold the maximum.
    """
    x = tf.constant(x, tf.float32)
    mask = None if mask is None else tf.constant(mask, tf.float32)
    counts = tf.constant(counts, tf.float64)
    total = tf.reduce_sum(counts)
    variables = [v for v in model.likelihood.trainable_variables
                 + model.prior.trainable_variables]
    sizes = [int(np.prod(v.shape)) for v in variables]

    def objective(nodes):
        # per person, so that L-BFGS's tolerances read in nats per person
        return penalized(model, x, mask, nodes, counts) / total

    @tf.function(reduce_retracing=True)
    def value_and_gradient(z, log_weights):
        with tf.GradientTape() as tape:
            value = -objective(Nodes(z, log_weights))
        return value, tape.gradient(value, variables)

    def assign(flat):
        assign_flat(variables, flat)

    def flat_values():
        return values_flat(variables)

    nodes = recentre(model, x, mask, nodes_from_q(model, x, mask, points), points)
    before = float(objective(nodes))
    iterations, rounds, converged, previous = 0, 0, False, before
    for rounds in range(1, MAX_ROUNDS + 1):
        def function(flat, nodes=nodes):
            assign(flat)
            value, gradients = value_and_gradient(nodes.z, nodes.log_weights)
            return float(value), np.concatenate(
                [np.zeros(size) if g is None else g.numpy().reshape(-1)
                 for g, size in zip(gradients, sizes)]).astype(np.float64)
        result = scipy.optimize.minimize(function, flat_values(), jac=True, method="L-BFGS-B",
                                         options={"maxiter": max_iterations, "ftol": FUNCTION_TOL,
                                                  "gtol": GRADIENT_TOL})
        assign(result.x)
        iterations += int(result.nit)
        # A line search that stalls in the float32 rounding of log p(x) also ends at the
        # maximum: judge by the gradient too
        converged = bool(result.success or np.max(np.abs(result.jac)) < STALL_GRADIENT)
        nodes = recentre(model, x, mask, nodes, points)
        current = float(objective(nodes))
        if abs(current - previous) < ROUND_TOL:
            break
        previous = current
    if newton:
        newton_steps(model, x, mask, nodes, counts.numpy(), variables,
                     lambda: float(objective(nodes)), assign, flat_values)
    return Refinement(before, float(objective(nodes)), iterations, rounds, points, converged)


def newton_steps(model, x, mask, nodes, counts, variables, value, assign, flat_values,
                 steps=NEWTON_STEPS):
    """Newton steps w + B I^-1 g over the free coordinates (`free_basis`) at fixed nodes.

    L-BFGS stops where float32 rounding hides the log-likelihood's last changes (~1e-7 nats
    per person), which on a flat ridge can be 0.02 from the maximum in a parameter; the
    gradient and the Hessian still point at it. A step that lowers the value by more than the
    rounding is undone."""
    for _ in range(steps):
        start, before = flat_values(), value()
        basis = free_basis(model, variables)
        with tf.GradientTape() as tape:
            total = penalized(model, x, mask, nodes, counts)
        gradient = flat(tape.gradient(total, variables), variables).numpy()
        info = basis.T @ information(model, x, mask, nodes, counts, variables) @ basis
        used = np.abs(np.diag(info)) > 1e-12
        step = np.linalg.pinv(info[np.ix_(used, used)], rcond=1e-10, hermitian=True) @ (
            basis.T @ gradient)[used]
        assign(start + basis[:, used] @ step)
        if value() < before - NEWTON_SLACK:
            assign(start)
            return


def penalized(model, x, mask, nodes, counts):
    """sum_p counts_p log p(x_p) + the items' log-prior, summed in float64: a float32 total
    of thousands of patterns rounds at ~1e-6 nats per person, which stalls a line search."""
    per_pattern = tf.cast(log_marginal(model, x, mask, nodes), tf.float64)
    log_prior = tf.cast(model.likelihood.log_prior(), tf.float64)
    return tf.reduce_sum(tf.constant(counts) * per_pattern) + log_prior


def values_flat(variables):
    """Every entry of `variables` in one float64 vector (row-major, in list order)."""
    return np.concatenate([v.numpy().reshape(-1) for v in variables]).astype(np.float64)


def assign_flat(variables, flat):
    """Assigns one flat vector (as `values_flat` orders it) to `variables`."""
    offset = 0
    for variable in variables:
        size = int(np.prod(variable.shape))
        variable.assign(flat[offset:offset + size].reshape(variable.shape).astype(np.float32))
        offset += size


def jacobian_matrix(rows, variables, n_outputs):
    """A tape's jacobian with respect to `variables` (a list, None where unconnected) as one
    float64 matrix [n_outputs, every entry of every variable]."""
    return np.concatenate([np.zeros((n_outputs, int(np.prod(v.shape)))) if r is None
                           else r.numpy().reshape(n_outputs, -1).astype(np.float64)
                           for r, v in zip(rows, variables)], axis=1)


def flat(tensors, variables):
    return tf.concat([tf.reshape(tf.zeros_like(v) if t is None else t, [-1])
                      for t, v in zip(tensors, variables)], 0)


def information(model, x, mask, nodes, counts, variables):
    """-d2 l / dw dw^T over every entry w of `variables` (NumPy float64)."""
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            value = penalized(model, x, mask, nodes, counts)
        gradient = flat(inner.gradient(value, variables), variables)
    rows = outer.jacobian(gradient, variables, experimental_use_pfor=False)
    hessian = jacobian_matrix(rows, variables, int(gradient.shape[0]))
    hessian = 0.5 * (hessian + hessian.T)
    return -hessian


def free_basis(model, variables):
    """B [W, U]: w = w0 + B u; each free entry its own coordinate, each group of equal entries
    one coordinate, fixed entries none (from the layers' `Ties`)."""
    ties = {}
    decoder = model.likelihood.decoder
    if getattr(decoder, "ties", None) is not None:
        ties[id(decoder.kernel)] = decoder.ties
    for group in model.likelihood.groups:
        for name, found in group.ties.items():
            ties[id(getattr(group, name))] = found
    for variable, found in getattr(model.likelihood, "weight_ties", list)():
        ties[id(variable)] = found
    columns, offset = [], 0
    for variable in variables:
        size = int(np.prod(variable.shape))
        found = ties.get(id(variable))
        if found is None:
            columns += [[offset + i] for i in range(size)]
        else:
            groups = {}
            for i, (group, fixed) in enumerate(zip(found.group, found.fixed)):
                if fixed is None:
                    groups.setdefault(group, []).append(offset + i)
            columns += list(groups.values())
        offset += size
    basis = np.zeros((offset, len(columns)))
    for j, members in enumerate(columns):
        basis[members, j] = 1.0
    return basis
