"""docs/unit-attributes.md agrees with the code: its example settings load, and the names it
gives (namespaces, key prefixes, permission) are the plugins' own."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from serialsync_bigcommerce import unit_metafields
from serialsync_magento import MagentoSettings
from serialsync_shopify import unit_fields
from serialsync_woocommerce.mapping import META_PREFIX

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "unit-attributes.md").read_text(encoding="utf-8")


def test_the_magento_example_is_valid_settings_and_maps_as_the_page_says():
    (block,) = re.findall(r"```toml\n(.*?)```", PAGE, re.S)
    raw = tomllib.loads(block)["connectors"]["magento"]["settings"]
    settings = MagentoSettings.model_validate(
        {**raw, "base_url": "https://shop.example.com", "access_token": "t" * 32}
    )
    assert settings.attribute_codes["Finish"] == "finish_colour"
    assert settings.attribute_prefix == "pos_"
    assert set(MagentoSettings.model_fields) >= {"attribute_codes", "attribute_prefix"}


def test_the_names_the_page_gives_are_the_plugins_own():
    assert f"namespace `{unit_fields.NAMESPACE}`" in PAGE
    assert f"`{unit_fields.TYPE}`" in PAGE
    assert f"namespace `{unit_metafields.NAMESPACE}`" in PAGE
    assert f"`{unit_metafields.PERMISSION}`" in PAGE
    assert f"`{META_PREFIX}finish`" in PAGE
    assert unit_fields.metafield_key("Wood grain") == "wood_grain" and "`wood_grain`" in PAGE


def test_the_readme_links_the_page():
    assert "docs/unit-attributes.md" in (ROOT / "README.md").read_text(encoding="utf-8")
