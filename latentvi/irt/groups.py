"""Multiple groups and latent regression: the item response likelihood of persons in groups.

A person p of group g with background covariates c_p has the latent traits

    theta_p = mu_g + B c_p + L_g z_p,    z_p ~ N(0, I),    L_g = diag(sd_g) chol(R_g)

(mirt's multipleGroup and its latent regression `covdata` / `formula`): the group's mean mu_g,
its SDs and factor correlations R_g, and regression weights B shared by the groups. The
reference group (the first) has mu = 0 and unit SDs, which identifies the scale; there is no
regression intercept (the latent mean is mu_g where every covariate is 0, as in mirt).

Each group has its own copy of every item (`ItemResponse` over J x G "virtual" items, item-major:
copy g of item j is column j G + g), so that every item type, prior, fixed value and equality
constraint works per group unchanged; invariance across groups is an equality constraint
between the copies (`Ties`). Freezing the latent parameters (the reference group's mean and
SDs; means that are not free) is a `Ties` fixed value too, so the exact refinement and the
standard errors see only the free parameters.

The person's group (one-hot) and standardized covariates travel as extra columns of the data
row: the encoder q(z | x) sees them, and `GroupedRows.log_prob` reads them to place theta.
Every copy of the items is evaluated and the person's own group's copies are kept, which costs
G times one group's item evaluations.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import positive_int
from latentvi.irt.constraints import Ties
from latentvi.irt.likelihood import ItemResponse

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["LATENT_WEIGHTS", "GroupedItemResponse", "GroupedRows"]

LATENT_WEIGHTS = ("group_means", "group_log_sd", "group_corr", "regression")


@keras.saving.register_keras_serializable("latentvi.irt")
class GroupedItemResponse(ItemResponse):
    """`ItemResponse` over each group's copy of the items, with each group's latent mean,
    SDs and correlations and the latent regression on covariates.

    Args:
      decoder: `ItemSlopes` over the n_items x n_groups item copies (item-major).
      n_categories, item_types, priors, group_ties: of the copies, as `ItemResponse`'s.
      n_items: J, the items of one group.
      n_groups: G (1 for a latent regression without groups).
      covariate_center, covariate_scale: per covariate; the data row carries
        (c - center) / scale and B is estimated on c / scale.
      latent_ties: {weight name: `Ties` config} of the latent weights (fixed and equal
        entries: which means, SDs and correlations are free).
    """

    def __init__(self, decoder, n_categories, item_types=None, priors=None, group_ties=None,
                 n_items=None, n_groups=1, covariate_center=(), covariate_scale=(),
                 latent_ties=None, **kwargs):
        super().__init__(decoder, n_categories, item_types=item_types, priors=priors,
                         group_ties=group_ties, **kwargs)
        self.n_items = positive_int(n_items, "n_items")
        self.n_groups = positive_int(n_groups, "n_groups")
        if self.n_items * self.n_groups != len(self.n_categories):
            raise ValueError(f"{len(self.n_categories)} item copies are not {self.n_items} "
                             f"items x {self.n_groups} groups")
        self.covariate_center = [float(v) for v in covariate_center]
        self.covariate_scale = [float(v) for v in covariate_scale]
        self.n_covariates = len(self.covariate_center)
        n_factors = decoder.n_factors
        self.n_factors = n_factors
        groups, pairs = self.n_groups, n_factors * (n_factors - 1) // 2
        self.group_means = self.add_weight(shape=(groups, n_factors), initializer="zeros",
                                           name="group_means")
        self.group_log_sd = self.add_weight(shape=(groups, n_factors), initializer="zeros",
                                            name="group_log_sd")
        # (unused weights are not trainable: one factor has no correlations)
        self.group_corr = self.add_weight(shape=(groups, max(pairs, 1)), initializer="zeros",
                                          name="group_corr", trainable=pairs > 0)
        self.regression = self.add_weight(shape=(n_factors, max(self.n_covariates, 1)),
                                          initializer="zeros", name="regression",
                                          trainable=self.n_covariates > 0)
        self.latent_ties = {name: Ties(**config) for name, config in (latent_ties or {}).items()}
        for name, ties in self.latent_ties.items():
            ties.start(getattr(self, name))

    # -- the latent distribution ----------------------------------------------------------
    def latent(self, name):
        """The latent weight `name` as the math reads it (through its `Ties`)."""
        variable = getattr(self, name)
        ties = self.latent_ties.get(name)
        return variable if ties is None or not ties.active else ties.read(variable)

    def weight_ties(self):
        """[(variable, Ties)] of the latent weights (for `quadrature.free_basis`)."""
        return [(getattr(self, name), ties) for name, ties in self.latent_ties.items()]

    def group_scale_trils(self):
        """L_g = diag(sd_g) chol(R_g) [G, D, D]."""
        sd = tf.exp(self.latent("group_log_sd"))
        if self.n_factors == 1:
            return sd[:, :, tf.newaxis]
        chol = tfb.CorrelationCholesky()(self.latent("group_corr"))
        return sd[:, :, tf.newaxis] * chol

    def group_covariances(self):
        """Sigma_g = L_g L_g^T [G, D, D]."""
        tril = self.group_scale_trils()
        return tf.matmul(tril, tril, transpose_b=True)

    def regression_weights(self):
        """B [D, C] on the covariates' own scale (zeros [D, 0] without covariates)."""
        if not self.n_covariates:
            return tf.zeros([self.n_factors, 0])
        scale = tf.constant(self.covariate_scale, tf.float32)
        return self.latent("regression")[:, :self.n_covariates] / scale

    def person_latent(self, extra):
        """(mean [n, D], L [n, D, D]) of theta given each row's extra columns [n, G + C]
        (the group one-hot, then the standardized covariates)."""
        onehot = extra[:, :self.n_groups]
        mean = tf.matmul(onehot, self.latent("group_means"))
        if self.n_covariates:
            shift = tf.constant(np.divide(self.covariate_center, self.covariate_scale),
                                tf.float32)
            covariates = extra[:, self.n_groups:] + shift
            weights = self.latent("regression")[:, :self.n_covariates]
            mean += tf.matmul(covariates, weights, transpose_b=True)
        tril = tf.einsum("ng,gde->nde", onehot, self.group_scale_trils())
        return mean, tril

    # -- the likelihood -------------------------------------------------------------------
    def build_parameters(self, output_shape):
        if tuple(output_shape) != (len(self.n_categories),):
            raise ValueError(f"the decoder gives {tuple(output_shape)} linear predictors per "
                             f"person, but there are {len(self.n_categories)} item copies")
        self.built = True

    def distribution(self, z, mask=None, training=False):
        return GroupedRows(tf.convert_to_tensor(z, tf.float32), mask, self)

    def row_log_prob(self, z, x, mask=None):
        """log p(x | z) [..., n] of rows x [n, J + G + C] (answer codes, then the extra
        columns) at z [..., n, D]."""
        n_items, groups = self.n_items, self.n_groups
        codes, extra = x[..., :n_items], x[..., n_items:]
        mean, tril = self.person_latent(extra)
        theta = mean + tf.linalg.matvec(tril, z)
        leading = tf.shape(theta)[:-1]
        eta = self.decoder(tf.reshape(theta, [-1, self.n_factors]))
        eta = tf.reshape(eta, tf.concat([leading, [n_items * groups]], 0))
        observed = None if mask is None else tf.cast(mask[..., :n_items], tf.bool)
        if observed is not None:
            codes = tf.where(observed, codes, tf.zeros_like(codes))
        if groups == 1:
            logs = self.log_prob(eta, codes)
        else:
            copies = self.log_prob(eta, tf.repeat(codes, groups, axis=-1))
            copies = tf.reshape(copies, tf.concat([leading, [n_items, groups]], 0))
            own = tf.cast(extra[:, tf.newaxis, :groups] > 0.5, tf.bool)
            logs = tf.reduce_sum(tf.where(own, copies, tf.zeros_like(copies)), -1)
        if observed is not None:
            logs = tf.where(observed, logs, tf.zeros_like(logs))
        return tf.reduce_sum(logs, -1)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items, "n_groups": self.n_groups,
                "covariate_center": list(self.covariate_center),
                "covariate_scale": list(self.covariate_scale),
                "latent_ties": {name: ties.to_config()
                                for name, ties in self.latent_ties.items()}}


class GroupedRows(tfd.Distribution):
    """p(x | z) of whole data rows for a `GroupedItemResponse`: batch [..., n], event one row;
    `log_prob` reads each row's group and covariates from its extra columns."""

    def __init__(self, z, mask, likelihood, name="GroupedRows"):
        parameters = dict(locals())
        self._z = z
        self._mask = None if mask is None else tf.convert_to_tensor(mask)
        self._likelihood = likelihood
        super().__init__(dtype=tf.float32, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                         validate_args=False, allow_nan_stats=True, parameters=parameters,
                         name=name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return {"z": tfp.util.ParameterProperties(event_ndims=1)}

    def _event_shape(self):
        likelihood = self._likelihood
        return tf.TensorShape([likelihood.n_items + likelihood.n_groups
                               + likelihood.n_covariates])

    def _batch_shape(self):
        return self._z.shape[:-1]

    def _log_prob(self, x):
        return self._likelihood.row_log_prob(self._z, x, self._mask)

    def _sample_n(self, n, seed=None):
        raise NotImplementedError("sampling rows of a multiple-group model needs the persons' "
                                  "groups; use latentvi.irt.simulate")
