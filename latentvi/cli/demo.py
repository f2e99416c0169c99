"""`latentvi demo`: LSAT7 fitted beside mirt's estimates, a check that needs no data."""

import time

from latentvi.cli.messages import progress

__all__ = ["MIRT_LSAT7", "MIRT_LSAT7_LOGLIK", "run_demo"]

# mirt 2PL on LSAT7 (the bundled data's README; Bock & Lieberman 1970).
MIRT_LSAT7 = {"a1": [0.988, 1.081, 1.706, 0.765, 0.736], "d": [1.856, 0.808, 1.804, 0.486, 1.855]}
MIRT_LSAT7_LOGLIK = -2658.805


def run_demo(args):
    """Fits a 2PL to LSAT7 and prints its slopes and intercepts beside mirt's."""
    import pandas as pd

    from latentvi import irt
    from latentvi.datasets.lsat7 import load_lsat7
    data = load_lsat7()
    model = irt.ItemFactorModel(n_factors=1, item_type="binary", seed=args.seed)
    start = time.perf_counter()
    model.fit(data, verbose=0, callbacks=progress("LSAT7 (1,000 persons x 5 items)", args.quiet))
    seconds = time.perf_counter() - start
    table = model.items_.copy()
    table["a1 (mirt)"] = MIRT_LSAT7["a1"]
    table["d (mirt)"] = MIRT_LSAT7["d"]
    loglik = model.log_likelihood(data)
    print("LSAT7, 2PL (Bock & Lieberman 1970): latentvi beside mirt's marginal ML estimates\n")
    print(table[["a1", "a1 (mirt)", "d", "d (mirt)"]].round(3).to_string())
    print(pd.Series({"log-likelihood (latentvi)": str(loglik),
                     "log-likelihood (mirt)": MIRT_LSAT7_LOGLIK,
                     "fit seconds": round(seconds, 1)}).to_string())
    return 0
