"""The attribute save's answer is read for the options just added, not decoded whole (issue 22
#1), and whenever that part cannot be read for sure the answer is decoded whole instead: never
a wrong id."""

from __future__ import annotations

import json
from typing import Any

from serialsync_magento.option_answer import added_options


def _answer(options: list[dict[str, Any]], *, spaced: bool = False, after: str = "") -> bytes:
    """An attribute save's answer as Magento gives it: the attribute with every option."""
    attribute = {"attribute_id": 7, "attribute_code": "serial", "options": options}
    text = json.dumps(attribute) if spaced else json.dumps(attribute, separators=(",", ":"))
    return (text[:-1] + after + "}").encode() if after else text.encode()


def _store(count: int) -> list[dict[str, Any]]:
    return [{"label": " ", "value": ""}] + [
        {"label": f"S{n:05d}", "value": str(1000 + n)} for n in range(count)
    ]


def test_only_the_tail_from_the_first_label_sent_is_read() -> None:
    options = [*_store(500), {"label": "NEW1", "value": "9001"}, {"label": "NEW2", "value": "9002"}]
    for spaced in (False, True):
        assert added_options(_answer(options, spaced=spaced), ["NEW1", "NEW2"]) == options[-2:]


def test_what_comes_before_the_new_options_is_never_decoded() -> None:
    body = _answer([*_store(3), {"label": "NEW1", "value": "9001"}])
    broken = body.replace(b'"S00001"', b"S00001")  # not JSON: decoding it all would fail
    assert added_options(broken, ["NEW1"]) == [{"label": "NEW1", "value": "9001"}]


def test_a_label_answered_twice_gives_its_last_option_as_a_whole_walk_would() -> None:
    options = [
        *_store(3),
        {"label": "NEW1", "value": "9001"},
        {"label": "NEW2", "value": "9002"},
        {"label": "NEW1", "value": "9003"},
    ]
    tail = added_options(_answer(options), ["NEW1", "NEW2"])
    assert tail is not None
    last = {o["label"]: o["value"] for o in tail}  # the later of a label twice
    assert last == {"NEW1": "9003", "NEW2": "9002"}


def test_a_label_answered_otherwise_than_sent_leaves_it_to_the_whole_answer() -> None:
    options = [*_store(3), {"label": "new1", "value": "9001"}]  # another case
    assert added_options(_answer(options), ["NEW1"]) is None
    missing = [*_store(3), {"label": "NEW1", "value": ""}]  # no id
    assert added_options(_answer(missing), ["NEW1"]) is None


def test_labels_with_json_in_them_are_read_from_the_tail_and_never_misread() -> None:
    tricky = [
        '{"label":"X","value":"1"}',
        "a{b",
        'quote"d',
        "é/ü",
        "[]",
        ",",
        "back\\slash",
        "tab\there",
    ]
    options = [*_store(3)] + [{"label": t, "value": str(9000 + n)} for n, t in enumerate(tricky)]
    for spaced in (False, True):
        tail = added_options(_answer(options, spaced=spaced), tricky)
        assert tail is not None  # escaped as Python's json escapes them: read from the tail
        assert {o["label"]: o["value"] for o in tail} == {
            t: str(9000 + n) for n, t in enumerate(tricky)
        }


def test_a_label_met_last_outside_the_options_leaves_it_to_the_whole_answer() -> None:
    options = [*_store(3), {"label": "NEW1", "value": "9001"}]
    labels = ',"frontend_labels":[{"store_id":0,"label":"NEW1"}]'
    assert added_options(_answer(options, after=labels), ["NEW1"]) is None
    nested = [*_store(3), {"label": "NEW1", "value": "9001", "store_labels": [{"label": "NEW1"}]}]
    assert added_options(_answer(nested), ["NEW1"]) is None


def test_nothing_sent_or_nothing_found_is_none() -> None:
    assert added_options(_answer(_store(3)), []) is None
    assert added_options(_answer(_store(3)), ["NEW1"]) is None
    assert added_options(b"", ["NEW1"]) is None
    assert added_options(b'"NEW1"', ["NEW1"]) is None
