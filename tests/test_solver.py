"""Solver: image -> Solution, with fake classifiers, a tiny real pipeline and (data) the bundled model."""

from __future__ import annotations

import io
import json
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from mathocr.errors import ImageError, RegionError, UnsupportedImageError
from mathocr.region import Region
from mathocr.solver import Solution, Solver, Token, ordinal
from mathocr.symbols import CLASSES

from ._expr_drawing import (
    ScriptedClassifier,
    ShapeClassifier,
    draw_page,
    one_hot,
    page_with_a_table_edge,
    shadow,
    sideways_jpeg,
)


@pytest.fixture
def clf() -> ShapeClassifier:
    return ShapeClassifier()


@pytest.fixture
def solver(clf) -> Solver:
    return Solver(clf)


def png(page: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, "PNG")
    return buf.getvalue()


def test_solve_drawn_expression(solver):
    page, boxes = draw_page("10+1÷1")
    sol = solver.solve(png(page))
    assert sol.ok and sol.error is None and sol.code is None
    assert sol.expression == "10+1/1"
    assert sol.value == Fraction(11)
    assert [t.symbol for t in sol.tokens] == list("10+1/1")
    assert all(t.confidence == pytest.approx(0.95) for t in sol.tokens)
    for tok, box in zip(sol.tokens, boxes, strict=True):
        assert np.abs(np.array(tok.box) - box).max() <= 4
    assert sol.warnings == []


@pytest.mark.parametrize(
    ("ink", "bg"),
    [((0, 0, 0), (255, 255, 255)), ((200, 20, 20), (255, 255, 255)), ((255, 255, 255), (20, 40, 30))],
)
def test_coloured_and_inverted_pages(solver, ink, bg):
    page, _ = draw_page("1-10", ink=ink, bg=bg)
    assert solver.solve(page).expression == "1-10"


def test_shadowed_photo(solver):
    page, _ = draw_page("10+10-1")
    sol = solver.solve(shadow(page, 0.6))
    assert sol.expression == "10+10-1" and sol.value == 19


def test_transparent_canvas_export(solver):
    page, _ = draw_page("1+1", ink=(0, 0, 0), bg=(255, 255, 255))
    rgba = np.zeros((*page.shape[:2], 4), np.uint8)
    rgba[..., 3] = 255 - page[..., 0]  # ink opaque, page transparent
    sol = solver.solve(png(rgba))
    assert sol.expression == "1+1" and sol.value == 2


def test_exif_rotated_photo(solver):
    page, _ = draw_page("10-1")
    rotated = np.rot90(page, k=1)  # how the camera stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # show rotated 90° clockwise
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rotated)).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    sol = solver.solve(buf.getvalue())
    assert sol.expression == "10-1"
    assert max(t.box[0] + t.box[2] for t in sol.tokens) <= page.shape[1]


# ---------------------------------------------------------------- reading a region
def test_region_is_cut_before_segmentation_and_boxes_stay_in_image_pixels(solver):
    page, boxes, region = page_with_a_table_edge("10+1")
    whole = solver.solve(page)
    assert len(whole.tokens) == 5  # the dark block is read as a symbol of its own
    sol = solver.solve(page, region=region)
    assert sol.expression == "10+1" and sol.value == 11
    for tok, box in zip(sol.tokens, boxes, strict=True):
        assert np.abs(np.array(tok.box) - box).max() <= 4
    # Exactly the boxes of the cut-out image, moved by the region's corner.
    x, y, w, h = region
    alone = solver.solve(np.ascontiguousarray(page[y : y + h, x : x + w]))
    assert [t.box for t in sol.tokens] == [
        (bx + x, by + y, bw, bh) for bx, by, bw, bh in (t.box for t in alone.tokens)
    ]


