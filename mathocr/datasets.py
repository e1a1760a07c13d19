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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError
from .symbols import CLASSES, canonical, form, is_known

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


def to_ink_on_black(image: np.ndarray) -> np.ndarray:
    """Return a grey image with white ink on black, inverting it when the background is light.

    The background is taken to be the median of the border pixels: ink rarely
    covers most of an image's border.
    """
    image = np.asarray(image, dtype=np.uint8)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return 255 - image if np.median(border) > 127 else image


def read_symbol_image(path: str | os.PathLike) -> np.ndarray:
    """Read one symbol image file as a grey, ink-on-black ``uint8`` array.

    Transparent images are composited onto white first (canvas exports are ink on
    a transparent background).
    """
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, rgba)
            grey = np.asarray(im.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from None
    return to_ink_on_black(grey)


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
    """

    X: list[np.ndarray]
    y: np.ndarray
    source: str
    paths: list[str] = field(default_factory=list)
    balanced: bool = False

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

        Taken from the class folder an image was read from, else from its token.
        """
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

    def training_arrays(self) -> tuple[list[np.ndarray], np.ndarray]:
        X = [img for s in self.train.values() for img in s.X]
        y = np.concatenate([s.y for s in self.train.values()])
        return X, y

    def sample_weights(self, cap: float = 4.0) -> np.ndarray:
        """Per-image weights, in :meth:`training_arrays` order, that balance written forms.

        Every form (each digit, plus, minus, cross, x, dot, slash, obelus) gets the same
        total weight, each image at most ``cap`` times the weight of the most common
        form's images. Without it, MNIST's 6,700 ones -- many as slanted as a slash --
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
      bhmsds (``bhmsds/heldout``).

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
    if limit_per_class is not None:
        train = {k: _take_per_class(v, limit_per_class, seed) for k, v in train.items()}
        heldout = {k: _take_per_class(v, limit_per_class, seed) for k, v in heldout.items()}
    return TrainingData(train, heldout)
