"""SymbolClassifier as a scikit-learn estimator.

Tests that fit a network for more than a moment are marked ``slow`` (``pytest -m "not
slow"`` leaves them out); building and compiling one, or failing before it, is quick.
"""

import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv
from sklearn.utils.estimator_checks import parametrize_with_checks

from mathocr.estimator import RandomDistortion, SymbolClassifier
from mathocr.network import symbol_cnn
from mathocr.preprocessing import Binarize, Normalize
from mathocr.symbols import NOT_A_SYMBOL

# Checks a small neural network cannot pass, and why. Everything else in
# scikit-learn's generic suite must pass (test_sklearn_compatible runs it all: ~3 minutes
# of one-epoch fits, so it is marked slow).
NEURAL_NET_CANNOT_PASS = {
    "check_classifiers_train": "asks for 83% training accuracy after one fit on a toy problem; a "
    "CNN trained for one epoch from a random start does not get there",
    "check_class_weight_classifiers": "asks class_weight to lift a one-epoch fit above 87% "
    "balanced accuracy on a toy problem: the same one-epoch limit",
    "check_sample_weight_equivalence_on_dense_data": "stochastic mini-batch training: a weight of "
    "2 and a duplicated row change the batches, so the fits differ",
    "check_supervised_y_2d": "scikeras reads a 2-D y as a multi-output target instead of warning "
    "and ravelling it",
    "check_n_features_in_after_fitting": "scikeras raises its own wording for a feature-count "
    "mismatch, not scikit-learn's",
    "check_mixin_order": "scikeras' KerasClassifier lists BaseEstimator before ClassifierMixin; "
    "a subclass cannot reorder its bases",
    "check_estimator_tags_renamed": "scikeras 0.13's base class still defines the pre-1.6 "
    "`_more_tags`; SymbolClassifier itself implements `__sklearn_tags__`",
}

TINY = {"filters": (4,), "convs_per_block": 1, "dense": (8,), "epochs": 1, "batch_size": 16, "augment": False}


def _expected_failures(estimator):
    return NEURAL_NET_CANNOT_PASS


