"""Reading images from anything a caller may hold, safely.

:func:`read_image` is the only way images enter the solver. It accepts a path, raw
bytes, a binary file object, a PIL image or a numpy array; decodes PNG, JPEG (and
the MPO variant phones write), WebP, BMP, GIF (first frame) and TIFF (first page);
applies the EXIF orientation; composites transparency onto a background that
contrasts with the ink; and refuses inputs that are too large, truncated, or not
images with a :class:`mathocr.errors.ImageError` naming the problem. Nothing is ever
written to disk. Training images are read by it too
(:func:`mathocr.datasets.read_symbol_image`), so both see the same pixels.

The result is a ``uint8`` array: 2-D (grey) when the source has one channel, else
``(H, W, 3)`` RGB. Colour is kept on purpose: segmentation separates a red or blue
ink from paper better with three channels than with their grey mix.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import threading
import warnings
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple, TypeAlias

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, ImageTooLargeError, UnsupportedImageError
from .preprocessing import to_uint8

ImageSource: TypeAlias = (
    str | os.PathLike | bytes | bytearray | memoryview | BinaryIO | Image.Image | np.ndarray
)
"""What :func:`read_image` reads: a path, encoded bytes, a binary file, a PIL image or pixels."""

MAX_BYTES = 25 * 1024 * 1024
"""Default largest encoded input, in bytes (a 48-megapixel phone JPEG fits)."""

MAX_PIXELS = 50_000_000
"""Default largest decoded image, in pixels (width x height)."""

SUPPORTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
"""PIL format names :func:`read_image` decodes (PIL's JPEG reader also opens the MPO files of phones)."""

# Magic numbers of formats people send that PIL cannot or should not open here,
# so the error says what the file is instead of "not an image".
_KNOWN_OTHER = (
    (b"%PDF", "PDF"),
    (b"<svg", "SVG"),
    (b"<?xml", "SVG/XML"),
    (b"\x00\x00\x00\x1cftypheic", "HEIC"),
    (b"\x00\x00\x00\x18ftypheic", "HEIC"),
    (b"\x00\x00\x00\x20ftypavif", "AVIF"),
    (b"\x00\x00\x00\x1cftypavif", "AVIF"),
)


def _too_large_pixels(width: int, height: int, max_pixels: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"image is too large: {width}x{height} = {width * height:,} pixels "
        f"(limit {max_pixels:,}); send a smaller picture"
    )


def _bomb_error(exc: Exception, max_pixels: int) -> ImageTooLargeError:
    """Pillow's own refusal (over twice ``PIL.Image.MAX_IMAGE_PIXELS``), worded like ours."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = int(found.group(1)) if found else None
    if pixels is not None and pixels > max_pixels:
        return ImageTooLargeError(
            f"image is too large: {pixels:,} pixels (limit {max_pixels:,}); send a smaller picture"
        )
    # Only when a caller raised max_pixels above what Pillow decodes at all.
    pil_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    size = f"{pixels:,} pixels" if pixels is not None else f"over {pil_limit:,} pixels"
    return ImageTooLargeError(
        f"image is too large: {size} (Pillow decodes at most {pil_limit:,}); send a smaller picture"
    )


# Pillow warns where mathocr already decides: DecompressionBombWarning when a header
# announces more pixels than PIL.Image.MAX_IMAGE_PIXELS (mathocr checks its own, lower
# cap, max_pixels, on the same header right after and refuses with a clean error), and
# UserWarning about metadata, e.g. "Corrupt EXIF data" (read with a JPEG's header for its
# DPI, and for the orientation, which is best effort). They are silenced around the
# header read and the EXIF orientation. The warnings filters are global, so mathocr's
# own threads take turns there (a header read takes microseconds).
_WARNINGS_LOCK = threading.Lock()


@contextlib.contextmanager
def _silenced(*categories: type[Warning]) -> Iterator[None]:
    with _WARNINGS_LOCK, warnings.catch_warnings():
        for category in categories:
            warnings.simplefilter("ignore", category)
        yield


def _quiet_header() -> contextlib.AbstractContextManager[None]:
    return _silenced(Image.DecompressionBombWarning, UserWarning)


def _read_bytes(source: Any, max_bytes: int) -> bytes:
    """Return the encoded bytes of a path, bytes-like or binary file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            size = os.path.getsize(path)
            if size > max_bytes:
                raise ImageTooLargeError(f"file {path!r} is too large: {size:,} bytes (limit {max_bytes:,})")
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except FileNotFoundError:
            raise ImageError(f"no such file: {path!r}") from None
        except IsADirectoryError:
            raise ImageError(f"{path!r} is a directory, not an image file") from None
        except OSError as exc:
            raise ImageError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    elif hasattr(source, "read"):
        try:
            data = source.read(max_bytes + 1)
        except OSError as exc:
            raise ImageError(f"cannot read the file object: {exc}") from None
        if isinstance(data, str):
            raise ImageError("the file object is in text mode; open it in binary mode ('rb')")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ImageError(f"the file object's read() returned {type(data).__name__}, not bytes")
        data = bytes(data)
    else:
        raise ImageError(
            f"cannot read an image from {type(source).__name__}; pass a path, bytes, a binary "
            "file object, a PIL image or a numpy array"
        )
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"image data is too large: more than {max_bytes:,} bytes")
    if not data:
        raise ImageError("empty input: 0 bytes of image data")
    return data


