"""Rules with many cases: path encoding, url keys, Magento's messages, timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote_plus

from hypothesis import given
from hypothesis import strategies as st
from serialsync_magento.client import render_message, sku_path
from serialsync_magento.mapping import format_time, parse_time, url_key

TEXT = st.text(min_size=1, max_size=80)


@given(TEXT)
def test_a_sku_in_a_path_survives_magentos_urldecode_and_stays_one_segment(sku):
    encoded = sku_path(sku)
    assert unquote_plus(encoded) == sku
    assert re.fullmatch(r"(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})+", encoded)


def test_pipe_and_plus_are_encoded():
    assert sku_path("A+B|||S/1 #") == "A%2BB%7C%7C%7CS%2F1%20%23"


@given(st.text(max_size=40), TEXT, TEXT)
def test_url_keys_are_valid_and_differ_for_different_skus(title, sku_a, sku_b):
    key_a, key_b = url_key(title, sku_a), url_key(title, sku_b)
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", key_a)
    assert len(key_a) <= 160
    if sku_a != sku_b:
        assert key_a != key_b


def test_messages_fill_numbered_and_named_placeholders():
    assert render_message({"message": "%1 and %2", "parameters": ["a", "b"]}) == "a and b"
    assert render_message({"message": "%10/%1", "parameters": list("abcdefghij")}) == "j/a"
    assert render_message({"message": "no %resources", "parameters": {"resources": "X"}}) == "no X"
    assert (
        render_message(
            {"message": "Validation Failed", "errors": [{"message": "bad %1", "parameters": ["q"]}]}
        )
        == "Validation Failed; bad q"
    )


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2099, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]),
    )
)
def test_timestamps_round_trip_in_utc(moment):
    moment = moment.replace(microsecond=0)
    parsed = parse_time(format_time(moment))
    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)
