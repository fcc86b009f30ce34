"""The shared POS conformance suite against the AIM fake, with pages small enough that every
read spans several pages."""

from __future__ import annotations

import serialsync_aim_pos.plugin
from serialsync.testing.conformance import PosConformance


class TestAimConformanceSmallPages(PosConformance):
    plugin = serialsync_aim_pos.plugin
    connector_type = "aim_pos"
    settings_overrides = {"page_size": 2}