def _identify_other(data: bytes) -> str | None:
    """Name the format of data that is an image (or document) we do not decode, if known."""
    head = data[:32].lstrip()
    for magic, name in _KNOWN_OTHER:
        if head.startswith(magic) or data[:32].startswith(magic):
            return name
    try:
        # Header only: Image.open never decodes pixels until load().
        with _quiet_header(), Image.open(io.BytesIO(data)) as im:
            return im.format
    except Exception:
        return None


def _open_bytes(
    data: bytes, max_pixels: int, side: int | None = None, part: int | None = None
) -> tuple[Image.Image, tuple[int, int]]:
    """Open, check and decode ``data``; a JPEG reduced towards ``side`` (see :func:`read_reduced`).

    Returns the image and its whole size as stored (a reduced JPEG is smaller)."""
    try:
        with _quiet_header():
            im = Image.open(io.BytesIO(data), formats=list(SUPPORTED_FORMATS))
    except UnidentifiedImageError:
        other = _identify_other(data)
        if other:
            raise UnsupportedImageError(
                f"unsupported image format {other}; supported: {', '.join(SUPPORTED_FORMATS)}"
            ) from None
        raise ImageError(
            f"not an image: the data is not in any supported format ({', '.join(SUPPORTED_FORMATS)})"
        ) from None
    except Image.DecompressionBombError as exc:
        raise _bomb_error(exc, max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if "truncated" in str(exc).lower():
            raise ImageError(f"truncated image: {exc}") from None
        raise ImageError(f"not a readable image: {exc}") from None
    width, height = im.size
    # Checked before load(): the header is all that was read, so a bomb never expands.
    if width * height > max_pixels:
        raise _too_large_pixels(width, height, max_pixels)
    if width == 0 or height == 0:
        raise ImageError(f"image has no pixels ({width}x{height})")
    longer = max(width, height)
    if side and part:  # only a part will be looked at: it needs the `side` pixels
        side = math.ceil(side * longer / max(1, min(part, longer)))
    if side and im.format in ("JPEG", "MPO") and longer >= 2 * side:
        # JPEG decodes at 1/2, 1/4 or 1/8 of its size from its DCT coefficients, far faster
        # and smaller; Pillow picks the smallest scale that stays at least this large.
        k = longer / side
        im.draft(im.mode, (math.ceil(width / k), math.ceil(height / k)))
    try:
        im.seek(0)  # first frame of a GIF, first page of a TIFF
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # A GIF frame may reach past the header's size; the warning only under -W error.
        raise _bomb_error(exc, max_pixels) from None
    except EOFError:
        raise ImageError(f"truncated {im.format} image: the data ends before the pixels do") from None
    except (OSError, SyntaxError, ValueError) as exc:
        msg = str(exc)
        if "truncated" in msg.lower() or "broken" in msg.lower():
            raise ImageError(f"truncated {im.format} image: {msg}") from None
        raise ImageError(f"cannot decode {im.format} image: {msg}") from None
    return im, (width, height)


def _composite(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Flatten colour+alpha onto white, or onto black when the visible ink is light.

    Canvas exports are strokes on a fully transparent page; a dark-mode canvas draws
    white strokes, which would vanish on white.
    """
    a = alpha.astype(np.float32) / 255.0
    visible = a > 0.5
    lum = rgb if rgb.ndim == 2 else rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    # Only judge the ink when the image is mostly transparent, i.e. alpha is the page.
    mostly_clear = visible.mean() < 0.5 if visible.size else True
    light_ink = bool(mostly_clear and visible.any() and float(lum[visible].mean()) > 127.0)
    bg = 0.0 if light_ink else 255.0
    if rgb.ndim == 3:
        a = a[..., None]
    out = rgb.astype(np.float32) * a + bg * (1.0 - a)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _from_pil(im: Image.Image, max_pixels: int) -> np.ndarray:
    width, height = im.size
    if width * height > max_pixels:
        raise _too_large_pixels(width, height, max_pixels)
    try:
        with _silenced(UserWarning):  # "Corrupt EXIF data": orientation is best effort
            im = ImageOps.exif_transpose(im) or im
    except Exception:
        pass
    mode = im.mode
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _to_uint8(np.asarray(im))
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info
    if mode in ("LA", "La"):
        arr = np.asarray(im.convert("LA"), dtype=np.uint8)
        return _composite(arr[..., 0], arr[..., 1])
    if has_alpha:
        arr = np.asarray(im.convert("RGBA"), dtype=np.uint8)
        return _composite(arr[..., :3], arr[..., 3])
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale any numeric array to uint8 grey levels (see :func:`mathocr.preprocessing.to_uint8`)."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ImageError("image array holds NaN or infinite values")
    return to_uint8(arr)


def _from_array(arr: np.ndarray, max_pixels: int) -> np.ndarray:
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ImageError(f"image array has dtype {arr.dtype}; expected numbers")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(
            f"image array has shape {arr.shape}; expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
        )
    height, width = arr.shape[:2]
    if height == 0 or width == 0:
        raise ImageError(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise _too_large_pixels(width, height, max_pixels)
    out = _to_uint8(arr)
    if out.ndim == 3 and out.shape[2] == 4:
        return _composite(out[..., :3], out[..., 3])
    return np.ascontiguousarray(out)


def read_image(
    source: ImageSource,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
) -> np.ndarray:
    """Decode an image into a ``uint8`` array, safely.

    Parameters
    ----------
    source : path, bytes, binary file object, PIL.Image.Image or numpy.ndarray
        Encoded data (PNG, JPEG, WebP, BMP, GIF, TIFF) or decoded pixels. Arrays may
        be 2-D, or ``(H, W, 1|3|4)``; floats in [0, 1], booleans and 16-bit values
        are scaled to 0-255.
    max_pixels : int, default :data:`MAX_PIXELS`
        Largest width x height accepted; checked from the header, before decoding.
    max_bytes : int, default :data:`MAX_BYTES`
        Largest encoded size accepted (paths, bytes and file objects).

    Returns
    -------
    numpy.ndarray
        ``uint8``: shape ``(H, W)`` for grey sources, ``(H, W, 3)`` RGB otherwise.
        EXIF orientation is applied; transparency is composited onto white (onto
        black when the visible strokes are light).

    Raises
    ------
    mathocr.errors.ImageTooLargeError
        Over ``max_bytes`` or ``max_pixels``, or a decompression bomb.
    mathocr.errors.UnsupportedImageError
        A recognised format that is not supported (e.g. PDF, SVG, HEIC, ICO).
    mathocr.errors.ImageError
        Empty, truncated or non-image data, a missing file, an unusable array.

    Examples
    --------
    >>> import numpy as np
    >>> read_image(np.zeros((20, 30), dtype=bool)).shape
    (20, 30)
    >>> read_image(b"not an image")
    Traceback (most recent call last):
    ...
    mathocr.errors.ImageError: not an image: the data is not in any supported format (PNG, JPEG, ...)
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, max_pixels)
    if isinstance(source, Image.Image):
        try:
            return _from_pil(source, max_pixels)
        except (OSError, SyntaxError, EOFError) as exc:
            raise ImageError(f"cannot decode the PIL image: {exc}") from None
    data = _read_bytes(source, max_bytes)
    im, _size = _open_bytes(data, max_pixels)
    with im:
        return _from_pil(im, max_pixels)


class Reduced(NamedTuple):
    """An image decoded at a reduced size: what :func:`read_reduced` returns.

    Attributes
    ----------
    pixels : numpy.ndarray
        As :func:`read_image` returns them, perhaps smaller than the image.
    scale : float
        Pixels of the image per pixel of ``pixels`` (1.0 when decoded at full size; a
        power of two for a reduced JPEG).
    size : (int, int)
        Width and height of the whole image, upright (after the EXIF orientation).
    """

    pixels: np.ndarray
    scale: float
    size: tuple[int, int]


def read_reduced(
    source: ImageSource | Reduced,
    side: int,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    part: int | None = None,
) -> Reduced:
    """Decode an image no larger than needed to see it ``side`` pixels on its longer side.

    A JPEG at least twice that size is decoded at a half, a quarter or an eighth of its
    size (Pillow's ``draft`` mode: a 12-megapixel photo in about a quarter of the time and
    memory); other inputs are read whole, as :func:`read_image` reads them.

    Parameters
    ----------
    source : see :func:`read_image`, or a ``Reduced``
        A ``Reduced`` is returned as it is: the image was decoded already (a server
        decodes under its own limits, then hands the result on).
    side : int
        The longer side the caller will look at the image with (it may reduce further).
    max_pixels, max_bytes : int
        See :func:`read_image`; checked on the whole image.
    part : int, optional
        The longer side, in the image's pixels, of the part that will be looked at (a
        region): the image is then decoded so that the part has ``side`` pixels, or all
        it has.

    Returns
    -------
    Reduced

    Examples
    --------
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (4000, 3000), "white").save(buf, "JPEG")
    >>> r = read_reduced(buf.getvalue(), side=1600)
    >>> r.pixels.shape, r.scale, r.size
    ((1500, 2000, 3), 2.0, (4000, 3000))
    """
    if isinstance(source, Reduced):
        return source
    if isinstance(source, (np.ndarray, Image.Image)):
        pixels = read_image(source, max_pixels, max_bytes)
        return Reduced(pixels, 1.0, (pixels.shape[1], pixels.shape[0]))
    data = _read_bytes(source, max_bytes)
    im, (width, height) = _open_bytes(data, max_pixels, side, part)
    with im:
        decoded = im.size
        pixels = _from_pil(im, max_pixels)
    # The EXIF orientation may have turned the picture a quarter: so is the whole image.
    turned = (pixels.shape[1], pixels.shape[0]) != decoded
    return Reduced(pixels, width / decoded[0], (height, width) if turned else (width, height))
