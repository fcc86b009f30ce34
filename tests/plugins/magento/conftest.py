"""Fixtures for the Magento plugin tests: the fake, connectors on it, and the REST contract.

Every test that uses the ``fake`` fixture has each request the plugin sent checked against the
Magento 2.4.9 admin REST schema when the test ends (when the schema file is present), so the
plugin and its fake cannot agree on something Magento would refuse.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from serialsync import ConnectorContext
from serialsync_magento import FakeMagento, MagentoConnector, MagentoSettings
from serialsync_magento.fake import ReceivedRequest

SCHEMA_ENV = "SERIALSYNC_MAGENTO_SCHEMA"
REPO = Path(__file__).resolve().parents[3]
DEFAULT_SCHEMA = REPO.parent / "shared" / "contracts" / "magento-admin-2.4.9.yaml"
_STORE_PREFIX = re.compile(r"^/rest/[A-Za-z0-9_]+(?P<path>/V1/.*)$")
_BULK_PREFIX = re.compile(r"^/rest/[A-Za-z0-9_]+/async/bulk(?P<path>/V1/.*)$")
_BY_PARAM = re.compile(r"^by([A-Z])(\w*)$")
_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def schema_path() -> Path:
    """Where the 2.4.9 schema is read from: ``$SERIALSYNC_MAGENTO_SCHEMA`` or ../shared."""
    return Path(os.environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA)


class MagentoContract:
    """Checks requests against the Swagger 2.0 schema: path template, method, query, body."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.definitions: dict[str, Any] = document["definitions"]
        self.paths: dict[str, Any] = document["paths"]
        self._templates: list[tuple[int, re.Pattern[str], str]] = sorted(
            (
                (
                    template.count("{"),
                    re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"),
                    template,
                )
                for template in self.paths
            ),
            key=lambda item: item[0],
        )

    def template_of(self, path: str) -> str | None:
        """The schema path template a raw request path matches (literal segments win)."""
        match = _STORE_PREFIX.match(path)
        if match is None:
            return None
        for _params, pattern, template in self._templates:
            if pattern.match(match["path"]):
                return template
        return None

    def bulk_template_of(self, path: str) -> tuple[str | None, list[str]]:
        """The synchronous template an async bulk path stands for, and its by-parameters."""
        match = _BULK_PREFIX.match(path)
        if match is None:
            return None, []
        names, segments = [], []
        for segment in match["path"].split("/"):
            by = _BY_PARAM.match(segment)
            if by is not None:
                names.append(by[1].lower() + by[2])
                segments.append("x")
            else:
                segments.append(segment)
        return self.template_of("/rest/all" + "/".join(segments)), names

    def bulk_problems(self, request: ReceivedRequest) -> list[str]:
        """An async bulk request: each item is the synchronous body plus the path parameters.

        ``/async/bulk/V1/products/attributes/byAttributeCode/options`` is checked as
        ``POST /V1/products/attributes/{attributeCode}/options`` once per item, each item
        carrying ``attributeCode``.
        """
        where = f"{request.method} {request.path}"
        template, names = self.bulk_template_of(request.path)
        if template is None or request.method != "POST" or "post" not in self.paths[template]:
            return [f"{where}: no POST path of the schema matches"]
        placeholders = re.findall(r"\{([^}]+)\}", template)
        if placeholders != names:
            return [f"{where}: by-segments {names} do not name {template}'s {placeholders}"]
        if not isinstance(request.body, list) or not request.body:
            return [f"{where}: a bulk body is a non-empty array"]
        parameters = self.paths[template]["post"].get("parameters") or []
        schema = next(p["schema"] for p in parameters if p["in"] == "body")
        found = []
        for index, item in enumerate(request.body):
            missing = [name for name in names if name not in item]
            if missing:
                found.append(f"{where} item {index}: path parameters {missing} missing")
            rest = {k: v for k, v in item.items() if k not in names}
            found += self.check_value(rest, schema, f"{where} item {index}")
        return found

    def problems(self, request: ReceivedRequest) -> list[str]:
        """What is wrong with one request; empty when the schema accepts it."""
        where = f"{request.method} {request.path}"
        if _BULK_PREFIX.match(request.path):
            return self.bulk_problems(request)
        template = self.template_of(request.path)
        if template is None:
            return [f"{where}: no path of the schema matches"]
        operation = self.paths[template].get(request.method.lower())
        if operation is None:
            return [f"{where}: {template} has no {request.method}"]
        parameters = operation.get("parameters") or []
        allowed_query = {p["name"] for p in parameters if p["in"] == "query"}
        found = []
        for name, _value in request.query:
            generic = re.sub(r"\[\d+\]", "[0]", name)
            if generic not in allowed_query and name not in allowed_query:
                found.append(f"{where}: query parameter {name!r} is not in the schema")
        body = next((p for p in parameters if p["in"] == "body"), None)
        if body is None:
            if request.body is not None:
                found.append(f"{where}: the schema takes no body")
        elif request.body is None:
            found.append(f"{where}: the schema requires a body")
        else:
            found += self.check_value(request.body, body["schema"], f"{where} body")
        return found

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def check_value(self, value: Any, schema: dict[str, Any], where: str) -> list[str]:
        """Required properties, no unknown properties, and JSON types, recursively."""
        schema = self._resolve(schema)
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        if kind is not None and not _TYPES[kind](value):
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
        found: list[str] = []
        if kind == "object" and "properties" in schema:
            properties = schema["properties"]
            for name in schema.get("required", []):
                if name not in value:
                    found.append(f"{where}: required property {name!r} missing")
            for name, item in value.items():
                if name not in properties:
                    found.append(f"{where}: unknown property {name!r}")
                else:
                    found += self.check_value(item, properties[name], f"{where}.{name}")
        elif kind == "array" and "items" in schema:
            for index, item in enumerate(value):
                found += self.check_value(item, schema["items"], f"{where}[{index}]")
        return found


