"""``aim probe``: which names the plugin relies on does the live AIM store not publish?

ServiceStack serves its own contract, read-only and without a login: ``{api}/metadata`` lists
every operation (links ``…metadata?op=<Name>``) and ``{api}/types/metadata`` describes every
request, response and type with its properties (JSON ``MetadataTypes``). :data:`CONTRACT`
names each operation and field this plugin sends or reads, with its source; ``docs/aim.md``
lists the same, and a test keeps the two in step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from serialsync import ContractGap, PermanentRemoteError, ProbeReport

#: Where a name comes from: the published reference, or an assumption of ours.
DOCUMENTED = "documented"
ATTESTED = "attested by integrators"
ASSUMED = "assumed"


@dataclass(frozen=True)
class Reliance:
    """One type (request DTO, response or nested type) and the fields the plugin uses."""

    type_name: str
    fields: tuple[tuple[str, str], ...]  # (field, source)
    operation: bool = False  # the type is a request DTO: its name is an operation too
    source: str = DOCUMENTED
    #: For a response type, its operation: not reported again when the operation is missing.
    response_of: str = ""


def _f(source: str, *names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, source) for name in names)


#: Every operation and field the plugin relies on on the store's service (GetEndPoint lives on
#: the discovery service, not the store, and is not probed).
CONTRACT: tuple[Reliance, ...] = (
    Reliance(
        "Security",
        _f(DOCUMENTED, "Username", "Password", "DeviceId", "AppId", "Acct", "DeviceName"),
        operation=True,
    ),
    Reliance(
        "SecurityResponse",
        _f(DOCUMENTED, "Token", "OAuthToken", "Domain", "UserDetails", "Status"),
        response_of="Security",
    ),
    Reliance(
        "SearchInventory",
        _f(
            DOCUMENTED,
            "IncludeSerials",
            "ChangedDate",
            "IncludeDeleted",
            "StartOffset",
            "RecordCount",
        ),
        operation=True,
    ),
    Reliance("InventoryDetail", _f(DOCUMENTED, "Pk", "IncludeSerialInfo"), operation=True),
    Reliance("SerialDetail", (), operation=True),
    Reliance("SerialDetailResponse", _f(DOCUMENTED, "Details"), response_of="SerialDetail"),
    Reliance("ECommerceOrderStatus", _f(DOCUMENTED, "OrderNumber", "OrderType"), operation=True),
    Reliance("CustomerOrders", _f(DOCUMENTED, "Orders"), operation=True),
    Reliance(
        "ThirdPartyOrder",
        _f(DOCUMENTED, "OrderNumber", "OrderDate", "LineItems")
        + _f(ASSUMED, "WebNumber", "TransactionState", "PaymentMethod", "Total", "SubTotal")
        + _f(ASSUMED, "Tax", "Shipping", "CustomerName", "Email", "OrderNotes"),
    ),
    Reliance(
        "ThirdPartyOrderItem",
        _f(DOCUMENTED, "Sku", "SerialNumber", "WebNumber", "ProductName", "Location", "Qty")
        + _f(DOCUMENTED, "Price"),
    ),
)

_OPERATION_LINK = re.compile(r"metadata\?op=([A-Za-z0-9_]+)")


def operations_of(page: str) -> set[str]:
    """The operation names a ServiceStack ``/metadata`` page links to."""
    return set(_OPERATION_LINK.findall(page))


def types_of(body: bytes, *, connector: str) -> dict[str, set[str]]:
    """Each type's property names from ``/types/metadata`` (inherited ones included)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PermanentRemoteError(
            "AIM /types/metadata is not JSON: is this a ServiceStack service?", connector=connector
        ) from None
    if not isinstance(data, Mapping):
        raise PermanentRemoteError("AIM /types/metadata is not an object", connector=connector)
    found: dict[str, Mapping[str, Any]] = {}
    for op in data.get("operations") or ():
        for part in ("request", "response"):
            kind = op.get(part) if isinstance(op, Mapping) else None
            if isinstance(kind, Mapping) and kind.get("name"):
                found[str(kind["name"])] = kind
    for kind in data.get("types") or ():
        if isinstance(kind, Mapping) and kind.get("name"):
            found.setdefault(str(kind["name"]), kind)

    def props(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        kind = found.get(name)
        if kind is None or name in seen:
            return set()
        own = {str(p.get("name")) for p in kind.get("properties") or () if isinstance(p, Mapping)}
        base = kind.get("inherits")
        if isinstance(base, Mapping) and base.get("name"):
            own |= props(str(base["name"]), seen | {name})
        return own

    return {name: props(name) for name in found}


def compare(
    operations: Iterable[str], types: Mapping[str, set[str]], contract: Iterable[Reliance]
) -> ProbeReport:
    """What of ``contract`` the published ``operations`` and ``types`` lack."""
    ops = {name.lower() for name in operations}
    by_name = {name.lower(): fields for name, fields in types.items()}
    missing: list[ContractGap] = []
    checked = 0
    for reliance in contract:
        if reliance.response_of and reliance.response_of.lower() not in ops:
            continue  # its operation is reported missing already
        if reliance.operation:
            checked += 1
            if reliance.type_name.lower() not in ops:
                missing.append(
                    ContractGap(kind="operation", name=reliance.type_name, source=reliance.source)
                )
                continue
        published = by_name.get(reliance.type_name.lower())
        if published is None and not reliance.operation:
            checked += 1
            missing.append(ContractGap(kind="type", name=reliance.type_name, source=ASSUMED))
            continue
        have = {f.lower() for f in published or ()}
        for field, source in reliance.fields:
            checked += 1
            if field.lower() not in have:
                missing.append(
                    ContractGap(kind="field", name=field, owner=reliance.type_name, source=source)
                )
    summary = (
        f"all {checked} operations and fields the plugin relies on are published"
        if not missing
        else f"{len(missing)} of {checked} operations and fields are not published by this store"
    )
    return ProbeReport(summary=summary, checked=checked, missing=tuple(missing))
