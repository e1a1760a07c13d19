"""The drawing page in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs under waitress in a thread on a free loopback port, exactly as
``mathocr serve`` runs it. Expressions are drawn with mouse (and touch) strokes made by
:mod:`mathocr.web.handwriting`, the same strokes the API tests render with mathocr.strokes. The page
reads a drawing by itself once the pen rests, so most tests press no button: they draw and
wait. A few answer the page's requests themselves, to show states (an unsure reading, a
late answer) that a drawing cannot be relied on to produce.

Chromium is required: without ``/usr/bin/chromium`` these tests fail, they do not skip
(install it with ``apt-get install -y chromium``).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import statistics
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import waitress
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from mathocr.web import create_app
from mathocr.web.handwriting import layout, render_png

from ._expr_drawing import DESK_SUM_BOX, desk_photo, sideways_jpeg

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
RESULT = "#answer:not([hidden]), #lines:not([hidden]), #partial:not([hidden]), #error:not([hidden])"
SOLVE_URL = "**/api/v1/solve"
AUTO_SOLVE_MS = 300  # app.js: how long the pen rests before the page reads the drawing


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


def on_page(page: Page, strokes) -> list[list[tuple[float, float]]]:
    """Strokes given in the canvas's own pixels, in page coordinates."""
    size = page.eval_on_selector("#pad", "c => [c.width, c.height]")
    box = page.locator("#pad").bounding_box()
    sx, sy = box["width"] / size[0], box["height"] / size[1]
    return [[(box["x"] + x * sx, box["y"] + y * sy) for x, y in stroke] for stroke in strokes]


def canvas_strokes(page: Page, text: str) -> list[list[tuple[float, float]]]:
    """Strokes for ``text`` in page coordinates, laid out in the canvas's own pixels."""
    width, height = page.eval_on_selector("#pad", "c => [c.width, c.height]")
    return on_page(page, layout(text, size=(width, height)))


def draw_strokes(page: Page, strokes) -> None:
    for stroke in strokes:
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*point, steps=2)
        page.mouse.up()


def draw_with_mouse(page: Page, text: str) -> None:
    draw_strokes(page, canvas_strokes(page, text))


def draw_with_touch(page: Page, text: str) -> None:
    touch_strokes(page, canvas_strokes(page, text))


def touch_strokes(page: Page, strokes) -> None:
    """Strokes, in page coordinates, made with a finger."""
    # Playwright has no touch drag; Chrome's DevTools protocol dispatches real touch input,
    # which the page receives as pointer events of type "touch".
    cdp = page.context.new_cdp_session(page)
    for stroke in strokes:
        kinds = ["touchStart"] + ["touchMove"] * (len(stroke) - 1)
        for kind, (x, y) in zip(kinds, stroke, strict=True):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def solve(page: Page) -> None:
    page.click("#solve")
    page.wait_for_selector(RESULT, timeout=30_000)


def read_as_written(page: Page) -> None:
    """Wait, without pressing Solve, for the page to show what it read."""
    page.wait_for_selector(RESULT, timeout=30_000)


def shown_answer(page: Page) -> tuple[str, str]:
    expect(page.locator("#answer")).to_be_visible()
    return page.inner_text("#expression").replace(" ", ""), page.inner_text("#value")


def solve_requests(page: Page) -> list[str]:
    """The solve requests the page makes from now on (a live list)."""
    seen: list[str] = []
    page.on("request", lambda r: "/api/v1/solve" in r.url and seen.append(r.url))
    return seen


# Runs in the page: clicks (or presses Ctrl+Z) and reports what is on screen in the same
# task, before any timer or response could run, so "cleared at once" is tested exactly.
ACT_AND_LOOK = """(what) => {
    if (what === "ctrl+z") {
        document.dispatchEvent(new KeyboardEvent("keydown", {key: "z", ctrlKey: true, bubbles: true}));
    } else {
        document.querySelector(what).click();
    }
    const shown = (id) => !document.getElementById(id).hidden;
    return {
        answer: shown("answer"), partial: shown("partial"), error: shown("error"),
        alternatives: shown("alternatives"),
        boxes: document.querySelectorAll("#boxes rect").length,
        warnings: document.querySelectorAll("#warnings li").length,
    };
}"""
NOTHING_SHOWN = {
    "answer": False,
    "partial": False,
    "error": False,
    "alternatives": False,
    "boxes": 0,
    "warnings": 0,
}