@pytest.mark.parametrize(
    "form",
    [
        "280,200,270,176",
        " 280 , 200 , 270 , 176 ",
        (280, 200, 270, 176),
        [np.int64(280), 200, 270, 176],
        {"x": 280, "y": 200, "w": 270, "h": 176},
        Region(280, 200, 270, 176),
        "280,200,99999,99999",  # past the right and bottom edges: clipped to the image
    ],
)
def test_region_forms_and_clipping(solver, form):
    page, _, region = page_with_a_table_edge("10+1")
    assert region == (280, 200, 270, 176)  # what the forms above spell out
    sol = solver.solve(png(page), region=form)
    assert sol.expression == "10+1"
    assert [t.box for t in sol.tokens] == [t.box for t in solver.solve(page, region=region).tokens]


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("1,2,3", "four whole numbers"),
        ("1,2,3,4,5", "four whole numbers"),
        ("-1,2,3,4", "four whole numbers"),
        ("1.5,2,3,4", "four whole numbers"),
        ("1,2,3,4\n", "four whole numbers"),
        ("\u0661,2,3,4", "four whole numbers"),  # an Arabic-Indic one: int() would take it
        ("1" * 5000 + ",1,1,1", "four whole numbers"),
        ("", "four whole numbers"),
        ((1, 2, 3), "four whole numbers"),
        (b"\x01\x02\x03\x04", "four whole numbers"),
        (12, "four whole numbers"),
        ((1.0, 2, 3, 4), "x must be an integer"),
        ((1, True, 3, 4), "y must be an integer"),
        ((1, 2, "3", 4), "w must be an integer"),
        ({"x": 1, "y": 2, "w": 3}, "exactly the keys"),
        ({"x": 1, "y": 2, "w": 3, "h": 4, "z": 0}, "exactly the keys"),
        ((-1, 0, 3, 4), "cannot be negative"),
        ((0, 0, 0, 4), "at least 1 pixel"),
        ((0, 0, 4, -2), "at least 1 pixel"),
        ((590, 0, 10, 10), "outside the 590x416 image"),
        ((0, 416, 10, 10), "outside the 590x416 image"),
    ],
)
def test_bad_regions_are_region_errors(solver, region, message):
    page, _, _ = page_with_a_table_edge("10+1")
    assert page.shape[:2] == (416, 590)
    with pytest.raises(RegionError, match=message) as info:
        solver.solve(page, region=region)
    assert info.value.code == "invalid_region" and isinstance(info.value, ImageError)


def test_region_is_in_the_pixels_of_the_upright_exif_image(solver):
    page, boxes, region = page_with_a_table_edge("10-1")
    sol = solver.solve(sideways_jpeg(Image.fromarray(page)), region=region)
    assert sol.expression == "10-1"
    for tok, box in zip(sol.tokens, boxes, strict=True):
        assert np.abs(np.array(tok.box) - box).max() <= 4


def test_solve_many_reads_the_same_region_of_every_image(solver, clf):
    page, _, region = page_with_a_table_edge("10+1")
    small = draw_page("1+1")[0]  # 176 pixels high: the region starts below it
    with pytest.raises(RegionError):
        solver.solve_many([page], region="1,2")  # a malformed region fails at the call, not later
    sols = list(solver.solve_many([page, small, page], region=region, on_error="return"))
    assert [s.expression for s in sols] == ["10+1", "", "10+1"]
    assert sols[1].code == "invalid_region" and "outside" in sols[1].error
    with pytest.raises(RegionError):
        list(solver.solve_many([page, small], region=region))


def test_fraction_value_and_to_dict(solver):
    scripted = ScriptedClassifier([one_hot("7"), one_hot("/"), one_hot("2")])
    page, _ = draw_page("111")
    sol = Solver(scripted).solve(page)
    assert sol.value == Fraction(7, 2)
    d = sol.to_dict()
    assert d["expression"] == "7/2" and d["value"] == "7/2" and d["decimal"] == "3.5"
    assert d["warnings"] == []
    assert d["tokens"][0]["symbol"] == "7" and d["tokens"][0]["confidence"] == 0.95
    assert len(d["tokens"][0]["box"]) == 4 and all(isinstance(v, int) for v in d["tokens"][0]["box"])
    json.dumps(d)


def test_classes_order_is_taken_from_the_pipeline(solver, clf):
    assert list(clf.classes_) != list(CLASSES)  # the fake's columns are shuffled
    page, _ = draw_page("1-0")
    assert solver.solve(page).expression == "1-0"


def test_solve_many_uses_one_batch(solver, clf):
    pages = [draw_page(t)[0] for t in ("1+1", "10", "0-1-1")]
    sols = list(solver.solve_many(pages))
    assert [s.expression for s in sols] == ["1+1", "10", "0-1-1"]
    assert clf.calls == [10]


def test_solve_many_is_lazy_and_classifies_in_chunks(solver, clf):
    texts = ["1+1", "10", "0-1-1", "1", "11-0"]
    taken = []

    def pages():
        for t in texts:
            taken.append(t)
            yield draw_page(t)[0]

    sols = solver.solve_many(pages(), batch_size=2)
    assert taken == [] and clf.calls == []  # nothing read before the first result is asked for
    first = next(sols)
    assert first.expression == "1+1" and taken == texts[:2] and clf.calls == [5]
    assert [s.expression for s in sols] == texts[1:]
    assert clf.calls == [5, 6, 4]  # one classifier call per chunk of two images
    with pytest.raises(ValueError, match="batch_size"):
        solver.solve_many(texts, batch_size=0)


def test_solve_many_unreadable_images(solver, clf):
    good = draw_page("1+1")[0]
    with pytest.raises(ImageError):
        list(solver.solve_many([good, b"junk"]))
    sols = list(solver.solve_many([good, b"junk", b"%PDF-1.4"], on_error="return"))
    assert sols[0].value == 2
    assert sols[1].error.startswith("not an image") and sols[1].code == "invalid_image"
    assert sols[2].code == UnsupportedImageError.code
    assert sols[1].to_dict() == {
        "status": "error",
        "error": sols[1].error,
        "code": "invalid_image",
        "confidence": 0.0,
        "warnings": [],
        "alternatives": [],
    }
    with pytest.raises(ValueError, match="on_error"):
        solver.solve_many([good], on_error="ignore")


