"""The serial attribute's options: a save's answer holds every option of the attribute (the
whole catalogue's serials), and only the ones just sent are read from it (issue 22 #1: reading
all of them for every product made a first publish quadratic)."""

from __future__ import annotations

from collections.abc import Sequence
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


def _attribute(client: _Client) -> SerialAttribute:
    settings = MagentoSettings(base_url="https://shop.example", access_token="t")
    serials = SerialAttribute(
        client,  # type: ignore[arg-type]
        settings,
        log=structlog.get_logger(),
        connector="magento",
    )
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
