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
        "--threads",
        type=int,
        default=8,
        help="worker threads, i.e. requests solved at once (default: %(default)s)",
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

    waitress is pure Python and multi-threaded, so it runs the same on Linux, macOS and
    Windows, and threads share the one model loaded per process (ONNX Runtime releases
    the GIL while it computes).
    """
    import logging

    try:
        import waitress

        from deploy import create_app
    except ImportError as exc:
        raise MathOCRError(
            f"serving needs the 'serve' extra ({exc.name} is missing): pip install 'mathocr[serve]'"
        ) from exc

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limit = int(args.max_upload_mb * 1024 * 1024)
    config: dict[str, object] = {"MAX_CONTENT_LENGTH": limit}
    if args.model:
        config["MATHOCR_MODEL"] = args.model
    app = create_app(config)
    print(
        f"mathocr serving http://{args.host}:{args.port}/ with {args.threads} threads (Ctrl+C stops)",
        file=sys.stderr,
        flush=True,
    )
    # waitress buffers a whole body before the app sees it: cap it a little above Flask's
    # limit (so the app still answers 413 as JSON) and keep it in memory, never in a temp file.
    body_cap = 2 * limit + 1024 * 1024
    waitress.serve(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        ident="mathocr",
        max_request_body_size=body_cap,
        inbuf_overflow=body_cap,
    )
    return 0


COMMANDS.append(("serve", "serve the drawing page and JSON API over HTTP", _serve_parser, cmd_serve))


# ---- train


def _parse_override(text: str) -> tuple[str, object]:
    """``clf__filters=32,64`` -> ("clf__filters", (32, 64)); numbers and booleans typed."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)

    def scalar(v: str) -> object:
        low = v.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        for kind in (int, float):
            try:
                return kind(v)
            except ValueError:
                pass
        return v.strip()

    value: object = tuple(scalar(v) for v in raw.split(",") if v) if "," in raw else scalar(raw)
    return key.strip(), value


def _train_parser(p: argparse.ArgumentParser) -> None:
    _add_data_dir(p)
    p.add_argument("--config", default="default", help="named configuration: default or seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], type=_parse_override,
                   metavar="KEY=VALUE", help="override a pipeline parameter, e.g. clf__epochs=3 "
                   "or clf__filters=32,64 (repeatable)")
    p.add_argument("--epochs", type=int, default=None, help="shortcut for --set clf__epochs=N")
    p.add_argument("--limit-per-class", type=int, default=None,
                   help="use at most N images per class and source (quick runs)")
    p.add_argument("--output", "-o", default="mathocr-model.joblib",
                   help="model file to write; its .sha256 and .json model card go beside it")
    p.add_argument("--keras", action="store_true",
                   help="save the Keras form (can be refitted; needs TensorFlow to load) instead of the "
                   "ONNX inference form")
    p.add_argument("--quiet", action="store_true", help="no progress display")


def cmd_train(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from .datasets import data_home, load_training_data
    from .evaluation import evaluate_sets, format_report, predict_proba_latency
    from .pipeline import make_pipeline, save_pipeline, to_inference

    started = time.time()
    params = dict(args.overrides)
    if args.epochs is not None:
        params["clf__epochs"] = args.epochs
    params.setdefault("clf__verbose", 0 if args.quiet else (1 if sys.stdout.isatty() else 2))
    pipe = make_pipeline(args.config, **params)
    print(f"loading data from {data_home(args.data_dir)}", flush=True)
    data = load_training_data(args.data_dir, limit_per_class=args.limit_per_class)
    X, y = data.training_arrays()
    for name, s in data.train.items():
        print(f"  train {name}: {len(s)}", flush=True)
    print(f"training {args.config!r} on {len(y)} images", flush=True)
    t = time.time()
    pipe.fit(X, y)
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
            "per_class": {c: int(n) for c, n in zip(*np.unique(y, return_counts=True))},
            "limit_per_class": args.limit_per_class,
            "cpu_count": __import__("os").cpu_count(),
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


COMMANDS.append(("train", "train a pipeline on the data directory and write it with its model card",
                 _train_parser, cmd_train))


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


COMMANDS.append(("evaluate", "accuracy per source and class, confusion matrices, on held-out data",
                 _evaluate_parser, cmd_evaluate))