def test_unreadable_image_raises(solver):
    with pytest.raises(ImageError, match="not an image"):
        solver.solve(b"definitely not a picture")


def test_nothing_found(solver):
    sol = solver.solve(np.full((100, 200), 255, np.uint8))
    assert sol.error == "no symbols found in the image" and sol.code == "nothing_found"
    assert sol.value is None and sol.tokens == [] and sol.expression == ""
    assert sol.status == "error"
    assert sol.to_dict() == {
        "status": "error",
        "error": sol.error,
        "code": "nothing_found",
        "confidence": 0.0,
        "warnings": [],
        "alternatives": [],
    }


def test_division_by_zero_keeps_the_tokens():
    scripted = ScriptedClassifier([one_hot("8"), one_hot("/"), one_hot("0")])
    sol = Solver(scripted).solve(draw_page("111")[0])
    assert sol.code == "division_by_zero" and "division by zero" in sol.error
    assert sol.expression == "8/0" and [t.symbol for t in sol.tokens] == ["8", "/", "0"]
    d = sol.to_dict()
    assert d["code"] == "division_by_zero" and d["expression"] == "8/0" and len(d["tokens"]) == 3
    assert "value" not in d


def test_a_confident_symbol_is_never_bent_into_a_valid_expression():
    # "8+" read with confidence is the start of a sum, not "87".
    sol = Solver(ScriptedClassifier([one_hot("8"), one_hot("+", 0.95)])).solve(draw_page("11")[0])
    assert sol.status == "error" and sol.code == "incomplete_expression" and sol.value is None
    assert sol.expression == "8+" and [t.symbol for t in sol.tokens] == ["8", "+"]
    assert "8 + …" in sol.error
    d = sol.to_dict()
    assert d["status"] == "error" and d["expression"] == "8+" and "value" not in d


@pytest.mark.parametrize(("slash", "one", "answered"), [(0.95, 0.04, False), (0.65, 0.34, True)])
def test_a_trailing_slash_becomes_a_one_only_when_it_could_well_be_one(slash, one, answered):
    # "2+6/" half-written: the grammar may read the stroke as a 1 ("2+61") only when the
    # classifier gives that reading a fair chance (MIN_VALID of the symbols as read). The
    # stroke is as tall as the digit, which speaks for a 1 (decoding.one_or_slash): 0.85
    # against 0.14 would be such a chance now.
    mark = np.full(len(CLASSES), (1 - slash - one) / (len(CLASSES) - 2))
    mark[CLASSES.index("/")], mark[CLASSES.index("1")] = slash, one
    rows = [one_hot("2"), one_hot("+"), one_hot("6"), mark]
    sol = Solver(ScriptedClassifier(rows)).solve(draw_page("1111")[0])
    if answered:
        assert (sol.expression, sol.value) == ("2+61", 63)
    else:
        assert (sol.code, sol.expression, sol.value) == ("incomplete_expression", "2+6/", None)


@pytest.mark.parametrize(
    ("read", "code"),
    [
        ("1++2", "malformed_expression"),
        ("+3", "malformed_expression"),
        ("*12", "malformed_expression"),
        ("4*/5", "malformed_expression"),
        ("23+", "incomplete_expression"),
        ("7-*", "malformed_expression"),  # two signs in a row, whatever follows
        ("-", "incomplete_expression"),
        ("+", "malformed_expression"),
        ("+-", "malformed_expression"),
    ],
)
def test_invalid_readings_get_their_own_code(read, code):
    scripted = ScriptedClassifier([one_hot(t, 0.97) for t in read])
    sol = Solver(scripted).solve(draw_page("1" * len(read))[0])
    assert (sol.code, sol.expression, sol.value) == (code, read, None)


def test_unreadable_marks_are_no_expression():
    flat = np.full(len(CLASSES), 1 / len(CLASSES))
    sol = Solver(ScriptedClassifier([flat, flat, flat])).solve(draw_page("111")[0])
    assert sol.code == "no_expression" and sol.value is None and len(sol.tokens) == 3


@pytest.mark.parametrize(
    ("marks", "refused"),
    [("1?2?", True), ("?7", True), ("1?2", False), ("1?2?4?", True), ("12?4?6", False)],
)
def test_half_the_marks_unreadable_is_no_expression(marks, refused):
    # A word of letters reads as digits nobody is sure of: when half of its marks or more
    # are hard to read, there is no expression; a stray hard mark in an expression is read.
    flat = np.full(len(CLASSES), 1 / len(CLASSES))
    sol = Solver(ScriptedClassifier([flat if m == "?" else one_hot(m) for m in marks])).solve(
        draw_page("1" * len(marks))[0]
    )
    assert (sol.code == "no_expression") is refused
    assert len(sol.tokens) == len(marks)
    if refused:
        # It names the marks to write again, not "nothing here reads".
        hard = [i + 1 for i, m in enumerate(marks) if m == "?"]
        assert f"of {len(marks)} symbol" in sol.error and "nothing here" not in sol.error
        assert all(ordinal(i) in sol.error for i in hard)


