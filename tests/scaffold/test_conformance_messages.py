"""Conformance failures say the rule broken, what was sent and what came back; the secrets
check covers check_connection (issue 21 #12)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from serialsync.scaffold import new_plugin
from serialsync.testing.conformance import ChannelConformance, Harness, build_harness

NAME = "loud_shop"
PACKAGE = f"serialsync_{NAME}"


@pytest.fixture
def suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, type[ChannelConformance]]]:
    root = new_plugin(NAME, tmp_path)
    monkeypatch.syspath_prepend(str(root / "src"))

    class Suite(ChannelConformance):
        connector_type = NAME

    yield root / "src" / PACKAGE, Suite
    for module in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[module]


def _harness(suite_class: type[ChannelConformance]) -> tuple[ChannelConformance, Harness]:
    plugin: ModuleType = __import__(f"{PACKAGE}.plugin", fromlist=["plugin"])
    suite_class.plugin = plugin
    suite = suite_class()
    return suite, build_harness(plugin, NAME, suite.make_fake())


def test_a_failed_create_names_the_rule_what_was_sent_and_what_came_back(suite) -> None:
    package, suite_class = suite
    connector = package / "connector.py"
    text = connector.read_text()
    call = "        outcomes = self._publish(product, changes, still_for_sale)\n"
    assert call in text, "the template changed: update this test"
    # The author's bug: every unit answered failed, with the platform's words.
    connector.write_text(
        text.replace(
            call,
            call + "        outcomes = [o.model_copy(update={'result': PublishResult.FAILED, "
            "'reason': 'sku refused'}) for o in outcomes]\n",
        )
    )
    conformance, harness = _harness(suite_class)
    try:
        with pytest.raises(AssertionError) as failure:
            conformance.test_publish_creates_every_unit(harness)
    finally:
        harness.manager.close()
    text = str(failure.value)
    assert "rule broken: each new unit is created" in text
    assert "sent: [upsert " in text and "|||" in text  # the changes, by integration id
    assert "came back: [" in text and ": failed (" in text  # each outcome with its reason
    assert "PublishResult" not in text.splitlines()[0]


def test_a_secret_in_check_connections_answer_fails_the_secrets_check(suite) -> None:
    package, suite_class = suite
    connector = package / "connector.py"
    text = connector.read_text()
    leak = "return f\"shop {shop.get('name') or '?'}, plan {shop.get('plan') or '?'}\""
    assert leak in text, "the template changed: update this test"
    connector.write_text(
        text.replace(leak, 'return f"token {self.settings.token.get_secret_value()}"')
    )
    conformance, harness = _harness(suite_class)
    try:
        with pytest.raises(AssertionError, match="a secret reached a log line or a repr"):
            conformance.test_secrets_never_appear_in_logs(harness)
    finally:
        harness.manager.close()
