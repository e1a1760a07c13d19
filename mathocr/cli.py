"""The mathocr command: solve, serve, train, evaluate, bench, gridsearch.

Each sub-command is a pair of functions, ``_<name>_parser(sub)`` that declares its
arguments and ``cmd_<name>(args) -> int`` that runs it; :data:`COMMANDS` lists them.
Heavy imports happen inside the ``cmd_`` functions so ``mathocr --help`` is instant.
Errors the user can fix (:class:`mathocr.errors.MathOCRError`) are printed as one
line on stderr with exit status 2, never as a traceback. Text shown by ``--help``
(descriptions, epilogs, argument help) is plain text, not reStructuredText.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import MathOCRError

if TYPE_CHECKING:
    from .region import Region

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


DESCRIPTION = """\
Read handwritten arithmetic from images and compute its exact value;
serve, train, evaluate and benchmark the model that reads it."""
EPILOG = """\
exit status:
  0    success
  1    the command ran but some of its work failed (solve: an image could not be
       solved); see each command's --help
  2    usage error, or the command could not run at all (bad option value, model
       missing or corrupt, port in use, ...): one line on stderr says why
  130  interrupted (Ctrl+C)

'mathocr COMMAND --help' describes a command."""
# Order of the commands in `mathocr --help`; any others follow in the order they were added.
_HELP_ORDER = ("solve", "serve", "train", "evaluate", "bench", "gridsearch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mathocr",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mathocr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    order = {name: i for i, name in enumerate(_HELP_ORDER)}
    for name, help_, parser_fn, cmd_fn in sorted(COMMANDS, key=lambda c: order.get(c[0], len(order))):
        p = sub.add_parser(
            name, help=help_, description=help_, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser_fn(p)  # may set p.epilog (plain text, shown as written)
        p.set_defaults(func=cmd_fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mathocr`` console script; returns the exit status (see :data:`EPILOG`)."""
    args = build_parser().parse_args(argv)  # usage errors: argparse exits with status 2
    try:
        return int(args.func(args) or 0)
    except MathOCRError as exc:
        print(f"mathocr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Whoever read stdout has gone (`mathocr solve *.png | head -1`): stop quietly, and
        # keep Python from complaining again when it flushes stdout at exit.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by a closed pipe


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
        help="gunicorn worker processes (default: one per CPU core, at most 4; waitress: always 1)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="request threads per process (default: 4; solving holds the GIL, so more threads per "
        "process queue for it, while idle and slow connections hold none)",
    )
    p.add_argument(
        "--server",
        choices=("gunicorn", "waitress"),
        default=None,
        help="WSGI server (default: gunicorn on Linux and macOS, waitress on Windows)",
    )
    p.add_argument(
        "--metrics",
        action="store_true",
        help="serve Prometheus metrics (request count and latency by status) on /metrics",
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
    """Serve the drawing page and the JSON API with gunicorn (waitress on Windows).

    Solving holds the GIL most of the time, so gunicorn runs several worker processes
    (see :mod:`mathocr.web.server`); the model is loaded once, before they are forked.
    """
    import importlib.util
    import logging

    try:
        from .web.server import default_server, default_workers, serve

        server = args.server or default_server()
        if server == "gunicorn":
            import gunicorn  # noqa: F401
        # Found, not imported: it reads $PROMETHEUS_MULTIPROC_DIR (set below) on import.
        if args.metrics and importlib.util.find_spec("prometheus_client") is None:
            raise ModuleNotFoundError(name="prometheus_client")
    except ImportError as exc:
        raise MathOCRError(
            f"serving needs the 'serve' extra ({exc.name} is missing): pip install 'mathocr[serve]'"
        ) from exc

    workers = (default_workers() if server == "gunicorn" else 1) if args.workers is None else args.workers
    threads = 4 if args.threads is None else args.threads
    if workers < 1 or threads < 1:
        raise MathOCRError("--workers and --threads must be at least 1")
    if server == "waitress" and workers > 1:
        raise MathOCRError("--workers must be 1 with waitress (one process); gunicorn runs several")
    if args.max_upload_mb <= 0:
        raise MathOCRError("--max-upload-mb must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limit = int(args.max_upload_mb * 1024 * 1024)
    config: dict[str, object] = {"MAX_CONTENT_LENGTH": limit, "METRICS": args.metrics}
    if args.model:
        config["MATHOCR_MODEL"] = args.model
    if args.metrics and workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker counts in its own memory; a shared directory lets /metrics sum them.
        import atexit
        import shutil
        import tempfile

        shared = tempfile.mkdtemp(prefix="mathocr-metrics-")
        owner = os.getpid()

        def remove() -> None:
            # Forked workers inherit this handler; only the process that made it removes it.
            if os.getpid() == owner:
                shutil.rmtree(shared, ignore_errors=True)

        atexit.register(remove)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
    try:
        return serve(
            config,
            host=args.host,
            port=args.port,
            threads=threads,
            workers=workers,
            max_body=2 * limit + 1024 * 1024,
            server=server,
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
    from .datasets import MARKS_WEIGHT, UNIPEN_COPIES  # numpy and PIL only; no TensorFlow

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
        "--unipen-copies",
        type=int,
        default=UNIPEN_COPIES,
        metavar="N",
        help=f"draw each UNIPEN training-writer sample N times, varied (default {UNIPEN_COPIES}; "
        "0 leaves UNIPEN out)",
    )
    p.add_argument(
        "--marks-weight",
        type=float,
        default=MARKS_WEIGHT,
        metavar="W",
        help="train on UNIPEN's marks that are no symbol (@ $ %% # & ? < >) as such, with W times "
        f"the weight of one written form (default {MARKS_WEIGHT:g}; 0 leaves them out)",
    )
    p.add_argument(
        "--no-clean", action="store_true", help="keep UNIPEN samples that cleanlab flags as mislabelled"
    )
    p.add_argument(
        "--no-balance",
        action="store_true",
        help="do not weight images to balance written forms (see TrainingData.sample_weights)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")


def _add_unipen(data, copies: int, clean: bool, marks: bool) -> dict | None:
    """Draw UNIPEN's training writers into ``data.train``, mislabelled samples dropped
    first, and with ``marks`` their marks that are no symbol."""
    from collections import Counter

    from .datasets import render_pen_samples

    samples = data.pen_train
    if not samples:
        return None
    report = None
    if clean:
        from .cleaning import find_label_issues

        print(f"checking {len(samples)} UNIPEN labels (cleanlab, out-of-fold by writer)", flush=True)
        plain = render_pen_samples(samples, "unipen/check", augment=False)
        issues = find_label_issues(plain.X, plain.y, [s.writer for s in samples])
        dropped = Counter(plain.y[issues].tolist())
        report = {
            "n_checked": len(samples),
            "n_dropped": int(issues.sum()),
            "dropped_per_class": {c: dropped[c] for c in sorted(dropped)},
            "dropped_where": [s.where for s, bad in zip(samples, issues, strict=True) if bad],
        }
        print(f"  dropped {int(issues.sum())} of {len(samples)}: {dict(sorted(dropped.items()))}", flush=True)
        samples = [s for s, bad in zip(samples, issues, strict=True) if not bad]
    data.add_pen_samples(samples, copies)
    if marks:
        data.add_pen_marks(copies)
    return report


def cmd_train(args: argparse.Namespace) -> int:
    import time

    from .card import model_card
    from .datasets import UNIPEN_MARKS, data_home, load_training_data
    from .evaluation import evaluate_sets, format_report
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
    if not 0 <= args.marks_weight < float("inf"):
        raise MathOCRError(f"--marks-weight must be 0 or more, got {args.marks_weight}")
    print(f"loading data from {data_home(args.data_dir)}", flush=True)
    data = load_training_data(args.data_dir, limit_per_class=args.limit_per_class)
    if args.pages:
        print(f"drawing and segmenting {args.pages} synthetic pages", flush=True)
        pages = page_crops(symbol_pool(data.train.values()), args.pages, seed=PAGE_SEED)
        data.train[pages.source] = pages
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr, flush=True)
    if args.unipen_copies < 0:
        raise MathOCRError(f"--unipen-copies must be 0 or more, got {args.unipen_copies}")
    cleaning = (
        _add_unipen(data, args.unipen_copies, clean=not args.no_clean, marks=args.marks_weight > 0)
        if args.unipen_copies
        else None
    )
    X, y = data.training_arrays()
    for name, s in data.train.items():
        print(f"  train {name}: {len(s)}", flush=True)
    print(f"training {args.config!r} on {len(y)} images", flush=True)
    t = time.time()
    fit_params = (
        {} if args.no_balance else {"clf__sample_weight": data.sample_weights(marks=args.marks_weight)}
    )
    pipe.fit(X, y, **fit_params)
    fit_seconds = time.time() - t
    model = pipe if args.keras else to_inference(pipe)
    model, calibration = _calibrate(model, data)
    report = evaluate_sets(model, data.heldout)
    card = model_card(
        pipe,
        model,
        data,
        y,
        config=args.config,
        form="keras" if args.keras else "onnx",
        overrides=params,
        fit_seconds=fit_seconds,
        started=started,
        options={
            "limit_per_class": args.limit_per_class,
            "pages": {"n_pages": args.pages, "seed": PAGE_SEED},
            "balanced_forms": not args.no_balance,
            "unipen": {"copies": args.unipen_copies, "cleaning": cleaning},
            "marks": {"labels": list(UNIPEN_MARKS), "weight": args.marks_weight},
        },
        metrics=report,
        latency_images=data.heldout["mnist/test"].X[:8],
    )
    card["calibration"] = calibration
    path = save_pipeline(model, args.output, card)
    print(format_report(report))
    lat = card["latency_predict_proba_8"]
    print(f"\npredict_proba on 8 symbols: median {lat['median_ms']} ms")
    print(f"trained in {fit_seconds:.0f} s; wrote {path} (+ .sha256, .json)")
    return 0


def _calibrate(model, data) -> tuple[Any, dict | None]:
    """Temperature-scale ``model`` on the calibration writers; report the error before and after."""
    from .calibration import calibrate, expected_calibration_error, temperature, uncalibrated

    if not data.calibration:
        print("note: no calibration set (UNIPEN missing): confidences left uncalibrated", file=sys.stderr)
        return model, None
    (name, cal_set), *_ = data.calibration.items()
    base = uncalibrated(model)
    try:
        calibrated = calibrate(base, cal_set.X, cal_set.y)
    except ValueError as exc:  # a small data directory may lack a class: train on, say so
        print(f"note: confidences left uncalibrated: {exc}", file=sys.stderr)
        return model, None

    def ece(pipe, s) -> float:
        return round(expected_calibration_error(pipe.predict_proba(s.X), s.y, pipe.classes_), 5)

    section = {
        "method": "temperature (sklearn CalibratedClassifierCV)",
        "set": name,
        "n": len(cal_set),
        "sha256": cal_set.digest(),
        "temperature": round(temperature(calibrated), 4),
        "ece": {k: {"before": ece(base, s), "after": ece(calibrated, s)} for k, s in data.heldout.items()},
    }
    print(f"calibrated on {name} ({len(cal_set)} images): temperature {section['temperature']}", flush=True)
    return calibrated, section


COMMANDS.append(
    (
        "train",
        "train a pipeline on the data directory and write it with its model card",
        _train_parser,
        cmd_train,
    )
)


# ---- calibrate


def _calibrate_parser(p: argparse.ArgumentParser) -> None:
    _add_data_dir(p)
    p.add_argument("--model", default=None, help="model file (default: the bundled model)")
    p.add_argument(
        "--output", "-o", default=None, help="where to write the calibrated model (default: over --model)"
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .datasets import load_training_data
    from .evaluation import evaluate_sets, format_report, predict_proba_latency
    from .pipeline import DEFAULT_MODEL, load_card, load_pipeline, save_pipeline

    source = args.model if args.model is not None else DEFAULT_MODEL
    model = load_pipeline(source)
    try:
        card = load_card(source)
    except MathOCRError:
        card = {}
    data = load_training_data(args.data_dir)
    model, section = _calibrate(model, data)
    if section is None:
        raise MathOCRError("nothing to calibrate on: the data directory has no UNIPEN tree")
    report = evaluate_sets(model, data.heldout)
    from .card import command_line, data_digests

    card = {
        **card,
        "calibration": {**section, "command": command_line()},
        "metrics": report,
        "data": {**card.get("data", {}), "heldout": data_digests(data.heldout)},
        # The calibrated classifier is what is timed: calibration changes its cost.
        "latency_predict_proba_8": predict_proba_latency(model, list(data.heldout["mnist/test"].X[:8])),
    }
    path = save_pipeline(model, args.output if args.output is not None else source, card)
    print(format_report(report))
    print(f"wrote {path} (+ .sha256, .json)")
    return 0


COMMANDS.append(
    (
        "calibrate",
        "fit the confidence calibration of a model on held-out writers and rewrite it",
        _calibrate_parser,
        cmd_calibrate,
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


SOLVE_EPILOG = """\
inputs:
  IMAGE may be a file, a folder (searched recursively for .png .jpg .jpeg .webp
  .bmp .gif .tif .tiff, sorted by name), a glob pattern ('scans/**/*.png', quoted so
  the shell leaves it) or '-' for stdin; --manifest adds the paths listed in a CSV
  or JSONL file. Inputs are read lazily and solved 32 at a time, so memory stays
  flat however many there are. --region X,Y,W,H reads only that rectangle of every
  image (pixels of the image as shown upright, after its EXIF orientation; clipped
  at the right and bottom edges); an image it does not reach fails with the code
  invalid_region. Token boxes stay in the whole image's pixels.

output:
  Plain text: one line per solved image on stdout, "IMAGE: EXPRESSION = VALUE",
  with the decimal form in parentheses when it differs ("a.png: 1/8 = 1/8 (0.125)").
  When two readings are close, the line ends with them: "a.png: 112 = 112  [unsure,
  or: 1/2 = 1/2 (0.5)]".
  Errors and warnings go to stderr, as "IMAGE: error: MESSAGE" and
  "IMAGE: warning: MESSAGE", so stdout holds results only.
  --json: exactly one JSON object per image and line on stdout, in the order given,
  failed images included ({"file": ..., "error": ..., "code": ...}); nothing on
  stderr unless the command cannot run at all.
  --output FILE: the same objects written to FILE as JSON Lines (.jsonl), CSV (.csv:
  file, status, expression, value, decimal, confidence, code, error, warnings,
  alternatives) or Parquet (.parquet, needs pyarrow), in input order, flushed as
  they come; a progress bar on stderr when it is a terminal, and a summary line on
  stderr at the end (ok, unsure, errors by code, images/s). --resume keeps the
  results FILE already holds (a run killed half-way) and solves only the others;
  results are matched by their "file" name, so give the inputs as the first time.

exit status:
  0    every image was solved
  1    at least one image failed (missing or unreadable, too large, no symbols
       found, an incomplete or malformed expression, nothing that reads as one,
       division by zero); the others are printed
  2    usage error, or nothing could be solved (the model is missing or corrupt):
       one line on stderr says why
  130  interrupted (Ctrl+C)
  141  stdout was closed before all results were written (e.g. | head -1)

examples:
  mathocr solve mathocr/samples/12+69.png
  mathocr solve --json scans/*.png > results.jsonl
  mathocr solve - < drawing.png
  mathocr solve photo.jpg --region 120,340,600,180
  mathocr solve scans/ --output results.csv --jobs 2
  mathocr solve --manifest class-7b.csv --output marks.jsonl --resume
  mathocr solve 'captchas/**/*.png' --output scores.parquet --scheduler tcp://10.0.0.5:8786"""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _solve_parser(p: argparse.ArgumentParser) -> None:
    p.epilog = SOLVE_EPILOG
    p.set_defaults(solve_parser=p)
    p.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="image files, folders or glob patterns to read; '-' reads stdin",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per image and line, errors included, on stdout",
    )
    p.add_argument("--model", default=None, metavar="PATH", help="pipeline file (default: the bundled model)")
    p.add_argument(
        "--manifest",
        default=None,
        metavar="FILE",
        help="also read the images listed in this CSV or JSONL file (relative paths: from its folder)",
    )
    p.add_argument(
        "--column", default="path", help="the manifest's column of image paths (default: %(default)s)"
    )
    p.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="FILE",
        help="write the results to FILE (.jsonl, .csv or .parquet) and a summary on stderr",
    )
    p.add_argument(
        "--format",
        choices=("jsonl", "csv", "parquet"),
        default=None,
        help="output format when FILE's suffix does not say, or for stdout (jsonl, csv)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the results --output already holds and solve only the images it lacks",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=_positive,
        default=1,
        metavar="N",
        help="solve in N local processes, each loading the model once (default: 1)",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="solve on a Dask LocalCluster of N worker processes (needs dask.distributed)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="solve on this Dask cluster, e.g. tcp://10.0.0.5:8786; the workers read the images, "
        "so they must see the same paths",
    )
    p.add_argument(
        "--batch-size",
        type=_positive,
        default=None,
        metavar="N",
        help="images classified together, and per task sent to a process (default: 32)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    p.add_argument(
        "--region",
        default=None,
        metavar="X,Y,W,H",
        help="read only this rectangle of every image, in pixels (left, top, width, height)",
    )


def _shown_value(d: dict) -> str:
    if d["value"] is None:
        # An alternative says why: "4+33/" as read is not finished.
        return f"no value ({d['code'].replace('_', ' ')})" if d.get("code") else "no value"
    return d["value"] if d["value"] == d["decimal"] else f"{d['value']} ({d['decimal']})"


def _answer(rec: dict) -> str:
    """``12+69 = 81``, or for an equation ``1+1=3: wrong, 1+1 is 2`` / ``1+1=2: right``."""
    text = rec["expression"]
    if rec.get("correct") is None:
        return f"{text.rstrip('=')} = {_shown_value(rec)}"
    if rec["correct"]:
        return f"{text}: right"
    return f"{text}: wrong, {text.split('=')[0]} is {_shown_value(rec)}"


def _print_text(rec: dict) -> None:
    """One record the human way: the result on stdout, its error and warnings on stderr."""
    name = rec["file"]
    if rec.get("lines") and rec["status"] != "error":
        for k, line in enumerate(rec["lines"], 1):
            if line["status"] != "error":
                print(f"{name}: line {k}: {_answer(line)}", flush=True)
    elif rec["status"] != "error":
        line = f"{name}: {_answer(rec)}"
        if rec["alternatives"]:
            others = "; ".join(f"{a['expression']} = {_shown_value(a)}" for a in rec["alternatives"])
            line += f"  [unsure, or: {others}]"
        print(line, flush=True)
    else:
        read = f" (read: {rec['expression']})" if rec.get("tokens") else ""
        print(f"{name}: error: {rec['error']}{read}", file=sys.stderr, flush=True)
    for warning in rec["warnings"]:
        print(f"{name}: warning: {warning}", file=sys.stderr, flush=True)


def _solve_region(args: argparse.Namespace) -> Region | None:
    """The parsed ``--region``, or None; a bad value or combination is a usage error (exit 2)."""
    if args.region is None:
        return None
    from .errors import RegionError
    from .region import Region

    try:
        return Region.parse(args.region)
    except RegionError as exc:
        args.solve_parser.error(f"--region: {exc}")


def cmd_solve(args: argparse.Namespace) -> int:
    """Read each image, solve them in chunks, print or write one result per image.

    Results go to stdout; in plain-text mode errors and warnings go to stderr, so
    stdout holds results only. With ``--json`` every image, failed or not, is one JSON
    object on one line of stdout; with ``--output`` the same objects go to a file, with
    a summary on stderr. Exit status 1 when any image failed (unreadable, too large,
    nothing found, no value), else 0; see :data:`SOLVE_EPILOG`. The machinery is
    :mod:`mathocr.batch`.
    """
    import contextlib

    from . import batch
    from .solver import BATCH_SIZE, Solver

    if not args.images and args.manifest is None:
        args.solve_parser.error("the following arguments are required: IMAGE (or --manifest)")
    if args.resume and args.output is None:
        args.solve_parser.error("--resume needs --output FILE")
    if args.workers and args.scheduler:
        args.solve_parser.error("--workers starts a local cluster; --scheduler uses a running one: not both")
    region = _solve_region(args)
    fmt = args.format or ("jsonl" if args.json else None)
    if args.output is not None:
        fmt = batch.output_format(args.output, fmt)  # a bad suffix fails before any work
    items = batch.iter_inputs(args.images, manifest=args.manifest, column=args.column)
    solve: dict = {"model": args.model, "batch_size": args.batch_size or BATCH_SIZE, "region": region}
    with contextlib.ExitStack() as stack:
        if args.workers or args.scheduler:
            solve["client"] = stack.enter_context(batch.dask_client(args.scheduler, args.workers))
        elif args.jobs > 1:
            solve["jobs"] = args.jobs
        else:
            solve["solver"] = Solver.load(args.model)  # here, so a bad model fails before any output
        if args.output is None and fmt is None:
            failed = False
            for rec in batch.solve_records(items, **solve):
                failed |= rec["status"] == "error"
                _print_text(rec)
            return 1 if failed else 0
        summary = batch.run(
            items,
            args.output if args.output is not None else sys.stdout,
            fmt=fmt,
            resume=args.resume,
            # None: a bar only on a terminal's stderr, and not over results shown on it.
            progress=False if args.no_progress or (args.output is None and sys.stdout.isatty()) else None,
            **solve,
        )
    if args.output is not None:
        print(f"{args.output}: {summary}", file=sys.stderr, flush=True)
    return 1 if summary.errors else 0


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
    """Run the benchmark suites (pytest-benchmark) and write the report with ratios to "seed".

    The suites, their runner and the report writer are the source checkout's
    ``benchmarks/`` folder (not packaged), found beside the ``mathocr`` package.
    """
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "harness.py").is_file():
        raise MathOCRError(
            f"mathocr bench runs from a source checkout: there is no benchmarks/ folder beside "
            f"{root / 'mathocr'} (clone the repository, pip install -e '.[dev]' there and run it again)"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks.configs import BENCH_CONFIGS, parse_configs
    from benchmarks.harness import RESULTS, run_suite
    from benchmarks.report import write_report

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
        out = Path("bench-quick") if args.quick else RESULTS
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

    from .card import data_digests, jsonable
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
        "train": data_digests(data.train),
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
