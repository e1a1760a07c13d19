"""Fixtures of the benchmark suites: the data, a session cache of trained models, test images.

Run them with ``mathocr bench`` (which also writes the report), or directly::

    python -m pytest benchmarks/bench_training.py benchmarks/bench_accuracy.py \\
        benchmarks/bench_latency.py --bench-quick --benchmark-json out.json

Options: ``--bench-quick`` (tiny data, 1 epoch, few rounds), ``--bench-configs
seed,default,...`` (names from :data:`benchmarks.configs.BENCH_CONFIGS`; ``seed`` is always
included), ``--bench-data-dir DIR``. Every configuration is trained once per session
(fixed seeds) and reused by every benchmark that needs it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.conftest (generated data) when pytest is not run with -m
    sys.path.insert(0, str(ROOT))

from benchmarks import configs  # noqa: E402
from benchmarks.interleave import RoundRobin  # noqa: E402
from mathocr import card  # noqa: E402

# Benchmarks run in this module order whatever the command line says: training fills the
# model cache inside the timed fit, the others reuse it.
_MODULE_ORDER = ("bench_training", "bench_accuracy", "bench_latency")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mathocr-bench", "mathocr benchmarks")
    group.addoption("--bench-quick", action="store_true", help="tiny data, 1 epoch, few rounds (CI)")
    group.addoption(
        "--bench-configs",
        default=None,
        metavar="NAMES",
        help=f"comma-separated configurations (default: all; quick: {','.join(configs.QUICK_CONFIGS)})",
    )
    group.addoption(
        "--bench-data-dir",
        default=None,
        metavar="DIR",
        help="data directory (default: $MATHOCR_DATA, then the user cache directory)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bench_configs(which): configurations a benchmark is parametrized over"
    )
    quick = bool(config.getoption("--bench-quick", False))
    try:
        config._bench_configs = configs.parse_configs(config.getoption("--bench-configs", None), quick)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config._bench_budget = configs.budget("quick" if quick else "full")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    def rank(item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""
        return _MODULE_ORDER.index(name) if name in _MODULE_ORDER else len(_MODULE_ORDER)

    items.sort(key=rank)  # stable: keeps the order inside each module


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    b = config._bench_budget
    machine_info["mathocr"] = {
        "host": card.jsonable(card.machine_info()),
        "budget": card.jsonable(asdict(b)),
        "configs": configs.describe_configs(config._bench_configs, b),
    }


_ALLOWED = {
    "all": lambda c: True,
    "trainable": lambda c: configs.BENCH_CONFIGS[c].trainable,
    "serving": lambda c: c in configs.SERVING_CONFIGS,
    "seed": lambda c: c == "seed",
    "cross": lambda c: c in configs.CROSS_CONFIGS,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``config`` (and ``form``) over the selected configurations."""
    if "config" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("bench_configs")
    which = marker.args[0] if marker else "all"
    names = [c for c in metafunc.config._bench_configs if _ALLOWED[which](c)]
    if "form" in metafunc.fixturenames:
        # The shipped model exists only in the inference (ONNX) form.
        pairs = [
            (c, f) for c in names for f in configs.FORMS if f == "onnx" or configs.BENCH_CONFIGS[c].trainable
        ]
        metafunc.parametrize(("config", "form"), pairs, ids=[f"{c}-{f}" for c, f in pairs])
    else:
        metafunc.parametrize("config", names)


# ---------------------------------------------------------------- data


@pytest.fixture(scope="session")
def budget(pytestconfig) -> configs.Budget:
    return pytestconfig._bench_budget


@pytest.fixture(scope="session")
def bench_data_dir(pytestconfig, budget, tmp_path_factory) -> Path:
    """The data directory; a quick run without one gets the tests' generated miniature."""
    from mathocr.datasets import data_home

    root = data_home(pytestconfig.getoption("--bench-data-dir"))
    if (root / "mnist").is_dir() and (root / "symbols").is_dir():
        return root
    if not budget.quick:
        pytest.exit(
            f"no data directory at {root} (expected mnist/ and symbols/): set MATHOCR_DATA or "
            "--bench-data-dir, or run with --bench-quick on generated data",
            returncode=4,
        )
    try:
        from tests.conftest import write_data_dir
    except ImportError:
        pytest.exit(
            f"no data directory at {root}, and no tests/ to generate a miniature one from: set "
            "MATHOCR_DATA or --bench-data-dir",
            returncode=4,
        )
    return write_data_dir(tmp_path_factory.mktemp("bench-data"), n_per_class=12)


