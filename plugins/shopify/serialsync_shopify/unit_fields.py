"""A unit's own fields on its Shopify variant: its attributes as variant metafields, its photo.

Each attribute (finish, wood grain, weight, …) is one metafield of the variant, in the
plugin's namespace, under a key made from the attribute's name, typed
``single_line_text_field``; its definition (see :mod:`serialsync_shopify.definitions`) names it
for people, pins it in the admin and lets the storefront read it.

Shopify's rules (its metafield documentation): a key is 2-64 characters of letters, digits,
``-`` and ``_``; a namespace 3-255 of the same; a single line text value holds no line breaks
and at most 65,535 characters; a blank value is refused; every input list holds at most 250
entries (so a variant carries at most 250 metafields in one mutation).
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from serialsync import SerializedUnit

#: The namespace of unit attribute metafields (and of their definitions).
NAMESPACE = "serialsync"
TYPE = "single_line_text_field"
#: Characters a single line text metafield holds.
VALUE_LIMIT = 65_535
#: Entries in one input list (a variant's ``metafields``).
INPUT_LIMIT = 250
_KEY_MAX = 64
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")

#: ``RemoteIds.extra`` keys: the metafield keys and the photo the variant was last given.
KEYS_EXTRA = "meta_keys"
IMAGE_EXTRA = "image"


@functools.lru_cache(maxsize=4096)  # few attribute names, asked for several times per unit
def metafield_key(name: str) -> str:
    """The metafield key of an attribute name: ``Wood grain`` -> ``wood_grain``.

    Always 2-64 characters of ``[a-z0-9_]``: a name that slugs to less is prefixed, a longer
    one is cut and suffixed with a hash of the exact name, so two long names stay apart.
    """
    slug = _NOT_KEY.sub("_", name.strip().lower()).strip("_")
    if len(slug) < 2:
        slug = f"attr_{slug}" if slug else "attr_" + _digest(name)
    if len(slug) > _KEY_MAX:
        slug = f"{slug[: _KEY_MAX - 11]}_{_digest(name)}"
    return slug


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def single_line(value: str) -> str:
    """A value as a single line text metafield holds it: line breaks become a space."""
    return _LINE_BREAKS.sub(" ", value).strip()


def attribute_fields(unit: SerializedUnit) -> dict[str, tuple[str, str]]:
    """``key -> (attribute name, value)`` for each attribute with a value.

    An attribute whose value is blank has nothing to show (Shopify refuses a blank value): it
    is left out, and its metafield removed if the variant had one. Two names that make the
    same key ("Body wood", "body-wood") are both kept, the second under a suffixed key.
    """
    fields: dict[str, tuple[str, str]] = {}
    for name, raw in sorted(unit.attributes.items()):
        value = single_line(raw)
        if not value:
            continue
        key = metafield_key(name)
        if key in fields:
            key = metafield_key(f"{name} {len(fields)}")
        fields[key] = (name, value)
    return fields


def unit_problem(unit: SerializedUnit) -> str | None:
    """Why the unit's attributes cannot be shown on Shopify as they are, or ``None``."""
    fields = attribute_fields(unit)
    if len(fields) > INPUT_LIMIT:
        return (
            f"the unit has {len(fields)} attributes; a Shopify variant takes at most "
            f"{INPUT_LIMIT} metafields in one request"
        )
    for name, value in fields.values():
        if len(value) > VALUE_LIMIT:
            return (
                f"attribute {name!r} is {len(value)} characters long; a Shopify single line "
                f"text metafield holds at most {VALUE_LIMIT}"
            )
    return None


def metafields_input(unit: SerializedUnit) -> list[dict[str, Any]]:
    """The unit's attributes as ``MetafieldInput`` entries of its variant."""
    return [
        {"namespace": NAMESPACE, "key": key, "type": TYPE, "value": value}
        for key, (_, value) in attribute_fields(unit).items()
    ]


def unit_image(unit: SerializedUnit) -> str | None:
    """The variant's own photo: the unit's first."""
    return unit.images[0] if unit.images else None


def remembered_keys(extra: dict[str, str]) -> list[str]:
    """The metafield keys the last publish gave the variant."""
    return [key for key in extra.get(KEYS_EXTRA, "").split(",") if key]


def shown_extra(unit: SerializedUnit) -> dict[str, str]:
    """What the variant holds of the unit once it is published, to remember in ``extra``."""
    extra: dict[str, str] = {}
    keys = ",".join(attribute_fields(unit))
    if keys:
        extra[KEYS_EXTRA] = keys
    image = unit_image(unit)
    if image:
        extra[IMAGE_EXTRA] = image
    return extra
