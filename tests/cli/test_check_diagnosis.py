"""`serialsync check` against real plugins: hosts that are gone, credentials refused (#21/2, 3).

Each failure is one line in one style for every plugin: the connector, what failed, and the
settings to check with their SERIALSYNC_ variables; no class names, query strings, bodies or
secrets unless -v (and never secrets).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from serialsync.sandbox.sandbox import Sandbox

from tests.cli.unreachable import dead_config, subprocess_env

ALL = ("aim_pos", "bigcommerce", "magento", "shopify", "woocommerce")
#: Where each plugin's host is named in the sandbox's configuration.
ADDRESS = {
    "aim_pos": "discovery_url",
    "bigcommerce": "base_url",
    "magento": "base_url",
    "shopify": "base_url",
    "woocommerce": "site_url",
}
#: The secret of each plugin that the credentials test spoils.
SPOILED = {
    "aim_pos": "api_key",
    "bigcommerce": "access_token",
    "magento": "access_token",
    "shopify": "access_token",
    "woocommerce": "consumer_secret",
}


def _check(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "serialsync.cli", "check", "--config", str(config), *args],
        cwd=config.parent,
        env={**subprocess_env(), "SERIALSYNC_LOG__FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard: retried, five dead hosts took 60 s
    )


def _failures(stdout: str) -> dict[str, str]:
    lines = [line for line in stdout.splitlines() if line.startswith("FAILED ")]
    return {line.split()[1].rstrip(":"): line for line in lines}


def test_unreachable_hosts_are_asked_once_each_and_named_with_the_setting(tmp_path: Path):
    config = dead_config(tmp_path, ALL)
    done = _check(config)
    assert done.returncode == 1, done.stderr
    failures = _failures(done.stdout)
    assert set(failures) == set(ALL)
    for name, line in failures.items():
        env = f"SERIALSYNC_CONNECTORS__{name.upper()}__{ADDRESS[name].upper()}"
        assert re.fullmatch(
            rf"FAILED {name}: cannot reach 127\.0\.0\.1:\d+ \(connection refused\); is the host "
            rf"up\? check {ADDRESS[name]} \({env}\)",
            line,
        ), line
    assert "Error" not in done.stdout  # no exception class names
    events = [
        json.loads(line)["event"] for line in done.stderr.splitlines() if line.startswith("{")
    ]
    # Connection refused is not retried in check: one attempt per connector, no backoff.
    assert events.count("http.transport_error") == len(ALL)
    assert "http.gave_up" not in events


def test_refused_credentials_read_alike_on_every_plugin(tmp_path: Path):
    with Sandbox(types=ALL) as sandbox:
        text = sandbox.config_toml(tmp_path / "state.db")
        spoiled = []
        for name, key in SPOILED.items():
            value = sandbox.connector_sections()[name][key]
            text = text.replace(f'{key} = "{value}"', f'{key} = "{value}-WRONG"', 1)
            spoiled.append(f"{value}-WRONG")
        config = tmp_path / "serialsync.toml"
        config.write_text(text)
        plain = _check(config)
        verbose = _check(config, "-v")
    assert plain.returncode == 1, plain.stderr
    failures = _failures(plain.stdout)
    assert set(failures) == set(ALL)
    for name, line in failures.items():
        assert line.startswith(f"FAILED {name}: credentials refused; check "), line
        env = f"SERIALSYNC_CONNECTORS__{name.upper()}__{SPOILED[name].upper()}"
        assert f"{SPOILED[name]} ({env})" in line
        # No class names, URLs with query strings, or response bodies without -v.
        assert "Error" not in line and "?" not in line and "{" not in line and "http" not in line
    assert "AuthenticationError" in verbose.stdout  # -v tells the plugin's own words
    for done in (plain, verbose):
        for secret in spoiled:
            assert secret not in done.stdout and secret not in done.stderr
            assert secret[:-6] not in done.stdout and secret[:-6] not in done.stderr