@pytest.fixture(scope="session")
def data(bench_data_dir, budget):
    from mathocr.datasets import load_training_data

    return load_training_data(bench_data_dir, limit_per_class=budget.limit_per_class, download=False)


@pytest.fixture(scope="session")
def synth_items(bench_data_dir, budget):
    """Synthetic expressions from held-out symbols, every style, fixed seed."""
    from mathocr.synth import STYLES, make_expression_set

    return make_expression_set(
        budget.synth_per_style * len(STYLES), seed=configs.SYNTH_SEED, data_dir=bench_data_dir
    )


@pytest.fixture(scope="session")
def unseen_symbols(bench_data_dir) -> dict[str, tuple[np.ndarray, ...]] | None:
    """UNIPEN's held-out writers' glyphs, or None when the data directory has no UNIPEN tree."""
    from mathocr.errors import DataError
    from mathocr.synth import unseen_writer_symbols

    try:
        return unseen_writer_symbols(bench_data_dir)
    except DataError:
        return None


@pytest.fixture(scope="session")
def unseen_items(unseen_symbols, budget):
    """Synthetic expressions from unseen writers' glyphs, in the pen styles (canvas, paper)."""
    from mathocr.synth import PEN_STYLES, make_expression_set

    if unseen_symbols is None:
        pytest.skip("no unseen writers' glyphs: the data directory has no UNIPEN tree with every token")
    return make_expression_set(
        budget.unseen_per_style * len(PEN_STYLES),
        styles=list(PEN_STYLES),
        seed=configs.SYNTH_SEED,
        symbols=unseen_symbols,
    )


@pytest.fixture(scope="session", params=["unseen writers", "held-out symbols"])
def form_items(request, unseen_symbols, bench_data_dir, budget) -> tuple[list, str]:
    """School arithmetic, every form but plain: from unseen writers' glyphs in the pen styles,
    and from the training sources' held-out symbols in every style (brackets and ``=``
    drawn by the pen there: those sources have none), to tell the forms' own cost from
    the classifier's on unseen writers."""
    from mathocr.synth import EXPRESSION_FORMS, PEN_STYLES, STYLES, make_expression_set

    if request.param == "held-out symbols":
        styles, glyphs = list(STYLES), {"data_dir": bench_data_dir}
    elif unseen_symbols is None:
        pytest.skip("no unseen writers' glyphs: the data directory has no UNIPEN tree with every token")
    else:
        styles, glyphs = list(PEN_STYLES), {"symbols": unseen_symbols}
    forms = [name for name in EXPRESSION_FORMS if name != "plain"]
    items = make_expression_set(
        budget.forms_items, styles=styles, seed=configs.SYNTH_SEED, forms=forms, **glyphs
    )
    return items, request.param


@pytest.fixture(scope="session")
def invalid_items(unseen_symbols, bench_data_dir, budget) -> tuple[list, str]:
    """Invalid and garbage drawings in every style, and whose glyphs drew their symbols.

    Unseen writers' glyphs where the data has them: the classifier has seen none of them.
    """
    from mathocr.synth import PEN_STYLES, STYLES, heldout_symbols, make_invalid_set

    if unseen_symbols is not None:
        symbols, glyphs = unseen_symbols, "unseen writers"
    else:
        symbols, glyphs = heldout_symbols(bench_data_dir), "held-out symbols"
    items = make_invalid_set(
        symbols,
        budget.invalid_items,
        configs.SYNTH_SEED,
        styles=[*STYLES, *PEN_STYLES],
    )
    return items, glyphs


@pytest.fixture(scope="session")
def crops(synth_items) -> list[np.ndarray]:
    """512 real symbol crops, as the solver passes them to ``predict_proba`` (pages segmented)."""
    from mathocr.io import read_image
    from mathocr.segmentation import segment

    found = [s.crop for item in synth_items for s in segment(read_image(item.image)).segments]
    n = max(configs.BATCH_SIZES)
    return [found[i % len(found)] for i in range(n)]