@pytest.mark.slow
@parametrize_with_checks([SymbolClassifier(**TINY)], expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def symbols28(symbol_set):
    X, y = symbol_set
    return Normalize().transform(Binarize().transform(X)), y


def test_is_a_classifier_for_scikit_learn():
    clf = SymbolClassifier()
    assert is_classifier(clf)
    cv = check_cv(2, np.array(list("ab" * 4)), classifier=is_classifier(clf))
    assert isinstance(cv, StratifiedKFold)


def test_init_stores_parameters_only():
    clf = SymbolClassifier(filters=(8, 8), dropout=0.1)
    assert clf.get_params()["filters"] == (8, 8)
    assert not [k for k in vars(clf) if k.endswith("_") and not k.startswith("_")]


@pytest.mark.slow
def test_fit_predict_string_classes(symbols28):
    X, y = symbols28
    clf = SymbolClassifier(
        **{**TINY, "filters": (8, 16), "dense": (32,), "epochs": 8, "dropout": 0.0, "learning_rate": 5e-3}
    ).fit(X, y)
    assert list(clf.classes_) == sorted(set(y))
    proba = clf.predict_proba(X[:8])
    assert proba.shape == (8, 14) and np.allclose(proba.sum(axis=1), 1, atol=1e-4)
    assert clf.score(X, y) > 0.5  # far above chance (1/14) on its own training data


def _small_network(
    meta, compile_kwargs, filters, convs_per_block, dense, dropout, batch_norm, padding, random_state
):
    """A custom `model`, called as symbol_cnn is: here the same builder, 2 filters, no hidden layer."""
    return symbol_cnn(
        meta, compile_kwargs, (2,), convs_per_block, (), dropout, batch_norm, padding, random_state
    )


def test_the_network_is_the_model_parameter(symbols28):
    X, y = symbols28
    clf = SymbolClassifier(**TINY)
    assert clf.get_params()["model"] is symbol_cnn
    assert clone(clf).model is symbol_cnn and pickle.loads(pickle.dumps(clf)).model is symbol_cnn
    clf.initialize(X[:32], y[:32])  # build and compile, no training
    assert [layer.name for layer in clf.model_.layers if "conv" in layer.name] == ["conv0_0"]
    custom = SymbolClassifier(**TINY, model=_small_network).initialize(X[:32], y[:32])
    assert custom.model_.get_layer("conv0_0").filters == 2
    assert not any(layer.name.startswith("dense") for layer in custom.model_.layers)
    assert clone(custom).get_params()["model"] is _small_network


def test_optimizer_loss_and_metrics_are_honoured(symbols28):
    X, y = symbols28
    default = SymbolClassifier(**TINY).initialize(X[:32], y[:32]).model_.get_compile_config()
    assert default["optimizer"]["class_name"] == "Adam"
    schedule = default["optimizer"]["config"]["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["initial_learning_rate"] == 2e-3
    assert schedule["config"]["decay_steps"] == 2  # 32 images / 16 per batch * 1 epoch
    assert default["loss"]["config"] == "sparse_categorical_crossentropy" and default["metrics"] == [
        "accuracy"
    ]

    clf = SymbolClassifier(
        **TINY,
        optimizer="sgd",
        optimizer__momentum=0.5,
        loss="categorical_crossentropy",
        metrics=["accuracy", "top_k_categorical_accuracy"],
    ).initialize(X[:32], y[:32])
    config = clf.model_.get_compile_config()
    assert config["optimizer"]["class_name"] == "SGD" and config["optimizer"]["config"]["momentum"] == 0.5
    assert config["optimizer"]["config"]["learning_rate"]["class_name"] == "CosineDecay"
    assert config["loss"]["config"] == "categorical_crossentropy"
    assert config["metrics"][1]["class_name"] == "TopKCategoricalAccuracy"
    # learning_rate=None: the optimizer's own, constant rate
    constant = SymbolClassifier(**TINY, learning_rate=None, optimizer__learning_rate=0.01)
    lr = constant.initialize(X[:32], y[:32]).model_.get_compile_config()["optimizer"]["config"][
        "learning_rate"
    ]
    assert lr == pytest.approx(0.01)


@pytest.mark.slow
def test_compile_parameters_reach_training(symbols28):
    X, y = symbols28
    clf = SymbolClassifier(
        **TINY, loss="categorical_crossentropy", metrics=["accuracy", "top_k_categorical_accuracy"]
    ).fit(X, y)
    assert set(clf.history_) == {"loss", "accuracy", "top_k_categorical_accuracy"}
    assert clf.predict(X[:3]).dtype.kind in "UO" and clf.predict_proba(X[:3]).shape == (3, 14)


@pytest.mark.parametrize(
    "params,msg",
    [
        ({"filters": ()}, "filters"),
        ({"dropout": 1.5}, "dropout"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"padding": "full"}, "padding"),
        ({"filters": (4,) * 5}, "blocks"),
        ({"convs_per_block": 0}, "convs_per_block"),
        ({"filters": (4, 4), "convs_per_block": (1, 2, 2)}, "one such int per block"),
    ],
)
def test_bad_hyperparameters_fail_in_fit(symbols28, params, msg):
    X, y = symbols28
    clf = SymbolClassifier(**{**TINY, **params})  # constructing never validates
    with pytest.raises(ValueError, match=msg):
        clf.fit(X[:20], y[:20])


def test_convolutions_can_differ_per_block(symbols28):
    X, y = symbols28
    clf = SymbolClassifier(**{**TINY, "filters": (4, 6, 8), "convs_per_block": (1, 2, 3)}).fit(X[:20], y[:20])
    convs = [layer.name for layer in clf.model_.layers if layer.name.startswith("conv")]
    assert convs == ["conv0_0", "conv1_0", "conv1_1", "conv2_0", "conv2_1", "conv2_2"]


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_marks_that_are_no_symbol_are_no_class_and_read_as_unsure(symbols28, loss):
    X, y = symbols28
    rng = np.random.default_rng(0)
    # scattered specks and bars: shapes no symbol has
    marks = (rng.random((140, 28, 28)) < 0.15).astype(np.float32)
    marks[::2, 4:8, :] = 1.0
    params = {**TINY, "filters": (8, 16), "dense": (32,), "epochs": 8, "dropout": 0.0, "learning_rate": 5e-3}
    clf = SymbolClassifier(**params, loss=loss)
    clf.fit(np.concatenate([X, marks]), np.concatenate([y, np.full(len(marks), NOT_A_SYMBOL)]))
    assert list(clf.classes_) == sorted(set(y))  # not a class
    unsure = clf.predict_proba(marks[:40]).max(axis=1)
    sure = clf.predict_proba(X[:40]).max(axis=1)
    # spread over the 14 classes (a class learnt for them would be near 1)
    assert np.median(unsure) < 0.35 < np.median(sure)
    assert clf.score(X, y) > 0.5


def test_only_marks_that_are_no_symbol_is_nothing_to_learn(symbols28):
    X, _ = symbols28
    with pytest.raises(ValueError, match="no class to learn"):
        SymbolClassifier(**TINY).fit(X[:8], np.full(8, NOT_A_SYMBOL))


@pytest.mark.slow
def test_pickle_round_trip_same_predictions(tiny_pipeline, symbol_set):
    X, _ = symbol_set
    clf = tiny_pipeline[-1]
    X28 = tiny_pipeline[:-1].transform(X[:30])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.predict_proba(X28), clf.predict_proba(X28), atol=1e-6)


