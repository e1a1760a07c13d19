"""Finding mislabelled training samples with cleanlab, on out-of-fold probabilities.

UNIPEN holds a few percent of garbled or mislabelled segments (a stray dot labelled
``5``, half a glyph, the wrong digit). They are found the way cleanlab recommends: a
small network is fitted on all but one group of writers and predicts the group it
did not see (so no sample is judged by a model that learnt it), and
``cleanlab.filter.find_label_issues`` flags the samples whose given label the
out-of-fold probabilities contradict. Flagged samples are dropped from training
only; held-out sets are reported as they are.

Examples
--------
>>> issues = find_label_issues(images, tokens, writers)   # doctest: +SKIP
>>> int(issues.sum())                                    # doctest: +SKIP
412
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .symbols import CLASSES

# A small, fast network is enough to tell a garbled segment from its label. No batch
# norm: a few hundred steps leave its moving averages unsettled, and the fitted
# network then predicts one class for everything (measured: 79% on its training
# images, 10% on others).
OOF_PARAMS: dict[str, Any] = {
    "clf__filters": (16, 32, 64),
    "clf__dense": (64,),
    "clf__batch_norm": False,
    "clf__epochs": 8,
    "clf__batch_size": 64,
    "clf__augment": 0.0,
    "clf__verbose": 0,
}
N_FOLDS = 3


def out_of_fold_proba(
    X: Sequence[np.ndarray],
    y: np.ndarray,
    groups: Sequence[str],
    n_folds: int = N_FOLDS,
    **params: Any,
) -> np.ndarray:
    """Class probabilities for each sample from a model that never saw its group.

    Parameters
    ----------
    X : sequence of 2-D uint8 arrays
    y : ndarray of str tokens
    groups : sequence of str
        The writer of each sample; folds never split a writer.
    n_folds : int
    **params
        Pipeline overrides on top of :data:`OOF_PARAMS`.

    Returns
    -------
    ndarray of shape (n, len(CLASSES))
        Columns in :data:`~mathocr.symbols.CLASSES` order.
    """
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from .pipeline import make_pipeline

    pipe = make_pipeline("default", **{**OOF_PARAMS, **params})
    proba = cross_val_predict(
        pipe, list(X), np.asarray(y), groups=list(groups), cv=GroupKFold(n_folds), method="predict_proba"
    )
    # cross_val_predict orders columns as np.unique orders the labels.
    present = np.unique(np.asarray(y)).tolist()
    out = np.zeros((len(y), len(CLASSES)))
    out[:, [CLASSES.index(c) for c in present]] = proba
    return out


AMBIGUOUS_PAIRS = frozenset({("1", "/"), ("/", "1")})
"""(given label, out-of-fold first choice) pairs never flagged. A lone slanted stroke is
a ``1`` or a ``/`` by its context, not its shape: of the UNIPEN training samples
cleanlab flags, a third are such strokes (134 ``1``, 72 ``/`` of 435), and by eye they
are written correctly. Dropping them would teach the network that a slanted stroke is
never a ``1``."""


def find_label_issues(
    X: Sequence[np.ndarray],
    y: np.ndarray,
    groups: Sequence[str],
    keep_pairs: frozenset[tuple[str, str]] = AMBIGUOUS_PAIRS,
    **params: Any,
) -> np.ndarray:
    """Boolean mask of the samples whose labels look wrong (cleanlab, out-of-fold).

    Parameters
    ----------
    X, y, groups, **params
        As :func:`out_of_fold_proba`.
    keep_pairs : set of (str, str)
        ``(label, first choice)`` pairs that are ambiguity, not label errors: never flagged.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    from cleanlab.filter import find_label_issues as cleanlab_issues

    proba = out_of_fold_proba(X, y, groups, **params)
    labels = np.asarray([CLASSES.index(t) for t in np.asarray(y).tolist()])
    present = np.unique(labels)
    # cleanlab wants every column to be a class that occurs; absent classes are dropped.
    sub = proba[:, present]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    issues = cleanlab_issues(labels=np.searchsorted(present, labels), pred_probs=sub)
    first = [CLASSES[int(j)] for j in proba.argmax(axis=1)]
    ambiguous = np.asarray([(t, f) in keep_pairs for t, f in zip(np.asarray(y).tolist(), first, strict=True)])
    return issues & ~ambiguous
