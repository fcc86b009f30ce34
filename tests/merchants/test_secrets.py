"""Merchants' configurations sealed with SERIALSYNC_SECRET_KEY: opened by the right keys only,
rotated without loss, and no key ever shown (issue 18 #2)."""

from __future__ import annotations

import pytest
from serialsync.merchants import SECRET_KEY_ENV, SecretBox, SecretKeyError, new_key

TEXT = '[connectors.shop]\nplugin = "shopify"\naccess_token = "shpat_SECRET_0123"\n'


def test_sealed_text_opens_again_and_holds_nothing_in_clear() -> None:
    box = SecretBox([new_key()])
    token = box.seal(TEXT)
    assert b"shpat_SECRET_0123" not in token
    assert box.open(token, what="merchant 'a'") == TEXT


def test_another_key_cannot_open_it_and_the_error_names_no_key() -> None:
    key, other = new_key(), new_key()
    token = SecretBox([key]).seal(TEXT)
    with pytest.raises(SecretKeyError) as caught:
        SecretBox([other]).open(token, what="merchant 'a'")
    message = str(caught.value)
    assert "merchant 'a'" in message and SECRET_KEY_ENV in message
    assert key not in message and other not in message


def test_a_tampered_token_is_refused_not_read_as_garbage() -> None:
    box = SecretBox([new_key()])
    token = bytearray(box.seal(TEXT))
    token[-5] ^= 1
    with pytest.raises(SecretKeyError):
        box.open(bytes(token), what="merchant 'a'")


def test_rotation_new_key_first_opens_old_rows_and_reseals_them() -> None:
    old, new = new_key(), new_key()
    token = SecretBox([old]).seal(TEXT)
    both = SecretBox([new, old])
    assert both.open(token, what="m") == TEXT
    resealed = both.reseal(token, what="m")
    assert SecretBox([new]).open(resealed, what="m") == TEXT
    with pytest.raises(SecretKeyError):
        SecretBox([old]).open(resealed, what="m")


def test_keys_come_from_the_environment_comma_separated() -> None:
    old, new = new_key(), new_key()
    box = SecretBox.from_env({SECRET_KEY_ENV: f" {new} , {old} "})
    assert box.key_count == 2
    assert new not in repr(box) and old not in repr(box)


def test_a_missing_key_says_how_to_make_one() -> None:
    with pytest.raises(SecretKeyError, match="merchants new-key"):
        SecretBox.from_env({})


def test_a_malformed_key_is_named_by_position_never_echoed() -> None:
    with pytest.raises(SecretKeyError) as caught:
        SecretBox.from_env({SECRET_KEY_ENV: f"{new_key()},not-a-real-key-SECRET"})
    assert "key 2 of 2" in str(caught.value)
    assert "not-a-real-key-SECRET" not in str(caught.value)
