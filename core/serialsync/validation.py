"""What the POS must give before a unit can be named or sold: clean identifiers and a price.

Identifiers (a SKU, a serial) are **never altered**: a character that would make the same text
look different on a channel, in the POS and on a label is refused, named by its code point and
position, and the record is quarantined for a person to fix at the source. Refused anywhere in
the value:

* control characters: C0 (U+0000 to U+001F, NUL, tab, newline, ESC included), DEL (U+007F) and C1
  (U+0080 to U+009F);
* invisible format characters (Unicode category Cf: zero-width space and joiners, the byte order
  mark, bidirectional marks, the soft hyphen);
* non-breaking spaces (U+00A0, U+2007, U+202F) and any whitespace other than the plain space
  U+0020 (line and paragraph separators, em spaces …);
* unpaired surrogates (U+D800 to U+DFFF, which no UTF-8 system can store).

A plain space is allowed inside a value, never at its start or end; an empty or blank value is
refused too.

A unit is listed only with a price: its own, else its product's, above 0 and at most
:data:`MAX_PRICE`. Anything else is "no price in the POS" (:func:`price_problem`).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from serialsync.errors import IntegrationIdError

#: The highest price a unit is listed at; anything above is a data-entry slip, not a price.
MAX_PRICE = Decimal(10) ** 9

#: The no-break spaces: they look like a space and are not one.
_NO_BREAK_SPACES = frozenset("\u00a0\u2007\u202f")

# Unicode gives C0 controls no character name, only aliases; these are the formal aliases.
_C0_NAMES = (
    "NULL",
    "START OF HEADING",
    "START OF TEXT",
    "END OF TEXT",
    "END OF TRANSMISSION",
    "ENQUIRY",
    "ACKNOWLEDGE",
    "ALERT",
    "BACKSPACE",
    "CHARACTER TABULATION",
    "LINE FEED",
    "LINE TABULATION",
    "FORM FEED",
    "CARRIAGE RETURN",
    "SHIFT OUT",
    "SHIFT IN",
    "DATA LINK ESCAPE",
    "DEVICE CONTROL ONE",
    "DEVICE CONTROL TWO",
    "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR",
    "NEGATIVE ACKNOWLEDGE",
    "SYNCHRONOUS IDLE",
    "END OF TRANSMISSION BLOCK",
    "CANCEL",
    "END OF MEDIUM",
    "SUBSTITUTE",
    "ESCAPE",
    "INFORMATION SEPARATOR FOUR",
    "INFORMATION SEPARATOR THREE",
    "INFORMATION SEPARATOR TWO",
    "INFORMATION SEPARATOR ONE",
)


def describe_char(char: str) -> str:
    """``U+001B ESCAPE``: a character by code point and name (controls by their alias)."""
    code = ord(char)
    if code < len(_C0_NAMES):
        name = _C0_NAMES[code]
    elif code == 0x7F:
        name = "DELETE"
    elif 0xD800 <= code <= 0xDFFF:
        name = "SURROGATE"
    else:
        name = unicodedata.name(char, "CONTROL" if 0x80 <= code <= 0x9F else "UNNAMED")
    return f"U+{code:04X} {name}"


def shown(value: str) -> str:
    """``value`` quoted with every invisible or unstorable character escaped (safe to log)."""
    return ascii(value) if not value.isprintable() else repr(value)


def loggable(value: str) -> str:
    """``value`` itself when every character prints, else its escaped form (for log fields)."""
    return value if value.isprintable() else ascii(value)


def _bad_char(char: str) -> tuple[str, str] | None:
    """(rule suffix, what it is) when ``char`` may not appear in an identifier."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "unpaired-surrogate", "an unpaired surrogate"
    category = unicodedata.category(char)
    if category == "Cc":
        return "control-character", "a control character"
    if category == "Cf":
        return "invisible-character", "an invisible format character"
    if char in _NO_BREAK_SPACES:
        return "non-breaking-space", "a non-breaking space"
    if char != " " and (char.isspace() or category in ("Zs", "Zl", "Zp")):
        return "whitespace", "whitespace other than a plain space"
    return None


def check_identifier(value: str, part: str) -> None:
    """Raise :class:`IntegrationIdError` when ``value`` (a ``"sku"`` or ``"serial"``) would be
    altered by any system that stores or shows it; the message names the character and its
    position (counted from 1). Nothing is ever trimmed or cleaned here."""
    if not value:
        raise IntegrationIdError(f"the {part} is empty", rule=f"{part}-empty")
    # Printable ASCII (U+0020..U+007E) holds none of the characters refused below, and it is
    # nearly every identifier: the per-character walk was a sixth of a publish's CPU.
    clean = value.isascii() and value.isprintable()
    for index, char in enumerate("" if clean else value):
        bad = _bad_char(char)
        if bad is not None:
            rule, what = bad
            raise IntegrationIdError(
                f"the {part} {shown(value)} contains {describe_char(char)} ({what}) at "
                f"position {index + 1} of {len(value)}; fix it in the POS, serialsync never "
                "alters an identifier",
                rule=f"{part}-{rule}",
            )
    if not value.strip(" "):
        raise IntegrationIdError(
            f"the {part} {shown(value)} is blank (only spaces)", rule=f"{part}-blank"
        )
    if value[0] == " " or value[-1] == " ":
        position = 1 if value[0] == " " else len(value)
        raise IntegrationIdError(
            f"the {part} {shown(value)} starts or ends with whitespace: U+0020 SPACE at "
            f"position {position} of {len(value)}; fix it in the POS, serialsync never trims "
            "an identifier",
            rule=f"{part}-padded",
        )


def price_problem(unit_price: Decimal | None, product_price: Decimal | None) -> str | None:
    """Why a unit cannot be listed at its price (its own, else its product's), or ``None``.

    The reason starts with "no price in the POS", the words a person searches the quarantine
    for.
    """
    whose, price = ("unit's", unit_price) if unit_price is not None else ("product's", None)
    if unit_price is None:
        price = product_price
    if price is None:
        return "no price in the POS: neither the unit nor its product has a price"
    if not price.is_finite():
        problem = f"is not a number ({price})"
    elif price <= 0:
        problem = f"is {price}, not above 0"
    elif price > MAX_PRICE:
        problem = f"is {price}, above the {MAX_PRICE:,} that any real price stays under"
    else:
        return None
    return (
        f"no price in the POS: the {whose} price {problem}; the unit is listed as soon as the "
        "POS gives it a valid price"
    )