# Runs in the page: notes when the last stroke ends and when an answer reaches the screen
# (the frame after #answer is shown), in the page's own clock.
WATCH_TIMING = """() => {
    const t = (window.__timing = { up: 0, shown: [] });
    document.getElementById("pad").addEventListener("pointerup", () => { t.up = performance.now(); }, true);
    const answer = document.getElementById("answer");
    new MutationObserver(() => {
        if (!answer.hidden) requestAnimationFrame(() => t.shown.push(performance.now()));
    }).observe(answer, { attributes: true, attributeFilter: ["hidden"] });
}"""
LAST_STROKE_TO_ANSWER = (
    "() => { const t = window.__timing; return t.shown.filter((s) => s > t.up).pop() - t.up; }"
)


def test_answer_appears_as_you_write(page):
    p = page.page
    p.evaluate(WATCH_TIMING)
    requests = solve_requests(p)
    draw_with_mouse(p, "12+3")
    read_as_written(p)  # no button pressed
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
    latencies = [p.evaluate(LAST_STROKE_TO_ANSWER)]
    for text, expected in (("7-4", ("7\u22124", "3")), ("25+17", ("25+17", "42"))):
        p.click("#clear")
        draw_with_mouse(p, text)
        read_as_written(p)
        assert shown_answer(p) == expected
        latencies.append(p.evaluate(LAST_STROKE_TO_ANSWER))
    # The page waits for the pen to rest: never sooner than that.
    assert min(latencies) >= AUTO_SOLVE_MS
    print(
        f"\nlast stroke's pointerup -> answer on screen: {', '.join(f'{ms:.0f}' for ms in latencies)} ms "
        f"(median {statistics.median(latencies):.0f} ms, of which {AUTO_SOLVE_MS} ms waiting for the pen "
        f"to rest); {len(requests)} solve requests for 3 drawings of 13 strokes"
    )


def test_solves_once_the_pen_rests(page):
    p = page.page
    # The page's timers run on a clock the test moves by hand.
    p.clock.install(time=0)
    p.reload()
    p.clock.pause_at(60_000)
    requests = solve_requests(p)
    first, *rest = canvas_strokes(p, "1+2")
    draw_strokes(p, [first])
    p.clock.run_for(AUTO_SOLVE_MS - 50)
    p.wait_for_timeout(300)  # real time, for a request that should not come
    assert requests == []
    draw_strokes(p, rest)  # before the pen rested: the first stroke's solve is cancelled
    p.clock.run_for(AUTO_SOLVE_MS - 50)
    p.wait_for_timeout(300)
    assert requests == []
    p.clock.run_for(100)
    read_as_written(p)
    assert shown_answer(p) == ("1+2", "3")
    assert len(requests) == 1


def test_an_answer_to_an_older_drawing_is_never_shown(page):
    p = page.page
    held = []

    def hold_the_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)

    p.route(SOLVE_URL, hold_the_first)
    draw_with_mouse(p, "7-4")
    for _ in range(100):
        if held:
            break
        p.wait_for_timeout(100)
    assert held, "the page did not read the drawing by itself"
    p.click("#clear")
    draw_with_mouse(p, "12+3")
    read_as_written(p)
    assert shown_answer(p) == ("12+3", "15")
    # Now the first request's answer arrives, late and claiming another reading. The page
    # has aborted that request, so Playwright may refuse to answer it: either way, nothing
    # may be painted.
    late = {"status": "ok", "expression": "99", "value": "99", "decimal": "99", "confidence": 1.0}
    with contextlib.suppress(PlaywrightError):
        held[0].fulfill(status=200, json={**late, "tokens": [], "warnings": [], "alternatives": []})
    p.wait_for_timeout(500)
    assert shown_answer(p) == ("12+3", "15")
    expect(p.locator("#error")).to_be_hidden()


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


