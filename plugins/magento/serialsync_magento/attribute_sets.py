"""Putting an attribute in the products' attribute set (Magento ignores a value otherwise)."""

from __future__ import annotations

from typing import Any

from serialsync import PermanentRemoteError

from serialsync_magento.client import MagentoClient
from serialsync_magento.settings import MagentoSettings


def assign_to_set(
    client: MagentoClient, settings: MagentoSettings, code: str, *, log: Any, connector: str
) -> None:
    """Put ``code`` in the connector's attribute set, in ``attribute_group_id`` or else the
    set's first group; refuses (permanently) a set without groups."""
    group_id = settings.attribute_group_id
    if group_id is None:
        groups = client.attribute_groups(settings.attribute_set_id)
        if not groups:
            raise PermanentRemoteError(
                f"attribute set {settings.attribute_set_id} has no group to put {code!r} "
                "in; set attribute_group_id",
                connector=connector,
            )
        group_id = int(groups[0]["attribute_group_id"])
    client.assign_attribute(settings.attribute_set_id, group_id, code)
    log.info("magento.attribute_assigned", attribute=code, attribute_set=settings.attribute_set_id)
