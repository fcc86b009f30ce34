"""The --magento-cpu runs' configuration: Magento's options set in its own section only."""

from __future__ import annotations

import pytest

from bench.host_run import with_magento_option

CONFIG = '[connectors.aim_pos]\nplugin = "aim_pos"\n\n[connectors.magento]\nplugin = "magento"\n'


def test_the_option_goes_into_magentos_section() -> None:
    text = with_magento_option(CONFIG, "bulk", "false")
    assert text.split("[connectors.magento]\n", 1)[1].startswith("bulk = false\n")
    assert text.split("[connectors.magento]")[0] == CONFIG.split("[connectors.magento]")[0]


def test_a_configuration_without_magento_is_refused() -> None:
    with pytest.raises(ValueError, match="no Magento connector"):
        with_magento_option('[connectors.aim_pos]\nplugin = "aim_pos"\n', "bulk", "true")
