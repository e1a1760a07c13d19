"""The drawing page in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs under waitress in a thread on a free loopback port, exactly as
``mathocr serve`` runs it. Expressions are drawn with mouse (and touch) strokes made by
:mod:`deploy.handwriting`, the same strokes the API tests render with PIL.

Chromium is required: without ``/usr/bin/chromium`` these tests fail, they do not skip
(install it with ``apt-get install -y chromium``).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import waitress
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mathocr.web import create_app
from mathocr.web.handwriting import layout, render_png

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
RESULT = "#answer:not([hidden]), #error:not([hidden])"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = waitress.create_server(create_app(), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/"
    finally:
        server.close()
        server.task_dispatcher.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Watched:
    """A page plus everything that went wrong in it: script errors, console errors, and
    any request that left the app's origin (the page must work offline)."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.problems: list[str] = []
        self.foreign: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                # The page shows API errors itself; the browser also logs the 4xx status.
                and "Failed to load resource" not in msg.text
                and self.problems.append(f"console: {msg.text}")
            ),
        )

        def route(r):
            if r.request.url.startswith(base_url) or r.request.url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                self.foreign.append(r.request.url)
                r.abort()

        page.route("**/*", route)


@pytest.fixture()
def page(browser, base_url) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    watched = Watched(context.new_page(), base_url)
    watched.page.goto(base_url)
    yield watched
    context.close()
    assert watched.problems == []
    assert watched.foreign == []


def canvas_strokes(page: Page, text: str) -> list[list[tuple[float, float]]]:
    """Strokes for ``text`` in page coordinates, laid out in the canvas's own pixels."""
    size = page.eval_on_selector("#pad", "c => [c.width, c.height]")
    box = page.locator("#pad").bounding_box()
    sx, sy = box["width"] / size[0], box["height"] / size[1]
    return [
        [(box["x"] + x * sx, box["y"] + y * sy) for x, y in stroke]
        for stroke in layout(text, size=(size[0], size[1]))
    ]


def draw_with_mouse(page: Page, text: str) -> None:
    for stroke in canvas_strokes(page, text):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*point, steps=2)
        page.mouse.up()


def draw_with_touch(page: Page, text: str) -> None:
    # Playwright has no touch drag; Chrome's DevTools protocol dispatches real touch input,
    # which the page receives as pointer events of type "touch".
    cdp = page.context.new_cdp_session(page)
    for stroke in canvas_strokes(page, text):
        kinds = ["touchStart"] + ["touchMove"] * (len(stroke) - 1)
        for kind, (x, y) in zip(kinds, stroke, strict=True):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def solve(page: Page) -> None:
    page.click("#solve")
    page.wait_for_selector(RESULT, timeout=30_000)


def shown_answer(page: Page) -> tuple[str, str]:
    expect(page.locator("#answer")).to_be_visible()
    return page.inner_text("#expression").replace(" ", ""), page.inner_text("#value")


def test_draw_with_the_mouse_and_solve(page):
    p = page.page
    draw_with_mouse(p, "12+3")
    solve(p)
    # The page shows the model's reading with symbols written for people.
    assert shown_answer(p) == ("12+3", "15")
    expect(p.locator("#error")).to_be_hidden()
    boxes = p.locator("#boxes rect")
    expect(boxes).to_have_count(4)
    labels = p.locator("#boxes text").all_text_contents()
    assert [t.split()[0] for t in labels] == ["1", "2", "+", "3"]
    assert all(t.endswith("%") for t in labels)
    # Boxes lie over the drawing: inside the canvas on screen.
    canvas = p.locator("#pad").bounding_box()
    for i in range(4):
        b = boxes.nth(i).bounding_box()
        assert canvas["x"] <= b["x"] and b["x"] + b["width"] <= canvas["x"] + canvas["width"] + 1
        assert canvas["y"] <= b["y"] and b["y"] + b["height"] <= canvas["y"] + canvas["height"] + 1


