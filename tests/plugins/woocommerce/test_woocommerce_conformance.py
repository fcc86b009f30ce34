"""The shared channel conformance suite, run against the WooCommerce fake as a third party would."""

from __future__ import annotations

import serialsync_woocommerce.plugin
from serialsync.testing.conformance import ChannelConformance


class TestWooCommerceConformance(ChannelConformance):
    plugin = serialsync_woocommerce.plugin
    connector_type = "woocommerce"
