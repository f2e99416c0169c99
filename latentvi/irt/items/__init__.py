"""Item types: one object per kind of item, each in its own module (see `base`).

    >>> from latentvi.irt import items
    >>> items.get("binary")          # TwoPL(): 'binary' is an alias of mirt's '2PL'
    >>> items.names()                # the registered types

`register(item_type)` adds a user's own `ItemType` subclass instance under its name (and
aliases); `ItemFactorModel(item_type=...)` then accepts that name.
"""

from latentvi.irt.constraints import WeightRef
from latentvi.irt.items import guessing, nominal, partial_credit  # noqa: F401  (they register)
from latentvi.irt.items.base import ItemGroup, ItemType, get, names, register
from latentvi.irt.items.graded import Graded, GradedItems, TwoPL

__all__ = ["Graded", "GradedItems", "ItemGroup", "ItemType", "TwoPL", "WeightRef", "get",
           "names", "register"]
