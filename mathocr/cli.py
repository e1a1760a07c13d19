"""The ``mathocr`` command: train, evaluate, solve, serve, bench, gridsearch.

Each sub-command is a pair of functions, ``_<name>_parser(sub)`` that declares its
arguments and ``cmd_<name>(args) -> int`` that runs it; :data:`COMMANDS` lists them.
Heavy imports happen inside the ``cmd_`` functions so ``mathocr --help`` is instant.
Errors the user can fix (:class:`mathocr.errors.MathOCRError`) are printed as one
line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import MathOCRError

# Synthetic pages the bundled model was trained with (mathocr.pagecrops).
DEFAULT_PAGES = 5000


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        help="data directory (default: $MATHOCR_DATA, then the user cache directory)",
    )


# (name, help, parser-builder, runner); each block below appends its own entry.
COMMANDS: list[
    tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mathocr", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mathocr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_, parser_fn, cmd_fn in COMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        parser_fn(p)
        p.set_defaults(func=cmd_fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mathocr`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MathOCRError as exc:
        print(f"mathocr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- sub-commands
# One block per command: `_<name>_parser`, `cmd_<name>`, then COMMANDS.append(...).


# ---------------------------------------------------------------- serve
def _serve_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on; 0.0.0.0 for every interface (default: %(default)s)",
    )
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes sharing the port (default: one per CPU core, at most 4; 1 on Windows)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="request threads per process (default: 1 with several worker processes, where the work is "
        "CPU-bound; 4 in a single process)",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="PATH",
        help="pipeline file to serve (default: $MATHOCR_MODEL, then the bundled model)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=10.0,
        metavar="MB",
        help="largest request body accepted; larger ones get HTTP 413 (default: %(default)s)",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the drawing page and the JSON API with waitress, a production WSGI server.

    waitress is pure Python, so it runs the same on Linux, macOS and Windows. Solving
    holds the GIL most of the time, so on POSIX several worker processes share the
    port (see :mod:`deploy.server`); each loads the model once.
    """
    import logging

    try:
        from deploy.server import default_workers, serve
    except ImportError as exc:
        raise MathOCRError(
            f"serving needs the 'serve' extra ({exc.name} is missing): pip install 'mathocr[serve]'"
        ) from exc

    workers = default_workers() if args.workers is None else args.workers
    threads = args.threads if args.threads is not None else (1 if workers > 1 else 4)
    if workers < 1 or threads < 1:
        raise MathOCRError("--workers and --threads must be at least 1")
    if args.max_upload_mb <= 0:
        raise MathOCRError("--max-upload-mb must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limit = int(args.max_upload_mb * 1024 * 1024)
    config: dict[str, object] = {"MAX_CONTENT_LENGTH": limit}
    if args.model:
        config["MATHOCR_MODEL"] = args.model
    try:
        return serve(
            config,
            host=args.host,
            port=args.port,
            threads=threads,
            workers=workers,
            max_body=2 * limit + 1024 * 1024,
        )
    except OSError as exc:
        raise MathOCRError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc


COMMANDS.append(("serve", "serve the drawing page and JSON API over HTTP", _serve_parser, cmd_serve))


# ---- train


def _parse_override(text: str) -> tuple[str, object]:
    """``clf__filters=32,64`` -> ("clf__filters", (32, 64)); numbers and booleans typed."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    from .gridsearch import parse_scalar

    key, raw = text.split("=", 1)
    value: object = tuple(parse_scalar(v) for v in raw.split(",") if v) if "," in raw else parse_scalar(raw)
    return key.strip(), value


def _train_parser(p: argparse.ArgumentParser) -> None:
    _add_data_dir(p)
    p.add_argument("--config", default="default", help="named configuration: default or seed")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        type=_parse_override,
        metavar="KEY=VALUE",
        help="override a pipeline parameter, e.g. clf__epochs=3 or clf__filters=32,64 (repeatable)",
    )
    p.add_argument("--epochs", type=int, default=None, help="shortcut for --set clf__epochs=N")
    p.add_argument(
        "--limit-per-class",
        type=int,
        default=None,
        help="use at most N images per class and source (quick runs)",
    )
    p.add_argument(
        "--output",
        "-o",
        default="mathocr-model.joblib",
        help="model file to write; its .sha256 and .json model card go beside it",
    )
    p.add_argument(
        "--keras",
        action="store_true",
        help="save the Keras form (can be refitted; needs TensorFlow to load) instead of the "
        "ONNX inference form",
    )
    p.add_argument(
        "--pages",
        type=int,
        default=DEFAULT_PAGES,
        metavar="N",
        help="also train on the symbols segmented from N synthetic pages drawn from the "
        f"training images (default {DEFAULT_PAGES}; 0 for none; see mathocr.pagecrops)",
    )
    p.add_argument(
        "--no-balance",
        action="store_true",
        help="do not weight images to balance written forms (see TrainingData.sample_weights)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")


def cmd_train(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from .bench import jsonable, machine_info
    from .datasets import data_home, load_training_data
    from .evaluation import evaluate_sets, format_report, predict_proba_latency
    from .pagecrops import PAGE_SEED, page_crops
    from .pipeline import make_pipeline, save_pipeline, to_inference
    from .synth import symbol_pool

    started = time.time()
    params = dict(args.overrides)
    if args.epochs is not None:
        params["clf__epochs"] = args.epochs
    params.setdefault("clf__verbose", 0 if args.quiet else (1 if sys.stdout.isatty() else 2))
    try:
        pipe = make_pipeline(args.config, **params)
        # Bad values fail now, not after a minute of loading data.
        pipe[-1]._validate_hyperparameters()
    except ValueError as exc:
        raise MathOCRError(f"bad training settings: {exc}".replace("\n", " ")) from None
    if args.pages < 0:
        raise MathOCRError(f"--pages must be 0 or more, got {args.pages}")
    print(f"loading data from {data_home(args.data_dir)}", flush=True)
    data = load_training_data(args.data_dir, limit_per_class=args.limit_per_class)
    if args.pages:
        print(f"drawing and segmenting {args.pages} synthetic pages", flush=True)
        pages = page_crops(symbol_pool(data.train.values()), args.pages, seed=PAGE_SEED)
        data.train[pages.source] = pages
    X, y = data.training_arrays()
    for name, s in data.train.items():
        print(f"  train {name}: {len(s)}", flush=True)
    print(f"training {args.config!r} on {len(y)} images", flush=True)
    t = time.time()
    fit_params = {} if args.no_balance else {"clf__sample_weight": data.sample_weights()}
    pipe.fit(X, y, **fit_params)
    fit_seconds = time.time() - t
    model = pipe if args.keras else to_inference(pipe)
    report = evaluate_sets(model, data.heldout)
    sample = data.heldout["mnist/test"].X[:8]
    settings = {k: v for k, v in pipe.get_params().items() if "__" in k and not callable(v)}
    card = {
        "config": args.config,
        "form": "keras" if args.keras else "onnx",
        "classes": [str(c) for c in model.classes_],
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()},
        "overrides": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        "command": "mathocr " + " ".join(sys.argv[1:]) if sys.argv and "mathocr" in sys.argv[0] else None,
        "training": {
            "seconds_fit": round(fit_seconds, 1),
            "seconds_total": round(time.time() - started, 1),
            "n_images": len(y),
            "per_class": {c: int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=False)},
            "limit_per_class": args.limit_per_class,
            "pages": {"n_pages": args.pages, "seed": PAGE_SEED},
            "balanced_forms": not args.no_balance,
            # Training time and latency differ ~3x between hosts of the same size (with
            # and without AVX-512): a card's timings mean little without its machine
            # (its libraries are already under "libraries").
            "machine": jsonable({k: v for k, v in machine_info().items() if k != "libraries"}),
            "history": {k: [round(float(v), 5) for v in vs] for k, vs in pipe[-1].history_.items()},
        },
        "data": {
            "train": {name: {"n": len(s), "sha256": s.digest()} for name, s in data.train.items()},
            "heldout": {name: {"n": len(s), "sha256": s.digest()} for name, s in data.heldout.items()},
        },
        "metrics": report,
        "latency_predict_proba_8": predict_proba_latency(model, sample),
    }
    path = save_pipeline(model, args.output, card)
    print(format_report(report))
    lat = card["latency_predict_proba_8"]
    print(f"\npredict_proba on 8 symbols: median {lat['median_ms']} ms")
    print(f"trained in {fit_seconds:.0f} s; wrote {path} (+ .sha256, .json)")
    return 0


COMMANDS.append(
    (
        "train",
        "train a pipeline on the data directory and write it with its model card",
        _train_parser,
        cmd_train,
    )
)


# ---- evaluate


def _evaluate_parser(p: argparse.ArgumentParser) -> None:
    _add_data_dir(p)
    p.add_argument("--model", default=None, help="model file (default: the bundled model)")
    p.add_argument("--limit-per-class", type=int, default=None, help="evaluate on a subset")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--plot", default=None, metavar="PNG", help="write confusion matrices to this PNG")


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .datasets import load_training_data
    from .evaluation import evaluate_sets, format_report, plot_confusion
    from .pipeline import load_pipeline

    pipe = load_pipeline(args.model)
    data = load_training_data(args.data_dir, limit_per_class=args.limit_per_class)
    report = evaluate_sets(pipe, data.heldout)
    if args.plot:
        plot_confusion(report, args.plot)
    print(json.dumps(report) if args.json else format_report(report))
    return 0


COMMANDS.append(
    (
        "evaluate",
        "accuracy per source and class, confusion matrices, on held-out data",
        _evaluate_parser,
        cmd_evaluate,
    )
)


# ---- solve


def _solve_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files to read; '-' reads stdin")
    p.add_argument("--json", action="store_true", help="print one JSON object per image and line")
    p.add_argument("--model", default=None, metavar="PATH", help="pipeline file (default: the bundled model)")


def cmd_solve(args: argparse.Namespace) -> int:
    """Read each image, solve all of them in one batch, print one result per image.

    Exit status 1 when any image failed (unreadable, nothing found, no value).
    """
    import json

    from .solver import Solver

    solver = Solver.load(args.model)
    sources = [sys.stdin.buffer.read() if name == "-" else name for name in args.images]
    solutions = solver.solve_many(sources, on_error="return")
    failed = False
    for name, sol in zip(args.images, solutions, strict=True):
        failed |= sol.error is not None
        if args.json:
            print(json.dumps({"file": name, **sol.to_dict()}, ensure_ascii=False), flush=True)
            continue
        if sol.error is None:
            d = sol.to_dict()
            shown = d["value"] if d["value"] == d["decimal"] else f"{d['value']} ({d['decimal']})"
            print(f"{name}: {sol.expression} = {shown}")
        else:
            read = f" (read: {sol.expression})" if sol.tokens else ""
            print(f"{name}: error: {sol.error}{read}")
        for warning in sol.warnings:
            print(f"  warning: {warning}")
    return 1 if failed else 0


COMMANDS.append(
    (
        "solve",
        "read handwritten expressions from images and compute their exact values",
        _solve_parser,
        cmd_solve,
    )
)


# ---- bench


def _bench_parser(p: argparse.ArgumentParser) -> None:
    _add_data_dir(p)
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny data, 1 epoch, few rounds: checks that the suite works (CI, under 3 minutes)",
    )
    p.add_argument(
        "--configs",
        nargs="+",
        default=None,
        metavar="NAME",
        help="configurations to compare, space- or comma-separated; seed is always included "
        "(default: all; with --quick: seed default); --list shows them",
    )
    p.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="DIR",
        help="folder for benchmark.json, report.md and the plots (default: benchmarks/results, "
        "or bench-quick/ with --quick)",
    )
    p.add_argument(
        "--http-json",
        default=None,
        metavar="JSON",
        help="bench_http.py's pytest-benchmark JSON to include (default: DIR/http.json, if there)",
    )
    p.add_argument(
        "--from-json",
        default=None,
        metavar="JSON",
        help="do not run anything: rewrite the report of an earlier run's benchmark.json",
    )
    p.add_argument(
        "-k",
        dest="select",
        default=None,
        metavar="EXPR",
        help="run only the benchmarks matching this pytest -k expression",
    )
    p.add_argument("--list", action="store_true", help="list the configurations and exit")


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark suites (pytest-benchmark) and write the report with ratios to "seed"."""
    from pathlib import Path

    from .bench import BENCH_CONFIGS, benchmarks_dir, parse_configs, run_suite, write_report

    if args.list:
        for cfg in BENCH_CONFIGS.values():
            params = ", ".join(f"{k}={v}" for k, v in cfg.params.items())
            print(f"{cfg.name:<12} {cfg.base:<8} {params or '-'}\n{'':<22}{cfg.note}")
        return 0
    if args.from_json:
        out = Path(args.output) if args.output else Path(args.from_json).parent
        print(f"wrote {write_report(args.from_json, out, http_json=args.http_json)}")
        return 0
    try:
        configs = parse_configs(args.configs, args.quick)
    except ValueError as exc:
        raise MathOCRError(str(exc)) from None
    if args.output:
        out = Path(args.output)
    else:
        out = Path("bench-quick") if args.quick else benchmarks_dir() / "results"
    rc = run_suite(
        out,
        quick=args.quick,
        configs=configs,
        data_dir=args.data_dir,
        http_json=args.http_json,
        pytest_args=["-k", args.select] if args.select else [],
    )
    report = out / "report.md"
    print(f"report: {report}" if report.is_file() else "no report: the suite wrote no results", flush=True)
    return rc


COMMANDS.append(
    (
        "bench",
        "run the benchmarks (accuracy, latency, training) and write a report with plots",
        _bench_parser,
        cmd_bench,
    )
)


# ---- gridsearch


def _param_candidates(text: str) -> tuple[str, list]:
    from .gridsearch import parse_param

    try:
        return parse_param(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _gridsearch_parser(p: argparse.ArgumentParser) -> None:
    _add_data_dir(p)
    p.add_argument(
        "--param",
        dest="params",
        action="append",
        required=True,
        type=_param_candidates,
        metavar="KEY=VALUES",
        help="candidates of one parameter, repeatable: "
        "normalise__box=18,20; clf__dense=64 --param clf__dense=128; clf__filters=[16,32],[32,64]",
    )
    p.add_argument("--config", default="default", help="named configuration to start from: default or seed")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        type=_parse_override,
        metavar="KEY=VALUE",
        help="fixed parameter for every candidate, e.g. clf__epochs=2 (repeatable)",
    )
    p.add_argument("--cv", type=int, default=3, help="stratified, shuffled folds (default: %(default)s)")
    p.add_argument(
        "--n-iter",
        type=int,
        default=None,
        help="sample this many candidates (RandomizedSearchCV) instead of trying them all",
    )
    p.add_argument("--scoring", default=None, help="scikit-learn scorer name (default: accuracy)")
    p.add_argument(
        "--limit-per-class",
        type=int,
        default=None,
        help="at most N images per class and source (searches are many fits: start small)",
    )
    p.add_argument("--random-state", type=int, default=0, help="seeds the folds and sampling (default: 0)")
    p.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="fits at once on this machine (default 1: TensorFlow already uses every core); "
        "with --scheduler every worker thread is used",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the fits on this Dask scheduler, e.g. tcp://10.0.0.5:8786 (see benchmarks/README.md)",
    )
    p.add_argument(
        "--output",
        "-o",
        default="best.joblib",
        help="where the best pipeline, refitted on all the data, is written "
        "(+ .sha256 and a .json model card)",
    )
    p.add_argument(
        "--keras", action="store_true", help="save the Keras form instead of the ONNX inference form"
    )
    p.add_argument(
        "--results", default=None, metavar="JSON", help="also write the ranking and the fold scores as JSON"
    )
    p.add_argument("--verbose", "-v", action="count", default=0, help="scikit-learn's search progress")


