import pytest

from mathocr.symbols import (
    ALIASES,
    BY_TOKEN,
    CLASSES,
    DISPLAY,
    FORMS,
    PRECEDENCE,
    TOKENS,
    VOCABULARY,
    canonical,
    form,
    is_known,
    with_role,
)


def test_classes_are_digits_and_operators():
    # "=", brackets and the decimal point are found by their shape (see the README).
    assert CLASSES == (*tuple("0123456789"), "+", "-", "*", "/")
    assert TOKENS == (*CLASSES, "=", "(", ")", ".")


def test_one_table_derives_everything():
    assert len({s.token for s in VOCABULARY}) == len(VOCABULARY)
    assert with_role("digit") == tuple("0123456789")
    assert PRECEDENCE == {"+": 1, "-": 1, "*": 2, "/": 2}
    assert set(FORMS) == set(ALIASES)
    # Found by shape, never learned: UNIPEN's "." is no dot; brackets cost unseen writers' 1s.
    assert not any(BY_TOKEN[t].learned for t in "=().")
    # No name stands for two tokens.
    names = [name for s in VOCABULARY for name in s.forms]
    assert len(names) == len(set(names))


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
        (":", "/"),
        ("=", "="),
        ("(", "("),
        (")", ")"),
        (",", "."),
    ],
)
def test_aliases(name, token):
    assert canonical(name) == token
    assert is_known(name)


def test_unknown_alias_lists_known_names():
    with pytest.raises(KeyError, match="known names"):
        canonical("percent")
    assert not is_known("%")


def test_written_forms():
    assert (form(":"), form("÷"), form("/")) == ("colon", "obelus", "slash")
    assert (form("="), form("("), form(".")) == ("equals", "open", "point")


def test_every_alias_and_display_maps_into_tokens():
    assert set(ALIASES.values()) == set(TOKENS)
    assert set(DISPLAY) == set(TOKENS)