def test_marks_read_at_less_than_nine_in_ten_are_hard_to_read():
    # A letter is read as the symbol it looks like (a "b" a 6, a "t" a +, a "z" a 2), but
    # seldom as surely as the symbols of an expression are: "btz" is no "6+2".
    sol = Solver(scripted("6", "+", "2", p=0.85)).solve(draw_page("111")[0])
    assert (sol.code, sol.value) == ("no_expression", None)
    sol = Solver(scripted("6", "+", "2", p=0.95)).solve(draw_page("111")[0])
    assert (sol.expression, sol.value, sol.status) == ("6+2", 8, "ok")


def test_a_number_alone_is_no_answer():
    # A drawing is arithmetic: a number alone computes nothing. A scribble or a letter the
    # classifier reads as one sure digit is no answer, and neither is a half-written "12".
    sol = Solver(scripted("0", p=0.99)).solve(draw_page("1")[0])
    assert (sol.status, sol.code, sol.value, sol.expression) == ("error", "incomplete_expression", None, "0")
    assert "a number alone" in sol.error
    sol = Solver(scripted("1", "2", p=0.99)).solve(draw_page("11")[0])
    assert (sol.code, sol.expression) == ("incomplete_expression", "12")
    # A stroke torn between 1 and / in "1?2" makes "1/2", not the number 112, which is
    # offered as what was read, without a value.
    torn = np.full(len(CLASSES), 0.004)
    torn[CLASSES.index("1")], torn[CLASSES.index("/")] = 0.52, 0.43
    sol = Solver(ScriptedClassifier([one_hot("1"), torn, one_hot("2")])).solve(draw_page("111")[0])
    assert (sol.status, sol.expression, sol.value) == ("unsure", "1/2", Fraction(1, 2))
    assert [(a.expression, a.value, a.code) for a in sol.alternatives] == [
        ("112", None, "incomplete_expression")
    ]


def test_a_stroke_torn_between_one_and_slash_is_for_its_line_to_read():
    # "1/22" with both strokes in doubt is two marks of four hard to read by their top
    # reading, but a stroke is a 1 or a / and the line says which; alone, it says nothing.
    torn = np.full(len(CLASSES), 0.05 / (len(CLASSES) - 2))
    torn[CLASSES.index("1")], torn[CLASSES.index("/")] = 0.5, 0.45
    slash = torn.copy()
    slash[CLASSES.index("1")], slash[CLASSES.index("/")] = 0.45, 0.5
    sol = Solver(ScriptedClassifier([torn, slash, one_hot("2"), one_hot("2")])).solve(draw_page("1111")[0])
    assert sol.code is None and sol.status == "unsure"
    assert "1/22" in {sol.expression, *(a.expression for a in sol.alternatives)}
    sol = Solver(ScriptedClassifier([slash])).solve(draw_page("1")[0])
    assert (sol.code, sol.value) == ("no_expression", None)


def test_two_minus_signs_are_malformed_not_one_minus():
    sol = Solver(scripted("2", "-", "-", "3")).solve(draw_page("1--1", gap=16)[0])
    assert (sol.code, sol.expression, sol.value) == ("malformed_expression", "2--3", None)


def test_a_scribbled_coil_is_no_expression():
    # However sure the classifier is that a coil of loops is a 0, it is no symbol.
    sol = Solver(scripted("0", p=0.99)).solve(draw_page("@", stroke=4)[0])
    assert sol.code == "no_expression" and sol.value is None
    # Among readable marks it is only hard to read, and said so: the grammar reads the line.
    sol = Solver(scripted("1", "+", "0", p=0.99)).solve(draw_page("1+@", stroke=4)[0])
    assert (sol.expression, sol.value) == ("1+0", 1)
    assert sol.warnings == ["the 3rd symbol is a tangle of loops: a scribble?"]


def test_close_readings_are_offered_as_alternatives():
    slash = np.full(len(CLASSES), 0.004)
    slash[CLASSES.index("1")], slash[CLASSES.index("/")] = 0.52, 0.43
    rows = [one_hot("1"), slash, one_hot("2"), one_hot("+"), one_hot("3")]
    sol = Solver(ScriptedClassifier(rows)).solve(draw_page("11111")[0])
    assert sol.status == "unsure" and sol.expression == "112+3" and sol.value == 115
    assert [(a.expression, a.value) for a in sol.alternatives] == [("1/2+3", Fraction(7, 2))]
    assert sol.alternatives[0].confidence < sol.confidence
    d = sol.to_dict()
    assert d["status"] == "unsure"
    assert d["alternatives"] == [
        {
            "expression": "1/2+3",
            "value": "7/2",
            "decimal": "3.5",
            "confidence": pytest.approx(sol.alternatives[0].confidence, abs=1e-4),
            "code": None,
        }
    ]
    # The stroke is as tall as the digits, which speaks for the 1 (decoding.one_or_slash):
    # the slash's reading is less likely than the classifier alone would make it.
    assert 0.1 * sol.confidence <= sol.alternatives[0].confidence < 0.95**4 * 0.43
    # Never asking: one answer, no alternatives.
    sol = Solver(ScriptedClassifier(rows), unsure_ratio=1.0).solve(draw_page("11111")[0])
    assert sol.status == "ok" and sol.alternatives == []


