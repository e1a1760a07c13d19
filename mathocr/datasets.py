"""Where the data lives and how it is read.

The data directory is resolved in this order: an explicit ``data_dir`` argument
(``--data-dir`` on the command line), the ``MATHOCR_DATA`` environment variable,
then a per-user cache directory. Inside it:

``mnist/``
    the four official MNIST IDX files, gzipped or not (downloaded on first use
    when missing and the network allows it).
``symbols/<source>/...``
    folder-per-class image trees of operator symbols; folder names are resolved
    through :data:`mathocr.symbols.ALIASES`.

All loaders return images as 2-D ``uint8`` arrays with white ink on black, the
MNIST convention, whatever the polarity on disk.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import DataError, ImageError
from .io import read_image
from .preprocessing import to_grey, to_ink_on_black
from .strokes import STYLES, distort, render, spread
from .symbols import CLASSES, NOT_A_SYMBOL, NOT_A_SYMBOL_FORM, TOKENS, canonical, form, is_known
from .unipen import PenSample, read_unipen

ENV_VAR = "MATHOCR_DATA"

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_URLS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaceaa05f2c28ebf2a6d3d",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

# The bundled model's split of the operator sources (see load_training_data).
BHMSDS_TRAIN_FRACTION = 0.8
SPLIT_SEED = 20261124

UNIPEN_DIR = Path("unipen") / "train_r01_v07"
# Writers, not samples, are split: a writer in training never appears held out.
UNIPEN_TRAIN_FRACTION = 0.7
# A third of the held-out writers (10% of all) calibrate the model's confidences; the
# rest are the unseen-writer test. Neither is ever trained on.
UNIPEN_CALIBRATION_FRACTION = 1 / 3
UNIPEN_SPLIT_SEED = 20261202
# Each training sample is drawn this many times, each time with its own pen, shape
# change and style (mathocr.strokes): the strokes are cheap, the writers are what counts.
# Four copies with PEN_WOBBLE 0.06 were trained in full and not shipped (README, "What
# did not work"): unseen writers' symbols +0.44 points, their expressions no better.
UNIPEN_COPIES = 2
# How the held-out writers are drawn for the report: a canvas export, 3 px pen, 56 px.
UNIPEN_EVAL_PEN, UNIPEN_EVAL_SIZE = 3.0, 56
# UNIPEN symbols that are no token and look like none (unlike `|`, `[`, `~`, `^` or `\`):
# the training writers' ones are drawn as marks that are no symbol (NOT_A_SYMBOL).
UNIPEN_MARKS = ("@", "$", "%", "#", "&", "?", "<", ">")
# Their total training weight, in the weight of one written form (see sample_weights).
# Off by default: in short runs (2 epochs, seed 0) weight 1 cut the held-out writers' marks
# read with confidence from 26.8% to 9.5%, but Semeion fell 91.71 -> 90.08% (its `1`
# 77.8 -> 71.0%); weight 4: 85.56% (README, "What did not work").
MARKS_WEIGHT = 0.0
SEMEION_FILE = Path("semeion") / "semeion.data"
# Held-out sets whose writers nothing in training comes from (the other held-out sets
# are the training sources' own test splits).
UNSEEN_WRITERS = ("unipen/heldout-writers", "semeion")


def data_home(data_dir: str | os.PathLike | None = None) -> Path:
    """Resolve the data directory.

    Parameters
    ----------
    data_dir : path-like, optional
        Explicit directory. When None, ``$MATHOCR_DATA`` is used, then the
        per-user cache directory (``~/.cache/mathocr`` on Linux).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> data_home("/tmp/somewhere")
    PosixPath('/tmp/somewhere')
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mathocr"))


