import pytest

from mathocr.symbols import ALIASES, CLASSES, DISPLAY, canonical, is_known


def test_fourteen_classes():
    assert CLASSES == (*tuple("0123456789"), "+", "-", "*", "/")


@pytest.mark.parametrize(
    "name,token",
    [
        ("+", "+"),
        ("plus", "+"),
        ("addition_plus", "+"),
        ("-", "-"),
        ("minus", "-"),
        ("subtraction_minus", "-"),
        ("times", "*"),
        ("x", "*"),
        ("X", "*"),
        ("×", "*"),
        ("multiplication_cross", "*"),
        ("multiplication_dot", "*"),
        ("dot", "*"),
        ("·", "*"),
        ("div", "/"),
        ("÷", "/"),
        ("division_obelus", "/"),
        ("forward_slash", "/"),
        ("slash", "/"),
        ("division_slash", "/"),
        ("7", "7"),
        (" Minus ", "-"),
    ],
)
def test_aliases(name, token):
    assert canonical(name) == token
    assert is_known(name)


def test_unknown_alias_lists_known_names():
    with pytest.raises(KeyError, match="known names"):
        canonical("equals")
    assert not is_known("=")


def test_every_alias_and_display_maps_into_classes():
    assert set(ALIASES.values()) == set(CLASSES)
    assert set(DISPLAY) == set(CLASSES)