def test_canvas_exports_ink_on_white(page):
    p = page.page
    draw_with_mouse(p, "7")
    corner, ink = p.evaluate(
        """() => {
            const c = document.getElementById('pad');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let dark = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] < 60 && d[i + 3] === 255) dark++;
            return [[d[0], d[1], d[2], d[3]], dark];
        }"""
    )
    assert corner == [255, 255, 255, 255]
    assert ink > 500


def test_undo_clear_and_pen_width(page):
    p = page.page
    draw_with_mouse(p, "7-4")
    draw_with_mouse(p, "1")  # a stray stroke over the middle
    p.click("#undo")
    solve(p)
    assert shown_answer(p) == ("7\u22124", "3")
    p.keyboard.press("Control+z")  # undoes the "4"
    expect(p.locator("#boxes rect")).to_have_count(0)  # stale boxes go with the change
    p.click("#clear")
    p.click("#solve")
    expect(p.locator("#error")).to_contain_text("Draw an expression first")
    p.fill("#pen", "30")
    draw_with_mouse(p, "1")
    thick = p.evaluate(
        """() => {
            const c = document.getElementById('pad');
            const row = c.getContext('2d').getImageData(0, c.height / 2, c.width, 1).data;
            let n = 0;
            for (let i = 0; i < row.length; i += 4) if (row[i] < 128) n++;
            return n;
        }"""
    )
    assert thick >= 25


def test_errors_are_shown_in_plain_words(page):
    p = page.page
    draw_with_mouse(p, "12\n45")  # two lines: not one expression
    solve(p)
    error = p.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("could not be read as one expression")
    expect(error).to_contain_text("lines")
    expect(p.locator("#answer")).to_be_hidden()
    expect(p.locator("#boxes rect")).to_have_count(4)  # what was read is still shown


def test_upload_a_photo(page, tmp_path):
    p = page.page
    photo = tmp_path / "sum.png"
    photo.write_bytes(render_png("25+17", size=(1200, 400)))
    p.set_input_files("#file", str(photo))
    expect(p.locator("#status")).to_contain_text("Loaded sum.png")
    assert p.eval_on_selector("#pad", "c => [c.width, c.height]") == [1200, 400]
    solve(p)
    assert shown_answer(p) == ("25+17", "42")
    expect(p.locator("#boxes rect")).to_have_count(5)


def test_upload_a_downscaled_photo_keeps_boxes_aligned(page):
    p = page.page
    from PIL import Image

    from mathocr.web.handwriting import render

    buf = io.BytesIO()
    render("8*3", size=(3000, 1000)).convert("RGB").save(buf, format="JPEG", quality=90)
    p.set_input_files(
        "#file", files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": buf.getvalue()}]
    )
    expect(p.locator("#status")).to_contain_text("Loaded big.jpg")
    assert p.eval_on_selector("#pad", "c => c.width") == 1600  # shown downscaled, sent as-is
    solve(p)
    assert shown_answer(p) == ("8\u00d73", "24")
    # Boxes are in the photo's pixels; the page scales them onto the smaller canvas.
    xs = [float(v) for v in p.locator("#boxes rect").evaluate_all("rs => rs.map(r => r.getAttribute('x'))")]
    assert max(xs) < 1600
    Image.open(buf)  # the upload itself was a valid JPEG


def test_upload_something_that_is_not_a_picture(page):
    p = page.page
    p.set_input_files(
        "#file", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"just some text"}]
    )
    expect(p.locator("#status")).to_contain_text("Cannot preview notes.png")
    solve(p)
    error = p.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("could not be read as a picture")


def test_phone_screen_touch_drawing(browser, base_url):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    watched = Watched(context.new_page(), base_url)
    p = watched.page
    p.goto(base_url)
    try:
        # Responsive: nothing wider than the screen; the canvas is the taller phone shape.
        assert p.evaluate("document.documentElement.scrollWidth") <= 390
        assert p.eval_on_selector("#pad", "c => [c.width, c.height]") == [600, 400]
        for button in ("#undo", "#clear", "#solve"):
            assert p.locator(button).bounding_box()["height"] >= 44  # touch-sized
        draw_with_touch(p, "7-4")
        solve(p)
        assert shown_answer(p) == ("7\u22124", "3")
    finally:
        context.close()
    assert watched.problems == [] and watched.foreign == []
