"""The shared channel conformance suite, run against the Shopify fake as a third party would."""

from __future__ import annotations

import serialsync_shopify.plugin
from serialsync.testing.conformance import ChannelConformance


class TestShopifyConformance(ChannelConformance):
    plugin = serialsync_shopify.plugin
    connector_type = "shopify"
    settings_overrides = {"orders_page_size": 2}  # small pages, so paging is exercised
