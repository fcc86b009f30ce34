"""The fake store's variant metafields: the batch endpoints and one variant's list.

Rules (the catalog's metafield reference, confirmed in bigcommerce/docs
``reference/catalog/product-variants_catalog.v3.yml``, schema ``metafield_Base``, read at
24f580c of 2026-04-01): ``permission_set`` one of ``app_only``, ``read``, ``write``,
``read_and_sf_access``, ``write_and_sf_access``; ``namespace`` and ``key`` 1-64 characters;
``value`` 1-65,535; ``description`` at most 255; one metafield per variant, namespace and key.
A batch answers 200 with every metafield written, or 422 with those written in ``data`` and one
error per refused item in ``errors``. The most items one batch takes is not documented: the
reference (``createVariantsMetafields``) gives the body as an array with no ``maxItems`` and no
limit in its text, unlike the variants batch ("Currently the limit is 50 variants"), and no
issue or guide of bigcommerce/docs or bigcommerce/api-specs names one. 50 here, as the
variants batch (assumed). Not enforced: at most 250 metafields per variant and client id
(api-specs#757; the schema's description still says 50 in places, corrected to 250 in
bigcommerce/docs#19).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PERMISSIONS = frozenset({"app_only", "read", "write", "read_and_sf_access", "write_and_sf_access"})
NAME_LIMIT = 64
VALUE_LIMIT = 65_535
DESCRIPTION_LIMIT = 255
BATCH_LIMIT = 50  # assumed, as the variants batch


class MetafieldError(Exception):
    """One refused item: ``(status, title)``."""

    def __init__(self, status: int, title: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title


def _check_fields(item: dict[str, Any], *, partial: bool) -> None:
    if (not partial or "permission_set" in item) and item.get("permission_set") not in PERMISSIONS:
        raise MetafieldError(422, "permission_set must be one of " + ", ".join(PERMISSIONS))
    for name, low, high in (
        ("namespace", 1, NAME_LIMIT),
        ("key", 1, NAME_LIMIT),
        ("value", 1, VALUE_LIMIT),
    ):
        if partial and name not in item:
            continue
        value = item.get(name)
        if not isinstance(value, str) or not low <= len(value) <= high:
            raise MetafieldError(422, f"{name} must be a string of {low} to {high} characters")
    description = item.get("description", "")
    if not isinstance(description, str) or len(description) > DESCRIPTION_LIMIT:
        raise MetafieldError(422, f"description must be at most {DESCRIPTION_LIMIT} characters")


@dataclass
class VariantMetafields:
    """Metafields of variants, by id; ``variant_exists`` tells a real variant id."""

    new_id: Callable[[], int]
    variant_exists: Callable[[int], bool]
    stored: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Metafield ids by variant id. A scan of every stored metafield per created one made a
    # 10,000-unit publish quadratic (50,000 metafields, seconds per product under the fake's
    # lock). Entries whose metafield is gone from ``stored`` are skipped when read.
    _by_variant: dict[int, list[int]] = field(default_factory=dict, repr=False)

    def of_variant(self, variant_id: int) -> list[dict[str, Any]]:
        """The metafields of one variant."""
        found = []
        for metafield_id in self._by_variant.get(variant_id, ()):
            metafield = self.stored.get(metafield_id)
            if metafield is not None and metafield["resource_id"] == variant_id:
                found.append(metafield)
        return found

    def create(self, items: list[Any]) -> tuple[int, dict[str, Any]]:
        """``POST /v3/catalog/variants/metafields``."""
        return self._batch(items, self._create_one)

    def update(self, items: list[Any]) -> tuple[int, dict[str, Any]]:
        """``PUT /v3/catalog/variants/metafields``."""
        return self._batch(items, self._update_one)

    def delete(self, ids: list[Any]) -> tuple[int, dict[str, Any]]:
        """``DELETE /v3/catalog/variants/metafields`` with a body of ids."""
        return self._batch(ids, self._delete_one)

    def _batch(self, items: Any, one: Callable[[Any], Any]) -> tuple[int, dict[str, Any]]:
        if not isinstance(items, list) or not items:
            return 422, {"status": 422, "title": "The body must be a non-empty array"}
        if len(items) > BATCH_LIMIT:
            return 413, {
                "status": 413,
                "title": "The request payload is too large. The maximum items allowed in the "
                f"array is {BATCH_LIMIT}",
            }
        data: list[Any] = []
        errors: list[dict[str, Any]] = []
        for item in items:
            try:
                data.append(one(item))
            except MetafieldError as exc:
                errors.append({"status": exc.status, "title": exc.title})
        meta = {"total": len(items), "success": len(data), "failed": len(errors)}
        if errors:
            return 422, {"data": data, "errors": errors, "meta": meta}
        return 200, {"data": data, "errors": [], "meta": meta}

    def _create_one(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise MetafieldError(422, "Each item must be an object")
        _check_fields(item, partial=False)
        try:
            resource = int(item.get("resource_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise MetafieldError(422, "resource_id is required") from None
        if not self.variant_exists(resource):
            raise MetafieldError(404, f"Variant {resource} not found")
        for held in self.of_variant(resource):
            if (held["namespace"], held["key"]) == (item["namespace"], item["key"]):
                raise MetafieldError(
                    409, "A metafield with this namespace and key exists for this variant"
                )
        metafield = {
            "id": self.new_id(),
            "resource_type": "variant",
            "resource_id": resource,
            "namespace": item["namespace"],
            "key": item["key"],
            "value": item["value"],
            "permission_set": item["permission_set"],
            "description": item.get("description", ""),
        }
        self.stored[metafield["id"]] = metafield
        self._by_variant.setdefault(resource, []).append(metafield["id"])
        return dict(metafield)

    def _update_one(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise MetafieldError(422, "Each item must be an object")
        held = self.stored.get(item.get("id"))  # type: ignore[arg-type]
        if held is None:
            raise MetafieldError(404, f"Metafield {item.get('id')} not found")
        _check_fields(item, partial=True)
        for name in ("namespace", "key", "value", "permission_set", "description"):
            if name in item:
                held[name] = item[name]
        return dict(held)

    def _delete_one(self, metafield_id: Any) -> int:
        held = self.stored.pop(metafield_id, None)
        if held is None:
            raise MetafieldError(404, f"Metafield {metafield_id} not found")
        ids = self._by_variant.get(held["resource_id"], [])
        if metafield_id in ids:
            ids.remove(metafield_id)
        return int(metafield_id)
