"""`latentvi demo`: LSAT7 fitted beside mirt's estimates, a check that needs no data."""

import time

from latentvi.cli.messages import progress

__all__ = ["MIRT_LSAT7", "MIRT_LSAT7_LOGLIK", "MIRT_LSAT7_SE", "run_demo"]

# mirt 2PL on LSAT7 (the bundled data's README; Bock & Lieberman 1970).
MIRT_LSAT7 = {"a1": [0.988, 1.081, 1.706, 0.765, 0.736], "d": [1.856, 0.808, 1.804, 0.486, 1.855]}
# Their standard errors (SE.type Oakes, mirt's default: the observed information).
MIRT_LSAT7_SE = {"a1": [0.1772, 0.1688, 0.3204, 0.1341, 0.1512],
                 "d": [0.1315, 0.0913, 0.2044, 0.0749, 0.1144]}
MIRT_LSAT7_LOGLIK = -2658.805


def run_demo(args):
    """Fits a 2PL to LSAT7 and prints its slopes and intercepts, with their standard errors,
    beside mirt's."""
    import pandas as pd

    from latentvi import irt
    from latentvi.datasets.lsat7 import load_lsat7
    data = load_lsat7()
    model = irt.ItemFactorModel(n_factors=1, item_type="binary", seed=args.seed)
    start = time.perf_counter()
    model.fit(data, verbose=0, callbacks=progress("LSAT7 (1,000 persons x 5 items)", args.quiet))
    seconds = time.perf_counter() - start
    table = model.items_.copy()
    errors = model.standard_errors(data).items
    columns = []
    for name in ("a1", "d"):
        table[f"{name} (mirt)"] = MIRT_LSAT7[name]
        table[f"SE {name}"] = errors[name]
        table[f"SE {name} (mirt)"] = MIRT_LSAT7_SE[name]
        columns += [name, f"{name} (mirt)", f"SE {name}", f"SE {name} (mirt)"]
    loglik = model.log_likelihood(data)
    print("LSAT7, 2PL (Bock & Lieberman 1970): latentvi beside mirt's marginal ML estimates and "
          "their standard errors (observed information)\n")
    print(table[columns].round(3).to_string())
    print(pd.Series({"log-likelihood (latentvi)": str(loglik),
                     "log-likelihood (mirt)": MIRT_LSAT7_LOGLIK,
                     "fit seconds": round(seconds, 1)}).to_string())
    return 0
