"""One spelling for each setting value across plugins (issue 21 #8)."""

from __future__ import annotations

import typing

import pytest
from serialsync.manager import PluginManager
from serialsync_woocommerce.fake import FakeWooCommerce
from serialsync_woocommerce.settings import WooCommerceSettings


def test_every_withdraw_mode_offers_the_same_spellings():
    spellings = {}
    for name, ctype in PluginManager().connector_types.items():
        field = ctype.settings_model.model_fields.get("withdraw_mode")
        if field is not None:
            spellings[name] = set(typing.get_args(field.annotation))
    assert {"bigcommerce", "woocommerce"} <= set(spellings)
    for name, values in spellings.items():
        assert "zero_stock" in values and "stock_zero" not in values, (name, values)


def test_the_old_woocommerce_spelling_is_read_with_a_deprecation_warning():
    base = FakeWooCommerce().connector_settings("https://shop.example.com")
    with pytest.warns(FutureWarning, match='write "zero_stock"'):
        settings = WooCommerceSettings.model_validate({**base, "withdraw_mode": "stock_zero"})
    assert settings.withdraw_mode == "zero_stock"
    assert WooCommerceSettings.model_validate(base).withdraw_mode == "zero_stock"
