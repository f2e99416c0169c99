"""Item types: one object per kind of item, each in its own module (see `base`).

    >>> from latentvi.irt import items
    >>> items.get("binary")          # TwoPL(): 'binary' is an alias of mirt's '2PL'
    >>> items.names()                # the registered types

`register(item_type)` adds a user's own `ItemType` subclass instance under its name (and
aliases); `ItemFactorModel(item_type=...)` then accepts that name.
"""

import importlib

from latentvi.irt.constraints import WeightRef
from latentvi.irt.items.base import ItemGroup, ItemType
from latentvi.irt.items.graded import Graded, GradedItems, TwoPL

__all__ = ["Graded", "GradedItems", "ItemGroup", "ItemType", "TwoPL", "WeightRef", "get",
           "names", "register"]

_REGISTRY = {}


def register(item_type):
    """Makes `item_type` (an `ItemType` instance) available under its name and aliases."""
    if not isinstance(item_type, ItemType) or not item_type.name:
        raise TypeError(f"register expects an ItemType instance with a name; got {item_type!r}")
    for name in (item_type.name, *item_type.aliases):
        _REGISTRY[name] = item_type
    return item_type


def get(name):
    """The registered item type called `name` (or an `ItemType` instance, returned as is)."""
    if isinstance(name, ItemType):
        return name
    if name not in _REGISTRY:
        raise ValueError(f"unknown item type {name!r}; expected one of {names()}")
    return _REGISTRY[name]


def names():
    """Every accepted item-type name, aliases included."""
    return sorted(_REGISTRY, key=str.lower)


for _type in (TwoPL(), Graded()):
    register(_type)

# The other item types' modules register themselves when imported.
for _module in ("guessing", "partial_credit", "nominal"):
    try:
        importlib.import_module(f"latentvi.irt.items.{_module}")
    except ModuleNotFoundError as error:
        if error.name != f"latentvi.irt.items.{_module}":
            raise
