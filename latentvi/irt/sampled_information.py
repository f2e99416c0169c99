"""The observed information of an item factor model by importance sampling (Louis' identity), for
any number of factors and any number of persons.

For a person with answers x, latent z and weights w (the item parameters and the factor
correlations), Louis' identity writes the observed information as posterior moments of the
complete-data log-likelihood l(w; x, z) = log p(z) + sum_j log p(x_j | z):

    I(w) = sum_i E[-d2 l / dw dw^T | x_i] - sum_i Cov[dl / dw | x_i],

and Fisher's identity the person's score, s_i = d log p(x_i) / dw = E[dl / dw | x_i]. The
posterior moments are self-normalized importance-sampling averages over S draws z_s from the
fitted q(z | x_i), with weights proportional to p(x_i, z_s) / q(z_s | x_i); the weighted
covariance is divided by 1 - sum_s w_s^2 (the reliability-weights correction, which removes
its first-order bias in small S).

Per-draw gradients would cost one backward pass per (person, draw). Instead the structure of
l is used: each answer's term log p(x_j | z) depends only on item j's weights, and log p(z)
only on the correlations, so weight entries of different items never meet in one term. The
entries are "coloured" (Curtis, Powell & Reid, 1974): colour k holds the k-th entry of every
item (and of the prior); a weight shared by several items (equal slopes) gets a colour of its
own. One forward-mode pass with the tangent of colour k gives every term's derivative with
respect to its own entry of that colour, for every person and draw at once; one
forward-over-backward pass gives the matching columns of the (item-block-diagonal) complete-data
Hessian. The cost is (entries per item + shared entries) passes over persons x draws x items:
about 15 for a 5-factor model, whatever the number of items.

Which entries each term depends on is read off one small Jacobian at random points, so any
item type (`ItemType`) works without further code.

The Monte Carlo error is estimated by splitting the draws into two halves, each
self-normalized on its own: the information is their average, and half their difference
measures its Monte Carlo SD (`SampledInformation.halves`).

References:
  [1] Louis (1982). Finding the observed information matrix when using the EM algorithm.
      JRSS B 44(2).
  [2] Curtis, Powell & Reid (1974). On the estimation of sparse Jacobian matrices. IMA Journal
      of Applied Mathematics 13.
  [3] Chalmers (2018). Numerical approximation of the observed information matrix with Oakes'
      identity. British Journal of Mathematical and Statistical Psychology 71(3).
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from latentvi.evaluation import compiled
from latentvi.irt.quadrature import flat, jacobian_matrix

__all__ = ["NUM_SAMPLES", "SampledInformation", "item_prior", "sampled_information"]

NUM_SAMPLES = 32      # draws per person, split into two halves of 16
CHUNK_CELLS = 2**23   # draws x persons x items per chunk


class SampledInformation(NamedTuple):
    """Over every entry of the model's variables (float64): the observed information [W, W]
    (of the log-posterior, with the items' priors), the cross-product of the persons' scores
    sum_i s_i s_i^T [W, W], the two halves' informations (their average is `information`),
    and the gradient of the log-likelihood (+ log-prior) [W]."""
    information: np.ndarray
    outer: np.ndarray
    halves: tuple
    gradient: np.ndarray


def sampled_information(model, codes, mask, variables, num_samples=NUM_SAMPLES, seed=0,
                        weight=1.0):
    """Louis' identity by importance sampling from q (module docstring).

    Args:
      model: the fitted `LatentModel` of an `ItemFactorModel`.
      codes, mask: coded answers [n, J] and observed cells.
      variables: the weights, in the order of the entries of the returned matrices.
      num_samples: draws per person (even; two halves).
      seed: integer seed of the draws.
      weight: how many persons each row stands for (n / m when the rows are a random
        subsample of m of n persons: the sums over persons are then unbiased estimates of
        the whole sample's).
    """
    if num_samples < 4 or num_samples % 2:
        raise ValueError(f"num_samples must be an even number >= 4; got {num_samples}")
    # each person draws their own z: persons sharing an answer pattern would share one set
    # of draws and multiply its error by their count (LSAT7: 300 persons on one pattern)
    patterns, observed = np.asarray(codes), np.asarray(mask)
    counts = np.full(len(patterns), weight, np.float32)
    n_items = patterns.shape[1]
    owners = _owners(model, variables, n_items, int(np.max(patterns)) + 1)
    active = np.flatnonzero(owners.any(axis=0))  # entries some term depends on
    layout = _Layout(owners[:, active], active, owners.shape[1])
    size = len(active)
    chunk = max(1, CHUNK_CELLS // (num_samples * n_items))
    steps = (compiled(model, ("louis_weights",), _weights_function),
             compiled(model, ("louis_items",),
                      lambda ref: _step_function(ref, variables, _item_terms)),
             compiled(model, ("louis_prior",),
                      lambda ref: _step_function(ref, variables, _prior_terms)))
    halves = [np.zeros((size, size)), np.zeros((size, size))]
    outer = np.zeros((size, size))
    gradient = np.zeros(size)
    for start in range(0, len(patterns), chunk):
        rows = slice(start, start + chunk)
        x = tf.constant(patterns[rows], tf.float32)
        m = tf.constant(observed[rows], tf.float32)
        z = _draws(model, x, m, num_samples, seed, start)
        parts = []
        for half in range(2):
            z_half = z[half * (num_samples // 2):(half + 1) * (num_samples // 2)]
            complete, covariance, scores, log_total = _half(steps, x, m, counts[rows], z_half,
                                                            layout)
            halves[half] += complete - covariance
            parts.append((scores, log_total))
        scores = _pooled(parts)
        outer += scores.T @ (scores * counts[rows, np.newaxis])
        gradient += counts[rows] @ _debiased(scores, parts)
    expand = layout.expand
    prior_gradient, prior_information = item_prior(model, variables)
    halves = tuple(expand(h) + prior_information for h in halves)
    full = np.zeros(owners.shape[1])
    full[active] = gradient
    return SampledInformation(0.5 * (halves[0] + halves[1]), expand(outer), halves,
                              full + prior_gradient)


def item_prior(model, variables):
    """The gradient [W] and minus the Hessian [W, W] of the items' log-prior (zeros without
    priors), by plain autodiff: the prior is a small function of the weights."""
    size = sum(int(np.prod(v.shape)) for v in variables)
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            value = tf.convert_to_tensor(model.likelihood.log_prior(), tf.float32)
        gradient = inner.gradient(value, variables)
        if all(g is None for g in gradient):
            return np.zeros(size), np.zeros((size, size))
        gradient = flat(gradient, variables)
    hessian = jacobian_matrix(outer.jacobian(gradient, variables), variables, size)
    return gradient.numpy().astype(np.float64), -0.5 * (hessian + hessian.T)


def _draws(model, x, mask, num_samples, seed, start):
    q = model.encode(x, mask=mask)
    return q.sample(num_samples, seed=tf.constant([seed, start], tf.int32))


def _half(steps, x, mask, counts, z, layout):
    """(complete-data information, sum of weighted posterior covariances of the gradients,
    the scores s_i [P, W]) of one half of the draws, over the layout's active entries."""
    size = layout.size
    per_draw = np.zeros((int(z.shape[0]), int(z.shape[1]), size))
    complete = np.zeros((size, size))
    counts_tensor = tf.constant(counts)
    weights, log_total = steps[0](x, mask, z)
    for colour in layout.colours:
        step = steps[2] if colour.prior else steps[1]
        terms, hessian_column = step(x, mask, counts_tensor, z, weights,
                                     tf.constant(colour.tangent))
        colour.scatter(per_draw, complete, terms.numpy().astype(np.float64),
                       -hessian_column.numpy().astype(np.float64)[layout.active])
    complete = 0.5 * (complete + complete.T)
    w = weights.numpy().astype(np.float64)  # [S, P], each column sums to 1
    scores = np.einsum("sp,spw->pw", w, per_draw)
    centred = per_draw - scores[np.newaxis]
    correction = 1.0 / np.maximum(1.0 - np.sum(w ** 2, axis=0), 1e-3)
    scale = np.sqrt(w * (correction * counts)[np.newaxis, :])
    flat = (centred * scale[..., np.newaxis]).reshape(-1, size)
    return complete, flat.T @ flat, scores, log_total.numpy().astype(np.float64)


def _pooled(parts):
    """The scores from all draws, from the two halves' self-normalized scores and log sums
    of weights: s = (W_a s_a + W_b s_b) / (W_a + W_b) per person."""
    (first, log_a), (second, log_b) = parts
    share = 1.0 / (1.0 + np.exp(np.clip(log_b - log_a, -700, 700)))  # W_a / (W_a + W_b)
    return share[:, np.newaxis] * first + (1.0 - share[:, np.newaxis]) * second


def _debiased(pooled, parts):
    """2 s(S draws) - mean of s(S/2 draws): a self-normalized average is biased by O(1/S),
    which this removes to O(1/S^2); summed over n persons the O(1/S) bias would grow like n
    against the score's sampling SD sqrt(n) (Richardson extrapolation over the halves)."""
    return 2.0 * pooled - 0.5 * (parts[0][0] + parts[1][0])


def _weights_function(model_ref):
    @tf.function(reduce_retracing=True)
    def weights(x, mask, z):
        """Self-normalized importance weights [S, P] of the draws z [S, P, D] and the log of
        their unnormalized sums [P]."""
        model = model_ref()
        log_w = model.log_joint(x, z, mask=mask) - model.encode(x, mask=mask).log_prob(z)
        return tf.nn.softmax(log_w, axis=0), tf.reduce_logsumexp(log_w, axis=0)
    return weights


def _step_function(model_ref, variables, which_terms):
    """A compiled pass: the tangent's directional derivatives of the terms [S, P, T] and of
    the gradient of sum_i n_i sum_s w_is (sum of the terms) (an H v column [W])."""
    @tf.function(reduce_retracing=True)
    def step(x, mask, counts, z, weights, tangent):
        model = model_ref()
        primals = [getattr(v, "value", v) for v in variables]
        with tf.autodiff.ForwardAccumulator(primals, _split(tangent, variables)) as accumulator:
            with tf.GradientTape() as tape:
                terms = which_terms(model, x, mask, z)
                total = tf.reduce_sum(weights * counts * tf.reduce_sum(terms, -1))
            gradient = flat(tape.gradient(total, variables), variables)
        return accumulator.jvp(terms), accumulator.jvp(gradient)
    return step


def _item_terms(model, x, mask, z):
    """[S, P, J]: log p(x_j | z) of each observed answer (0 where missing)."""
    eta = model.likelihood.parameters_for(z)
    return model.likelihood.elementwise(eta).log_prob(x) * mask


def _prior_terms(model, x, mask, z):
    """[S, P, 1]: log p(z)."""
    del x, mask
    return model.prior.distribution().log_prob(z)[..., tf.newaxis]


def _owners(model, variables, n_items, n_codes):
    """Boolean [J + 1, W]: which entries each term (the items, then the prior) depends on,
    from the Jacobian of the terms summed over random points and every answer code."""
    rng = np.random.default_rng(12345)
    depth = max(n_codes, 2)
    top = np.asarray(model.likelihood.n_categories) - 1
    x = tf.constant(np.minimum(np.arange(depth)[:, np.newaxis], top[np.newaxis, :]),
                    tf.float32)
    z = tf.constant(rng.normal(size=(2, depth, model.latent_dim)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        terms = tf.concat([_item_terms(model, x, tf.ones_like(x), z),
                           _prior_terms(model, x, None, z)], -1)
        summed = tf.reduce_sum(terms, [0, 1])
    rows = tape.jacobian(summed, variables, experimental_use_pfor=False)
    found = jacobian_matrix(rows, variables, n_items + 1)
    return np.abs(found) > 0


class _Layout:
    """The active entries (those some term depends on) and their colouring.

    An entry that only one term depends on is local to it; colour k holds the k-th local
    entry of every item term; each local entry of the prior, and each entry several terms
    depend on (a shared weight), is a colour of its own."""

    def __init__(self, owners, active, n_entries):
        self.active, self.n_entries, self.size = active, n_entries, len(active)
        n_terms = owners.shape[0]
        shared = owners.sum(axis=0) > 1
        local = [np.flatnonzero(owners[t] & ~shared) for t in range(n_terms - 1)]
        self.colours = []
        for k in range(max((len(e) for e in local), default=0)):
            entry = np.array([e[k] if k < len(e) else -1 for e in local])
            self.colours.append(_Colour(self._tangent(entry[entry >= 0]), entry=entry,
                                        members=local))
        prior_local = np.flatnonzero(owners[-1] & ~shared)
        for e in prior_local:
            self.colours.append(_Colour(self._tangent([e]), shared=int(e), prior=True))
        for e in np.flatnonzero(shared):
            self.colours.append(_Colour(self._tangent([e]), shared=int(e)))

    def _tangent(self, entries):
        tangent = np.zeros(self.n_entries, np.float32)
        tangent[self.active[np.asarray(entries, int)]] = 1.0
        return tangent

    def expand(self, matrix):
        """A matrix over the active entries as one over all entries (0 elsewhere)."""
        full = np.zeros((self.n_entries, self.n_entries))
        full[np.ix_(self.active, self.active)] = matrix
        return full


class _Colour:
    """Entries no two of which share a term: either `entry[t]` the one of item term t (-1:
    none) with `members[t]` all of t's local entries, or one `shared` entry."""

    def __init__(self, tangent, entry=None, members=None, shared=None, prior=False):
        self.tangent, self.entry, self.members = tangent, entry, members
        self.shared, self.prior = shared, prior

    def scatter(self, per_draw, hessian, terms, column):
        """Write d l / dw of the colour's entries into per_draw [S, P, W] (from the terms'
        directional derivatives [S, P, T]) and their Hessian columns (from H v [W])."""
        if self.shared is not None:
            per_draw[..., self.shared] = terms.sum(axis=-1)
            hessian[:, self.shared] = column
            hessian[self.shared, :] = column
            return
        used = np.flatnonzero(self.entry >= 0)
        per_draw[..., self.entry[used]] = terms[..., used]
        for term in used:
            mine = self.members[term]
            hessian[mine, self.entry[term]] = column[mine]


def _split(vector, variables):
    """A flat vector over every entry as one tensor per variable."""
    out, offset = [], 0
    for v in variables:
        size = int(np.prod(v.shape))
        out.append(tf.reshape(tf.cast(vector[offset:offset + size], v.dtype), v.shape))
        offset += size
    return out

