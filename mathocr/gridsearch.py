"""Grid and randomised searches over pipeline parameters, on this machine or a Dask cluster.

A mathocr pipeline is an ordinary scikit-learn estimator, so scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` and
:class:`~sklearn.model_selection.RandomizedSearchCV` tune it directly; this module
only adds what every search of it needs: shuffled stratified folds (the training set
is ordered by source, so unshuffled folds would test on a source training never saw),
a parser for ``--param`` values, a ranked table, and running the candidates' fits on a
Dask cluster through joblib's Dask backend when a scheduler address is given.

Examples
--------
>>> from mathocr.gridsearch import make_search, fit_search, format_ranking   # doctest: +SKIP
>>> search = make_search({"clf__dense": [(64,), (128,)], "normalise__box": [18, 20]}, cv=3,
...                      clf__epochs=2)                                        # doctest: +SKIP
>>> fit_search(search, X, y, scheduler="tcp://10.0.0.5:8786")                # doctest: +SKIP
>>> print(format_ranking(search))                                            # doctest: +SKIP
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

# Parameters whose values are sequences (one entry per layer): a bare number is one layer.
SEQUENCE_PARAMS = ("clf__filters", "clf__dense")


def parse_scalar(text: str) -> Any:
    """Type one command-line value: ``"true"`` -> True, ``"none"`` -> None, numbers as numbers."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_param(text: str) -> tuple[str, list[Any]]:
    """Parse one ``--param KEY=VALUES`` argument into a key and its candidate values.

    Commas separate candidates; brackets make one sequence-valued candidate. For
    :data:`SEQUENCE_PARAMS` a bare number is a one-layer sequence.

    Parameters
    ----------
    text : str
        ``"normalise__box=18,20"``, ``"clf__dense=64"``, ``"clf__filters=[16,32],[32,64]"``,
        ``"normalise__method=mnist,squash"``.

    Returns
    -------
    (str, list)

    Raises
    ------
    ValueError
        Without ``=`` or without a value.

    Examples
    --------
    >>> parse_param("normalise__box=18,20")
    ('normalise__box', [18, 20])
    >>> parse_param("clf__dense=64")
    ('clf__dense', [(64,)])
    >>> parse_param("clf__filters=[16,32],[32,64]")
    ('clf__filters', [(16, 32), (32, 64)])
    >>> parse_param("normalise__method=mnist,squash")
    ('normalise__method', ['mnist', 'squash'])
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key or not raw:
        raise ValueError(f"expected KEY=VALUE[,VALUE...], got {text!r}")
    try:
        parsed = ast.literal_eval(raw)
        values = list(parsed) if isinstance(parsed, tuple) else [parsed]
    except (ValueError, SyntaxError):
        values = [parse_scalar(v) for v in raw.split(",") if v.strip()]
    out = []
    for v in values:
        if isinstance(v, list):
            v = tuple(v)
        elif key in SEQUENCE_PARAMS and isinstance(v, int):
            v = (v,)
        out.append(v)
    return key, out


def merge_params(pairs: Sequence[tuple[str, list[Any]]]) -> dict[str, list[Any]]:
    """Join repeated keys' candidates, in order, without duplicates.

    Examples
    --------
    >>> merge_params([("clf__dense", [(64,)]), ("clf__dense", [(128,)]), ("normalise__box", [18, 20])])
    {'clf__dense': [(64,), (128,)], 'normalise__box': [18, 20]}
    """
    grid: dict[str, list[Any]] = {}
    for key, values in pairs:
        for v in values:
            if v not in grid.setdefault(key, []):
                grid[key].append(v)
    return grid


def make_search(
    param_grid: Mapping[str, Sequence[Any]],
    *,
    config: str = "default",
    cv: int = 3,
    n_iter: int | None = None,
    scoring: str | None = None,
    random_state: int = 0,
    n_jobs: int | None = None,
    refit: bool = True,
    verbose: int = 0,
    **params: Any,
):
    """A :class:`~sklearn.model_selection.GridSearchCV` (or ``RandomizedSearchCV``) over a pipeline.

    Parameters
    ----------
    param_grid : mapping
        Parameter name (``Pipeline.set_params`` form) -> candidate values (or, with
        ``n_iter``, a scipy distribution).
    config : {"default", "seed"}
        The named configuration the pipeline starts from.
    cv : int
        Number of folds: stratified, shuffled with ``random_state``.
    n_iter : int, optional
        Sample this many candidates (``RandomizedSearchCV``) instead of trying all.
    scoring : str, optional
        A scikit-learn scorer name; default accuracy.
    random_state : int
        Seeds the folds and the sampling, so a search is repeatable.
    n_jobs : int, optional
        Candidates fitted at once (``-1``: all cores, or every worker thread of a
        Dask cluster); TensorFlow already uses the cores of one machine for one fit.
    refit : bool
        Refit the best candidate on all the data (``best_estimator_``).
    **params
        Fixed pipeline parameters, e.g. ``clf__epochs=2``.

    Returns
    -------
    GridSearchCV or RandomizedSearchCV

    Examples
    --------
    >>> search = make_search({"normalise__box": [18, 20]}, cv=3, clf__epochs=1)   # doctest: +SKIP
    >>> search.fit(X, y).best_params_                                             # doctest: +SKIP
    {'normalise__box': 20}
    """
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold

    from .pipeline import make_pipeline

    pipe = make_pipeline(config, **params)
    known = pipe.get_params()
    unknown = [k for k in param_grid if k not in known]
    if unknown:
        raise ValueError(
            f"unknown pipeline parameter(s) {', '.join(unknown)}: see make_pipeline().get_params(), "
            "e.g. normalise__box, normalise__method, clf__filters, clf__dense, clf__dropout, clf__epochs"
        )
    folds = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
    common = {
        "scoring": scoring,
        "cv": folds,
        "n_jobs": n_jobs,
        "refit": refit,
        "verbose": verbose,
        "error_score": "raise",
    }
    grid = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in param_grid.items()}
    if n_iter is not None:
        return RandomizedSearchCV(pipe, grid, n_iter=int(n_iter), random_state=random_state, **common)
    return GridSearchCV(pipe, grid, **common)


@contextlib.contextmanager
def dask_backend(scheduler: str) -> Iterator[Any]:
    """Run joblib (hence scikit-learn's searches) on the Dask cluster at ``scheduler``.

    Parameters
    ----------
    scheduler : str
        Address of a running ``dask scheduler``, e.g. ``"tcp://10.0.0.5:8786"``.

    Yields
    ------
    dask.distributed.Client

    Examples
    --------
    >>> with dask_backend("tcp://10.0.0.5:8786"):    # doctest: +SKIP
    ...     search.fit(X, y)
    """
    import joblib

    from .errors import MathOCRError

    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise MathOCRError(
            f"a scheduler address needs dask.distributed ({exc.name} is missing): "
            "pip install 'mathocr[bench]'"
        ) from exc
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise MathOCRError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client, joblib.parallel_backend("dask"):
        yield client


def fit_search(search: Any, X: Any, y: Any, scheduler: str | None = None) -> Any:
    """Fit a search here, or on a Dask cluster when ``scheduler`` is given.

    On a cluster each candidate-and-fold fit is one task on a worker (the workers
    need mathocr and TensorFlow installed); the refit of the best candidate runs here.

    Parameters
    ----------
    search : GridSearchCV or RandomizedSearchCV
        From :func:`make_search` (or built by hand).
    X, y
        Images (list of 2-D uint8 arrays) and tokens.
    scheduler : str, optional
        Dask scheduler address.

    Returns
    -------
    The fitted ``search``.

    Examples
    --------
    >>> fit_search(make_search({"clf__dense": [(64,), (128,)]}), X, y)   # doctest: +SKIP
    """
    if scheduler is None:
        return search.fit(X, y)
    if search.n_jobs is None:
        # joblib's Dask backend runs as many tasks at once as n_jobs allows: use every worker.
        search.set_params(n_jobs=-1)
    with dask_backend(scheduler):
        return search.fit(X, y)


def ranking(search: Any) -> list[dict[str, Any]]:
    """The candidates of a fitted search, best first.

    Returns
    -------
    list of dict
        ``rank``, ``mean_score``, ``std_score``, ``mean_fit_s`` and ``params`` (the
        searched parameters only) per candidate.

    Examples
    --------
    >>> ranking(search)[0]["params"]            # doctest: +SKIP
    {'clf__dense': (128,), 'normalise__box': 20}
    """
    res = search.cv_results_
    order = np.lexsort((np.arange(len(res["params"])), res["rank_test_score"]))
    return [
        {
            "rank": int(res["rank_test_score"][i]),
            "mean_score": float(res["mean_test_score"][i]),
            "std_score": float(res["std_test_score"][i]),
            "mean_fit_s": float(res["mean_fit_time"][i]),
            "params": dict(res["params"][i]),
        }
        for i in order
    ]


def format_ranking(rows: Sequence[Mapping[str, Any]] | Any) -> str:
    """A plain-text table of :func:`ranking` (or of a fitted search).

    Examples
    --------
    >>> print(format_ranking([{"rank": 1, "mean_score": 0.9, "std_score": 0.01, "mean_fit_s": 3.0,
    ...                        "params": {"normalise__box": 20}}]))
    rank  score            fit s  normalise__box
       1  0.9000 ± 0.0100    3.0  20
    """
    if not isinstance(rows, Sequence):
        rows = ranking(rows)
    keys = list(dict.fromkeys(k for r in rows for k in r["params"]))

    def show(v: Any) -> str:
        return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)

    cells = [[show(r["params"].get(k, "")) for k in keys] for r in rows]
    widths = [max([len(k), *(len(c[j]) for c in cells)]) for j, k in enumerate(keys)]
    head = "rank  score            fit s  " + "  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))
    lines = [head.rstrip()]
    for r, c in zip(rows, cells, strict=True):
        score = f"{r['mean_score']:.4f} ± {r['std_score']:.4f}"
        line = f"{r['rank']:>4}  {score:<15}  {r['mean_fit_s']:>5.1f}  " + "  ".join(
            v.ljust(w) for v, w in zip(c, widths, strict=True)
        )
        lines.append(line.rstrip())
    return "\n".join(lines)


def search_card(
    search: Any,
    *,
    config: str,
    params: Mapping[str, Any],
    seconds: float,
    scheduler: str | None,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The model card of a search's best pipeline: what was searched, how, and the ranking.

    Parameters
    ----------
    search : GridSearchCV or RandomizedSearchCV
        Fitted.
    config : str
        The named configuration the pipeline started from.
    params : mapping
        The parameters fixed for every candidate.
    seconds : float
        Wall time of the search.
    scheduler : str or None
        The Dask scheduler it ran on.
    data : mapping
        What it was trained on (sizes, :func:`mathocr.card.data_digests`).

    Returns
    -------
    dict
        JSON types only (:func:`mathocr.card.jsonable`).
    """
    from .card import jsonable

    return jsonable(
        {
            "config": config,
            "overrides": dict(params),
            "search": {
                "kind": type(search).__name__,
                "grid": getattr(search, "param_grid", None) or getattr(search, "param_distributions", None),
                "cv": search.cv.get_n_splits(),
                "scoring": search.scoring or "accuracy",
                "random_state": search.cv.random_state,
                "scheduler": scheduler,
                "seconds": round(seconds, 1),
            },
            "best_params": search.best_params_,
            "best_score": float(search.best_score_),
            "ranking": ranking(search),
            "data": data,
        }
    )


__all__ = [
    "dask_backend",
    "fit_search",
    "format_ranking",
    "make_search",
    "merge_params",
    "parse_param",
    "ranking",
]