def cmd_gridsearch(args: argparse.Namespace) -> int:
    """Cross-validated search over pipeline parameters; prints the ranking, saves the best pipeline."""
    import json
    import time
    from pathlib import Path

    from sklearn.model_selection import ParameterGrid

    from .bench import jsonable
    from .datasets import load_training_data
    from .evaluation import evaluate_sets, format_report
    from .gridsearch import fit_search, format_ranking, make_search, merge_params, ranking, search_card
    from .pipeline import save_pipeline, to_inference

    grid = merge_params(args.params)
    fixed = dict(args.overrides)
    fixed.setdefault("clf__verbose", 0)
    try:
        search = make_search(
            grid,
            config=args.config,
            cv=args.cv,
            n_iter=args.n_iter,
            scoring=args.scoring,
            random_state=args.random_state,
            n_jobs=args.n_jobs,
            verbose=args.verbose,
            **fixed,
        )
    except ValueError as exc:
        raise MathOCRError(str(exc)) from None
    data = load_training_data(args.data_dir, limit_per_class=args.limit_per_class)
    X, y = data.training_arrays()
    n = len(ParameterGrid(grid)) if all(isinstance(v, list) for v in grid.values()) else None
    n = min(n, args.n_iter) if n and args.n_iter else (n or args.n_iter)
    where = f" on {args.scheduler}" if args.scheduler else ""
    print(f"searching {n} candidates × {args.cv} folds on {len(y)} images{where}", flush=True)
    t = time.perf_counter()
    fit_search(search, X, y, args.scheduler)
    seconds = time.perf_counter() - t
    rows = ranking(search)
    print(format_ranking(rows))
    best = search.best_estimator_
    model = best if args.keras else to_inference(best)
    report = evaluate_sets(model, data.heldout)
    data_card = {
        "n_images": len(y),
        "limit_per_class": args.limit_per_class,
        "train": {k: {"n": len(s), "sha256": s.digest()} for k, s in data.train.items()},
    }
    card = search_card(
        search, config=args.config, params=fixed, seconds=seconds, scheduler=args.scheduler, data=data_card
    )
    card["form"] = "keras" if args.keras else "onnx"
    card["metrics"] = jsonable(report)
    path = save_pipeline(model, args.output, card)
    if args.results:
        res = search.cv_results_
        folds = sorted(k for k in res if k.startswith("split") and k.endswith("_test_score"))
        keys = ("rank_test_score", "mean_test_score", "std_test_score", "params", *folds)
        out = {
            "ranking": rows,
            "cv_results": {k: res[k] for k in keys},
            "seconds": round(seconds, 1),
            "scheduler": args.scheduler,
        }
        Path(args.results).write_text(json.dumps(jsonable(out), indent=2) + "\n")
    best_params = ", ".join(f"{k}={v}" for k, v in search.best_params_.items())
    print(f"\nbest (cv {search.best_score_:.4f}): {best_params}")
    print(format_report(report).split("\n\n")[0])
    print(f"searched in {seconds:.0f} s; wrote {path} (+ .sha256, .json)")
    return 0


COMMANDS.append(
    (
        "gridsearch",
        "cross-validated search over pipeline parameters, here or on a Dask cluster",
        _gridsearch_parser,
        cmd_gridsearch,
    )
)
