"""Integration id ``SKU|||SERIAL``: round trip, every rule refused by name, length, serial rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serialsync import (
    CHANNEL_SKU_LIMITS,
    IntegrationId,
    IntegrationIdError,
    SerialPatternError,
    SerialRules,
    check_length,
    compose,
    parse,
)

# Letters from every script, digits, punctuation, symbols and inner spaces: a SKU or serial
# may hold any of them as long as the rules hold.
# Characters a system would alter or hide are refused (see test_validation.py), so they are
# left out here: controls, format characters, separators other than the plain space.
_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")).filter(
    lambda c: c == " " or (not c.isspace() and c not in "\u00a0\u2007\u202f")
)


def _valid_part(text: str) -> bool:
    return bool(text) and text == text.strip() and "|||" not in text


valid_serials = st.text(_CHARS.filter(lambda c: c != "|"), min_size=1, max_size=30).filter(
    _valid_part
)
# SKUs built from chunks joined by single or double pipes, so '|' inside a SKU is exercised
# on purpose rather than left to chance.
valid_skus = st.builds(
    lambda chunks, seps: "".join(c + s for c, s in zip(chunks, seps, strict=False)) + chunks[-1],
    st.lists(st.text(_CHARS.filter(lambda c: c != "|"), min_size=1, max_size=8), min_size=1),
    st.lists(st.sampled_from(["|", "||"]), min_size=0, max_size=5),
).filter(lambda s: _valid_part(s) and not s.endswith("|"))


@given(sku=valid_skus, serial=valid_serials)
def test_round_trip_parse_of_compose_gives_back_the_pair(sku, serial):
    text = compose(sku, serial)
    assert text == f"{sku}|||{serial}"
    assert parse(text) == IntegrationId(sku=sku, serial=serial)
    assert str(parse(text)) == text


def test_round_trip_with_unicode_and_single_pipes_in_the_sku():
    for sku, serial in [("Gitarre|Ahorn", "ÄÖÜ-β-12"), ("A|B|C", "S 1"), ("木|材", "序列号")]:
        assert parse(compose(sku, serial)) == IntegrationId(sku, serial)


def test_real_world_id_parses_into_sku_and_serial():
    parsed = parse("0113942719|||US210033734")
    assert parsed.sku == "0113942719"
    assert parsed.serial == "US210033734"
    assert parsed.is_serialized


@pytest.mark.parametrize(
    ("sku", "serial", "rule"),
    [
        ("", "S1", "sku-empty"),
        ("A", "", "serial-empty"),
        (" A", "S1", "sku-padded"),
        ("A\t", "S1", "sku-control-character"),
        ("A", "S1 ", "serial-padded"),
        ("A", "\u00a0S1", "serial-non-breaking-space"),
        ("A|||B", "S1", "sku-contains-separator"),
        ("A", "S|||1", "serial-contains-separator"),
        ("A", "S|1", "serial-contains-pipe"),
        ("A", "|S1", "serial-contains-pipe"),
        ("A|", "S1", "sku-ends-with-pipe"),
        ("A||", "S1", "sku-ends-with-pipe"),
    ],
)
def test_compose_refuses_each_rule_by_name(sku, serial, rule):
    with pytest.raises(IntegrationIdError) as info:
        compose(sku, serial)
    assert info.value.rule == rule
    assert isinstance(info.value, ValueError)  # callers catching ValueError still see it


@pytest.mark.parametrize("text", ["ABC-123", "A|B", "A||B", "A|", "Gitarre Ahorn", "木材"])
def test_text_without_separator_parses_as_plain_sku(text):
    parsed = parse(text)
    assert parsed == IntegrationId(sku=text, serial=None)
    assert not parsed.is_serialized
    assert str(parsed) == text


@pytest.mark.parametrize(
    ("text", "rule"),
    [("", "sku-empty"), (" ABC", "sku-padded"), ("ABC\n", "sku-control-character")],
)
def test_plain_sku_breaking_a_rule_is_refused(text, rule):
    with pytest.raises(IntegrationIdError) as info:
        parse(text)
    assert info.value.rule == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("A||||B", "sku-ends-with-pipe"),  # A| + B, or A + |B?
        ("A|||||B", "sku-ends-with-pipe"),
        ("A|||B|||C", "sku-contains-separator"),
        ("A|||", "serial-empty"),
        ("|||B", "sku-empty"),
        (" A|||B", "sku-padded"),
        ("A |||B", "sku-padded"),
        ("A||| B", "serial-padded"),
        ("A|||B|C", "serial-contains-pipe"),
    ],
)
def test_ambiguous_text_is_refused_never_guessed(text, rule):
    with pytest.raises(IntegrationIdError) as info:
        parse(text)
    assert info.value.rule == rule


def test_check_length_accepts_magento_64_and_refuses_65():
    limit = CHANNEL_SKU_LIMITS["magento"]
    assert limit == 64
    at_limit = compose("S" * 30, "N" * (64 - 33))
    assert len(at_limit) == 64
    check_length(at_limit, limit=limit, channel="magento")  # no error
    with pytest.raises(IntegrationIdError) as info:
        check_length(at_limit + "N", limit=limit, channel="magento")
    assert info.value.rule == "too-long-for-channel"
    assert "65" in str(info.value)
    assert "magento" in str(info.value)


def test_check_length_counts_characters_not_bytes():
    text = compose("木" * 30, "号" * 31)  # 64 characters, 190 bytes in UTF-8
    assert len(text) == 64
    check_length(text, limit=64, channel="magento")


def test_serial_rules_pattern_must_match_the_whole_serial():
    rules = SerialRules(pattern=r"US\d{9}")
    rules.check("US210033734")
    for bad in ["US21003373", "XUS210033734", "US2100337345", "us210033734"]:
        with pytest.raises(SerialPatternError, match="pattern"):
            rules.check(bad)


def test_serial_rules_without_rules_accept_anything():
    SerialRules().check("any thing | at all")


@pytest.mark.parametrize("serial", ["1", "A" * 20, "US210033734", "aZ09!\"%&'()*+,-./:;<"])
def test_gs1_profile_accepts_1_to_20_characters_of_the_set(serial):
    SerialRules(profile="gs1").check(serial)


def test_gs1_profile_accepts_every_character_of_its_82_character_set():
    charset = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    assert len(charset) == 82
    rules = SerialRules(profile="gs1")
    for start in range(0, len(charset), 20):
        rules.check(charset[start : start + 20])


@pytest.mark.parametrize(
    ("serial", "words"),
    [
        ("", "0 characters"),
        ("A" * 21, "21 characters"),
        ("AB#1", "outside the GS1 set"),
        ("AB 1", "outside the GS1 set"),
        ("ÄB1", "outside the GS1 set"),
        ("AB|1", "outside the GS1 set"),
        ("AB$1", "outside the GS1 set"),
    ],
)
def test_gs1_profile_refuses_length_and_charset(serial, words):
    with pytest.raises(SerialPatternError, match=words):
        SerialRules(profile="gs1").check(serial)


def test_pattern_and_gs1_profile_both_apply():
    rules = SerialRules(pattern=r"[A-Z]+\d+", profile="gs1")
    rules.check("AB12")
    with pytest.raises(SerialPatternError, match="GS1"):
        rules.check("AB" + "1" * 19)
    with pytest.raises(SerialPatternError, match="pattern"):
        rules.check("ab12")
