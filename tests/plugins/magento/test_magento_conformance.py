"""The shared channel conformance suite, run against the Magento fake as a third party would."""

from __future__ import annotations

import serialsync_magento.plugin
from serialsync.testing.conformance import ChannelConformance


class TestMagentoConformance(ChannelConformance):
    plugin = serialsync_magento.plugin
    connector_type = "magento"
    settings_overrides = {"orders_page_size": 2}  # small pages, so paging is exercised
