"""Item factor analysis (multidimensional IRT) on pandas response matrices, mirt-style.

    >>> from latentvi import irt
    >>> m = irt.ItemFactorModel(n_factors=1, item_type='binary').fit(df)
    >>> m.items_, m.score(df), m.log_likelihood(df), m.standard_errors(df).items
    >>> m.save('survey.lvirt'); m = irt.load('survey.lvirt')
    >>> irt.report(m, df, 'survey.html')   # one self-contained HTML report
    >>> mg = irt.ItemFactorModel(1, invariance=['slopes', 'intercepts', 'free_means',
    ...                                         'free_var']).fit(df, group='country')
    >>> mg.group_parameters_, irt.dif(mg, df).items   # group means / SDs, DIF per item
"""

from latentvi.convergence import ConvergenceWarning
from latentvi.irt import items
from latentvi.irt.dif import DIFResult, dif
from latentvi.irt.information import item_information, test_information
from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.items import ItemGroup, ItemType
from latentvi.irt.likelihood import ItemResponse, ItemSlopes
from latentvi.irt.limited_information import M2, FitStatistics
from latentvi.irt.model import ItemFactorModel, load
from latentvi.irt.model_comparison import anova
from latentvi.irt.report import report
from latentvi.irt.responses import Responses, apply_category_map, encode_responses
from latentvi.irt.rotation import Rotation, rotate
from latentvi.irt.score_methods import empirical_rxx
from latentvi.irt.screening import SuspiciousColumns
from latentvi.irt.simulate import simulate, simulate_groups
from latentvi.irt.standard_errors import StandardErrors
from latentvi.irt.streaming import ResponseFiles, open_files

__all__ = [
    "M2",
    "ConvergenceWarning",
    "DIFResult",
    "FitStatistics",
    "ItemFactorModel",
    "ItemGroup",
    "ItemParameters",
    "ItemResponse",
    "ItemSlopes",
    "ItemType",
    "ResponseFiles",
    "Responses",
    "Rotation",
    "StandardErrors",
    "SuspiciousColumns",
    "anova",
    "apply_category_map",
    "dif",
    "empirical_rxx",
    "encode_responses",
    "item_information",
    "items",
    "load",
    "open_files",
    "report",
    "rotate",
    "simulate",
    "simulate_groups",
    "test_information",
]