def test_doubts_are_warned_in_plain_words():
    # A "+" the model half believes at the end: read as the digit, and said so.
    row = np.full(len(CLASSES), 0.01)
    row[CLASSES.index("+")], row[CLASSES.index("2")] = 0.5, 0.38
    rows = [one_hot("3"), one_hot("-"), one_hot("1"), one_hot("8"), row]
    sol = Solver(ScriptedClassifier(rows)).solve(draw_page("11111")[0])
    assert sol.expression == "3-182"
    assert "the 5th symbol could be 2 or +" in sol.warnings
    # ... and not as sure: "3-18+" as read, not finished, is the other reading offered.
    assert sol.status == "unsure"
    assert [(a.expression, a.value, a.code) for a in sol.alternatives] == [
        ("3-18+", None, "incomplete_expression")
    ]
    assert sol.alternatives[0].confidence > sol.confidence
    assert sol.to_dict()["alternatives"][0]["code"] == "incomplete_expression"
    sol = Solver(ScriptedClassifier([one_hot("8"), one_hot("-", 0.3), one_hot("2")])).solve(
        draw_page("111")[0]
    )
    assert sol.expression == "8-2"
    assert "the 2nd symbol is hard to read" in sol.warnings
    assert not any("x=" in w or "0." in w for w in sol.warnings)
    # A doubt the grammar settles is none: a stroke that is a 1 or a / cannot be a / first.
    first = np.full(len(CLASSES), 0.004)
    first[CLASSES.index("1")], first[CLASSES.index("/")] = 0.6, 0.35
    rows = [first, one_hot("2", 0.99), one_hot("+", 0.99), one_hot("3", 0.99)]
    sol = Solver(ScriptedClassifier(rows)).solve(draw_page("1111")[0])
    assert (sol.expression, sol.status, sol.warnings) == ("12+3", "ok", [])


def test_bar_between_two_dots_is_read_as_division():
    # The classifier sees a "+" in the merged crop; its three parts say otherwise.
    plus = np.full(len(CLASSES), 0.002)
    plus[CLASSES.index("+")], plus[CLASSES.index("/")] = 0.97, 0.005
    scripted = ScriptedClassifier([one_hot("8"), plus, one_hot("2")])
    sol = Solver(scripted).solve(draw_page("1÷1")[0])
    assert sol.expression == "8/2" and sol.value == 4
    # The same probabilities on a "+" drawn as a plus stay a plus.
    sol = Solver(ScriptedClassifier([one_hot("8"), plus, one_hot("2")])).solve(draw_page("1+1")[0])
    assert sol.expression == "8+2"


def test_small_mark_is_not_read_as_a_digit():
    row = np.full(len(CLASSES), 0.01)
    row[CLASSES.index("4")], row[CLASSES.index("*")] = 0.5, 0.38
    scripted = ScriptedClassifier([one_hot("3"), row, one_hot("5")])
    sol = Solver(scripted).solve(draw_page("1.1")[0])
    assert sol.expression == "3*5" and sol.value == 15


def scripted(*symbols: str, p: float = 0.95) -> ScriptedClassifier:
    return ScriptedClassifier([one_hot(c, p) for c in symbols])


def test_trailing_equals_asks_for_the_value():
    # "=" is found by its shape (two stacked bars); the classifier, which has no class for
    # it, calls it a minus.
    sol = Solver(scripted(*"10+1-")).solve(draw_page("11+1=")[0])
    assert (sol.expression, sol.value, sol.correct, sol.status) == ("10+1=", 11, None, "ok")
    assert "correct" not in sol.to_dict()


@pytest.mark.parametrize("answer,correct", [("2", True), ("3", False)])
def test_an_equation_is_checked(answer, correct):
    sol = Solver(scripted("1", "+", "1", "-", answer)).solve(draw_page("1+1=1")[0])
    assert sol.expression == f"1+1={answer}" and sol.correct is correct
    assert sol.value == 2  # the right value of the left side, whatever was written
    d = sol.to_dict()
    assert d["correct"] is correct and d["value"] == "2" and d["status"] == "ok"


def test_two_equals_signs_are_not_an_equation():
    sol = Solver(scripted(*"1-1-1")).solve(draw_page("1=1=1")[0])
    assert sol.status == "error" and sol.code == "malformed_expression"
    assert sol.expression == "1=1=1"