@pytest.fixture(scope="session")
def pages(synth_items) -> dict[int, tuple[np.ndarray, str]]:
    """One clean synthetic expression at each of :data:`benchmarks.configs.IMAGE_WIDTHS`, with its truth."""
    from PIL import Image

    item = next(
        (i for i in synth_items if i.style == "clean" and len(i.tokens) >= 5),
        next(i for i in synth_items if i.style == "clean"),
    )
    im = Image.fromarray(item.image)
    out = {}
    for w in configs.IMAGE_WIDTHS:
        h = max(1, round(im.height * w / im.width))
        out[w] = (np.asarray(im.resize((w, h), Image.Resampling.LANCZOS)), item.expression)
    return out


# ---------------------------------------------------------------- trained models


@dataclass
class Fitted:
    """A configuration trained once in this session."""

    config: str
    keras: Any
    fit_s: float
    n_images: int
    epochs: int
    onnx: Any = None
    export_s: float | None = None
    files: dict[str, Path] = field(default_factory=dict)


class Models:
    """Session cache: each configuration is trained (or loaded) once and reused."""

    def __init__(self, data, run_budget: configs.Budget, folder: Path):
        self.data = data
        self.budget = run_budget
        self.folder = folder
        self.cache: dict[str, Fitted] = {}
        self._bundled: Any = None

    def train(self, config: str) -> Fitted:
        """Train ``config`` on the whole training set now (timed by ``test_fit``) and cache it."""
        X, y = self.data.training_arrays()
        pipe = configs.make_bench_pipeline(config, self.budget)
        t = time.perf_counter()
        pipe.fit(X, y)
        fitted = Fitted(config, pipe, time.perf_counter() - t, len(y), int(pipe.get_params()["clf__epochs"]))
        self.cache[config] = fitted
        return fitted

    def fitted(self, config: str) -> Fitted:
        return self.cache[config] if config in self.cache else self.train(config)

    def pipe(self, config: str, form: str = "onnx"):
        """The fitted pipeline of ``config`` in the ``"keras"`` or ``"onnx"`` form."""
        if not configs.BENCH_CONFIGS[config].trainable:
            if form != "onnx":
                pytest.skip("the shipped model exists only in the ONNX form")
            return self.bundled()
        f = self.fitted(config)
        if form == "keras":
            return f.keras
        if f.onnx is None:
            from mathocr.pipeline import to_inference

            t = time.perf_counter()
            f.onnx = to_inference(f.keras)
            f.export_s = time.perf_counter() - t
        return f.onnx

    def bundled(self):
        from mathocr.errors import ModelError
        from mathocr.pipeline import load_pipeline

        if self._bundled is None:
            try:
                self._bundled = load_pipeline()
            except ModelError as exc:
                pytest.skip(f"no bundled model: {exc}")
        return self._bundled

    def saved(self, config: str, form: str) -> Path:
        """A model file of ``config`` in ``form`` (the bundled file itself for ``"bundled"``)."""
        from mathocr.pipeline import DEFAULT_MODEL, save_pipeline

        if not configs.BENCH_CONFIGS[config].trainable:
            self.bundled()
            return DEFAULT_MODEL
        f = self.fitted(config)
        if form not in f.files:
            f.files[form] = save_pipeline(self.pipe(config, form), self.folder / f"{config}-{form}.joblib")
        return f.files[form]


@pytest.fixture(scope="session")
def models(data, budget, tmp_path_factory) -> Models:
    return Models(data, budget, tmp_path_factory.mktemp("models"))


# ---------------------------------------------------------------- latency rounds


@pytest.fixture(scope="session")
def round_robin() -> RoundRobin:
    """Round-robin latency measurements of the session (see :mod:`benchmarks.interleave`)."""
    return RoundRobin(over=("config", "form"))


@pytest.fixture
def interleaved(request, benchmark, round_robin):
    """``interleaved(factory, rounds=, warmup_rounds=)``: time ``factory(config=, form=)()`` round-robin.

    The first benchmark of a group (same function, same other parameters) measures every
    configuration of the group round by round; each then reports its own rounds to
    pytest-benchmark and gets back what its call returned in each round.
    """

    def run(factory, *, rounds: int, warmup_rounds: int = 0) -> list:
        return round_robin.run(request.node, benchmark, factory, rounds=rounds, warmup_rounds=warmup_rounds)

    return run