# ---------------------------------------------------------------------------- IDX / MNIST

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    numpy.ndarray
        With the shape and dtype the file declares.

    Raises
    ------
    DataError
        If the file is truncated or not an IDX file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated (header)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    count = int(np.prod(shape)) if shape else 1
    if len(raw) - header != count * dtype.itemsize:
        raise DataError(
            f"{path} is truncated or corrupt: header says shape {shape}, found {len(raw) - header} data bytes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_mnist_file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def download_mnist(folder: Path) -> None:
    """Download the four official MNIST files into ``folder`` (needs the network)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, md5 in MNIST_MD5.items():
        target = folder / name
        if target.is_file():
            continue
        errors = []
        for base in MNIST_URLS:
            tmp = target.with_suffix(".part")
            try:
                with urllib.request.urlopen(base + name, timeout=30) as resp, open(tmp, "wb") as out:
                    shutil.copyfileobj(resp, out)
                if hashlib.md5(tmp.read_bytes()).hexdigest() != md5:
                    raise DataError(f"checksum mismatch for {base + name}")
                tmp.replace(target)
                break
            except Exception as exc:
                tmp.unlink(missing_ok=True)
                errors.append(f"{base + name}: {exc}")
        else:
            raise DataError("could not download MNIST:\n  " + "\n  ".join(errors))


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST from the official IDX files.

    Parameters
    ----------
    split : {"train", "test"}
        ``"test"`` is the official 10,000-image test set, used only for reporting.
    data_dir : path-like, optional
        Data directory (see :func:`data_home`); files are looked for in
        ``<data_dir>/mnist/`` and then ``<data_dir>/``.
    download : bool, default True
        Download the files into ``<data_dir>/mnist/`` when they are missing.

    Returns
    -------
    X : ndarray of shape (n, 28, 28), uint8, white ink on black
    y : ndarray of shape (n,), str tokens ``"0"``-``"9"``

    Examples
    --------
    >>> X, y = load_mnist("test")  # doctest: +SKIP
    >>> X.shape, y[:3]             # doctest: +SKIP
    ((10000, 28, 28), array(['7', '2', '1'], dtype='<U1'))
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = data_home(data_dir)
    img_stem, lbl_stem = MNIST_FILES[split]
    found = None
    for folder in (root / "mnist", root):
        img, lbl = _find_mnist_file(folder, img_stem), _find_mnist_file(folder, lbl_stem)
        if img and lbl:
            found = (img, lbl)
            break
    if found is None and download:
        try:
            download_mnist(root / "mnist")
        except (DataError, OSError) as exc:
            raise DataError(
                f"MNIST {split} files not found in {root / 'mnist'} (expected {img_stem}[.gz] and "
                f"{lbl_stem}[.gz]) and the download failed: {exc}. Set {ENV_VAR} or --data-dir "
                "to a directory holding them."
            ) from None
        found = (root / "mnist" / f"{img_stem}.gz", root / "mnist" / f"{lbl_stem}.gz")
    if found is None:
        raise DataError(
            f"MNIST {split} files not found in {root / 'mnist'}: expected {img_stem}[.gz] and "
            f"{lbl_stem}[.gz]. Set {ENV_VAR} or --data-dir to a directory holding them."
        )
    images, labels = read_idx(found[0]), read_idx(found[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"MNIST files {found[0].name} / {found[1].name} disagree: "
            f"images {images.shape}, labels {labels.shape}"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{found[1]} holds labels above 9: not an MNIST label file")
    return np.ascontiguousarray(images, dtype=np.uint8), np.asarray(CLASSES, dtype="<U1")[labels]


# ---------------------------------------------------------------------------- symbol folders


# to_ink_on_black (imported above) is mathocr.preprocessing's: one polarity rule for
# training images, Binarize and pages alike.


def read_symbol_image(path: str | os.PathLike) -> np.ndarray:
    """Read one symbol image file as a grey, ink-on-black ``uint8`` array.

    Read exactly as a page to solve is (:func:`mathocr.io.read_image`: the same
    decoders, EXIF orientation, 16-bit scaling, and transparency composited by the same
    rule, onto white or onto black for light strokes), made grey with
    :func:`mathocr.preprocessing.to_grey`, and put ink on black with
    :func:`mathocr.preprocessing.to_ink_on_black`.

    Raises
    ------
    DataError
        If the file cannot be read as an image (the message names it).
    """
    try:
        image = read_image(path)
    except ImageError as exc:
        raise DataError(f"cannot read image {path}: {exc}") from None
    return to_ink_on_black(to_grey(image))


@dataclass
class SymbolSet:
    """Images with their tokens, from one source.

    Attributes
    ----------
    X : list of 2-D uint8 arrays (ink on black)
    y : ndarray of str tokens
    source : str
        Where they come from, e.g. ``"mdas/test"``.
    paths : list of str
        The file each image was read from (empty for IDX data).
    balanced : bool
        True when the set is balanced by token already (crops cut from synthetic
        pages): :meth:`TrainingData.sample_weights` then gives each image weight 1.
    form_names : list of str
        Each image's written form or form name, when neither its folder nor its token
        tells it (UNIPEN's ``*`` is an asterisk, not a cross).
    """

    X: list[np.ndarray]
    y: np.ndarray
    source: str
    paths: list[str] = field(default_factory=list)
    balanced: bool = False
    form_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)

    def digest(self) -> str:
        """SHA-256 over the images and labels, to record which data a model saw."""
        h = hashlib.sha256()
        for img, label in zip(self.X, self.y, strict=False):
            h.update(np.ascontiguousarray(img).tobytes())
            h.update(str(label).encode())
        return h.hexdigest()

    def forms(self) -> np.ndarray:
        """The written form of each image (``"slash"``, ``"obelus"``, ``"7"``, ...).

        Taken from ``form_names``, else the class folder an image was read from, else
        its token.
        """
        if self.form_names:
            return np.asarray([NOT_A_SYMBOL_FORM if n == NOT_A_SYMBOL else form(n) for n in self.form_names])
        if self.paths:
            return np.asarray([form(Path(p).parent.name) for p in self.paths])
        return np.asarray([form(str(t)) for t in self.y])

    def subset(self, index: Iterable[int], source: str | None = None) -> SymbolSet:
        index = list(index)
        return SymbolSet(
            [self.X[i] for i in index],
            self.y[index] if len(index) else self.y[:0],
            source or self.source,
            [self.paths[i] for i in index] if self.paths else [],
            self.balanced,
            [self.form_names[i] for i in index] if self.form_names else [],
        )


def content_hash(image: np.ndarray) -> str:
    """Hash of an image's pixels and shape: equal images get equal hashes."""
    image = np.ascontiguousarray(image)
    return hashlib.sha1(repr(image.shape).encode() + image.tobytes()).hexdigest()


def load_symbol_folder(root: str | os.PathLike, source: str | None = None) -> SymbolSet:
    """Read a folder-per-class image tree.

    Sub-folders whose names are known aliases (``plus``, ``addition_plus``,
    ``forward_slash``, ``times``, ``7``, ...) become classes; other entries are
    ignored. Images are returned ink on black in a stable (sorted) order.

    Parameters
    ----------
    root : path-like
        Folder holding one sub-folder per class.
    source : str, optional
        Name recorded in the result; defaults to the folder name.

    Returns
    -------
    SymbolSet

    Raises
    ------
    DataError
        If the folder is missing, holds no class folder, or an image is unreadable.

    Examples
    --------
    >>> s = load_symbol_folder("data/symbols/bhmsds")  # doctest: +SKIP
    >>> sorted(set(s.y))                               # doctest: +SKIP
    ['*', '+', '-', '/']
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"symbol folder {root} does not exist")
    X: list[np.ndarray] = []
    y: list[str] = []
    paths: list[str] = []
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and is_known(p.name))
    if not class_dirs:
        raise DataError(
            f"{root} holds no class folders; expected sub-folders named like "
            "'plus', 'minus', 'times', 'div', 'addition_plus', 'forward_slash' or digits"
        )
    for folder in class_dirs:
        token = canonical(folder.name)
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            X.append(read_symbol_image(path))
            y.append(token)
            paths.append(str(path))
    if not X:
        raise DataError(f"{root} has class folders but no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return SymbolSet(X, np.asarray(y, dtype="<U1"), source or root.name, paths)


def deduplicate(sets: list[SymbolSet]) -> list[SymbolSet]:
    """Drop repeated images, keeping the first occurrence across all ``sets`` in order.

    Pass held-out sets first: an image that also appears in a training set is then
    removed from training, so no test image can reach training.
    """
    seen: set[str] = set()
    out = []
    for s in sets:
        keep = []
        for i, img in enumerate(s.X):
            h = content_hash(img)
            if h not in seen:
                seen.add(h)
                keep.append(i)
        out.append(s.subset(keep))
    return out


def stratified_split(s: SymbolSet, fraction: float, seed: int) -> tuple[SymbolSet, SymbolSet]:
    """Split a set into (first, rest) with ``fraction`` of each class in the first part."""
    rng = np.random.default_rng(seed)
    first, rest = [], []
    for token in sorted(set(s.y.tolist())):
        idx = np.flatnonzero(s.y == token)
        rng.shuffle(idx)
        cut = round(fraction * len(idx))
        first.extend(idx[:cut].tolist())
        rest.extend(idx[cut:].tolist())
    return s.subset(sorted(first)), s.subset(sorted(rest))


@dataclass
class TrainingData:
    """The training set and the held-out sets, each reported by source."""

    train: dict[str, SymbolSet]
    heldout: dict[str, SymbolSet]
    calibration: dict[str, SymbolSet] = field(default_factory=dict)
    """Held-out images for fitting the confidence calibration, never reported on
    (UNIPEN's calibration writers): see :func:`mathocr.calibration.calibrate`."""
    pen_train: list[PenSample] = field(default_factory=list)
    """UNIPEN's training writers as strokes, drawn into ``train`` by :meth:`add_pen_samples`."""
    pen_marks: list[PenSample] = field(default_factory=list)
    """The same writers' :data:`UNIPEN_MARKS` (no symbol), drawn by :meth:`add_pen_marks`."""
    notes: list[str] = field(default_factory=list)
    """What was missing from the data directory and left out."""

    def add_pen_samples(self, samples: list[PenSample], copies: int = UNIPEN_COPIES, seed: int = 0) -> None:
        """Draw pen samples ``copies`` times each (varied) into ``train["unipen/train"]``."""
        if samples:
            self.train["unipen/train"] = render_pen_samples(samples, "unipen/train", copies, seed)

    def add_pen_marks(self, copies: int = UNIPEN_COPIES, seed: int = 1) -> None:
        """Draw :attr:`pen_marks` ``copies`` times each into ``train["unipen/marks"]``,
        labelled :data:`~mathocr.symbols.NOT_A_SYMBOL`."""
        if self.pen_marks:
            marks = [replace(s, label=NOT_A_SYMBOL) for s in self.pen_marks]
            self.train["unipen/marks"] = render_pen_samples(marks, "unipen/marks", copies, seed)

    def training_arrays(self) -> tuple[list[np.ndarray], np.ndarray]:
        X = [img for s in self.train.values() for img in s.X]
        y = np.concatenate([s.y for s in self.train.values()])
        return X, y

    def sample_weights(self, cap: float = 4.0, marks: float = MARKS_WEIGHT) -> np.ndarray:
        """Per-image weights, in :meth:`training_arrays` order, that balance written forms.

        Every form (each digit, plus, minus, cross, x, dot, slash, obelus) gets the same
        total weight, each image at most ``cap`` times the weight of the most common
        form's images; marks that are no symbol together get ``marks`` times a form's.
        Without it, MNIST's 6,700 ones -- many as slanted as a slash --
        outvote 2,100 slashes and every slash reads as a 1. Images of ``balanced`` sets
        weigh as much as one of the most common form's.
        """
        sets = list(self.train.values())
        forms = np.concatenate([s.forms() for s in sets])
        natural = ~np.concatenate([np.full(len(s), s.balanced) for s in sets])
        weights = np.ones(len(forms))
        if natural.any():
            _names, inverse, counts = np.unique(forms[natural], return_inverse=True, return_counts=True)
            weights[natural] = np.minimum(counts.max() / counts, cap)[inverse]
        weights[forms == NOT_A_SYMBOL_FORM] *= marks
        return weights / weights.mean()


def _take_per_class(s: SymbolSet, limit: int | None, seed: int) -> SymbolSet:
    if limit is None:
        return s
    part, _ = stratified_split(s, 1.0, seed)
    keep = []
    for token in sorted(set(part.y.tolist())):
        keep.extend(np.flatnonzero(part.y == token)[:limit].tolist())
    return part.subset(sorted(keep))


def load_training_data(
    data_dir: str | os.PathLike | None = None,
    limit_per_class: int | None = None,
    seed: int = SPLIT_SEED,
    download: bool = True,
) -> TrainingData:
    """Load every source and split it the way the bundled model is trained.

    * training: MNIST train (60,000), mdas train + val, a seeded
      ``BHMSDS_TRAIN_FRACTION`` of bhmsds (stratified by class);
    * held out: MNIST test (``mnist/test``), mdas test (``mdas/test``), the rest of
      bhmsds (``bhmsds/heldout``);
    * unseen writers: UNIPEN's held-out writers (``unipen/heldout-writers``, split by
      writer with :func:`split_writers`, drawn as a canvas export; a third of those
      writers are kept apart in ``calibration``) and Semeion
      (``semeion``), when the data directory has them (``notes`` says when not).
      UNIPEN's training writers are returned as strokes (``pen_train``), to be
      cleaned and drawn into ``train`` with :meth:`TrainingData.add_pen_samples`;
      their :data:`UNIPEN_MARKS` (``pen_marks``), marks that are no symbol, with
      :meth:`TrainingData.add_pen_marks`. Held-out and calibration writers' marks are
      left out.

    Duplicates are removed by content hash before training sees anything, held-out
    sets first, so an image present in both a held-out and a training split is only
    held out.

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`data_home`.
    limit_per_class : int, optional
        Keep at most this many images per class and source (tests, quick runs).
    seed : int
        Seed of the bhmsds split.
    download : bool
        Allow downloading MNIST when missing.

    Returns
    -------
    TrainingData
    """
    root = data_home(data_dir)
    symbols = root / "symbols"
    if not symbols.is_dir():
        raise DataError(
            f"{symbols} does not exist: expected operator symbol trees such as "
            f"{symbols / 'mdas' / 'train'} and {symbols / 'bhmsds'}. Set {ENV_VAR} or --data-dir."
        )
    Xtr, ytr = load_mnist("train", root, download)
    Xte, yte = load_mnist("test", root, download)
    mnist_train = SymbolSet(list(Xtr), ytr, "mnist/train")
    mnist_test = SymbolSet(list(Xte), yte, "mnist/test")

    mdas = symbols / "mdas"
    heldout: dict[str, SymbolSet] = {"mnist/test": mnist_test}
    train: dict[str, SymbolSet] = {"mnist/train": mnist_train}
    if mdas.is_dir():
        mdas_test = load_symbol_folder(mdas / "test", "mdas/test")
        mdas_train = [load_symbol_folder(mdas / part, f"mdas/{part}") for part in ("train", "val")]
        mdas_test, *mdas_train = deduplicate([mdas_test, *mdas_train])
        heldout["mdas/test"] = mdas_test
        for s in mdas_train:
            train[s.source] = s
    bhmsds = symbols / "bhmsds"
    if bhmsds.is_dir():
        (whole,) = deduplicate([load_symbol_folder(bhmsds, "bhmsds")])
        b_train, b_held = stratified_split(whole, BHMSDS_TRAIN_FRACTION, seed)
        b_train.source, b_held.source = "bhmsds/train", "bhmsds/heldout"
        # an image in both parts after dedup is impossible; keep the check cheap and explicit
        train[b_train.source] = b_train
        heldout[b_held.source] = b_held
    if len(train) == 1:
        raise DataError(f"no operator symbols found under {symbols} (expected mdas/ and/or bhmsds/)")
    notes: list[str] = []
    pen_train: list[PenSample] = []
    pen_marks: list[PenSample] = []
    calibration: dict[str, SymbolSet] = {}
    if (root / UNIPEN_DIR).is_dir():
        pen_all, pen_cal, pen_held = unipen_writer_groups(load_unipen(root, (*CLASSES, *UNIPEN_MARKS)))
        pen_train = [s for s in pen_all if s.label in CLASSES]
        pen_marks = [s for s in pen_all if s.label not in CLASSES]
        pen_cal = [s for s in pen_cal if s.label in CLASSES]
        pen_held = [s for s in pen_held if s.label in CLASSES]
        heldout["unipen/heldout-writers"] = render_pen_samples(
            pen_held, "unipen/heldout-writers", augment=False
        )
        if pen_cal:
            calibration["unipen/calibration-writers"] = render_pen_samples(
                pen_cal, "unipen/calibration-writers", augment=False
            )
    else:
        notes.append(f"no UNIPEN tree at {root / UNIPEN_DIR}: trained without it, no unseen-writer report")
    if (root / SEMEION_FILE).is_file():
        heldout["semeion"] = load_semeion(root)
    else:
        notes.append(f"no Semeion file at {root / SEMEION_FILE}: no Semeion report")
    # Unseen writers lead every report: they are the headline figures.
    heldout = {
        **{k: v for k, v in heldout.items() if k in UNSEEN_WRITERS},
        **{k: v for k, v in heldout.items() if k not in UNSEEN_WRITERS},
    }
    if limit_per_class is not None:
        train = {k: _take_per_class(v, limit_per_class, seed) for k, v in train.items()}
        heldout = {k: _take_per_class(v, limit_per_class, seed) for k, v in heldout.items()}
        calibration = {k: _take_per_class(v, limit_per_class, seed) for k, v in calibration.items()}
        labels = np.asarray([s.label for s in pen_train])
        pen_train = [pen_train[i] for c in CLASSES for i in np.flatnonzero(labels == c)[:limit_per_class]]
        pen_marks = pen_marks[:limit_per_class]
    return TrainingData(train, heldout, calibration, pen_train, pen_marks, notes)


# ---------------------------------------------------------------------------- UNIPEN and Semeion


UNIPEN_TOKENS: tuple[str, ...] = (*CLASSES, *(t for t in TOKENS if t not in CLASSES and t != "."))
"""Every token UNIPEN has samples of: the classes, and ``=`` and brackets (found by their
shape, drawn from unseen writers in the bench). Its ``.`` samples are mostly no dots."""


def load_unipen(
    data_dir: str | os.PathLike | None = None, tokens: Sequence[str] = CLASSES
) -> list[PenSample]:
    """Read UNIPEN's isolated digits (1a) and symbols (1d) that are mathocr tokens.

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`data_home`; the tree is ``<data_dir>/unipen/train_r01_v07``.
    tokens : sequence of str, default :data:`~mathocr.symbols.CLASSES`
        The labels to keep (training and the held-out accuracy read the classes only;
        :data:`UNIPEN_TOKENS` adds ``=`` and brackets).

    Returns
    -------
    list of :class:`~mathocr.unipen.PenSample`
        Labels are tokens (``0``-``9``, ``+ - * /``, ...). UNIPEN's ``*`` is an
        asterisk, a written form of its own.

    Raises
    ------
    DataError
        If the tree is missing or malformed (the message names the file and line).
    """
    root = data_home(data_dir) / UNIPEN_DIR
    categories = [c for c in ("1a", "1d") if (root / "data" / c).is_dir()]
    if not categories:
        raise DataError(f"{root} holds neither data/1a (digits) nor data/1d (symbols)")
    return read_unipen(root, categories, labels=tokens).samples


def split_writers(
    samples: list[PenSample], fraction: float = UNIPEN_TRAIN_FRACTION, seed: int = UNIPEN_SPLIT_SEED
) -> tuple[list[PenSample], list[PenSample]]:
    """Split samples by writer: about ``fraction`` of the writers train, the rest are held out.

    A writer's side is drawn from its name and ``seed`` alone (:func:`writer_draw`), so
    a writer who appears or leaves (a reader fix that resolves more segments, a new
    provider) moves no other writer: a permutation of the sorted writers moved a third
    of them when a reader fix brought two writers in.

    Examples
    --------
    >>> train, held = split_writers(load_unipen())      # doctest: +SKIP
    >>> {s.writer for s in train} & {s.writer for s in held}   # doctest: +SKIP
    set()
    """
    # The writers of the classes' samples only: reading more tokens (brackets) must not
    # bring in a writer of nothing else.
    known = {s.writer for s in samples if s.label in CLASSES}
    chosen = {w for w in known if writer_draw(w, seed) < fraction}
    return (
        [s for s in samples if s.writer in chosen],
        [s for s in samples if s.writer in known and s.writer not in chosen],
    )


def writer_draw(writer: str, seed: int) -> float:
    """A number in [0, 1) fixed by a writer's name and a seed (the first 8 bytes of a SHA-256).

    Examples
    --------
    >>> writer_draw("tos/w1", 0) == writer_draw("tos/w1", 0) != writer_draw("tos/w1", 1)
    True
    """
    digest = hashlib.sha256(f"{seed}:{writer}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def unipen_writer_groups(
    samples: list[PenSample],
) -> tuple[list[PenSample], list[PenSample], list[PenSample]]:
    """UNIPEN's three writer-disjoint groups: training, calibration and held-out writers.

    :data:`UNIPEN_TRAIN_FRACTION` of the writers train; of the others, a seeded
    :data:`UNIPEN_CALIBRATION_FRACTION` fit the confidence temperature and the rest
    are the held-out (unseen) writers every report leads with.

    Examples
    --------
    >>> train, calibration, heldout = unipen_writer_groups(load_unipen())  # doctest: +SKIP
    """
    train, others = split_writers(samples)
    calibration, heldout = split_writers(others, UNIPEN_CALIBRATION_FRACTION, UNIPEN_SPLIT_SEED + 1)
    return train, calibration, heldout


# A mark whose ink spans less than this share of its writer's digit height is a dot.
DOT_EXTENT = 0.2


def dots(samples: list[PenSample]) -> np.ndarray:
    """Which samples are dots: ink smaller than :data:`DOT_EXTENT` of the writer's digits.

    No token of the vocabulary is a dot (a lone dot between digits reads as ``·``,
    a multiplication), yet UNIPEN labels some as ``-``, ``/`` or a digit: a segment
    cut too short. Drawn alone at a fixed size such a sample becomes a blob whose
    label no reader could give. The rule is the writer's own scale (the median
    height of their ``0`` and ``2``-``9``; a ``1`` is all height), not a model's
    opinion, so it can filter a test set without favouring the model under test.
    Writers with no such digit keep every sample.

    Returns
    -------
    ndarray of bool, shape (len(samples),)

    Examples
    --------
    >>> held = unipen_writer_groups(load_unipen())[2]              # doctest: +SKIP
    >>> int(dots(held).sum())                                       # doctest: +SKIP
    24
    """
    heights: dict[str, list[float]] = {}
    for s in samples:
        if s.label.isdigit() and s.label != "1":
            heights.setdefault(s.writer, []).append(float(np.ptp(np.concatenate(s.strokes)[:, 1])))
    scale = {w: float(np.median(h)) for w, h in heights.items()}
    out = np.zeros(len(samples), dtype=bool)
    for i, s in enumerate(samples):
        if s.writer in scale:
            ink = np.concatenate(s.strokes)
            out[i] = float(np.ptp(ink, axis=0).max()) < DOT_EXTENT * scale[s.writer]
    return out


# How often each of strokes.STYLES is drawn for training (canvas, paper, lowres, box).
_STYLE_P = (0.45, 0.25, 0.15, 0.15)
_STYLE_P_NO_BOX = (0.5, 0.3, 0.2, 0.0)
# A lone stroke is a `1` or a `/` by its slant: it is never slanted further, nor
# stretched to fill a box (that turns both into the same diagonal bar; measured at 3
# epochs with both: MNIST test's `1` fell from 98.5% to 91.3%, read as `/`). A minus
# stretched to fill a square is a black square. What is a bar is told by the ink's
# shape, not its label: a `1` with a flag or a foot (a third of UNIPEN's) keeps its
# shape when stretched, and is how a form reader such as Semeion's delivers it.
_KEEP_SLANT = frozenset("1/")
_BAR_SPREAD = 0.25
_KEEP_SLANT_ARGS = {t: {"rotate": 0.0, "shear": 0.0} for t in _KEEP_SLANT}
# The wobble of mathocr.strokes.distort given to every other training sample (a wave
# bends a lone stroke as a slant would: a `1` or `/` would get none). Off: short runs
# (2 epochs, seed 0), UNIPEN held-out / Semeion: none 91.32 / 91.71%, 0.06 91.46 / 92.47%,
# 0.12 91.40 / 92.03%, and no gain in expressions at full length (see UNIPEN_COPIES).
PEN_WOBBLE = 0.0


def render_pen_samples(
    samples: list[PenSample], source: str, copies: int = 1, seed: int = 0, augment: bool = True
) -> SymbolSet:
    """Draw pen samples as images (ink on black) with :func:`mathocr.strokes.render`.

    With ``augment``, each copy gets its own shape change (slant, rotation, stretch),
    pen width, size and style (canvas, paper, low-resolution scan, or a scan stretched
    to fill its box); without it,
    every sample is drawn once as the held-out report draws it.
    """
    rng = np.random.default_rng(seed)
    X: list[np.ndarray] = []
    y: list[str] = []
    names: list[str] = []
    for sample in samples:
        for _ in range(copies if augment else 1):
            if augment:
                size = float(rng.uniform(28, 72))
                p_style = _STYLE_P_NO_BOX if spread(sample.strokes) < _BAR_SPREAD else _STYLE_P
                shape_args = _KEEP_SLANT_ARGS.get(sample.label, {"wobble": PEN_WOBBLE})
                image = render(
                    distort(sample.strokes, rng, **shape_args),
                    size=size,
                    pen=float(rng.uniform(0.04, 0.16) * size),
                    style=str(rng.choice(STYLES, p=p_style)),
                    rng=rng,
                )
            else:
                image = render(sample.strokes, size=UNIPEN_EVAL_SIZE, pen=UNIPEN_EVAL_PEN)
            X.append(to_ink_on_black(image))
            y.append(sample.label)
            names.append("asterisk" if sample.label == "*" else sample.label)
    return SymbolSet(X, np.asarray(y, dtype="<U1"), source, form_names=names)


def load_semeion(data_dir: str | os.PathLike | None = None) -> SymbolSet:
    """Read the Semeion digits (UCI layout) as images the way a scan arrives.

    Each 16x16 0/1 digit is enlarged 3x (whole pixels) and put on white paper with a
    16-pixel margin. Semeion's digits are stretched to fill their box, so a thin ``1``
    arrives wide: that is part of the test. Never trained on.

    Returns
    -------
    SymbolSet
        Source ``"semeion"``, ink on black.

    Raises
    ------
    DataError
        If the file is missing or a line is not 256 pixels + 10 one-hot labels.
    """
    path = data_home(data_dir) / SEMEION_FILE
    try:
        lines = path.read_text().split("\n")
    except OSError as exc:
        raise DataError(f"cannot read Semeion file {path}: {exc}") from None
    X, y = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            values = np.asarray([float(v) for v in line.split()])
        except ValueError:
            raise DataError(f"{path}:{number}: a non-numeric value") from None
        if values.size != 266 or values[256:].sum() != 1:
            raise DataError(
                f"{path}:{number}: expected 256 pixels and 10 one-hot labels, got {values.size} values"
            )
        digit = (values[:256].reshape(16, 16) > 0.5).astype(np.uint8) * 255
        X.append(np.pad(digit.repeat(3, 0).repeat(3, 1), 16))
        y.append(CLASSES[int(values[256:].argmax())])
    if not X:
        raise DataError(f"{path} holds no digits")
    return SymbolSet(X, np.asarray(y, dtype="<U1"), "semeion")
