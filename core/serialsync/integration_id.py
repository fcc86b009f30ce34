"""The integration id ``SKU|||SERIAL``: how one physical unit is named on every channel.

``compose`` and ``parse`` are exact inverses. The rules below are what keep them so; a pair that
breaks one is refused with :class:`~serialsync.errors.IntegrationIdError` naming the rule, never
trimmed or rewritten:

* neither part is empty or blank, starts or ends with whitespace, or holds a character that
  some system would alter or hide (controls, non-breaking spaces, zero-width characters,
  unpaired surrogates; see :mod:`serialsync.validation`);
* neither part contains the separator ``|||``;
* the serial contains no ``|`` at all (WooCommerce stores attribute options ``|``-delimited, and
  GS1 serials never contain it);
* the SKU does not end with ``|`` (``A||||B`` could be read as ``A|`` + ``B`` or ``A`` + ``|B``).

Text without ``|||`` is a plain, non-serialized SKU: :func:`parse` returns it with ``serial=None``.

Channel length limits and the organisation's serial rules are separate checks
(:func:`check_length`, :class:`SerialRules`), since they depend on where the id is going and
whose serials they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from serialsync.errors import IntegrationIdError, SerialPatternError
from serialsync.validation import check_identifier

SEPARATOR = "|||"

#: GS1 General Specifications, figure 7.11-1: the 82-character set allowed in AI (21) serials.
GS1_CHARSET = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
GS1_MAX_SERIAL_LENGTH = 20

#: The longest variant SKU each channel stores without trimming it.
CHANNEL_SKU_LIMITS: dict[str, int] = {
    "magento": 64,
    "woocommerce": 100,
    "shopify": 255,
    "bigcommerce": 255,
}


@dataclass(frozen=True, slots=True)
class IntegrationId:
    """An integration id split into its parts; ``serial`` is ``None`` for a plain SKU."""

    sku: str
    serial: str | None

    @property
    def is_serialized(self) -> bool:
        """True when the id names one unit (it carried a serial)."""
        return self.serial is not None

    def __str__(self) -> str:
        return self.sku if self.serial is None else compose(self.sku, self.serial)


def _check_part(value: str, part: Literal["sku", "serial"]) -> None:
    check_identifier(value, part)
    if SEPARATOR in value:
        raise IntegrationIdError(
            f"the {part} {value!r} contains the separator {SEPARATOR!r}",
            rule=f"{part}-contains-separator",
        )


def validate_pair(sku: str, serial: str) -> None:
    """Raise :class:`IntegrationIdError` if ``sku`` and ``serial`` cannot make an unambiguous id."""
    _check_part(sku, "sku")
    _check_part(serial, "serial")
    if "|" in serial:
        raise IntegrationIdError(
            f"the serial {serial!r} contains '|', which channels use as a delimiter",
            rule="serial-contains-pipe",
        )
    if sku.endswith("|"):
        raise IntegrationIdError(
            f"the SKU {sku!r} ends with '|', which makes the id ambiguous",
            rule="sku-ends-with-pipe",
        )


def compose(sku: str, serial: str) -> str:
    """Return the integration id ``SKU|||SERIAL`` for one unit.

    Raises :class:`IntegrationIdError` when the pair breaks a rule (see the module docstring).
    """
    validate_pair(sku, serial)
    return f"{sku}{SEPARATOR}{serial}"


def parse(text: str) -> IntegrationId:
    """Split a channel's variant SKU back into SKU and serial.

    Text without ``|||`` is a plain SKU (``serial=None``). Text with it must split into exactly
    the pair :func:`compose` would have written, or :class:`IntegrationIdError` is raised.
    """
    if SEPARATOR not in text:
        _check_part(text, "sku")
        return IntegrationId(sku=text, serial=None)
    # The serial holds no '|', so the last separator is the one compose() wrote.
    sku, _, serial = text.rpartition(SEPARATOR)
    validate_pair(sku, serial)
    return IntegrationId(sku=sku, serial=serial)


def check_length(integration_id: str, *, limit: int, channel: str) -> None:
    """Refuse an id longer than the channel stores (it would be trimmed, and the unit lost).

    Plugins call this with their platform's limit (see :data:`CHANNEL_SKU_LIMITS`).
    """
    if len(integration_id) > limit:
        raise IntegrationIdError(
            f"the integration id {integration_id!r} is {len(integration_id)} characters; "
            f"{channel} keeps at most {limit}",
            rule="too-long-for-channel",
        )


@dataclass(frozen=True, slots=True)
class SerialRules:
    """The organisation's own rules for serials, checked on every unit from the POS.

    ``pattern`` is a regular expression the whole serial must match; ``profile="gs1"`` requires
    a GS1 AI (21) serial: 1 to 20 characters of the GS1 82-character set.
    """

    pattern: str | None = None
    profile: Literal["gs1"] | None = None

    def check(self, serial: str) -> None:
        """Raise :class:`SerialPatternError` when ``serial`` breaks a rule of the organisation."""
        if self.pattern is not None and re.fullmatch(self.pattern, serial) is None:
            raise SerialPatternError(
                f"the serial {serial!r} does not match the organisation's pattern {self.pattern!r}"
            )
        if self.profile == "gs1":
            if not 1 <= len(serial) <= GS1_MAX_SERIAL_LENGTH:
                raise SerialPatternError(
                    f"the serial {serial!r} is {len(serial)} characters; "
                    f"a GS1 serial has 1 to {GS1_MAX_SERIAL_LENGTH}"
                )
            bad = sorted(set(serial) - GS1_CHARSET)
            if bad:
                raise SerialPatternError(
                    f"the serial {serial!r} has characters outside the GS1 set: {bad!r}"
                )