@pytest.mark.slow
def test_one_image_gets_one_row_of_probabilities(tiny_pipeline, symbol_set):
    from mathocr.pipeline import to_inference

    X, _ = symbol_set
    for pipe in (tiny_pipeline, to_inference(tiny_pipeline)):
        proba = pipe.predict_proba(X[:1])
        assert proba.shape == (1, len(pipe.classes_))
        assert pipe.predict(X[:1]).shape == (1,)


@pytest.mark.slow
def test_clone_is_unfitted_with_same_params(tiny_pipeline):
    c = clone(tiny_pipeline[-1])
    assert c.get_params() == tiny_pipeline[-1].get_params()
    assert not hasattr(c, "model_")


@pytest.mark.slow
def test_gridsearch_uses_stratified_folds_and_classifier_scorer(symbols28):
    X, y = symbols28
    search = GridSearchCV(
        SymbolClassifier(**TINY),
        {"dense": [(8,), (16,)]},
        cv=2,
        scoring="balanced_accuracy",
        error_score="raise",
    )
    search.fit(X, y)
    assert isinstance(check_cv(2, y, classifier=True), StratifiedKFold)
    assert set(search.cv_results_["param_dense"]) == {(8,), (16,)}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.classes_.tolist() == sorted(set(y))


@pytest.mark.slow
def test_onnx_export_matches_keras(tiny_pipeline, symbol_set):
    import onnxruntime as ort

    X, _ = symbol_set
    clf = tiny_pipeline[-1]
    X28 = tiny_pipeline[:-1].transform(X[:16])
    session = ort.InferenceSession(clf.to_onnx())
    out = session.run(None, {session.get_inputs()[0].name: X28[..., None].astype(np.float32)})[0]
    np.testing.assert_allclose(out, clf.predict_proba(X28), atol=1e-5)


def test_augmentation_is_training_only(symbols28):
    import keras

    X, _ = symbols28
    layer = RandomDistortion(seed=0)
    x = X[:4, ..., None]
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    warped = np.asarray(layer(x, training=True))
    assert warped.shape == x.shape and not np.allclose(warped, x)
    config = keras.saving.serialize_keras_object(layer)
    assert keras.saving.deserialize_keras_object(config).shear == layer.shear


def test_without_warp_images_are_only_shifted_by_whole_pixels(symbols28):
    X, _ = symbols28
    x = X[:16, ..., None].astype(np.float32)
    plain = RandomDistortion(rotation=0, shear=0, zoom=0, shift=0.1, render=0.0, stroke=0.0, seed=1)
    out = np.asarray(plain(x, training=True))
    shifted = 0
    for i in range(16):
        # Every value is one of the image's own: no interpolation, no rotation, no zoom.
        found = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-3, 4)
            if np.allclose(out[i, ..., 0], _shift(x[i, ..., 0], dy, dx), atol=1e-6)
        ]
        assert found, f"image {i} was warped"
        shifted += found[0] != (0, 0)
    assert shifted >= 8
    # With rotation and zoom the images are resampled: values between the pixels' own.
    warped = np.asarray(RandomDistortion(render=0.0, stroke=0.0, seed=1)(x, training=True))
    assert any(not np.isin(warped[i], x[i]).all() for i in range(16))


def test_redrawing_keeps_the_symbol_and_changes_its_pen(symbols28):
    X, _ = symbols28
    x = X[:16, ..., None].astype(np.float32)
    redraw = RandomDistortion(rotation=0, shear=0, zoom=0, shift=0, render=1.0, stroke=0.0, seed=2)
    out = np.asarray(redraw(x, training=True))
    assert out.shape == x.shape and out.min() >= 0.0 and out.max() <= 1.0
    for i in range(16):
        if x[i].max() == 0:
            continue
        assert not np.allclose(out[i], x[i])
        # Same symbol in the same place: the ink overlaps.
        assert np.corrcoef(out[i].ravel(), x[i].ravel())[0, 1] > 0.6
    # One-pixel-high "images" (scikit-learn's tables) pass through too.
    table = np.random.default_rng(0).random((4, 1, 9, 1)).astype(np.float32)
    assert np.asarray(redraw(table, training=True)).shape == table.shape


def _shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img)
    h, w = img.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


@pytest.mark.slow
def test_augmented_training_leaves_the_network_alone(symbols28):
    X, y = symbols28
    clf = SymbolClassifier(**{**TINY, "augment": 1.0, "warp": 0.5, "epochs": 2})
    clf.fit(X, y)
    assert not any(isinstance(layer, RandomDistortion) for layer in clf.model_.layers)
    assert "train_step" not in vars(clf.model_)  # the fit-time step is gone again
    assert clf.predict_proba(X[:3]).shape == (3, len(clf.classes_))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X[:8]), clf.predict_proba(X[:8]), atol=1e-6)
    with pytest.raises(ValueError, match="warp must be"):
        SymbolClassifier(**{**TINY, "warp": -1}).fit(X, y)
