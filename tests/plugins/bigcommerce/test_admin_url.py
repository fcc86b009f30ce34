"""BigCommerce's admin page of a listing: the product's edit page in the control panel."""

from __future__ import annotations

from pydantic import SecretStr
from serialsync.model import RemoteIds
from serialsync_bigcommerce.connector import BigCommerceConnector
from serialsync_bigcommerce.settings import BigCommerceSettings


def test_the_products_edit_page_from_its_numeric_id() -> None:
    settings = BigCommerceSettings(store_hash="abc123", access_token=SecretStr("t" * 16))
    connector = BigCommerceConnector.__new__(BigCommerceConnector)
    connector.settings = settings
    url = connector.admin_url(RemoteIds(product_id="112", variant_id="5"))
    assert url == "https://store-abc123.mybigcommerce.com/manage/products/edit/112"
    assert connector.admin_url(RemoteIds(product_id="11<2")) is None
    assert connector.admin_url(RemoteIds()) is None
