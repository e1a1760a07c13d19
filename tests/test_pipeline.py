import hashlib
import json
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from mathocr.calibration import temperature, uncalibrated
from mathocr.errors import ModelError
from mathocr.inference import OnnxSymbolClassifier
from mathocr.pipeline import (
    CONFIGS,
    DEFAULT_MODEL,
    load_card,
    load_pipeline,
    make_pipeline,
    save_pipeline,
    to_inference,
)
from mathocr.symbols import CLASSES


def test_make_pipeline_configs():
    pipe = make_pipeline()
    assert [name for name, _ in pipe.steps] == ["binarise", "normalise", "clf"]
    seed = make_pipeline("seed", clf__epochs=2)
    params = seed.get_params()
    assert params["normalise__method"] == "squash" and params["clf__filters"] == (64, 64)
    assert params["clf__epochs"] == 2 and params["clf__augment"] is False
    assert set(CONFIGS) >= {"default", "seed"}
    with pytest.raises(ValueError, match="unknown config"):
        make_pipeline("best")


def test_seed_config_is_the_old_145k_network(symbol_set):
    X, y = symbol_set
    pipe = make_pipeline("seed", clf__epochs=1).fit(X[:28], y[:28])
    assert pipe[-1].model_.count_params() == 145_102


def test_pipeline_fit_and_score(tiny_pipeline, symbol_set):
    X, y = symbol_set
    assert tiny_pipeline.score(X, y) > 0.5
    assert set(tiny_pipeline.predict(X[:10])) <= set(CLASSES)
    assert clone(tiny_pipeline).get_params()["clf__epochs"] == tiny_pipeline.get_params()["clf__epochs"]


@pytest.fixture(scope="module")
def fast_pipeline(tiny_pipeline):
    return to_inference(tiny_pipeline)


def test_inference_form_matches_keras_form(tiny_pipeline, fast_pipeline, symbol_set):
    X, _ = symbol_set
    assert isinstance(fast_pipeline[-1], OnnxSymbolClassifier)
    assert list(fast_pipeline.classes_) == list(tiny_pipeline.classes_)
    np.testing.assert_allclose(
        fast_pipeline.predict_proba(X[:40]), tiny_pipeline.predict_proba(X[:40]), atol=1e-5
    )
    again = pickle.loads(pickle.dumps(fast_pipeline))
    np.testing.assert_array_equal(again.predict(X[:40]), fast_pipeline.predict(X[:40]))
    assert fast_pipeline.predict_proba([]).shape == (0, 14)


