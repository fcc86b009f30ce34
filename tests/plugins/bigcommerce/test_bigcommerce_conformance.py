"""The shared channel conformance suite, run against the BigCommerce fake as a third party would."""

from __future__ import annotations

import serialsync_bigcommerce.plugin
from serialsync.testing.conformance import ChannelConformance


class TestBigCommerceConformance(ChannelConformance):
    plugin = serialsync_bigcommerce.plugin
    connector_type = "bigcommerce"
    settings_overrides = {"orders_page_size": 2}  # small pages, so paging is exercised
