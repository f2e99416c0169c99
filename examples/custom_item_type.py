"""A user-defined item type: the normal-ogive (probit) 2PL, P(x = 1 | eta) = Phi(eta + d).

An item type is two small classes in one file (`latentvi.irt.items.base`): an `ItemType` with
the item's math in NumPy (used by information, plots and simulation) and an `ItemGroup`, the
Keras layer holding the weights of all items of the type in a model and their log-likelihood in
TensorFlow (used in training). Registering the type makes its name usable in `item_type=`.
Listing which weight holds each parameter (`parameter_weights`), and reading that weight
through `constrained`, lets a parameter table fix the type's parameters or make them equal.

    python examples/custom_item_type.py        # simulates probit items, fits, prints the table
"""

import argparse

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy.stats import norm

from latentvi import irt
from latentvi.irt import items

# log Phi, stable far in the tails (TFP's log_ndtr).
_STANDARD_NORMAL = tfp.distributions.Normal(0.0, 1.0)


class NormalOgive(items.ItemType):
    """P(x = 1 | eta) = Phi(eta + d), eta = a . theta: the 2PL with a probit link."""

    name = "probit"

    def check_categories(self, item, labels):
        if len(labels) != 2:
            raise ValueError(f"item {item!r} has {len(labels)} categories; a probit item has 2")

    def parameter_names(self, n_categories):
        return ["d"]

    def probabilities(self, eta, values, n_categories):
        p = norm.cdf(np.asarray(eta, float) + values["d"])
        return np.column_stack([1 - p, p])

    def group(self, n_categories, types, priors=None):
        return NormalOgiveItems(n_categories, types, priors=priors)

    def parameter_weights(self, n_categories):
        # d is entry [item] of the group's weight "intercept", as it is.
        return {"d": items.WeightRef("intercept", None, lambda values: values["d"])}


@keras.saving.register_keras_serializable("examples")
class NormalOgiveItems(items.ItemGroup):
    """The intercepts d of all probit items of a model."""

    def __init__(self, n_categories, types, priors=None, **kwargs):
        super().__init__(n_categories, types, priors=priors, **kwargs)
        self.intercept = self.add_weight(shape=(len(self.n_categories),), initializer="zeros",
                                         name="intercept")

    @property
    def d(self):
        """d [items], with any fixed or equal entries a parameter table asked for."""
        return self.constrained("intercept")

    def start_from(self, intercepts):
        # The data's cumulative logits; a logit is about 1.7 probits.
        self.intercept.assign(np.asarray(intercepts, np.float32)[:, 0] / 1.702)

    def log_prob(self, eta, x):
        z = eta + self.d
        # log Phi(z) for x = 1 and log Phi(-z) for x = 0, both stable in the tails.
        return _STANDARD_NORMAL.log_cdf(tf.where(tf.cast(x, tf.bool), z, -z))

    def category_log_probs(self, eta):
        z = (eta + self.d)[..., tf.newaxis]
        return _STANDARD_NORMAL.log_cdf(tf.concat([-z, z], -1))

    def values(self):
        return [{"d": float(value)} for value in self.d.numpy()]

    def parameter_tensors(self):
        return {"d": self.d}


items.register(NormalOgive())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    truth = irt.ItemParameters.from_arrays([0.6, 0.8, 1.0, 1.2, 0.9, 0.7],
                                           [0.5, -0.3, 0.0, 0.8, -0.6, 0.2], "probit")
    data, _ = irt.simulate(args.persons, parameters=truth, seed=args.seed)
    model = irt.ItemFactorModel(item_type="probit", seed=args.seed).fit(data, verbose=0)
    table = model.items_.join(truth.table().add_suffix(" (true)"))
    print(table.round(3).to_string())
    return model, truth


if __name__ == "__main__":
    main()
