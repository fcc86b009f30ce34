"""Identifiers are never altered, and no unit is listed without a price (issue 15 #5, #6).

The identifier rule is stated as properties: any character a system would alter or hide,
placed anywhere in an otherwise valid SKU or serial, is refused with a message naming that
character (``U+XXXX NAME``) and its position; valid text is accepted exactly as it is.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serialsync import IntegrationIdError, compose
from serialsync.validation import MAX_PRICE, check_identifier, describe_char, price_problem

_GOOD = st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")).filter(
    lambda c: c == " " or (not c.isspace() and c not in "\u00a0\u2007\u202f")
)
good_text = st.text(_GOOD, min_size=1, max_size=20).filter(lambda t: t == t.strip(" ") and t)

C0 = [chr(c) for c in range(0x20)]
C1 = [chr(c) for c in range(0x80, 0xA0)]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
NO_BREAK = ["\u00a0", "\u2007", "\u202f"]
SURROGATES = [chr(c) for c in (0xD800, 0xDBFF, 0xDC00, 0xDFFF)]
# (character, the rule's suffix)
BAD = (
    [(c, "control-character") for c in [*C0, "\x7f", *C1]]
    + [(c, "invisible-character") for c in ZERO_WIDTH]
    + [(c, "non-breaking-space") for c in NO_BREAK]
    + [(c, "unpaired-surrogate") for c in SURROGATES]
    + [(c, "whitespace") for c in ["\u2028", "\u2029", "\u2003", "\u3000"]]
)


@given(
    text=good_text,
    bad=st.sampled_from(BAD),
    where=st.integers(min_value=0, max_value=20),
    part=st.sampled_from(["sku", "serial"]),
)
def test_a_bad_character_anywhere_is_refused_by_name_and_position(text, bad, where, part):
    char, rule = bad
    at = min(where, len(text))
    value = text[:at] + char + text[at:]
    with pytest.raises(IntegrationIdError) as info:
        check_identifier(value, part)
    assert info.value.rule == f"{part}-{rule}"
    message = str(info.value)
    assert f"U+{ord(char):04X}" in message
    assert f"position {at + 1} of {len(value)}" in message
    # The message itself is safe to print and store: nothing invisible, nothing unencodable.
    assert message.isprintable()
    message.encode("utf-8")


@given(text=good_text, part=st.sampled_from(["sku", "serial"]))
def test_valid_text_is_accepted_exactly_as_it_is(text, part):
    check_identifier(text, part)  # no error, and nothing returned to replace it


@pytest.mark.parametrize("code", range(0x80))
def test_every_ascii_character_is_judged_as_the_character_rule_says(code):
    # Printable ASCII skips the per-character walk: each of the 128 must still get its verdict.
    value = f"A{chr(code)}B"
    if chr(code).isprintable():
        check_identifier(value, "sku")
    else:
        with pytest.raises(IntegrationIdError) as info:
            check_identifier(value, "sku")
        assert info.value.rule == "sku-control-character"
        assert "position 2 of 3" in str(info.value)


@given(text=good_text, pad=st.sampled_from(["start", "end", "both"]))
def test_padding_with_spaces_is_refused_never_trimmed(text, pad):
    value = (" " if pad != "end" else "") + text + (" " if pad != "start" else "")
    with pytest.raises(IntegrationIdError) as info:
        check_identifier(value, "serial")
    assert info.value.rule == "serial-padded"
    assert "U+0020 SPACE" in str(info.value)


@given(spaces=st.integers(min_value=1, max_value=10))
def test_a_blank_serial_is_refused(spaces):
    with pytest.raises(IntegrationIdError) as info:
        check_identifier(" " * spaces, "serial")
    assert info.value.rule == "serial-blank"


def test_an_empty_serial_is_refused():
    with pytest.raises(IntegrationIdError) as info:
        check_identifier("", "serial")
    assert info.value.rule == "serial-empty"


@given(sku=good_text, serial=good_text.filter(lambda t: "|" not in t))
def test_compose_either_refuses_or_keeps_every_character(sku, serial):
    try:
        text = compose(sku, serial)
    except IntegrationIdError:
        return
    assert text == f"{sku}|||{serial}"


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\x00", "U+0000 NULL"),
        ("\t", "U+0009 CHARACTER TABULATION"),
        ("\n", "U+000A LINE FEED"),
        ("\x1b", "U+001B ESCAPE"),
        ("\x7f", "U+007F DELETE"),
        ("\x85", "U+0085 CONTROL"),
        ("\u00a0", "U+00A0 NO-BREAK SPACE"),
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\ud800", "U+D800 SURROGATE"),
    ],
)
def test_characters_are_named_by_code_point_and_name(char, name):
    assert describe_char(char) == name


# -- prices ------------------------------------------------------------------------------------

BAD_PRICES = [
    Decimal("0"),
    Decimal("0.00"),
    Decimal("-1.00"),
    Decimal("NaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    MAX_PRICE + Decimal("0.01"),
    Decimal("1e12"),
]


@pytest.mark.parametrize("price", BAD_PRICES, ids=str)
def test_a_bad_unit_price_is_no_price(price):
    problem = price_problem(price, Decimal("100"))
    assert problem is not None
    assert problem.startswith("no price in the POS")
    assert "unit's price" in problem


@pytest.mark.parametrize("price", BAD_PRICES, ids=str)
def test_without_a_unit_price_the_products_bad_price_is_no_price(price):
    problem = price_problem(None, price)
    assert problem is not None
    assert problem.startswith("no price in the POS")
    assert "product's price" in problem


def test_no_price_at_all_is_no_price():
    assert price_problem(None, None) == (
        "no price in the POS: neither the unit nor its product has a price"
    )


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=MAX_PRICE, allow_nan=False, places=2),
    st.one_of(st.none(), st.sampled_from(BAD_PRICES)),
)
def test_a_valid_unit_price_wins_over_any_product_price(price, product_price):
    assert price_problem(price, product_price) is None
    assert price_problem(None, price) is None
