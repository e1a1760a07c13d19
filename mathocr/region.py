"""A rectangle of an image to read: parsed from what people send, clipped to the image.

Coordinates are pixels of the image as shown upright (after its EXIF orientation), origin
at the top left: what :func:`mathocr.io.read_image` returns and what browsers show.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import RegionError

# ASCII digits and spaces only (Python's \d and \s also take other scripts'), and at most 9
# digits a number: no image is that large, and int() refuses strings of over 4,300 digits.
_REGION_TEXT = re.compile(r" *([0-9]{1,9}) *, *([0-9]{1,9}) *, *([0-9]{1,9}) *, *([0-9]{1,9}) *")
_REGION_KEYS = ("x", "y", "w", "h")
_REGION_FORMS = "four whole numbers of pixels x,y,w,h (e.g. 10,20,300,100)"


@dataclass(frozen=True)
class Region:
    """A rectangle of an image to read: left, top, width and height in pixels.

    Coordinates are those of the image as shown upright, after its EXIF orientation is
    applied (as :func:`mathocr.io.read_image` and browsers show it), with the origin at
    the top left.

    Examples
    --------
    >>> Region.parse("10, 20, 300, 100")
    Region(x=10, y=20, w=300, h=100)
    >>> Region.parse({"x": 10, "y": 20, "w": 300, "h": 100}).within(200, 80)
    Region(x=10, y=20, w=190, h=60)
    """

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if min(self.x, self.y) < 0:
            raise RegionError(f"the region starts at ({self.x}, {self.y}): x and y cannot be negative")
        if min(self.w, self.h) < 1:
            raise RegionError(f"the region is {self.w}x{self.h}: width and height must be at least 1 pixel")

    @classmethod
    def parse(cls, value: RegionLike) -> Region:
        """A region from the forms people send it in.

        Parameters
        ----------
        value : Region, str, sequence or mapping
            ``"x,y,w,h"`` (the command line's and the web form's form), four integers,
            or a mapping with exactly the keys ``x``, ``y``, ``w``, ``h`` (the web API's
            JSON). Numbers must be integers: ``10.5`` and ``True`` are refused.

        Returns
        -------
        Region

        Raises
        ------
        mathocr.errors.RegionError
            Malformed, not integers, a negative corner or an empty size.

        Examples
        --------
        >>> Region.parse([0, 0, 50, 40])
        Region(x=0, y=0, w=50, h=40)
        >>> Region.parse("10,20,0,5")
        Traceback (most recent call last):
        ...
        mathocr.errors.RegionError: the region is 0x5: width and height must be at least 1 pixel
        """
        if isinstance(value, Region):
            return value
        if isinstance(value, str):
            match = _REGION_TEXT.fullmatch(value)
            if not match:
                raise RegionError(f"the region must be {_REGION_FORMS}; got {_clip_text(value)!r}")
            return cls(*(int(v) for v in match.groups()))
        if isinstance(value, Mapping):
            if set(value) != set(_REGION_KEYS):
                raise RegionError(
                    f"the region must have exactly the keys x, y, w, h; got {sorted(map(str, value))}"
                )
            return cls(*(_whole(value[k], k) for k in _REGION_KEYS))
        if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)) and len(value) == 4:
            return cls(*(_whole(v, k) for v, k in zip(value, _REGION_KEYS, strict=True)))
        raise RegionError(f"the region must be {_REGION_FORMS}; got {type(value).__name__}")

    def within(self, width: int, height: int) -> Region:
        """This region clipped to a ``width`` x ``height`` image.

        A region running past the right or bottom edge keeps the part inside the image,
        so a box dragged to the edge of a photo reads what it holds.

        Raises
        ------
        mathocr.errors.RegionError
            When the region starts outside the image (no pixel of it is inside).

        Examples
        --------
        >>> Region(0, 0, 10, 10).within(5, 20)
        Region(x=0, y=0, w=5, h=10)
        """
        if self.x >= width or self.y >= height:
            raise RegionError(
                f"the region starts at ({self.x}, {self.y}), outside the {width}x{height} image "
                "(pixels of the image as shown upright, after its EXIF orientation)"
            )
        return Region(self.x, self.y, min(self.w, width - self.x), min(self.h, height - self.y))

    def crop(self, page: np.ndarray) -> np.ndarray:
        """The pixels of ``page`` inside this region (clip it first with :meth:`within`)."""
        return np.ascontiguousarray(page[self.y : self.y + self.h, self.x : self.x + self.w])


RegionLike = Region | str | Sequence[int] | Mapping[str, int]
"""What :meth:`Region.parse` accepts."""


def _whole(value: Any, name: str) -> int:
    """An integer coordinate, or a RegionError: ``True`` and ``10.0`` are not pixel counts."""
    if isinstance(value, bool):
        raise RegionError(f"the region's {name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise RegionError(f"the region's {name} must be an integer, got {_clip_text(repr(value))}") from None


def _clip_text(text: str, limit: int = 40) -> str:
    # An error message quotes what was sent, not a megabyte of it.
    return text if len(text) <= limit else text[:limit] + "…"


__all__ = ["Region", "RegionLike"]
