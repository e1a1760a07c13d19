"""A reader of UNIPEN on-line handwriting files, as distributed (``train_r01_v07``).

A UNIPEN data file names the stroke file(s) it labels with ``.INCLUDE path`` (relative
to the tree's ``include/`` folder) and lists its samples as::

    .SEGMENT CHARACTER <components> <quality> "<label>"

Components are the pen blocks of the included files that hold points, numbered from 0
in file order: every ``.PEN_DOWN`` block, and the ``.PEN_UP`` blocks in which a
provider recorded the pen's hover (four providers do: ``cea``, ``ceb``, ``pri`` and
``tos``). A pen-up block is counted and never drawn. (The data's README says that
pen-up blocks are not counted: that holds where they are empty, in every other
provider's files.) ``112-114`` is a range, ``3,5`` a list, and ``399:3-399:42`` is
component 399 from its point 3 to its point 42 (both ends included). The writer is the
``.WRITER_ID`` in force where the sample's first component was written, with the
provider (the first folder under ``data/<category>/``) in front. Tablet y grows
upwards; the strokes returned here have y growing downwards, as on a screen.

A character written across boxes that each start at their own origin (some ``ibm``
files) has lost where its strokes stood: its parts are dropped and counted (see
:func:`read_unipen`).

Structural faults (an unreadable ``.SEGMENT`` line, a missing include file) raise
:class:`~mathocr.errors.DataError` naming the file and line; a segment that points
past the end of its stroke file is dropped and counted (the data's README counts a few
hundred, read by pen-down blocks alone; none is left in ``train_r01_v07``). A pen-down
block whose every point is the tablet's origin, ``(0, 0)``, is no ink (a digitiser's
empty event; 6 samples); it is left out of a sample that holds other ink, and counted:
drawn with the rest it would put a dot a glyph's length away and shrink the glyph into
the opposite corner of its box. A sample of nothing else is kept as it is (a dot, see
:func:`mathocr.datasets.dots`).

Examples
--------
>>> samples, dropped, origin, fragments = read_unipen("data/unipen/train_r01_v07", ("1a",))  # doctest: +SKIP
>>> samples[0].label, samples[0].writer, len(samples[0].strokes)           # doctest: +SKIP
('1', 'pri/w0b53ee01', 1)
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import DataError

CATEGORIES = {"1a": "digits", "1d": "symbols"}

_SEGMENT = re.compile(r'^\.SEGMENT\s+(\S+)\s+(\S+)\s+(\S+)\s+"(.*)"\s*$')
_ENDPOINT = re.compile(r"^(\d+)(?::(\d+))?$")


@dataclass(frozen=True)
class PenSample:
    """One labelled sample: its strokes, label and writer.

    Attributes
    ----------
    strokes : tuple of ndarray
        Each of shape (n, 2), float32 ``(x, y)`` with y growing downwards.
    label : str
        The label as written in the file (escapes such as ``\\@`` resolved).
    writer : str
        ``"<provider>/<WRITER_ID>"``; the include file's path when it names no writer.
    quality : str
        ``"OK"`` or ``"?"``, as in the file.
    where : str
        ``"<data file>:<line>"``, for messages.
    """

    strokes: tuple[np.ndarray, ...]
    label: str
    writer: str
    quality: str
    where: str


@dataclass(frozen=True)
class _StrokeFile:
    components: tuple[np.ndarray, ...]
    writers: tuple[str | None, ...]
    down: tuple[bool, ...]  # a .PEN_DOWN block (else a .PEN_UP block that holds points)
    boxes: tuple[int, ...]  # the .START_BOX a component is in (-1: before any)


def _parse_points(lines: list[str], path: Path, first_line: int) -> np.ndarray:
    try:
        values = [float(v) for line in lines for v in line.split()[:2]]
    except ValueError:
        raise DataError(f"{path}:{first_line}: a pen block holds a non-numeric coordinate") from None
    if len(values) % 2:
        raise DataError(f"{path}:{first_line}: a pen block holds an odd number of coordinates")
    return np.asarray(values, dtype=np.float32).reshape(-1, 2)


@lru_cache(maxsize=256)
def _read_stroke_file(path: Path, include_root: Path) -> _StrokeFile:
    """The components of a stroke file (and of the files it includes), in order: every
    ``.PEN_DOWN`` block, and the ``.PEN_UP`` blocks that hold points.

    Numbered by pen-down blocks alone, the segments of the four providers that record
    the hover name the wrong strokes (letters and scribbles under digit labels, or past
    the end of the file): the bundled model read their samples as labelled 0-15% of the
    time (``cea`` 0 of 9, ``ceb`` 0 of 6, ``pri`` 7 of 104, ``tos``'s held-out writers
    15%), and 82-98% with their pen-up blocks counted. No other provider's pen-up block
    holds a point.
    """
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise DataError(f"cannot read UNIPEN stroke file {path}: {exc}") from None
    components: list[np.ndarray] = []
    writers: list[str | None] = []
    down: list[bool] = []
    boxes: list[int] = []
    box = -1
    writer: str | None = None
    block: list[str] | None = None
    block_down = True
    block_line = 0

    def close() -> None:
        nonlocal block
        if block is not None and (block_down or block):
            components.append(_parse_points(block, path, block_line))
            writers.append(writer)
            down.append(block_down)
            boxes.append(box)
        block = None

    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("."):
            if block is not None and line.strip():
                block.append(line)
            continue
        close()
        keyword, _, rest = line.partition(" ")
        if keyword in (".PEN_DOWN", ".PEN_UP"):
            block, block_line, block_down = [], number, keyword == ".PEN_DOWN"
        elif keyword == ".WRITER_ID":
            writer = rest.strip() or None
        elif keyword == ".START_BOX":
            box += 1
        elif keyword == ".INCLUDE" and _is_stroke_file(rest.strip()):
            nested = _read_stroke_file(_include(include_root, rest.strip(), path, number), include_root)
            components.extend(nested.components)
            writers.extend(w or writer for w in nested.writers)
            down.extend(nested.down)
            # A nested file's boxes are boxes of their own, numbered after this file's.
            boxes.extend(b if b < 0 else b + box + 1 for b in nested.boxes)
            box += max(nested.boxes, default=-1) + 1
    close()
    return _StrokeFile(tuple(components), tuple(writers), tuple(down), tuple(boxes))


def _is_stroke_file(name: str) -> bool:
    # Documentation includes (.doc: setup, coordinates, alphabet) hold no pen data and
    # are not distributed with train_r01_v07; only stroke files (.dat) are followed.
    return not name.lower().endswith(".doc")


def _include(include_root: Path, name: str, path: Path, line: int) -> Path:
    target = include_root / name
    if not name or not target.is_file():
        raise DataError(f"{path}:{line}: included file {name!r} not found under {include_root}")
    return target


def _endpoint(text: str, where: str) -> tuple[int, int | None]:
    m = _ENDPOINT.match(text)
    if not m:
        raise DataError(f"{where}: cannot read component {text!r}")
    return int(m.group(1)), None if m.group(2) is None else int(m.group(2))


def resolve_components(
    spec: str, components: tuple[np.ndarray, ...], where: str, ink: tuple[bool, ...] | None = None
) -> list[np.ndarray] | None:
    """The strokes a ``.SEGMENT`` component list names, or None when it points past the end.

    Parameters
    ----------
    spec : str
        ``"105"``, ``"98-100"``, ``"3,5"``, ``"399:3-399:42"``, ``"379-380:1"``.
    components : tuple of ndarray
        The stroke file's numbered blocks.
    where : str
        ``file:line`` for the error message.
    ink : tuple of bool, optional
        Per component, whether it is ink: components that are not (pen-up blocks that
        count in the numbering) are passed over. All are ink when None.

    Returns
    -------
    list of ndarray or None

    Raises
    ------
    DataError
        If the list is not in UNIPEN's component syntax.

    Examples
    --------
    >>> blocks = tuple(np.arange(8, dtype=np.float32).reshape(-1, 2) + 10 * i for i in range(3))
    >>> [len(s) for s in resolve_components("0-1,2:1-2:2", blocks, "f:1")]
    [4, 4, 2]
    """
    strokes: list[np.ndarray] = []
    for item in spec.split(","):
        first, _, last = item.partition("-")
        (c0, p0), (c1, p1) = _endpoint(first, where), _endpoint(last or first, where)
        if c1 < c0 or c1 >= len(components):
            return None
        for c in range(c0, c1 + 1):
            points = components[c]
            start = p0 if (c == c0 and p0 is not None) else 0
            stop = p1 + 1 if (c == c1 and p1 is not None) else len(points)
            if start >= len(points) or stop > len(points) or start >= stop:
                return None
            if ink is None or ink[c]:
                strokes.append(points[start:stop])
    return strokes


def _unescape(label: str) -> str:
    return re.sub(r"\\(.)", r"\1", label)


def _data_files(root: Path, category: str) -> list[Path]:
    folder = root / "data" / category
    if not folder.is_dir():
        raise DataError(f"UNIPEN category folder {folder} does not exist")
    return sorted(p for p in folder.rglob("*") if p.is_file())


class UnipenRead(NamedTuple):
    """What :func:`read_unipen` read, and what it left out (each a count per label)."""

    samples: list[PenSample]
    dropped: Counter
    origin: Counter
    fragments: Counter


def _span(spec: str, where: str) -> tuple[int, int]:
    """The first and last component a component list names (``"3-5,8:2"``: 3 and 8)."""
    items = spec.split(",")
    first, _, _ = items[0].partition("-")
    start, _, end = items[-1].partition("-")
    return _endpoint(first, where)[0], _endpoint(end or start, where)[0]


def _at_box_origin(strokes: list[np.ndarray]) -> bool:
    """Whether ink written in a box of its own starts at the box's origin in x and y."""
    ink = np.vstack(strokes)
    return bool(ink[:, 0].min() == 0 and ink[:, 1].min() == 0)


