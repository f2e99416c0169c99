"""Saving a fitted ItemFactorModel to one file, and loading it back.

The file is a zip archive holding the fitted network as a Keras `.keras` file (weights,
architecture, optimizer state) and `estimator.json`: the model's settings, the category map and
every fitted table (items_, factor_corr_, history_, ...), written with exact float round trips.
Nothing is pickled, so loading a file cannot run code.

This module sits below the estimator: `save` reads a fitted model's attributes, and `load`
restores them onto a new instance of the class it is given (`latentvi.irt.load` gives
`ItemFactorModel`).
"""

import json
import os
import tempfile
import zipfile
import zlib

import numpy as np
import pandas as pd

from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.items import get as get_item_type
from latentvi.model import load_model

__all__ = ["load", "save"]

FORMAT = "latentvi.irt.ItemFactorModel"
# Version 2 adds the settings items, missing_codes, max_categories and dropped_persons_; files
# of version 1 load with the defaults (None, None, 20, no persons dropped). Version 3 adds the
# typed item parameters (item_parameters_) and the items' display order (item_order_); older
# files are read back from their items_ table (2PL and graded items only existed then). Files
# without n_dropped_ (a fit on files lists only the first persons dropped) count the list.
VERSION = 3
_ZIP_START = b"PK\x03\x04"  # the first bytes of a zip archive
_SETTINGS = ("n_factors", "item_type", "correlated_factors", "rotation", "iw_samples", "seed",
             "equal_slopes", "items", "missing_codes", "max_categories", "priors",
             "normalize_rotation", "refine")
_FRAMES = ("items_", "factor_corr_", "history_")
_VALUES = ("factor_names_", "item_types_", "n_persons_", "n_parameters_",
           "rotation_converged_", "settings_", "converged_", "estimated_slopes_",
           "equal_slopes_", "priors_", "constraints_", "n_dropped_")


def save(estimator, path, overwrite=False):
    """Writes a fitted `ItemFactorModel` to `path` (one file); refuses to overwrite by default."""
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path}: the folder {folder} does not exist")
    state = {"format": FORMAT, "version": VERSION,
             "settings": {name: _plain(getattr(estimator, name)) for name in _SETTINGS},
             "pattern": None if estimator.pattern is None else _frame(estimator.pattern),
             "frames": {name: _frame(getattr(estimator, name)) for name in _FRAMES},
             "values": {name: _plain(getattr(estimator, name)) for name in _VALUES},
             "transform_": np.asarray(estimator.transform_).tolist(),
             "dropped_persons_": _labels(estimator.dropped_persons_),
             "item_parameters_": estimator.item_parameters_.to_dict(),
             "item_order_": [_plain(item) for item in estimator.item_order_],
             "category_map_": [[_plain(item), [[_plain(v), int(c)] for v, c in codes.items()]]
                               for item, codes in estimator.category_map_.items()]}
    text = json.dumps(state)
    with tempfile.TemporaryDirectory() as folder:
        network = os.path.join(folder, "model.keras")
        estimator.model_.save(network)
        partial = path + ".partial"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("estimator.json", text)
            archive.write(network, "model.keras")
    os.replace(partial, path)  # a crash mid-write never leaves a half-written file at `path`


def load(path, estimator_class):
    """Reads a file written by `ItemFactorModel.save`; returns the fitted model, an instance
    of `estimator_class` (`ItemFactorModel`) made from the saved settings.

    Raises:
      TypeError: `path` is not a path.
      FileNotFoundError: no file at `path`.
      ValueError: a folder, a file that is not a saved model, one written by a newer latentvi
        (upgrade to read it), or a damaged one (cut short, altered bytes, missing parts).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be the path of a saved model (a str or os.PathLike); "
                        f"got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder, not a saved model; give the model file in it")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no saved model at {path}")
    state, network = _read_archive(path)
    try:
        return _estimator(state, network, estimator_class)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ValueError(f"{path} is damaged: its settings cannot be read back "
                         f"({type(error).__name__}: {error}); save the model again") from None


def _read_archive(path):
    """(the estimator's state, its network) from the zip archive at `path`."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as file:
            if file.read(4) == _ZIP_START:
                raise ValueError(f"{path} is damaged: its zip archive is cut short or altered "
                                 f"(an interrupted copy?); save the model again")
        raise ValueError(f"{path} is not a file written by ItemFactorModel.save")
    try:
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as folder:
            if not {"estimator.json", "model.keras"} <= set(archive.namelist()):
                raise ValueError(f"{path} is not a file written by ItemFactorModel.save")
            state = _check_state(json.loads(archive.read("estimator.json")), path)
            archive.extract("model.keras", folder)
            # Before version 3 the likelihood's weights sat in another order, so the
            # optimizer's state (only needed to resume training) is not restored from those.
            return state, _network(os.path.join(folder, "model.keras"), state, path)
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError,
            json.JSONDecodeError) as error:
        raise ValueError(f"{path} is damaged ({type(error).__name__}: {error}); save the model "
                         f"again") from None