@pytest.fixture(scope="session")
def contract_or_none() -> MagentoContract | None:
    """The schema, loaded once per session (C loader when available), or None if absent."""
    path = schema_path()
    if not path.is_file():
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as handle:
        return MagentoContract(yaml.load(handle, Loader=loader))  # noqa: S506 - a safe loader


@pytest.fixture
def contract(contract_or_none: MagentoContract | None) -> MagentoContract:
    """The schema; the test is skipped, saying why, when the file is absent."""
    if contract_or_none is None:
        pytest.skip(
            f"Magento 2.4.9 REST schema not found at {schema_path()} "
            f"(set {SCHEMA_ENV} to its path); contract checks skipped"
        )
    return contract_or_none


@pytest.fixture
def fake(contract_or_none: MagentoContract | None) -> Iterator[FakeMagento]:
    """A fresh fake store; what the plugin sent to it is checked against the schema after."""
    store = FakeMagento(serial_attribute="serial_number")
    yield store
    if contract_or_none is not None:
        problems = [p for r in store.received for p in contract_or_none.problems(r)]
        assert not problems, "requests the 2.4.9 schema refuses:\n" + "\n".join(problems)


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the connectors asked for (nothing really sleeps)."""
    return []


@pytest.fixture
def make_connector(
    fake: FakeMagento, sleeps: list[float], respx_mock: Any
) -> Callable[..., MagentoConnector]:
    """Build connectors on the fake, served as a respx side effect; overrides are settings."""
    respx_mock.route(host=fake.host).mock(side_effect=fake)
    ticks = itertools.count()

    def make(**overrides: Any) -> MagentoConnector:
        raw = {**fake.connector_settings(f"http://{fake.host}"), **overrides}
        context = ConnectorContext(
            name="magento-test", sleep=sleeps.append, clock=lambda: float(next(ticks))
        )
        return MagentoConnector(MagentoSettings.model_validate(raw), context)

    return make