NEVER_STRAIGHT = frozenset("023456789+*=")
"""Characters no one writes as one straight stroke: in a box of its own, such a sample
is a piece of the character (:func:`read_unipen`)."""

STRAIGHT = 0.08
"""A stroke is straight when no point of it lies further from its chord than this share
of the chord's length (and the chord spans at least half of the ink's extent)."""


def _one_straight_stroke(strokes: list[np.ndarray]) -> bool:
    """Whether the ink is one straight stroke (:data:`STRAIGHT`): a bar, a stem.

    Examples
    --------
    >>> _one_straight_stroke([np.array([[0, 0], [10, 1], [20, 2]])])
    True
    >>> _one_straight_stroke([np.array([[0, 0], [10, 8], [20, 0]])])
    False
    """
    if len(strokes) != 1 or len(strokes[0]) < 2:
        return False
    points = np.asarray(strokes[0], dtype=np.float64)
    chord = points[-1] - points[0]
    length = float(np.hypot(*chord))
    if length == 0 or length < 0.5 * float(np.ptp(points, axis=0).max()):
        return False
    off = np.abs(chord[0] * (points[:, 1] - points[0, 1]) - chord[1] * (points[:, 0] - points[0, 0]))
    return bool(off.max() <= STRAIGHT * length * length)


