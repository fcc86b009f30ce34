"""The serial attribute's options: a save's answer holds every option of the attribute (the
whole catalogue's serials), and only the ones just sent are read from it (issue 22 #1: reading
all of them for every product made a first publish quadratic)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from serialsync_magento.serial_options import SerialAttribute
from serialsync_magento.settings import MagentoSettings


class _Client:
    """Answers the attribute save as Magento does: every option the attribute holds."""

    def __init__(self, existing: dict[str, int], case: str = "as sent") -> None:
        self.options = [{"label": label, "value": str(i)} for label, i in existing.items()]
        self.case = case
        self.saves = 0

    def attribute_options(self, code: str) -> list[dict[str, Any]]:
        return list(self.options)

    def add_options(self, attribute: Any, labels: Sequence[str]) -> list[Any]:
        self.saves += 1
        for label in labels:
            shown = label.lower() if self.case == "lower" else label
            self.options.append({"label": shown, "value": str(100 + len(self.options))})
        return list(self.options)


def _serials(client: object) -> SerialAttribute:
    settings = MagentoSettings(base_url="https://shop.example", access_token="t")
    return SerialAttribute(
        client,  # type: ignore[arg-type]
        settings,
        log=structlog.get_logger(),
        connector="magento",
    )


def _attribute(client: _Client) -> SerialAttribute:
    serials = _serials(client)
    serials._attribute = {"attribute_code": "serial_number", "attribute_id": 1}
    return serials


def test_the_new_options_ids_are_read_from_the_save_and_no_other() -> None:
    client = _Client({"OLD1": 1})
    serials = _attribute(client)
    assert serials.option_ids([("A1", None), ("B2", None)]) == [101, 102]
    # An option added meanwhile by someone else, answered by the next save, is not read:
    client.options.append({"label": "ELSEWHERE", "value": "7"})
    assert serials.option_ids([("C3", None), ("D4", None)]) == [104, 105]
    assert "ELSEWHERE" not in serials._options
    assert client.saves == 2


def test_an_option_answered_under_another_case_is_still_adopted() -> None:
    client = _Client({}, case="lower")
    serials = _attribute(client)
    [a, _b] = serials.option_ids([("Ab1", None), ("Cd2", None)])
    # Magento compares labels without case: the option it holds is that serial's, and the
    # label's case names the conflict, as before.
    assert not isinstance(a, int)
    assert getattr(a, "code", None) == "option-label-conflict"
    assert client.saves == 1


class _Counted(Sequence[Any]):
    """Options that count how many of them a walk reads."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.read = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        self.read += 1
        return self.items[index]


def test_the_walk_for_the_new_options_stops_at_the_ones_sent_and_keeps_the_later_id() -> None:
    serials = _attribute(_Client({}))
    answer = _Counted(
        [{"label": f"OLD{i}", "value": str(i)} for i in range(1000)]
        + [
            {"label": "A1", "value": "2001"},  # the same label twice: the later id is kept
            {"label": "B2", "value": "2002"},
            {"label": "A1", "value": "2003"},
        ]
    )
    serials._remember(answer, only=frozenset({"A1", "B2"}))
    assert serials._options == {"A1": ("A1", 2003), "B2": ("B2", 2002)}
    assert answer.read <= 3  # not the catalogue's 1,000 other serials


def test_an_option_sent_but_answered_away_from_the_end_is_still_found() -> None:
    # A store that orders options otherwise (by sort order): the walk goes on until each label
    # sent is found; an option without a usable id is passed over for an earlier one.
    serials = _attribute(_Client({}))
    answer = [
        {"label": "A1", "value": "11"},
        *({"label": f"OLD{i}", "value": str(i)} for i in range(50)),
        {"label": "B2", "value": "12"},
        {"label": "B2", "value": ""},
    ]
    serials._remember(answer, only=frozenset({"A1", "B2"}))
    assert serials._options == {"A1": ("A1", 11), "B2": ("B2", 12)}


class _FirstReadClient:
    """A store without the serial attribute; a read of it waits (bounded) for a second reader,
    so two first calls side by side both find it missing unless one waits for the other."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.reads = 0
        self.second_reader = threading.Event()
        self._lock = threading.Lock()

    def get_attribute(self, code: str) -> dict[str, Any] | None:
        with self._lock:
            self.reads += 1
            if self.reads == 2:
                self.second_reader.set()
        self.second_reader.wait(0.5)  # only a run without the lock finds a second reader
        with self._lock:
            return {**_SERIAL, "attribute_code": code} if self.created else None

    def create_attribute(self, attribute: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self.created:
                raise AssertionError("An attribute with this code already exists.")
            self.created.append(attribute["attribute_code"])
            return {**_SERIAL, "attribute_code": attribute["attribute_code"]}

    def set_attribute_codes(self, attribute_set_id: int) -> set[str]:
        return {"serial_number"}

    def has_configurable_products(self) -> bool:
        return False


_SERIAL = {"attribute_id": 9, "frontend_input": "select", "scope": "global", "options": []}


def test_two_first_calls_side_by_side_create_the_attribute_once() -> None:
    client = _FirstReadClient()
    serials = _serials(client)
    with ThreadPoolExecutor(max_workers=2) as pool:
        ids = list(pool.map(lambda _: serials.attribute_id(), range(2)))
    assert ids == [9, 9]
    assert client.created == ["serial_number"]
    assert client.reads == 1  # the second call waited for the first and took its answer