def test_undo_and_clear_clear_the_answer(page):
    p = page.page
    draw_with_mouse(p, "7-4")
    read_as_written(p)
    assert shown_answer(p) == ("7\u22124", "3")
    draw_with_mouse(p, "1")  # a stray stroke over the middle
    read_as_written(p)
    # Undo: the reading of the stray stroke goes at once, then the drawing is read again.
    assert p.evaluate(ACT_AND_LOOK, "#undo") == NOTHING_SHOWN
    read_as_written(p)
    assert shown_answer(p) == ("7\u22124", "3")
    # Ctrl+Z twice undoes the "4" (two strokes): no stale "= 3" meanwhile, then the
    # half-written reading.
    assert p.evaluate(ACT_AND_LOOK, "ctrl+z") == NOTHING_SHOWN
    assert p.evaluate(ACT_AND_LOOK, "ctrl+z") == NOTHING_SHOWN
    read_as_written(p)
    expect(p.locator("#partial")).to_have_text("7 \u2212 \u2026")
    assert p.evaluate(ACT_AND_LOOK, "#clear") == NOTHING_SHOWN
    expect(p.locator("#status")).to_have_text("Ready.")
    requests = solve_requests(p)
    p.wait_for_timeout(AUTO_SOLVE_MS + 500)  # an empty pad is not sent
    assert requests == []
    assert p.locator(RESULT).count() == 0
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


def test_a_half_written_expression_is_shown_as_work_in_progress(page):
    p = page.page
    strokes = canvas_strokes(p, "23+4")
    draw_strokes(p, strokes[:2])  # "23": a number alone is no sum yet
    read_as_written(p)
    partial = p.locator("#partial")
    expect(partial).to_have_text("23 \u2026")
    draw_strokes(p, strokes[2:-2])  # "23+"; the "+" and the "4" are two strokes each
    read_as_written(p)
    expect(partial).to_have_text("23 + \u2026")
    expect(p.locator("#error")).to_be_hidden()
    expect(p.locator("#answer")).to_be_hidden()
    # Neutral, not the error style.
    colour = partial.evaluate("e => getComputedStyle(e).color")
    assert colour != p.locator("#error").evaluate("e => getComputedStyle(e).color")
    draw_strokes(p, strokes[-2:])
    read_as_written(p)
    assert shown_answer(p) == ("23+4", "27")
    expect(partial).to_be_hidden()


UNSURE = {
    "status": "unsure",
    "expression": "7+1",
    "value": "8",
    "decimal": "8",
    "tokens": [
        {"symbol": "7", "confidence": 0.99, "box": [100, 60, 120, 180]},
        {"symbol": "+", "confidence": 0.52, "box": [300, 100, 100, 100]},
        {"symbol": "1", "confidence": 0.98, "box": [480, 60, 30, 180]},
    ],
    "confidence": 0.55,
    "warnings": ["the 2nd symbol could be + or \u00d7"],
    "alternatives": [
        {"expression": "7*1", "value": "7", "decimal": "7", "confidence": 0.41},
        {"expression": "7/0", "value": None, "decimal": None, "confidence": 0.02, "code": "division_by_zero"},
        # The symbols as read where the answer changed one: not finished, no value.
        {
            "expression": "7+",
            "value": None,
            "decimal": None,
            "confidence": 0.6,
            "code": "incomplete_expression",
        },
    ],
}


def test_unsure_offers_the_other_readings(page):
    p = page.page
    p.route(SOLVE_URL, lambda route: route.fulfill(status=200, json=UNSURE))
    draw_with_mouse(p, "7+1")
    read_as_written(p)
    assert shown_answer(p) == ("7+1", "8")
    expect(p.locator("#warnings li")).to_have_text(["the 2nd symbol could be + or \u00d7"])
    expect(p.locator("#status")).to_contain_text("Not sure")
    choices = p.locator("#choices button")
    expect(choices).to_have_text(["7 \u00d7 1 = 7", "7 \u00f7 0", "7 + \u2026"])
    choices.nth(0).click()
    assert shown_answer(p) == ("7\u00d71", "7")
    # The first reading can be chosen back.
    expect(choices).to_have_text(["7 + 1 = 8", "7 \u00f7 0", "7 + \u2026"])
    choices.nth(1).click()
    assert shown_answer(p) == ("7\u00f70", "has no value")
    expect(p.locator("#equals")).to_be_hidden()
    choices.nth(2).click()
    assert shown_answer(p) == ("7+", "\u2026 not finished")
    # A new stroke makes all of it stale. Its own request fails, so nothing can come back.
    p.route(SOLVE_URL, lambda route: route.abort())
    draw_strokes(p, canvas_strokes(p, "1")[:1])
    expect(p.locator("#alternatives")).to_be_hidden()


