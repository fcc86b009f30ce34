"""Metafield definitions for unit attributes: created once per attribute, per store.

A definition gives a variant metafield its name in the admin, pins it (pinned definitions are
shown on the variant's page) and opens it to the Storefront API (``PUBLIC_READ``), so a theme
can show a unit's finish or wood grain. The plugin reads its definitions once per connector and
creates only the missing ones.

Shopify's limits (its metafield documentation): 256 definitions per resource type per app, 20
pinned definitions per resource type. Past the pinned limit a definition is created unpinned;
past the definition limit none is created and the values are still written, typed, as
metafields without a definition (shown in the admin's "unstructured" list): never dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from serialsync import AuthenticationError, RemoteError

from serialsync_shopify.client import ShopifyClient
from serialsync_shopify.unit_fields import NAMESPACE, TYPE

_PAGE = 250


class Definitions:
    """The unit attribute definitions of one store, as far as this connector knows them."""

    def __init__(self, client: ShopifyClient, log: Any) -> None:
        self.client = client
        self.log = log
        self._known: set[str] | None = None
        self._pin = True  # until Shopify says the pinned limit is reached
        self._lock = threading.Lock()

    def ensure(self, fields: Mapping[str, str]) -> None:
        """Make sure a definition exists for each ``key -> attribute name`` of ``fields``.

        A definition Shopify refuses is logged, not raised: the values are written anyway.
        """
        if not fields:
            return
        with self._lock:
            known = self._load()
            for key, name in sorted(fields.items()):
                if key not in known:
                    self._create(key, name)
                    known.add(key)  # asked once per process, made or not

    def _load(self) -> set[str]:
        if self._known is None:
            known: set[str] = set()
            after: str | None = None
            while True:
                data = self.client.execute(
                    "VariantMetafieldDefinitions",
                    {"namespace": NAMESPACE, "first": _PAGE, "after": after},
                )
                connection = data.get("metafieldDefinitions") or {}
                known.update(str(n["key"]) for n in connection.get("nodes") or [] if n)
                page = connection.get("pageInfo") or {}
                if not page.get("hasNextPage"):
                    break
                after = page.get("endCursor")
            self._known = known
        return self._known

    def _create(self, key: str, name: str) -> None:
        for _ in range(2):
            definition = {
                "name": name[:255],
                "namespace": NAMESPACE,
                "key": key,
                "type": TYPE,
                "ownerType": "PRODUCTVARIANT",
                "description": "A property of this one unit, from the point of sale (serialsync).",
                "pin": self._pin,
                "access": {"storefront": "PUBLIC_READ"},
            }
            try:
                # Safe to resend: a definition made by a lost answer comes back TAKEN.
                data = self.client.execute(
                    "VariantMetafieldDefinitionCreate", {"definition": definition}, idempotent=True
                )
            except AuthenticationError:
                raise
            except RemoteError as exc:
                self.log.warning("shopify.definition_failed", key=key, error=str(exc))
                return
            payload = data.get("metafieldDefinitionCreate") or {}
            codes = {e.get("code") for e in payload.get("userErrors") or []}
            if not codes or codes == {"TAKEN"}:
                if not codes:
                    self.log.info("shopify.definition_created", key=key, pinned=self._pin)
                return
            if "PINNED_LIMIT_REACHED" in codes and self._pin:
                self._pin = False  # 20 pinned already: the rest are made unpinned
                continue
            self.log.warning(
                "shopify.definition_refused", key=key, errors=payload.get("userErrors")
            )
            return
