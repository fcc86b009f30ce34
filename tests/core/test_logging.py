"""Logging: the library configures nothing global; the CLI's configuration picks its format."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import structlog
from serialsync.logging import configure_logging

LIBRARY_USE = """
import logging, sys, httpx, structlog
from pydantic import SecretStr
from serialsync import ConnectorContext, ConnectorSettings
from serialsync.manager import PluginManager

if sys.argv[1] == "app-logging":
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s|%(message)s")
manager = PluginManager(load_entrypoints=False)
context = ConnectorContext(name="x", transport=httpx.MockTransport(lambda r: httpx.Response(200)))
class Settings(ConnectorSettings):
    token: SecretStr

http = context.http_client(Settings(token="s3cr3t_value"), base_url="https://h.example")
http.get("/items", params={"q": "s3cr3t_value"})
print(structlog.is_configured(), logging.getLogger().level)
"""


def run_library(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LIBRARY_USE, mode], capture_output=True, text=True, check=True
    )


def test_used_as_a_library_serialsync_configures_nothing_and_prints_nothing():
    done = run_library("bare")
    # structlog left unconfigured, the root logger as Python left it, and no event on stdout.
    assert done.stdout.split() == ["False", "30"]
    assert done.stderr == ""


def test_used_as_a_library_events_follow_the_applications_stdlib_logging():
    done = run_library("app-logging")
    lines = [line for line in done.stderr.splitlines() if line.startswith("serialsync.http|")]
    assert len(lines) == 1
    assert lines[0].startswith("serialsync.http|http.response ")
    assert "connector='x'" in lines[0]
    assert "status=200" in lines[0]
    assert "path='/items?q=***'" in lines[0]
    assert "s3cr3t_value" not in done.stderr


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    old = structlog.get_config()
    yield
    structlog.configure(**old)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.usefixtures("restore_structlog")
def test_json_lines_when_not_on_a_terminal():
    out = io.StringIO()
    configure_logging(stream=out)
    structlog.get_logger("t").info("pass.done", connector="shop", units=3)
    event = json.loads(out.getvalue())
    assert event["event"] == "pass.done"
    assert event["connector"] == "shop"
    assert event["units"] == 3
    assert event["level"] == "info"
    assert event["timestamp"].endswith("Z")


@pytest.mark.usefixtures("restore_structlog")
def test_readable_console_on_a_terminal():
    out = Terminal()
    configure_logging(stream=out)
    structlog.get_logger("t").info("pass.done", connector="shop")
    text = out.getvalue()
    assert "pass.done" in text
    assert "connector" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.usefixtures("restore_structlog")
def test_level_filters_lower_events():
    out = io.StringIO()
    configure_logging(level="warning", format="json", stream=out)
    log = structlog.get_logger("t")
    log.info("quiet")
    log.warning("loud")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["loud"]
