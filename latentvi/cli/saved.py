"""`latentvi score` and `latentvi info`: what a saved model (model.lvirt) is used for."""

from latentvi._files import staged_file
from latentvi.cli.messages import InputError, notes, reported_warnings
from latentvi.cli.reading import default_out, many_files, read_responses

__all__ = ["MODEL_FILE", "load_model_file", "run_info", "run_score"]

MODEL_FILE = "model.lvirt"


def run_score(args):
    """Scores the persons of `args.data` on the model's items; writes the scores CSV (or
    Parquet, streamed, with --stream or for a folder or glob of files)."""
    streamed = bool(getattr(args, "stream", False)) or many_files(args.data)
    out = args.out or default_out(args.data, "_scores.parquet" if streamed else "_scores.csv")
    if out.exists() and not args.force:
        raise InputError(f"{out} already exists; use --force to overwrite it")
    model = load_model_file(args.model)
    if streamed:
        return _score_stream(model, args, out)
    data = read_responses(args.data, args.id_column, args.sep, notes(args.quiet))
    items = list(model.category_map_)
    labels = {str(column): column for column in data.columns}
    missing = [item for item in items if str(item) not in labels]
    if missing:
        raise InputError(f"{args.data.name} lacks items the model was fitted on: {missing}")
    with reported_warnings():
        scores = model.score(data[[labels[str(item)] for item in items]])
    with staged_file(out) as temporary:  # no half-written scores under the final name
        scores.to_csv(temporary)
    if not args.quiet:
        print(f"scored {len(scores):,} persons on {len(items)} items; wrote {out}")
    return 0


def _score_stream(model, args, out):
    from latentvi.irt import streaming
    try:
        files = streaming.open_files(args.data, sep=args.sep, id_column=args.id_column)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    missing = [item for item in model.category_map_ if item not in files.columns]
    if missing:
        raise InputError(f"{args.data.name} lacks items the model was fitted on: {missing}")
    with reported_warnings():
        model.score(files, out=out, overwrite=True, verbose=0 if args.quiet else 1)
    if not args.quiet:
        print(f"scored {files} on {len(model.category_map_)} items; wrote {out}")
    return 0


def run_info(args):
    """Prints the model's items, factor correlations and settings."""
    import pandas as pd
    model = load_model_file(args.model)
    converged = {True: "converged", False: "NOT converged", None: "fixed epochs"}
    print(f"{args.model}: {model.n_factors} factor(s), {len(model.items_)} items, "
          f"{model.n_persons_:,} persons ({converged.get(model.converged_, '?')})\n")
    print(model.items_.round(3).to_string())
    print("\nfactor correlations\n" + model.factor_corr_.round(3).to_string())
    dropped = getattr(model, "dropped_persons_", pd.Index([]))
    settings = {"item_type": model.item_type, "rotation": model.rotation, "seed": model.seed,
                "items": getattr(model, "items", None),
                "missing_codes": getattr(model, "missing_codes", None),
                "max_categories": getattr(model, "max_categories", None),
                "persons dropped (answered no item)": len(dropped),
                "n_params": model.n_parameters_, **model.settings_}
    shown = {name: ",".join(map(str, value)) if isinstance(value, (list, tuple)) else
             "-" if value is None else str(value) for name, value in settings.items()}
    print("\nsettings\n" + pd.Series(shown).to_string())
    return 0


def load_model_file(path):
    """`irt.load`, with a missing or foreign file reported as an input error; the output
    folder of `latentvi fit` stands for the model file in it."""
    from latentvi import irt
    if path.is_dir():
        if not (path / MODEL_FILE).is_file():
            raise InputError(f"{path} is a folder without a saved model ({MODEL_FILE}); give "
                             f"the model file that `latentvi fit` wrote")
        path = path / MODEL_FILE
    try:
        return irt.load(path)
    except FileNotFoundError:
        raise InputError(f"no saved model at {path} (`latentvi fit` writes {MODEL_FILE} into "
                         f"its output folder)") from None
