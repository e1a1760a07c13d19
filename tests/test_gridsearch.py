"""Grid searches: parameter parsing, the ``mathocr gridsearch`` command, and the same search on Dask.

The searches are 4 candidates x 2 folds of a tiny network, 1 epoch, on generated data.
The Dask run uses a real ``LocalCluster`` of two worker processes (each imports
TensorFlow: that is most of its time).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mathocr.cli import main
from mathocr.gridsearch import format_ranking, make_search, merge_params, parse_param
from mathocr.pipeline import load_card, load_pipeline

from .conftest import write_data_dir


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("normalise__box=18,20", ("normalise__box", [18, 20])),
        ("clf__dense=64", ("clf__dense", [(64,)])),
        ("clf__dense=[64, 32]", ("clf__dense", [(64, 32)])),
        ("clf__filters=[16,32],[32,64]", ("clf__filters", [(16, 32), (32, 64)])),
        ("normalise__method=mnist,squash", ("normalise__method", ["mnist", "squash"])),
        ("clf__learning_rate=1e-3,2e-3", ("clf__learning_rate", [1e-3, 2e-3])),
        ("clf__batch_norm=true,false", ("clf__batch_norm", [True, False])),
        ("clf__augment=0", ("clf__augment", [0])),
    ],
)
def test_parse_param(text, expected):
    assert parse_param(text) == expected


@pytest.mark.parametrize("text", ["clf__dense", "=3", "clf__dense="])
def test_parse_param_rejects(text):
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_param(text)


def test_merge_params_joins_repeated_keys():
    grid = merge_params(
        [parse_param("clf__dense=64"), parse_param("clf__dense=128,64"), parse_param("normalise__box=18,20")]
    )
    assert grid == {"clf__dense": [(64,), (128,)], "normalise__box": [18, 20]}


def test_format_ranking_lists_best_first():
    rows = [
        {
            "rank": 1,
            "mean_score": 0.95,
            "std_score": 0.01,
            "mean_fit_s": 2.0,
            "params": {"clf__dense": (128,)},
        },
        {"rank": 2, "mean_score": 0.9, "std_score": 0.02, "mean_fit_s": 1.0, "params": {"clf__dense": (64,)}},
    ]
    lines = format_ranking(rows).splitlines()
    assert lines[0].split() == ["rank", "score", "fit", "s", "clf__dense"]
    assert lines[1].split()[0] == "1" and lines[1].endswith("128")


def test_make_search_kinds_and_folds():
    grid = {"normalise__box": [18, 20], "clf__dense": [(16,), (32,)]}
    search = make_search(grid, cv=2, clf__epochs=1)
    assert type(search).__name__ == "GridSearchCV"
    # Folds are shuffled: the training set is ordered by source.
    assert search.cv.shuffle and search.cv.get_n_splits() == 2
    assert search.estimator.get_params()["clf__epochs"] == 1
    randomized = make_search(grid, n_iter=2, random_state=3)
    assert type(randomized).__name__ == "RandomizedSearchCV" and randomized.n_iter == 2
    with pytest.raises(ValueError, match="unknown pipeline parameter"):
        make_search({"clf__densse": [(16,)]})


def test_cli_rejects_unknown_parameter(capsys):
    assert main(["gridsearch", "--param", "clf__widht=3"]) == 2
    assert "unknown pipeline parameter(s) clf__widht" in capsys.readouterr().err


# 4 candidates, 2 folds, a tiny network, 1 epoch: a few seconds per run after TensorFlow is loaded.
SEARCH = [
    "gridsearch",
    "--param",
    "clf__dense=16",
    "--param",
    "clf__dense=32",
    "--param",
    "normalise__box=16,20",
    "--cv",
    "2",
    "--set",
    "clf__filters=8,16",
    "--set",
    "clf__convs_per_block=1",
    "--set",
    "clf__epochs=1",
    "--set",
    "clf__augment=0",
    "--set",
    "clf__batch_size=32",
    "--set",
    "clf__learning_rate=5e-3",
]


@pytest.fixture(scope="module")
def search_data(tmp_path_factory):
    return write_data_dir(tmp_path_factory.mktemp("gs-data"), n_per_class=12)


@pytest.fixture(scope="module")
def local_run(search_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("gs-local")
    rc = main(
        [
            *SEARCH,
            "--data-dir",
            str(search_data),
            "--output",
            str(out / "best.joblib"),
            "--results",
            str(out / "results.json"),
        ]
    )
    assert rc == 0
    return out


def test_cli_gridsearch_saves_best_and_ranking(local_run, search_data):
    results = json.loads((local_run / "results.json").read_text())
    ranking = results["ranking"]
    assert len(ranking) == 4 and [r["rank"] for r in ranking] == sorted(r["rank"] for r in ranking)
    assert {tuple(r["params"]) for r in ranking} == {("clf__dense", "normalise__box")}
    assert len(results["cv_results"]["split1_test_score"]) == 4
    # The best pipeline, refitted on everything, saved in the inference form with its card.
    pipe = load_pipeline(local_run / "best.joblib")
    assert type(pipe[-1]).__name__ == "OnnxSymbolClassifier"
    card = load_card(local_run / "best.joblib")
    assert card["search"]["cv"] == 2 and card["ranking"][0]["params"] == card["best_params"]
    assert pipe.get_params()["normalise__box"] == card["best_params"]["normalise__box"]
    assert set(card["metrics"]["sources"]) >= {"mnist/test"}


def _init_ignores_global_random() -> bool:
    """Whether SymbolClassifier's initial weights are independent of Python's global ``random``.

    scikeras seeds ``random`` and Keras draws each layer's initialiser seed from it. In a
    Dask worker another thread (the event loop: heartbeat jitter, retries) draws from the
    same global generator, so unless the estimator gives its layers explicit seeds an
    occasional fit starts from other weights. Simulated here by one extra draw.
    """
    import random
    from unittest import mock

    from mathocr.estimator import SymbolClassifier

    X, y = np.zeros((4, 28, 28), np.float32), np.array(list("0101"))
    real_seed = random.seed

    def weights(extra_draw: bool) -> list[np.ndarray]:
        def seed_then_draw(*args, **kwargs):
            real_seed(*args, **kwargs)
            if extra_draw:
                random.random()

        clf = SymbolClassifier(
            filters=(2,), convs_per_block=1, dense=(4,), augment=0, epochs=1, random_state=0
        )
        with mock.patch("random.seed", seed_then_draw):
            clf.initialize(X, y)
        return clf.model_.get_weights()

    return all(np.array_equal(a, b) for a, b in zip(weights(False), weights(True), strict=True))


def test_same_search_on_dask_cluster_ranks_like_local(local_run, search_data, tmp_path):
    """A real LocalCluster (2 worker processes) gives the local run's scores and ranking.

    Fits are seeded (``random_state=0``, shuffled folds with a fixed seed) and TensorFlow's
    op determinism is on, so on one machine the scores are expected to match exactly. Should
    a platform's kernels differ in the last digits across processes, scores may differ by up
    to one test image per fold, and ranks are compared only where the local scores are
    further apart than that. If the estimator still takes its initial weights from Python's
    global ``random`` (see :func:`_init_ignores_global_random`), a worker fit can start from
    other weights: that known cause is reported as an expected failure, not a flaky one.
    """
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        rc = main(
            [
                *SEARCH,
                "--data-dir",
                str(search_data),
                "--output",
                str(tmp_path / "best.joblib"),
                "--results",
                str(tmp_path / "results.json"),
                "--scheduler",
                cluster.scheduler_address,
            ]
        )
    assert rc == 0
    local = json.loads((local_run / "results.json").read_text())["cv_results"]
    remote = json.loads((tmp_path / "results.json").read_text())["cv_results"]
    assert remote["params"] == local["params"]
    a, b = np.asarray(local["mean_test_score"]), np.asarray(remote["mean_test_score"])
    ra, rb = np.asarray(local["rank_test_score"]), np.asarray(remote["rank_test_score"])
    if np.array_equal(a, b):
        assert np.array_equal(ra, rb)
        return
    if not _init_ignores_global_random():
        pytest.xfail(
            f"initial weights depend on Python's global random (shared with the Dask worker's "
            f"event loop): local {a.round(4)}, dask {b.round(4)}"
        )
    n_images = load_card(local_run / "best.joblib")["data"]["n_images"]
    tol = 1.0 / (n_images // 2)  # one image of a fold's test half
    np.testing.assert_allclose(b, a, atol=tol)
    for i in range(len(a)):
        for j in range(len(a)):
            if a[i] - a[j] > 2 * tol:  # clearly better locally: must rank better on the cluster too
                assert rb[i] < rb[j]