def test_errors_are_shown_in_plain_words(page):
    p = page.page
    error = p.locator("#error")
    draw_with_mouse(p, "1++2")
    read_as_written(p)
    expect(error).to_contain_text("operators are in the wrong place")
    expect(error).to_contain_text("(read: 1 + + 2)")

    p.click("#clear")
    width, height = p.eval_on_selector("#pad", "c => [c.width, c.height]")
    wave = [
        (0.1 * width + 0.008 * width * i, height / 2 + 0.3 * height * math.sin(0.9 * i)) for i in range(100)
    ]
    draw_strokes(p, on_page(p, [wave]))  # a scribble: ink, but no symbol
    read_as_written(p)
    expect(error).to_contain_text("does not look like numbers and operators")
    expect(p.locator("#warnings li")).not_to_have_count(0)


def test_upload_a_photo(page, tmp_path):
    p = page.page
    photo = tmp_path / "sum.png"
    photo.write_bytes(render_png("25+17", size=(1200, 400)))
    requests = solve_requests(p)
    p.set_input_files("#file", str(photo))
    expect(p.locator("#status")).to_contain_text("Loaded sum.png")
    assert p.eval_on_selector("#pad", "c => [c.width, c.height]") == [1200, 400]
    p.wait_for_timeout(AUTO_SOLVE_MS + 200)
    assert requests == []  # a photo waits for Solve
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


# ---------------------------------------------------------------- a box around the sum on a photo
def drag(page: Page, start: tuple[float, float], end: tuple[float, float], touch: bool = False) -> None:
    """Drag from ``start`` to ``end`` (canvas pixels) with the mouse, or with a finger."""
    steps = [tuple(a + (b - a) * i / 8 for a, b in zip(start, end, strict=True)) for i in range(9)]
    (points,) = on_page(page, [steps])
    (touch_strokes if touch else draw_strokes)(page, [points])


def upload_desk_photo(page: Page) -> None:
    buf = io.BytesIO()
    desk_photo().save(buf, format="PNG")
    page.set_input_files(
        "#file", files=[{"name": "desk.png", "mimeType": "image/png", "buffer": buf.getvalue()}]
    )
    expect(page.locator("#status")).to_contain_text("Loaded desk.png")


def sent_regions(page: Page) -> list[str | None]:
    """The ``region`` field of each solve request the page makes from now on (None: none)."""
    seen: list[str | None] = []

    def note(request) -> None:
        if "/api/v1/solve" in request.url:
            found = re.search(rb'name="region"\r\n\r\n([^\r]*)\r\n', request.post_data_buffer or b"")
            seen.append(found.group(1).decode() if found else None)

    page.on("request", note)
    return seen


def shown_boxes(page: Page) -> list[list[float]]:
    """The token boxes drawn over the canvas, x, y, w, h in canvas pixels."""
    return page.locator("#boxes rect").evaluate_all(
        "rs => rs.map(r => ['x', 'y', 'width', 'height'].map(a => Number(r.getAttribute(a))))"
    )


def assert_near(sent: str, expected: tuple[float, ...], tolerance: float) -> None:
    values = [int(v) for v in sent.split(",")]
    assert max(abs(a - b) for a, b in zip(values, expected, strict=True)) <= tolerance, (sent, expected)


def test_drag_a_box_around_the_sum_on_a_photo(page):
    p = page.page
    regions = sent_regions(p)
    upload_desk_photo(p)
    expect(p.locator("#select")).to_be_visible()
    expect(p.locator("#select")).to_have_attribute("aria-pressed", "true")
    expect(p.locator("#whole")).to_be_hidden()
    solve(p)
    assert shown_answer(p)[0] == "025+17"  # the whole photo: the table's edge is read as a 0

    x, y, w, h = DESK_SUM_BOX
    drag(p, (x, y), (x + w, y + h))
    expect(p.locator("#answer")).to_be_hidden()  # a new box clears the answer to the old one
    expect(p.locator("#area path")).to_have_count(1)
    expect(p.locator("#whole")).to_be_visible()
    assert (
        p.locator("#boxes rect").count() == 0 and p.evaluate("document.querySelectorAll('#pad').length") == 1
    )
    solve(p)
    assert shown_answer(p) == ("25+17", "42")
    assert regions[0] is None
    assert_near(regions[1], DESK_SUM_BOX, 2)  # the canvas shows the photo at its own size
    drawn = shown_boxes(p)
    assert len(drawn) == 5
    for bx, by, bw, bh in drawn:  # boxes lie inside the dragged box, on the photo's ink
        assert x - 2 <= bx and y - 2 <= by and bx + bw <= x + w + 2 and by + bh <= y + h + 2

    p.click("#whole")  # back to the whole photo
    expect(p.locator("#area *")).to_have_count(0)
    expect(p.locator("#whole")).to_be_hidden()
    solve(p)
    assert regions[2] is None and shown_answer(p)[0] == "025+17"