def _check_state(state, path):
    """`state` if it is a saved estimator this latentvi can read, else a ValueError."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} holds format {found!r}, not a file written by "
                         f"ItemFactorModel.save ({FORMAT})")
    version = state.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{path} is damaged: its format version is {version!r}, not a "
                         f"whole number >= 1")
    if version > VERSION:
        raise ValueError(f"{path} was written by a newer latentvi (file format version "
                         f"{version}; this latentvi reads versions up to {VERSION}); upgrade "
                         f"latentvi to load it")
    return state


def _network(file, state, path):
    try:
        return load_model(file, compile=state["version"] >= 3)
    except (ValueError, TypeError, KeyError, OSError) as error:
        raise ValueError(f"{path} is damaged: its fitted network (model.keras) cannot be read "
                         f"({type(error).__name__}); save the model again") from None


def _estimator(state, network, estimator_class):
    """The fitted `estimator_class` instance that `state` and `network` describe."""
    settings = {name: _restore(value) for name, value in state["settings"].items()}
    pattern = None if state["pattern"] is None else _unframe(state["pattern"])
    estimator = estimator_class(pattern=pattern, **settings)
    estimator.model_ = network
    estimator.converged_ = None  # files from before the convergence rule do not record it
    for name, table in state["frames"].items():
        setattr(estimator, name, _unframe(table))
    for name, value in state["values"].items():
        setattr(estimator, name, _restore(value))
    estimator.transform_ = np.asarray(state["transform_"], np.float32)
    estimator.category_map_ = {item: {value: code for value, code in codes}
                               for item, codes in state["category_map_"]}
    estimator.dropped_persons_ = _unlabels(state.get("dropped_persons_"))
    if "n_dropped_" not in state["values"]:  # files from before it was saved
        estimator.n_dropped_ = len(estimator.dropped_persons_)
    estimator.item_types_ = {item: get_item_type(name).name
                             for item, name in estimator.item_types_.items()}
    if "item_parameters_" in state:
        estimator.item_parameters_ = ItemParameters.from_dict(state["item_parameters_"])
        estimator.item_order_ = state["item_order_"]
    else:
        estimator.item_parameters_ = _legacy_parameters(estimator)
        estimator.item_order_ = list(estimator.items_.index)
    if "constraints_" not in state["values"]:  # before fixed and equal item parameters
        estimator.constraints_ = {"fixed": [], "labels": []}
    if "estimated_slopes_" not in state["values"]:  # before parameter tables
        estimator.estimated_slopes_ = (estimator.item_parameters_.slopes != 0).tolist()
        estimator.equal_slopes_ = estimator._equal_slopes()
        estimator.priors_ = dict(estimator.priors or {})
    return estimator


def _legacy_parameters(estimator):
    """The ItemParameters of a file from before version 3, from its items_ table (2PL: d;
    graded: d1..)."""
    table, names = estimator.items_, estimator.factor_names_
    slopes = table[[f"a{d + 1}" for d in range(len(names))]].to_numpy(float)
    types = [estimator.item_types_[item] for item in table.index]
    n_categories = [len(estimator.category_map_[item]) for item in table.index]
    values = []
    for item, name, k in zip(table.index, types, n_categories):
        columns = get_item_type(name).parameter_names(k)
        values.append({column: float(table.loc[item, column]) for column in columns})
    return ItemParameters(list(table.index), types, n_categories, slopes, values, names)


def _labels(index):
    return {"labels": [_plain(label) for label in index], "dtype": str(index.dtype),
            "name": _plain(index.name)}


def _unlabels(labels):
    if labels is None:
        return pd.Index([])
    return pd.Index(labels["labels"], dtype=labels["dtype"], name=labels["name"])


def _frame(frame):
    return {"index": [_plain(i) for i in frame.index], "index_name": _plain(frame.index.name),
            "columns": [_plain(c) for c in frame.columns],
            "dtypes": [str(dtype) for dtype in frame.dtypes],
            "values": frame.to_numpy(dtype=float).tolist()}


def _unframe(table):
    values = np.asarray(table["values"], float).reshape(len(table["index"]),
                                                        len(table["columns"]))
    frame = pd.DataFrame(values, index=table["index"], columns=table["columns"])
    frame.index.name = table["index_name"]
    return frame.astype(dict(zip(frame.columns, table["dtypes"])))


def _plain(value):
    """value as JSON types: NumPy scalars become Python ones; a dict becomes its (key, value)
    pairs, so that keys keep their types."""
    if isinstance(value, dict):
        return {"pairs": [[_plain(k), _plain(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple, pd.Index, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__} ({value!r}); "
                    "item and category labels must be numbers or strings")


def _restore(value):
    """Inverse of `_plain` for settings and values (dicts come back from their pairs)."""
    if isinstance(value, dict) and set(value) == {"pairs"}:
        return {key: _restore(item) for key, item in value["pairs"]}
    return value
