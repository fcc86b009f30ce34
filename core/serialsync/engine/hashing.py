"""Content hashes: a fingerprint of what a channel shows of one unit, one part per field group.

A unit's hash is computed once, when the POS's record of it is stored (:func:`unit_hash`,
recorded with the unit), and each listing keeps the hash it was last published with: the
store then selects by query the units whose two hashes differ (see
:mod:`serialsync.engine.selection`), and :func:`changed_groups` tells which groups changed.
"""

from __future__ import annotations

import hashlib
import json

from serialsync.model import FieldGroup, Product, SerializedUnit
from serialsync.registry import REFERENCE_ATTRIBUTE
from serialsync.store import UnitRecord
from serialsync.validation import price_problem

#: The hash recorded for a unit without a valid price: never sellable, so never published.
UNPRICED = "unpriced"

_HASH_VERSION = "g1"
#: What every content hash of this release starts with (see :func:`known_hash`).
HASH_PREFIX = f"{_HASH_VERSION}:"


def _digest(shown: object) -> str:
    encoded = json.dumps(shown, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def product_part(product: Product) -> str:
    """The product group's fingerprint (see :func:`group_hashes`): the same for every unit of
    the product, so a caller hashing many of its units can compute it once."""
    return _digest(
        {
            "product": product.model_dump(
                mode="json",
                include={"sku", "title", "description", "brand", "option_name", "images"},
            ),
            "attributes": product.attributes,
        }
    )


def group_hashes(
    product: Product, unit: SerializedUnit, *, product_hash: str | None = None
) -> dict[FieldGroup, str]:
    """A fingerprint of each field group a channel shows of one unit (see
    :class:`~serialsync.model.FieldGroup`); not its status or timestamps. ``product_hash``:
    :func:`product_part` of ``product``, when the caller has it already."""
    return {
        FieldGroup.PRODUCT: product_hash or product_part(product),
        FieldGroup.UNIT: _digest(
            unit.model_dump(
                mode="json", include={"sku", "serial", "attributes", "images", "location"}
            )
        ),
        FieldGroup.PRICE: _digest(str(unit.price if unit.price is not None else product.price)),
    }


def content_hash(product: Product, unit: SerializedUnit, *, product_hash: str | None = None) -> str:
    """A fingerprint of everything a channel shows of one unit, one part per field group
    (``g1:product.unit.price``), so that a later pass tells which groups changed.
    ``product_hash`` as in :func:`group_hashes`."""
    groups = group_hashes(product, unit, product_hash=product_hash)
    return f"{_HASH_VERSION}:" + ".".join(groups[g] for g in _GROUP_ORDER)


_GROUP_ORDER = (FieldGroup.PRODUCT, FieldGroup.UNIT, FieldGroup.PRICE)


def legacy_content_hash(product: Product, unit: SerializedUnit) -> str:
    """The one fingerprint a store written before field groups holds for a unit.

    A live listing holding it for the unit as it is now is unchanged: without this, the first
    pass after an upgrade would send every unit of the catalogue again.
    """
    shown = {
        "product": product.model_dump(
            mode="json",
            include={"sku", "title", "description", "brand", "price", "option_name", "images"},
        ),
        "product_attributes": product.attributes,
        "unit": unit.model_dump(
            mode="json", include={"sku", "serial", "price", "attributes", "images", "location"}
        ),
    }
    encoded = json.dumps(shown, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def is_legacy(digest: str | None) -> bool:
    """Whether a listing's hash is the one fingerprint of a release before field groups."""
    return digest is not None and digest != UNPRICED and not digest.startswith(f"{_HASH_VERSION}:")


def changed_groups(previous: str | None, current: str) -> frozenset[FieldGroup]:
    """The field groups whose part differs between two content hashes; every group when the
    previous hash is missing or older than field groups (a store written before them)."""
    if previous is None or not previous.startswith(f"{_HASH_VERSION}:"):
        return frozenset(FieldGroup)
    before = previous.partition(":")[2].split(".")
    after = current.partition(":")[2].split(".")
    if len(before) != len(_GROUP_ORDER) or len(after) != len(_GROUP_ORDER):
        return frozenset(FieldGroup)
    return frozenset(g for g, b, a in zip(_GROUP_ORDER, before, after, strict=True) if b != a)


def referenced(unit: SerializedUnit, ref: str | None) -> SerializedUnit:
    """``unit`` carrying its serial reference (if any) among its attributes, as channels show it."""
    if ref is None:
        return unit
    return unit.model_copy(update={"attributes": {**unit.attributes, REFERENCE_ATTRIBUTE: ref}})


def unit_hash(product: Product, unit: SerializedUnit, *, product_hash: str | None = None) -> str:
    """The hash recorded with a unit (references included): :func:`content_hash`, or
    :data:`UNPRICED` for a unit without a valid price. ``product_hash`` as in
    :func:`group_hashes`."""
    if price_problem(unit.price, product.price) is not None:
        return UNPRICED
    return content_hash(product, unit, product_hash=product_hash)


def known_hash(record: UnitRecord) -> str | None:
    """The unit's recorded content hash when it is one of this release's, else ``None``."""
    digest = record.content_hash
    if digest is None or not digest.startswith(f"{_HASH_VERSION}:"):
        return None
    return digest