def test_calibrated_inference_form_is_scikit_learns_temperature_scaling(fast_pipeline, symbol_set):
    """The ONNX form takes the temperature itself: the probabilities scikit-learn's
    wrapper gives, with the classifier still the last step (no wrapper to pay for)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from mathocr.calibration import calibrate

    X, y = symbol_set
    cal = calibrate(fast_pipeline, X, y)
    assert isinstance(cal[-1], OnnxSymbolClassifier) and temperature(cal) != 1.0
    features = fast_pipeline[:-1].transform(X)
    wrapped = CalibratedClassifierCV(FrozenEstimator(fast_pipeline[-1]), method="temperature")
    wrapped.fit(features, y)
    test = features[:80]
    np.testing.assert_allclose(cal[-1].predict_proba(test), wrapped.predict_proba(test), atol=1e-6)
    # the network is shared, not changed: the calibration comes off again
    assert fast_pipeline[-1].temperature_ == 1.0 and cal[-1].onnx_model_ is fast_pipeline[-1].onnx_model_
    raw = uncalibrated(cal)
    assert temperature(raw) == 1.0
    np.testing.assert_array_equal(raw.predict_proba(X[:20]), fast_pipeline.predict_proba(X[:20]))
    again = pickle.loads(pickle.dumps(cal))
    np.testing.assert_allclose(again.predict_proba(X[:20]), cal.predict_proba(X[:20]))
    with pytest.raises(ValueError, match="positive"):
        fast_pipeline[-1].with_temperature(0.0)


def test_inference_form_cannot_be_trained(fast_pipeline, symbol_set):
    X, y = symbol_set
    with pytest.raises(ModelError, match="cannot be trained"):
        fast_pipeline[-1].fit(X, y)


def test_save_load_round_trip_with_digest_and_card(fast_pipeline, symbol_set, tmp_path):
    X, _ = symbol_set
    path = save_pipeline(fast_pipeline, tmp_path / "m.joblib", card={"metrics": {"x": 1}})
    digest = (tmp_path / "m.joblib.sha256").read_text().split()[0]
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    card = load_card(path)
    assert card["sha256"] == digest and card["metrics"] == {"x": 1} and "numpy" in card["libraries"]
    loaded = load_pipeline(path)
    np.testing.assert_array_equal(loaded.predict(X[:20]), fast_pipeline.predict(X[:20]))


def test_tampered_or_unverified_model_is_refused(fast_pipeline, tmp_path):
    path = save_pipeline(fast_pipeline, tmp_path / "m.joblib")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256"):
        load_pipeline(path)
    (tmp_path / "m.joblib.sha256").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_pipeline(path)
    with pytest.raises(ModelError, match="no model file"):
        load_pipeline(tmp_path / "absent.joblib")


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "dict.joblib"
    joblib.dump({"not": "a pipeline"}, path)
    (tmp_path / "dict.joblib.sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "\n")
    with pytest.raises(ModelError, match="fitted classifier"):
        load_pipeline(path)
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"not a pickle at all")
    (tmp_path / "garbage.joblib.sha256").write_text(hashlib.sha256(b"not a pickle at all").hexdigest())
    with pytest.raises(ModelError, match="not a readable"):
        load_pipeline(garbage)


def test_inference_form_loads_without_tensorflow(fast_pipeline, tmp_path):
    path = save_pipeline(fast_pipeline, tmp_path / "m.joblib")
    code = (
        "import sys, numpy as np\n"
        "from mathocr.pipeline import load_pipeline\n"
        f"p = load_pipeline({str(path)!r})\n"
        "print(p.predict([np.eye(28, dtype=np.uint8) * 255])[0])\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in CLASSES


def test_bundled_model_and_card():
    pipe = load_pipeline()
    # the bundled model is the ONNX classifier, calibrated by one temperature fitted on unseen writers
    assert isinstance(uncalibrated(pipe)[-1], OnnxSymbolClassifier)
    assert 1.0 < temperature(pipe) < 3.0
    assert sorted(pipe.classes_) == sorted(CLASSES)
    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert card["calibration"]["temperature"] == pytest.approx(temperature(pipe), rel=1e-3)
    assert card["sha256"] == hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
    for key in ("settings", "training", "data", "metrics", "libraries"):
        assert key in card
    assert DEFAULT_MODEL.stat().st_size < 8 * 1024 * 1024


@pytest.mark.data
def test_bundled_model_accuracy_on_official_mnist_test(data_dir):
    from mathocr.datasets import load_mnist

    X, y = load_mnist("test", data_dir, download=False)
    acc = float((load_pipeline().predict(list(X)) == y).mean())
    assert acc >= 0.99  # a regression guard; the model card records the exact figure (99.28%)


def test_train_command_writes_a_loadable_model_and_its_card(tiny_data_dir, tmp_path):
    from mathocr.cli import main

    out = tmp_path / "m.joblib"
    argv = ["train", "--data-dir", str(tiny_data_dir), "--epochs", "1", "--quiet", "-o", str(out)]
    argv += ["--set", "clf__filters=8", "--set", "clf__dense=8", "--pages", "6"]
    assert main(argv) == 0
    pipe = load_pipeline(out)
    assert sorted(pipe.classes_) == sorted(CLASSES)
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert card["settings"]["clf__epochs"] == 1 and card["settings"]["clf__filters"] == 8
    assert set(card["metrics"]["sources"]) == {"mnist/test", "mdas/test", "bhmsds/heldout"}
    training = card["training"]
    assert training["seconds_fit"] > 0 and training["n_images"] == sum(training["per_class"].values())
    # timings are only comparable with the machine they were measured on
    assert training["machine"]["cpu_count"] and "lscpu" in training["machine"]
    # the synthetic pages' crops are training data like any other source, and recorded so
    assert training["pages"] == {"n_pages": 6, "seed": 0}
    pages = card["data"]["train"]["synthetic/pages"]
    assert pages["n"] > 0 and len(pages["sha256"]) == 64
    assert training["n_images"] == sum(v["n"] for v in card["data"]["train"].values())


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--pages", "-1"], "--pages must be 0 or more"), (["--marks-weight", "nan"], "--marks-weight must be")],
)
def test_train_command_rejects_bad_counts_before_reading_data(tmp_path, capsys, option, message):
    from mathocr.cli import main

    argv = ["train", "--data-dir", str(tmp_path / "none"), *option, "-o", str(tmp_path / "m")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "nope"], "unknown config 'nope'"),
        (["--set", "clf__filters=a,b"], "filters must be a sequence of ints"),
        (["--set", "clf__dense=0"], "dense must be a sequence of positive ints"),
        (["--set", "clf__no_such_thing=1"], "Invalid parameter no_such_thing"),
    ],
)
def test_train_command_rejects_bad_settings_before_loading_data(args, message, tmp_path, capsys):
    from mathocr.cli import main

    # the data directory does not exist: the settings must be what fails
    assert main(["train", "--data-dir", str(tmp_path / "none"), *args, "-o", str(tmp_path / "m.joblib")]) == 2
    err = capsys.readouterr().err
    assert "bad training settings" in err and message in err
    assert not (tmp_path / "m.joblib").exists()


def test_evaluation_reports_each_role_apart(fast_pipeline, symbol_set):
    from mathocr.datasets import SymbolSet
    from mathocr.evaluation import evaluate_sets, format_report

    X, y = symbol_set
    report = evaluate_sets(fast_pipeline, {"tiny": SymbolSet(list(X), np.asarray(y), "tiny")})
    r = report["sources"]["tiny"]
    digits = np.isin(y, list("0123456789"))
    pred = fast_pipeline.predict(X)
    assert set(r["per_role"]) == {"digit", "operator"}
    assert r["per_role"]["digit"] == pytest.approx(np.mean(pred[digits] == np.asarray(y)[digits]), abs=1e-4)
    assert "by role: digit" in format_report(report)
