"""The fake store's metafield definitions and variant metafields, with Shopify's rules.

Rules (Shopify's metafield documentation): a key is 2-64 characters and a namespace 3-255, of
letters, digits, ``-`` and ``_``; 256 definitions per resource type per app and 20 pinned per
resource type; a single line text value holds no line break and at most 65,535 characters (64 KB
for most types); a blank value is refused; a metafield without a definition must name its type,
and one with a definition must match the definition's type. ``metafieldDefinitionCreate``
answers with its documented codes (``TAKEN``, ``TOO_SHORT``, ``TOO_LONG``,
``INVALID_CHARACTER``, ``RESOURCE_TYPE_LIMIT_EXCEEDED``, ``PINNED_LIMIT_REACHED``,
``INCLUSION``). The codes of a metafield refused inside a variant input are the mutation's own
(``INVALID_METAFIELD`` for productSet, ``INVALID`` for bulk create, ``INVALID_VALUE`` for bulk
update): the enums hold them, the message wording is assumed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFINITION_LIMIT = 256
PINNED_LIMIT = 20
VALUE_LIMIT = 65_535
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TYPES = frozenset(
    {
        "single_line_text_field",
        "multi_line_text_field",
        "number_integer",
        "number_decimal",
        "boolean",
        "json",
        "url",
        "date",
        "weight",
        "color",
    }
)

#: ``(namespace, key) -> (type, value)`` of one owner.
Metafields = dict[tuple[str, str], tuple[str, str]]


@dataclass
class Definition:
    """One metafield definition."""

    id: str
    owner_type: str
    namespace: str
    key: str
    name: str
    type: str
    pinned: bool
    storefront: str


def _error(path: Sequence[str], message: str, code: str | None) -> dict[str, Any]:
    return {"field": list(path), "message": message, "code": code}


def _name_errors(namespace: str, key: str, path: Sequence[str]) -> list[dict[str, Any]]:
    errors = []
    if len(key) < 2:
        errors.append(
            _error([*path, "key"], "Key is too short (minimum is 2 characters)", "TOO_SHORT")
        )
    elif len(key) > 64:
        errors.append(
            _error([*path, "key"], "Key is too long (maximum is 64 characters)", "TOO_LONG")
        )
    elif not _NAME.match(key):
        errors.append(
            _error(
                [*path, "key"], "Key contains one or more invalid characters.", "INVALID_CHARACTER"
            )
        )
    if len(namespace) < 3:
        errors.append(
            _error(
                [*path, "namespace"],
                "Namespace is too short (minimum is 3 characters)",
                "TOO_SHORT",
            )
        )
    elif len(namespace) > 255:
        errors.append(
            _error(
                [*path, "namespace"],
                "Namespace is too long (maximum is 255 characters)",
                "TOO_LONG",
            )
        )
    elif not _NAME.match(namespace):
        errors.append(
            _error(
                [*path, "namespace"],
                "Namespace contains one or more invalid characters.",
                "INVALID_CHARACTER",
            )
        )
    return errors


@dataclass
class MetafieldStore:
    """Definitions of the shop; the values live on their owners (variants)."""

    gid: Callable[[str], str]
    definitions: dict[tuple[str, str, str], Definition] = field(default_factory=dict)

    # -- definitions ------------------------------------------------------------------------

    def create_definition(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``metafieldDefinitionCreate`` mutation."""
        data = args.get("definition") or {}
        owner = str(data.get("ownerType") or "")
        namespace = str(data.get("namespace") or "app")
        key = str(data.get("key") or "")
        path = ["definition"]
        errors = _name_errors(namespace, key, path)
        if str(data.get("type") or "") not in _TYPES:
            errors.append(_error([*path, "type"], "Type is not included in the list", "INCLUSION"))
        if not str(data.get("name") or "").strip():
            errors.append(_error([*path, "name"], "Name can't be blank", "BLANK"))
        if not errors and (owner, namespace, key) in self.definitions:
            errors.append(
                _error([*path, "key"], "Key is in use for this namespace and owner type", "TAKEN")
            )
        mine = [d for d in self.definitions.values() if d.owner_type == owner]
        if not errors and len(mine) >= DEFINITION_LIMIT:
            errors.append(
                _error(
                    [*path],
                    f"Limit of {DEFINITION_LIMIT} definitions per owner type has been exceeded",
                    "RESOURCE_TYPE_LIMIT_EXCEEDED",
                )
            )
        pin = bool(data.get("pin"))
        if not errors and pin and sum(d.pinned for d in mine) >= PINNED_LIMIT:
            errors.append(
                _error(
                    [*path, "pin"],
                    f"Limit of {PINNED_LIMIT} pinned definitions per owner type has been reached",
                    "PINNED_LIMIT_REACHED",
                )
            )
        if errors:
            return {"createdDefinition": None, "userErrors": errors}
        access = data.get("access") or {}
        definition = Definition(
            id=self.gid("MetafieldDefinition"),
            owner_type=owner,
            namespace=namespace,
            key=key,
            name=str(data["name"]),
            type=str(data["type"]),
            pinned=pin,
            storefront=str(access.get("storefront") or "NONE"),
        )
        self.definitions[(owner, namespace, key)] = definition
        return {"createdDefinition": _definition_view(definition), "userErrors": []}

    def search(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``metafieldDefinitions`` query (owner type, namespace; one page, ``first``)."""
        owner = args.get("ownerType")
        namespace = args.get("namespace")
        found = [
            _definition_view(d)
            for d in self.definitions.values()
            if d.owner_type == owner and (namespace is None or d.namespace == namespace)
        ]
        first = int(args.get("first") or 50)
        start = int(args["after"]) if str(args.get("after") or "").isdigit() else 0
        page = found[start : start + first]
        more = start + first < len(found)
        return {
            "nodes": page,
            "pageInfo": {"hasNextPage": more, "endCursor": str(start + first) if more else None},
        }

    # -- values -----------------------------------------------------------------------------

    def check(
        self, owner: str, entries: Sequence[Any], path: Sequence[str], code: str
    ) -> list[dict[str, Any]]:
        """The user errors of metafield inputs for an owner of type ``owner``."""
        errors: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            where = [*path, "metafields", str(index)]
            namespace = str(entry.get("namespace") or "app")
            key = str(entry.get("key") or "")
            naming = _name_errors(namespace, key, where)
            if naming:
                errors.extend({**e, "code": code} for e in naming)
                continue
            definition = self.definitions.get((owner, namespace, key))
            kind = entry.get("type") or (definition.type if definition else None)
            value = entry.get("value")
            if kind is None:
                errors.append(
                    _error([*where, "type"], "Type can't be blank without a definition", code)
                )
            elif definition is not None and kind != definition.type:
                errors.append(
                    _error(
                        [*where, "type"],
                        f"Type must be {definition.type} as its definition says",
                        code,
                    )
                )
            elif not isinstance(value, str) or not value.strip():
                errors.append(_error([*where, "value"], "Value can't be blank", code))
            elif len(value) > VALUE_LIMIT:
                errors.append(
                    _error(
                        [*where, "value"],
                        f"Value is too long (maximum is {VALUE_LIMIT} characters)",
                        code,
                    )
                )
            elif kind == "single_line_text_field" and ("\n" in value or "\r" in value):
                errors.append(
                    _error([*where, "value"], "Value must be a single line text string.", code)
                )
        return errors

    def apply(self, held: Metafields, entries: Sequence[Any], owner: str) -> None:
        """Set checked metafield inputs on an owner's metafields."""
        for entry in entries:
            namespace = str(entry.get("namespace") or "app")
            key = str(entry["key"])
            definition = self.definitions.get((owner, namespace, key))
            kind = str(entry.get("type") or (definition.type if definition else ""))
            held[(namespace, key)] = (kind, str(entry["value"]))


def _definition_view(definition: Definition) -> dict[str, Any]:
    return {
        "__typename": "MetafieldDefinition",
        "id": definition.id,
        "key": definition.key,
        "namespace": definition.namespace,
        "name": definition.name,
        "type": {"name": definition.type},
        "ownerType": definition.owner_type,
        "pinnedPosition": 1 if definition.pinned else None,
        "access": {"storefront": definition.storefront},
    }


def metafield_views(held: Metafields) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """The ``metafield(namespace:, key:)`` field of an owner's view."""

    def one(args: dict[str, Any]) -> dict[str, Any] | None:
        found = held.get((str(args.get("namespace") or "app"), str(args.get("key") or "")))
        if found is None:
            return None
        return {"__typename": "Metafield", "type": found[0], "value": found[1]}

    return one
