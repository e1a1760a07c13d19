"""Fuzzing the JSON API with the real bundled model: no input may cause a 5xx or a crash.

Hypothesis sends random bytes, random JSON, random content types and random (valid)
images of every mode and format the reader accepts; schemathesis generates requests from
the app's own OpenAPI description and checks the answers conform to it. Bounded: about
100 examples per test, no deadline (a solve is tens of milliseconds, but CI is shared).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mathocr.web import create_app
from mathocr.web.handwriting import render_png

SOLVE = "/api/v1/solve"
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@pytest.fixture(scope="module")
def app():
    return create_app()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def assert_well_formed(response, allowed: set[int]) -> dict:
    """No 5xx; JSON always; errors in the one documented shape."""
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.status_code in allowed, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    if response.status_code != 200:
        assert set(body["error"]) == {"code", "message"} and body["error"]["message"]
    return body


ERRORS = {400, 413, 415, 422}


@FUZZ
@given(data=st.binary(max_size=4096), kind=st.sampled_from(["multipart", "raw", "json"]))
def test_random_bytes(client, data, kind):
    if kind == "multipart":
        r = client.post(
            SOLVE, data={"image": (io.BytesIO(data), "x.png")}, content_type="multipart/form-data"
        )
    elif kind == "raw":
        r = client.post(SOLVE, data=data, content_type="image/png")
    else:
        r = client.post(SOLVE, json={"image": "data:image/png;base64," + base64.b64encode(data).decode()})
    assert_well_formed(r, ERRORS | {200})


# Prefixes of real formats, so the fuzzer gets past the first check of each decoder.
MAGIC = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"RIFF\0\0\0\0WEBP",
    b"%PDF-",
]


@FUZZ
@given(magic=st.sampled_from(MAGIC), tail=st.binary(max_size=2048))
def test_broken_files_of_real_formats(client, magic, tail):
    r = client.post(
        SOLVE, data={"image": (io.BytesIO(magic + tail), "x")}, content_type="multipart/form-data"
    )
    assert_well_formed(r, ERRORS)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    body=JSON_VALUES
    | st.fixed_dictionaries({"image": JSON_VALUES})
    | st.fixed_dictionaries({"image": st.text(max_size=200)})
    | st.builds(lambda t, d: {"image": f"data:{t};base64,{d}"}, st.text(max_size=20), st.text(max_size=80))
)
def test_random_json(client, body):
    assert_well_formed(client.post(SOLVE, json=body), ERRORS)


@FUZZ
@given(
    content_type=st.one_of(
        st.sampled_from(
            [
                "",
                "text/plain",
                "application/xml",
                "multipart/form-data",
                "multipart/mixed; boundary=x",
                "application/json; charset=latin-1",
                "image/svg+xml",
                "application/x-www-form-urlencoded",
            ]
        ),
        st.text(max_size=40),
    ),
    data=st.binary(max_size=512),
    method=st.sampled_from(["POST", "GET", "PUT", "PATCH", "DELETE"]),
)
def test_random_content_types_and_methods(client, content_type, data, method):
    try:
        r = client.open(SOLVE, method=method, data=data, headers={"Content-Type": content_type})
    except ValueError:  # the test client itself refuses some header values (newlines)
        return
    assert_well_formed(r, ERRORS | {405})


@st.composite
def images(draw) -> bytes:
    """A real image file: random size, mode, format and content (blank, noise or strokes)."""
    width = draw(st.integers(1, 400))
    height = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    content = draw(st.sampled_from(["blank", "noise", "strokes", "dots"]))
    grey = np.full((height, width), 255, np.uint8)
    if content == "noise":
        grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
    elif content in ("strokes", "dots"):
        from PIL import ImageDraw

        im = Image.fromarray(grey)
        d = ImageDraw.Draw(im)
        for _ in range(draw(st.integers(1, 12))):
            x0, x1 = rng.integers(0, width, 2)
            y0, y1 = rng.integers(0, height, 2)
            w = int(rng.integers(1, 20))
            if content == "strokes":
                d.line((int(x0), int(y0), int(x1), int(y1)), fill=0, width=w)
            else:
                d.ellipse((int(x0), int(y0), int(x0) + w, int(y0) + w), fill=0)
        grey = np.asarray(im)
    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "LA", "1", "P", "I;16"]))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"]))
    im = Image.fromarray(grey)
    if mode == "RGBA":
        rgba = np.zeros((height, width, 4), np.uint8)
        rgba[..., 3] = 255 - grey  # ink as opacity, like a transparent canvas export
        im = Image.fromarray(rgba, "RGBA")
    elif mode == "I;16":
        im = Image.fromarray(grey.astype(np.uint16) * 257)
    else:
        im = im.convert(mode)
    if fmt == "JPEG" and im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    if fmt == "BMP" and im.mode in ("LA", "I;16"):
        im = im.convert("L")
    if fmt in ("GIF", "WEBP") and im.mode == "I;16":
        im = im.convert("L")
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


@FUZZ
@given(data=images())
def test_random_real_images(client, data):
    """Any decodable picture is answered with a solution or a 422, never a server error."""
    r = client.post(SOLVE, data={"image": (io.BytesIO(data), "x")}, content_type="multipart/form-data")
    body = assert_well_formed(r, {200, 422})
    if r.status_code == 200:  # several lines are joined with newlines
        assert body["expression"].replace("\n", "") == "".join(t["symbol"] for t in body["tokens"])
        assert body["expression"].count("\n") == len(body.get("lines", [None])) - 1


REGION_IMAGE = render_png("12+3", size=(300, 100))
# Mostly boxes near the 300x100 image (inside, across its edges, just off it, empty), so
# that many requests are solved; then any text, and lists of the wrong length.
NEAR_BOX = st.tuples(st.integers(0, 320), st.integers(0, 120), st.integers(0, 400), st.integers(0, 150))
REGION_TEXT = (
    NEAR_BOX.map(lambda v: ",".join(map(str, v)))
    | st.text(max_size=30)
    | st.lists(st.integers(-5, 400), min_size=3, max_size=5).map(lambda v: ",".join(map(str, v)))
)
REGION_JSON = (
    NEAR_BOX.map(lambda v: dict(zip("xywh", v, strict=True)))
    | JSON_VALUES
    | st.fixed_dictionaries({k: st.integers(-5, 400) | JSON_VALUES for k in "xywh"})
)


@FUZZ
@given(region=REGION_TEXT)
def test_random_form_regions(client, region):
    """Any region field on a real drawing: a reading, a 422, or 400 invalid_region."""
    r = client.post(
        SOLVE,
        data={"image": (io.BytesIO(REGION_IMAGE), "x.png"), "region": region},
        content_type="multipart/form-data",
    )
    body = assert_well_formed(r, {200, 400, 422})
    if r.status_code == 400:
        assert body["error"]["code"] == "invalid_region"


@FUZZ
@given(region=REGION_JSON)
def test_random_json_regions(client, region):
    r = client.post(
        SOLVE,
        json={"image": "data:image/png;base64," + base64.b64encode(REGION_IMAGE).decode(), "region": region},
    )
    body = assert_well_formed(r, {200, 400, 422})
    if r.status_code == 400:
        assert body["error"]["code"] == "invalid_region"
    if r.status_code != 400:
        # Accepted: null, or four whole numbers whose box starts on the 300x100 image.
        assert region is None or (
            region["x"] < 300 and region["y"] < 100 and min(region["w"], region["h"]) > 0
        )
        for token in body.get("tokens", []):
            x, y, w, h = token["box"]
            assert region is None or (region["x"] <= x and region["y"] <= y)
            assert x + w <= 300 and y + h <= 100


# ---------------------------------------------------------------- the abuse list (issue 17), in process
# The same list goes over real HTTP, with what only a server can see (huge headers, broken
# Content-Length, idle and slow connections), in tests/test_serve_abuse.py.
def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0"))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


ABUSE = {
    "deep-json-list": ("POST", SOLVE, b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    "deep-json-object": ("POST", SOLVE, b'{"a":' * 100_000, "application/json", 400),
    "huge-number": ("POST", SOLVE, b'{"image": 1' + b"0" * 100_000 + b"}", "application/json", 400),
    "bad-utf8-json": ("POST", SOLVE, b'{"image": "\xff\xfe"}', "application/json", 400),
    "2000-form-fields": ("POST", SOLVE, {f"f{i}": "x" for i in range(2000)}, "multipart/form-data", 413),
    "20000x20000-png": ("POST", SOLVE, _png_header(20_000, 20_000), "image/png", 413),
    "broken-multipart": (
        "POST",
        SOLVE,
        b"--x\r\nContent-Disposition: form",
        "multipart/form-data; boundary=x",
        400,
    ),
    "double-slash-path": ("GET", "//etc/passwd", None, None, 404),
    "dot-dot-static": ("GET", "/static/../../etc/passwd", None, None, 404),
    "double-slash-api": ("POST", "/api//v1/solve", b"x", "image/png", 404),
}


@pytest.mark.parametrize("case", sorted(ABUSE))
def test_abuse_list_is_answered_in_json_without_5xx(client, case):
    method, path, data, content_type, status = ABUSE[case]
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.open(path, method=method, data=data, headers=headers)
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    assert r.mimetype == "application/json" and "Location" not in r.headers
    assert set(r.get_json()["error"]) == {"code", "message"}


# ---------------------------------------------------------------- schemathesis
@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_openapi_conformance(case):
    """Generated from the OpenAPI file: responses conform to it, and none is a 5xx."""
    # A schema cannot say "a picture of an expression": schema-valid random bytes are
    # rightly refused with 4xx, so "positive data is accepted" does not apply here.
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