def test_brackets_and_implicit_multiplication():
    # Brackets are found by their shape (an upright arc); the classifier calls them ones.
    sol = Solver(scripted(*"213+41")).solve(draw_page("1(1+1)")[0])
    assert (sol.expression, sol.value) == ("2(3+4)", 14)
    # An unclosed bracket: an error that says so, not "11+2" (the classifier, shown an arc,
    # is not sure of a 1).
    rows = [one_hot("1", 0.6), *(one_hot(c, 0.95) for c in "1+2")]
    sol = Solver(ScriptedClassifier(rows)).solve(draw_page("(1+1")[0])
    assert sol.code == "incomplete_expression" and "(" in sol.error


def test_square_and_hooked_brackets_are_read_by_the_grammar():
    # "[" drawn square is a loose arc; "]" hooked like a 7 may be the other bracket, being
    # taller than the digits: the classifier calling them 1 and 7 does not make "12+37".
    sol = Solver(scripted(*"12+37")).solve(draw_page("[1+1]")[0])
    assert (sol.expression, sol.value) == ("(2+3)", 5)
    assert sol.status != "error"
    # On a line without a bracket the same mark is the classifier's 7.
    sol = Solver(scripted(*"2+37")).solve(draw_page("1+1]")[0])
    assert sol.expression == "2+37"


def test_a_dot_on_the_baseline_is_a_decimal_point():
    # The classifier, which never learnt ".", calls the dot a "·"; its place says otherwise.
    sol = Solver(scripted("3", "*", "5", "-", "1")).solve(draw_page("1,1-1")[0])
    assert (sol.expression, sol.value) == ("3.5-1", Fraction(5, 2))
    assert sol.to_dict()["decimal"] == "2.5"
    # A dot at mid-height stays a multiplication.
    sol = Solver(scripted("3", "*", "5")).solve(draw_page("1.1")[0])
    assert sol.expression == "3*5"


def test_a_colon_is_division():
    sol = Solver(scripted("6", "+", "2")).solve(draw_page("1:1")[0])
    assert (sol.expression, sol.value) == ("6/2", 3)