def read_unipen(
    root: str | os.PathLike,
    categories: Iterable[str] = ("1a", "1d"),
    labels: Iterable[str] | None = None,
) -> UnipenRead:
    """Read the labelled samples of UNIPEN categories, with their strokes and writers.

    Parameters
    ----------
    root : path-like
        The ``train_r01_v07`` folder (holding ``data/`` and ``include/``).
    categories : iterable of str
        ``"1a"`` (isolated digits), ``"1d"`` (isolated symbols), ...
    labels : iterable of str, optional
        Keep only these labels (after unescaping); all when None.

    Returns
    -------
    UnipenRead
        ``samples``: list of PenSample, in a stable order (data files sorted by path,
        segments in file order). ``dropped``: per label, the segments dropped because
        they point past their stroke file. ``origin``: per label, the samples kept
        without the pen-down blocks they held at the tablet's origin. ``fragments``:
        per label, the segments dropped as parts of one character written across boxes
        whose coordinates each start at the box's origin (see below).

    Notes
    -----
    Some ``ibm`` files put each stroke of a ``+``, ``=``, ``4`` or two-stroke ``0`` in
    a ``.START_BOX`` of its own, label each with the character and give each box's
    coordinates from its own origin: where the strokes stood against each other is not
    in the data, and each part alone (the bar of a ``+``, one bar of an ``=``) reads as
    another character. Consecutive segments with one label, on consecutive components,
    each alone in its box and each starting at the box's origin, are such parts: all
    are dropped and counted (252 segments of ``train_r01_v07``'s categories 1a and 1d, 113 of
    them labelled with mathocr's tokens). Two like characters written in consecutive boxes
    would look the same and be dropped too; of the 90 of the 113 drawn and looked at,
    every one was a part of a character. So is a segment alone in such a box whose ink
    is one straight stroke though its label is no straight character
    (:data:`NEVER_STRAIGHT`): the bar of a ``+`` whose stem is in no segment of its
    label, or in none at all.

    Raises
    ------
    DataError
        If the tree is missing, a ``.SEGMENT`` line is malformed, or an include file is
        missing; the message names the file and line.
    """
    root = Path(root)
    include_root = root / "include"
    if not include_root.is_dir():
        raise DataError(f"{root} is not a UNIPEN tree: {include_root} does not exist")
    keep = None if labels is None else set(labels)
    samples: list[PenSample | None] = []
    dropped: Counter = Counter()
    origin: Counter = Counter()
    fragments: Counter = Counter()
    for category in categories:
        data_root = root / "data" / category
        for path in _data_files(root, category):
            provider = path.relative_to(data_root).parts[0]
            components: tuple[np.ndarray, ...] = ()
            writers: tuple[str | None, ...] = ()
            down: tuple[bool, ...] = ()
            boxes: tuple[int, ...] = ()
            # The previous segment, while it may be part of a character split over boxes:
            # (label, its last component, its box, its index in samples or None).
            part: tuple[str, int, int, int | None] | None = None
            last_include = path
            for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
                where = f"{path.relative_to(root)}:{number}"
                name = line.partition(" ")[2].strip()
                if line.startswith(".INCLUDE") and _is_stroke_file(name):
                    last_include = _include(include_root, name, path, number)
                    more = _read_stroke_file(last_include, include_root)
                    components += more.components
                    writers += more.writers
                    down += more.down
                    boxes += more.boxes
                    continue
                if not line.startswith(".SEGMENT"):
                    continue
                m = _SEGMENT.match(line)
                if not m:
                    raise DataError(f"{where}: cannot read the .SEGMENT line {line!r}")
                _kind, spec, quality, raw_label = m.groups()
                label = _unescape(raw_label)
                previous, part = part, None
                if keep is not None and label not in keep:
                    continue
                if not components:
                    raise DataError(f"{where}: a .SEGMENT line before any .INCLUDE of a stroke file")
                strokes = resolve_components(spec, components, where, down)
                inked = [s for s in strokes or () if s.any()]
                if inked and len(inked) < len(strokes):
                    origin[label] += 1
                    strokes = inked
                if not strokes:
                    dropped[label] += 1
                    continue
                first, last = _span(spec, where)
                if boxes[first] >= 0 and boxes[first] == boxes[last] and _at_box_origin(strokes):
                    follows = (
                        previous is not None
                        and previous[0] == label
                        and previous[1] + 1 == first
                        and previous[2] != boxes[first]
                    )
                    # A straight bar labelled "+" is a piece even alone: its stem went to a
                    # segment of another label, or to none.
                    if follows or (label in NEVER_STRAIGHT and _one_straight_stroke(strokes)):
                        if follows and previous[3] is not None:
                            samples[previous[3]] = None
                            fragments[label] += 1
                        fragments[label] += 1
                        part = (label, last, boxes[first], None)
                        continue
                    part = (label, last, boxes[first], len(samples))
                writer = writers[first] or str(last_include.relative_to(include_root))
                samples.append(
                    PenSample(
                        tuple(np.stack([s[:, 0], -s[:, 1]], axis=1) for s in strokes),
                        label,
                        f"{provider}/{writer}",
                        quality,
                        where,
                    )
                )
    return UnipenRead([s for s in samples if s is not None], dropped, origin, fragments)