def test_box_on_an_exif_rotated_downscaled_photo_with_a_finger(page):
    """A phone JPEG stored sideways (EXIF orientation 6), too large to show at its size:
    the page shows it upright at 2/3, and the box dragged over it reaches the server in
    the upright photo's pixels, the ones the server reads."""
    p = page.page
    sideways = sideways_jpeg(desk_photo(scale=2))  # 2400x1400 when shown upright
    regions = sent_regions(p)
    p.set_input_files("#file", files=[{"name": "phone.jpg", "mimeType": "image/jpeg", "buffer": sideways}])
    expect(p.locator("#status")).to_contain_text("Loaded phone.jpg")
    assert p.eval_on_selector("#pad", "c => [c.width, c.height]") == [1600, 933]  # upright, not 933x1600
    shown = 1600 / 2400
    x, y, w, h = (v * 2 * shown for v in DESK_SUM_BOX)  # the box in canvas pixels
    drag(p, (x, y), (x + w, y + h), touch=True)
    expect(p.locator("#whole")).to_be_visible()
    solve(p)
    assert shown_answer(p) == ("25+17", "42")
    assert_near(regions[0], tuple(2 * v for v in DESK_SUM_BOX), 4)  # in the upright photo's pixels
    drawn = shown_boxes(p)
    assert len(drawn) == 5
    for bx, by, bw, bh in drawn:
        assert x - 2 <= bx and y - 2 <= by and bx + bw <= x + w + 2 and by + bh <= y + h + 2


def test_a_tap_on_a_photo_selects_nothing_and_clear_forgets_the_box(page):
    p = page.page
    upload_desk_photo(p)
    expect(p.locator("#select")).to_be_visible()
    drag(p, (500, 500), (501, 501))  # a tap
    expect(p.locator("#area *")).to_have_count(0)
    expect(p.locator("#whole")).to_be_hidden()
    drag(p, (100, 100), (300, 200))
    expect(p.locator("#area path")).to_have_count(1)
    # Select area off: the pen draws on the photo again, and the box stays.
    p.click("#select")
    expect(p.locator("#select")).to_have_attribute("aria-pressed", "false")
    draw_strokes(p, on_page(p, [[(600, 100), (700, 150)]]))
    expect(p.locator("#area path")).to_have_count(1)
    p.click("#clear")
    expect(p.locator("#area *")).to_have_count(0)
    expect(p.locator("#select")).to_be_hidden()
    expect(p.locator("#whole")).to_be_hidden()


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
        read_as_written(p)
        assert shown_answer(p) == ("7\u22124", "3")
    finally:
        context.close()
    assert watched.problems == [] and watched.foreign == []


def test_a_worksheet_is_read_line_by_line(page):
    p = page.page
    draw_with_mouse(p, "1+2\n4+5")
    read_as_written(p)
    expect(p.locator("#lines li")).to_have_text(["1 + 2 = 3", "4 + 5 = 9"])
    expect(p.locator("#answer")).to_be_hidden()
    expect(p.locator("#error")).to_be_hidden()
    expect(p.locator("#boxes rect")).to_have_count(6)
    p.click("#clear")
    expect(p.locator("#lines")).to_be_hidden()


def test_homework_is_marked(page):
    p = page.page
    draw_with_mouse(p, "2+2=5")
    read_as_written(p)
    expect(p.locator("#mark")).to_have_text("\u2717 the answer is 4")
    expect(p.locator("#expression")).to_have_text("2 + 2 = 5")
    p.click("#clear")
    draw_with_mouse(p, "2+2=4")
    read_as_written(p)
    expect(p.locator("#mark")).to_have_text("\u2713")