def _two_lines(top: str, bottom: str) -> np.ndarray:
    a, b = draw_page(top)[0], draw_page(bottom)[0]
    width = max(a.shape[1], b.shape[1])
    pad = lambda page: np.pad(page, ((0, 0), (0, width - page.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    return np.concatenate([pad(a), pad(b)], axis=0)


def test_several_lines_are_read_line_by_line():
    page = _two_lines("11+1", "1+1=1")
    sol = Solver(scripted(*"10+1", *"1+1-2")).solve(page)
    assert sol.status == "ok" and sol.value is None
    assert sol.expression == "10+1\n1+1=2"
    assert [(line.expression, line.value, line.correct) for line in sol.lines] == [
        ("10+1", 11, None),
        ("1+1=2", 2, True),
    ]
    d = sol.to_dict()
    assert [line["value"] for line in d["lines"]] == ["11", "2"] and "value" not in d
    assert len(d["tokens"]) == 9
    # The boxes of the second line lie below the first's.
    assert min(t.box[1] for t in sol.lines[1].tokens) > max(t.box[1] for t in sol.lines[0].tokens)


def test_a_line_that_cannot_be_read_does_not_hide_the_others():
    page = _two_lines("11+1", "1+")
    sol = Solver(scripted(*"10+1", "1", "+")).solve(page)
    assert sol.status == "unsure" and sol.error is None
    assert [line.status for line in sol.lines] == ["ok", "error"]
    assert sol.lines[1].code == "incomplete_expression"
    assert any("2nd line" in w for w in sol.warnings)
    # No line read at all: an error, with each line's reading.
    sol = Solver(scripted("1", "+", "+", "-")).solve(_two_lines("1+", "+-"))
    assert sol.status == "error" and len(sol.to_dict()["lines"]) == 2


def test_unusual_marks_are_warned(solver):
    page = np.full((240, 700), 255, np.uint8)
    for x in (50, 100, 150):
        page[80:160, x : x + 8] = 0
    # Taller than any symbol, beside them (a lone mark far away is none of theirs:
    # segmentation.STRAY_SIDE): a bracket or a letter.
    page[5:235, 210:216] = 0
    sol = solver.solve(page)
    assert any("much taller" in w for w in sol.warnings)


def test_constructor_checks_the_pipeline():
    with pytest.raises(TypeError, match="predict_proba"):
        Solver(object())

    class Unfitted:
        def predict_proba(self, X):
            raise AssertionError

    with pytest.raises(TypeError, match="classes_"):
        Solver(Unfitted())


def test_load_uses_load_pipeline(monkeypatch, clf):
    import mathocr.pipeline

    seen = []
    monkeypatch.setattr(mathocr.pipeline, "load_pipeline", lambda path=None: seen.append(path) or clf)
    solver = Solver.load("some/model.joblib", low_confidence=0.7)
    assert seen == ["some/model.joblib"] and solver.pipeline is clf and solver.low_confidence == 0.7
    import mathocr

    assert mathocr.Solver is Solver and mathocr.Solution is Solution


def test_solution_failure_helper():
    from mathocr.errors import EvaluationError

    sol = Solution.failure(EvaluationError("x"), [Token("1", 0.5, (0, 0, 1, 1))], ["w"])
    assert sol.expression == "1" and sol.code == "division_by_zero" and sol.warnings == ["w"]


# ---------------------------------------------------------------- real pipelines


def test_with_a_really_fitted_tiny_pipeline(tiny_pipeline):
    solver = Solver(tiny_pipeline)
    sols = list(solver.solve_many([draw_page("10+1")[0], draw_page("1-0")[0]]))
    for sol, n in zip(sols, (4, 3), strict=True):
        assert len(sol.tokens) == n
        assert all(t.symbol in CLASSES and 0 <= t.confidence <= 1 for t in sol.tokens)
        # An untrained network reads little: an honest error is a right answer here.
        assert sol.error is None or sol.code in (
            "division_by_zero",
            "no_expression",
            "incomplete_expression",
            "malformed_expression",
        )


@pytest.fixture(scope="module")
def bundled_solver():
    from mathocr.errors import ModelError

    try:
        return Solver.load()
    except (ModelError, ImportError, FileNotFoundError, OSError) as exc:
        pytest.skip(f"no bundled model: {exc}")


@pytest.mark.data
def test_bundled_model_reads_synthetic_expressions(bundled_solver, data_dir):
    from mathocr.synth import make_expression_set

    styles = ["clean", "colour", "photo", "chalk"]
    items = make_expression_set(64, styles=styles, seed=2024, data_dir=data_dir)
    sols = list(bundled_solver.solve_many([it.image for it in items]))
    exact = np.mean([s.expression == it.expression for s, it in zip(sols, items, strict=True)])
    # A regression guard: the bundled model reads 60 of these 64; the 97% target over
    # every style is tracked by the benchmark report (benchmarks/results/report.md).
    assert exact >= 0.85
    for s, it in zip(sols, items, strict=True):
        if s.expression == it.expression:
            assert s.value == it.value


@pytest.mark.parametrize("text", ["(3+4)*2", "2(3+4)", "12-(3+4)", "(1+2)*(3-4)", "(7-1)*3=18"])
def test_brackets_as_tall_as_the_digits_are_read(bundled_solver, text):
    # The page's own handwriting writes brackets no taller than its digits, as a fifth of
    # UNIPEN's writers do; alone such an arc is a curved 1 as often, a pair is brackets.
    from mathocr.web.handwriting import render_png

    sol = bundled_solver.solve(render_png(text))
    brackets = [t for t in sol.tokens if t.symbol in "()"]
    assert (sol.status, sol.expression) == ("ok", text)
    assert all(t.box[3] <= 1.05 * max(u.box[3] for u in sol.tokens if u.symbol.isdigit()) for t in brackets)


def test_the_pages_equals_and_colon_written_small_or_large_are_read(bundled_solver):
    # Written small with the page's pen, the bars of a "=" run into one solid bar, which
    # the classifier reads as a confident "*": a wrong check (30*72*2160) was answered as
    # sure. Now it asks, the check among its readings; at the line's end, where "*" makes
    # no expression, the "=" is read.
    from mathocr.web.handwriting import render_png

    for text in ("30*72=2160", "30*72=2170"):
        sol = bundled_solver.solve(render_png(text))
        assert sol.status == "unsure" and text in [sol.expression, *(a.expression for a in sol.alternatives)]
        assert sol.tokens[5].box[3] < 0.5 * sol.tokens[0].box[3]
    sol = bundled_solver.solve(render_png("841/970-4="))
    assert sol.expression == "841/970-4=" and sol.value == Fraction(841, 970) - 4
    # Written large, a colon's dots are ovals: still a division, not a question.
    for text, value in (("6:3", 2), ("8:2+1", 5)):
        sol = bundled_solver.solve(render_png(text))
        assert (sol.status, sol.expression, sol.value) == ("ok", text.replace(":", "/"), value)


def test_the_pages_own_handwriting_is_never_answered_wrong_as_sure(bundled_solver):
    # Every form (40 drawings each) in the page's handwriting at its own pen, on canvases of
    # 600x200, 900x300 and 400x150 (two lines: twice as tall): what is answered as sure is
    # right, and nothing valid is refused. At the start of the eighteenth sitting 11 were
    # answered wrong as sure (a "=" whose bars ran together read "*", brackets read "1") and
    # 18 refused (that "=" at a line's end).
    from mathocr.synth import EXPRESSION_FORMS, canonical
    from mathocr.web.handwriting import render

    rng = np.random.default_rng(3)
    answered = []
    for form in EXPRESSION_FORMS.values():
        for k in range(40):
            lines = form.make(rng, 3, 9, k % 2 == 0)
            w, h = [(600, 200), (900, 300), (400, 150)][k % 3]
            text = "\n".join("".join(line) for line in lines)
            truth = "\n".join("".join(canonical(n) for n in line) for line in lines)
            sol = bundled_solver.solve(np.asarray(render(text, (w, h * len(lines)), pen=max(2.0, h / 18))))
            answered.append((form.name, text, sol.status, sol.expression == truth))
    assert not [a for a in answered if a[2] == "ok" and not a[3]]
    assert not [a for a in answered if a[2] == "error"]
    assert sum(a[2] == "ok" for a in answered) >= 0.6 * len(answered)


def test_a_seven_is_no_bracket_for_a_straight_one(bundled_solver):
    # A 7's bar hooks its stroke: a loose arc bulging right. A straight 1 left of it on
    # the line is no opening bracket for it (the 7 had been asked as ")").
    from mathocr.web.handwriting import render_png

    sol = bundled_solver.solve(render_png("7+1+78+2\n6+7", size=(600, 400), pen=7.8))
    assert (sol.status, sol.expression) == ("ok", "7+1+78+2\n6+7")


def test_class_weights_move_a_close_call_and_are_validated():
    from mathocr.symbols import CLASSES
    from tests._expr_drawing import ScriptedClassifier

    def rows():
        def one(probs):
            return [probs.get(c, 0.0) for c in CLASSES]

        return [one({"1": 1.0}), one({"1": 0.7, "/": 0.3}), one({"1": 1.0})]

    page = draw_page("1/1")[0]
    assert Solver(ScriptedClassifier(rows()), class_weights={}).solve(page).expression == "111"
    assert Solver(ScriptedClassifier(rows())).solve(page).expression == "111"  # none by default
    scripted = ScriptedClassifier(rows())
    # 2.4 vs 0.7, against a stroke of the digits' height (decoding.one_or_slash) that
    # speaks for a 1 by about e^0.8.
    sol = Solver(scripted, class_weights={"/": 8.0}).solve(page)
    assert sol.expression == "1/1" and sol.tokens[1].confidence == pytest.approx(2.4 / 3.1, abs=1e-3)
    with pytest.raises(ValueError, match="class_weights"):
        Solver(scripted, class_weights={"%": 2.0})
    with pytest.raises(ValueError, match="class_weights"):
        Solver(scripted, class_weights={"/": 0})


def _jpeg(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


@pytest.mark.parametrize("stored", ["upright", "sideways"])
def test_a_large_jpeg_is_decoded_reduced_and_answered_in_its_pixels(stored):
    from mathocr.io import read_image, read_reduced

    from ._expr_drawing import DESK_SUM_BOX, desk_photo

    upright = desk_photo(scale=4)  # 4800x2800: decoded at half size for segmentation's 1,600
    data = _jpeg(upright) if stored == "upright" else sideways_jpeg(upright)
    reduced = read_reduced(data, side=1600)
    assert (reduced.scale, reduced.size) == (2.0, (4800, 2800))
    assert reduced.pixels.shape[:2] == (1400, 2400)
    solver = Solver(ShapeClassifier())
    fast, full = solver.solve(data), solver.solve(read_image(data))
    assert len(fast.tokens) == len(full.tokens) > 5
    for a, b in zip(fast.tokens, full.tokens, strict=True):
        assert max(abs(u - v) for u, v in zip(a.box, b.box, strict=True)) <= 8  # pixels of 4800
    # A region is read finer: its part of the picture keeps 1,600 pixels or all it has.
    region = tuple(4 * v for v in DESK_SUM_BOX)
    fast, full = solver.solve(data, region=region), solver.solve(read_image(data), region=region)
    assert len(fast.tokens) == len(full.tokens) == 5
    x, y, w, h = region
    assert all(x <= t.box[0] <= t.box[0] + t.box[2] <= x + w and y <= t.box[1] < y + h for t in fast.tokens)
    for a, b in zip(fast.tokens, full.tokens, strict=True):
        assert max(abs(u - v) for u, v in zip(a.box, b.box, strict=True)) <= 8


@pytest.mark.parametrize(
    ("read", "p", "status", "others"),
    [("-", 0.7, "ok", []), ("-", 0.95, "unsure", ["12+69-"]), ("5", 0.7, "unsure", ["12+695"])],
)
def test_a_joined_equals_at_the_end_is_a_compute_or_a_question(read, p, status, others):
    from mathocr.segmentation import segment

    from .test_segmentation import _z_equals, write

    end = max(s.box[0] + s.box[2] for s in segment(write("12+69")).segments) + 30
    page = write("12+69", marks=[_z_equals(end)])
    # A minus the classifier is sure of is not overruled by the shape: the answer asks.
    sol = Solver(ScriptedClassifier([*(one_hot(c) for c in "12+69"), one_hot(read, p)])).solve(page)
    assert (sol.expression, sol.value, sol.status) == ("12+69=", 81, status)
    assert [a.expression for a in sol.alternatives] == others
