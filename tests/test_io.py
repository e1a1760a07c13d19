"""mathocr.io.read_image: every input kind and format, orientation, transparency, limits."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mathocr.errors import ImageError, ImageTooLargeError, UnsupportedImageError
from mathocr.io import SUPPORTED_FORMATS, read_image


def picture(w: int = 60, h: int = 40, mode: str = "RGB") -> Image.Image:
    """A white page with a dark bar in its top-left quarter (to check orientation)."""
    arr = np.full((h, w, 3), 255, np.uint8)
    arr[2:12, 4:24] = (10, 10, 10)
    return Image.fromarray(arr).convert(mode)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


# ---------------------------------------------------------------- input kinds


@pytest.fixture
def png_bytes() -> bytes:
    return encode(picture(), "PNG")


def test_bytes_like_inputs(png_bytes):
    for source in (png_bytes, bytearray(png_bytes), memoryview(png_bytes)):
        out = read_image(source)
        assert out.shape == (40, 60, 3) and out.dtype == np.uint8
        assert out[5, 10].max() < 30 and out[30, 50].min() > 230


def test_paths_and_file_objects(tmp_path: Path, png_bytes):
    path = tmp_path / "page.png"
    path.write_bytes(png_bytes)
    expected = read_image(png_bytes)
    assert np.array_equal(read_image(path), expected)
    assert np.array_equal(read_image(str(path)), expected)
    with open(path, "rb") as fh:
        assert np.array_equal(read_image(fh), expected)
    assert np.array_equal(read_image(io.BytesIO(png_bytes)), expected)


def test_pil_image_input():
    im = picture(mode="L")
    out = read_image(im)
    assert out.shape == (40, 60) and out.dtype == np.uint8


@pytest.mark.parametrize(
    ("array", "shape"),
    [
        (np.zeros((20, 30), np.uint8), (20, 30)),
        (np.zeros((20, 30, 1), np.uint8), (20, 30)),
        (np.zeros((20, 30, 3), np.uint8), (20, 30, 3)),
        (np.zeros((20, 30), bool), (20, 30)),
        (np.ones((20, 30), np.float32) * 0.5, (20, 30)),
        (np.full((20, 30), 65535, np.uint16), (20, 30)),
        (np.zeros((20, 30, 4), np.uint8), (20, 30, 3)),
    ],
)
def test_numpy_inputs(array, shape):
    out = read_image(array)
    assert out.shape == shape and out.dtype == np.uint8


def test_numpy_value_scaling():
    assert read_image(np.ones((2, 2), bool)).max() == 255
    assert read_image(np.full((2, 2), 0.5))[0, 0] == 128
    assert read_image(np.full((2, 2), 65535, np.uint16))[0, 0] == 255


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_every_supported_format(fmt):
    data = encode(picture(), fmt)
    out = read_image(data)
    assert out.shape[:2] == (40, 60)
    grey = out if out.ndim == 2 else out.mean(axis=2)
    assert grey[5, 10] < 60 and grey[30, 50] > 200  # the bar, the paper


def test_grey_formats_stay_grey():
    assert read_image(encode(picture(mode="L"), "PNG")).ndim == 2
    assert read_image(encode(picture(mode="1"), "PNG")).ndim == 2
    sixteen = Image.fromarray(np.full((10, 10), 40000, np.uint16))
    out = read_image(encode(sixteen, "PNG"))
    assert out.ndim == 2 and 150 < out[0, 0] < 160


def test_gif_first_frame_and_tiff_first_page():
    white = Image.new("L", (20, 20), 255)
    black = Image.new("L", (20, 20), 0)
    gif = encode(white, "GIF", save_all=True, append_images=[black])
    assert read_image(gif).min() > 200
    tiff = encode(black, "TIFF", save_all=True, append_images=[white])
    assert read_image(tiff).max() < 50


def test_exif_orientation_is_applied():
    im = picture(60, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: display rotated 90° clockwise
    out = read_image(encode(im, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.shape[:2] == (60, 40)
    grey = out.mean(axis=2)
    # the bar (top-left, horizontal) is now top-right and vertical
    assert grey[4:24, 28:38].mean() < 80
    assert grey[4:24, 2:12].mean() > 200


# ---------------------------------------------------------------- transparency


def test_canvas_export_dark_strokes_on_transparent():
    rgba = np.zeros((30, 30, 4), np.uint8)  # transparent black page
    rgba[10:20, 5:25] = (0, 0, 0, 255)
    out = read_image(encode(Image.fromarray(rgba), "PNG"))
    grey = out if out.ndim == 2 else out.mean(axis=2)
    assert grey[0, 0] == 255 and grey[15, 15] == 0


def test_light_strokes_on_transparent_go_onto_black():
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[10:20, 5:25] = (255, 255, 255, 255)
    out = read_image(rgba)
    assert out[0, 0].max() == 0 and out[15, 15].min() == 255


def test_training_images_are_read_as_pages_are(tmp_path: Path):
    """One compositing rule: datasets.read_symbol_image is read_image + grey + ink on black."""
    from mathocr.datasets import read_symbol_image
    from mathocr.preprocessing import to_grey, to_ink_on_black

    dark = np.zeros((30, 30, 4), np.uint8)
    dark[10:20, 5:25] = (0, 0, 0, 255)
    dark[9, 5:25] = (0, 0, 0, 128)  # an anti-aliased edge
    light = dark.copy()
    light[..., :3] = 255  # a dark-mode canvas: white strokes on transparent
    for name, im in {
        "dark": Image.fromarray(dark),
        "light": Image.fromarray(light),
        "la": Image.fromarray(dark).convert("LA"),
        "rgb": picture(),
        "grey": picture(mode="L"),
    }.items():
        path = tmp_path / f"{name}.png"
        im.save(path)
        symbol = read_symbol_image(path)
        np.testing.assert_array_equal(symbol, to_ink_on_black(to_grey(read_image(path))))
        assert symbol.ndim == 2 and symbol[0, 0] == 0, name  # ink on black
    # light strokes are ink, not lost on a white background
    assert read_symbol_image(tmp_path / "light.png")[15, 15] == 255


def test_grey_alpha_and_palette_transparency():
    la = Image.new("LA", (10, 10), (0, 0))
    la.putpixel((5, 5), (0, 255))
    out = read_image(encode(la, "PNG"))
    assert out.ndim == 2 and out[0, 0] == 255 and out[5, 5] == 0
    p = Image.new("P", (10, 10), 0)
    p.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    p.putpixel((5, 5), 1)
    out = read_image(encode(p, "GIF", transparency=0))
    assert tuple(out[0, 0]) == (255, 255, 255) and out[5, 5, 0] == 200


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", ImageError, "empty input"),
        (b"hello, this is text", ImageError, "not an image"),
        (b"%PDF-1.7\n...", UnsupportedImageError, "unsupported image format PDF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", UnsupportedImageError, "SVG"),
    ],
)
def test_bad_bytes(data, error, message):
    with pytest.raises(error, match=message) as info:
        read_image(data)
    assert type(info.value) is error


def test_unsupported_pil_formats_are_named():
    with pytest.raises(UnsupportedImageError, match="ICO") as info:
        read_image(encode(picture(32, 32), "ICO"))
    assert info.value.code == "unsupported_media_type"
    with pytest.raises(UnsupportedImageError, match="PPM"):
        read_image(encode(picture(), "PPM"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP"])
def test_truncated_images(fmt):
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)), fmt)
    with pytest.raises(ImageError, match=r"truncated|cannot decode|not a readable") as info:
        read_image(data[: len(data) // 2])
    assert info.value.code == "invalid_image"


def test_pixel_limit_is_checked_before_decoding():
    big = encode(Image.new("1", (4000, 3000)), "PNG")  # small file, 12 megapixels
    assert len(big) < 100_000
    with pytest.raises(ImageTooLargeError, match="4000x3000") as info:
        read_image(big, max_pixels=10_000_000)
    assert info.value.code == "too_large"
    with pytest.raises(ImageTooLargeError):
        read_image(np.zeros((200, 200), np.uint8), max_pixels=1000)
    with pytest.raises(ImageTooLargeError):
        read_image(Image.new("L", (200, 200)), max_pixels=1000)


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL's own guard, made tiny
    with pytest.raises(ImageTooLargeError, match=r"decompression bomb|too large"):
        read_image(encode(Image.new("L", (100, 100)), "PNG"), max_pixels=10**9)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces ``width`` x ``height`` one-bit pixels (its data is a stub)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(16)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("size", "message"),
    [
        # over Pillow's warning level (89 MP): Pillow used to print DecompressionBombWarning first
        ((12000, 12000), "12000x12000 = 144,000,000 pixels (limit 50,000,000)"),
        # over Pillow's own refusal (179 MP): the message used to quote Pillow's limit
        ((20000, 20000), "400,000,000 pixels (limit 50,000,000)"),
    ],
)
def test_too_large_is_mathocrs_own_error_without_library_warnings(size, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageTooLargeError, match=r"^image is too large: ") as info:
            read_image(png_header_only(*size))
    assert message in str(info.value) and "Pillow" not in str(info.value)
    with pytest.raises(ImageTooLargeError, match=r"limit 1,000,000"):
        read_image(png_header_only(*size), max_pixels=1_000_000)


def test_corrupt_exif_is_no_warning():
    bad_exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x01\x02"  # an IFD cut short
    data = encode(picture(), "JPEG", exif=bad_exif)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = read_image(data)
    assert out.shape == (40, 60, 3)


@pytest.mark.parametrize("kind", ["png", "jpeg", "rgba", "la", "palette", "array", "pil"])
def test_normal_inputs_raise_no_warnings(kind):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[10:20, 5:35] = (0, 0, 0, 255)
    source = {
        "png": lambda: encode(picture(), "PNG"),
        "jpeg": lambda: encode(picture(), "JPEG"),
        "rgba": lambda: encode(Image.fromarray(rgba), "PNG"),
        "la": lambda: encode(Image.fromarray(rgba).convert("LA"), "PNG"),
        "palette": lambda: encode(picture().convert("P"), "GIF"),
        "array": lambda: rgba,
        "pil": lambda: picture(mode="L"),
    }[kind]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(source).dtype == np.uint8


def test_byte_limit(tmp_path: Path, png_bytes):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes)
    limit = len(png_bytes) - 1
    for source in (png_bytes, io.BytesIO(png_bytes), path):
        with pytest.raises(ImageTooLargeError, match="too large"):
            read_image(source, max_bytes=limit)


def test_path_and_object_errors(tmp_path: Path):
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="is a directory"):
        read_image(tmp_path)
    with pytest.raises(ImageError, match="text mode"):
        read_image(io.StringIO("abc"))
    with pytest.raises(ImageError, match="cannot read an image from int"):
        read_image(42)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((0, 5), np.uint8), "no pixels"),
        (np.zeros((2, 3, 5), np.uint8), "shape"),
        (np.zeros((2, 3, 4, 1), np.uint8), "shape"),
        (np.array([[np.nan, 0.0]]), "NaN"),
        (np.array([["a", "b"]]), "dtype"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageError, match=message):
        read_image(array)


def test_nothing_is_written_to_disk(tmp_path: Path, monkeypatch, png_bytes):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "in.png"
    path.write_bytes(png_bytes)
    before = sorted(tmp_path.rglob("*"))
    read_image(path)
    read_image(png_bytes)
    assert sorted(tmp_path.rglob("*")) == before
