"""The sandbox: every installed plugin's fake, served over real HTTP on loopback.

Each connector type that declares a ``fake`` gets one, seeded (POS fakes with the demo
catalogue), optionally with injected faults, and served on its own free port. The sandbox
then writes a configuration whose connectors point at those ports, so that ``serialsync run``
speaks real HTTP through the real clients to platforms that need no account.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from serialsync.connector import ConnectorType, Role
from serialsync.manager import PluginManager
from serialsync.model import Product
from serialsync.sandbox.catalogue import demo_catalogue
from serialsync.sandbox.server import LoopbackServer
from serialsync.testing.fake import FakeChannel, FakePOS, Faults
from serialsync.tomlwrite import toml_value

#: The first line of every configuration the sandbox writes.
SANDBOX_MARK = "# serialsync sandbox configuration"


def is_sandbox_config(path: Path | None) -> bool:
    """Whether ``path`` is a configuration the sandbox wrote (its first line is the mark)."""
    if path is None:
        return False
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == SANDBOX_MARK
    except OSError:
        return False


def sandbox_ports(path: Path) -> dict[str, int]:
    """The loopback port of each connector of a sandbox configuration (to serve it again)."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    ports = {}
    for name, section in data.get("connectors", {}).items():
        for value in section.values():
            url = urlsplit(value) if isinstance(value, str) else None
            if url is not None and url.hostname == "127.0.0.1" and url.port:
                ports[name] = url.port
                break
    return ports


class Sandbox:
    """Fakes of every installed platform, served on loopback. Use it as a context manager.

    :param faults: faults per connector type name, or under ``"*"`` for every fake.
    :param seed: seed of the catalogue (and of each fake's faults, unless they set one).
    :param catalogue: the products to stock the POS with (default: the demo guitars).
    :param types: only these connector types (default: every type that has a fake).
    """

    def __init__(
        self,
        faults: Mapping[str, Faults] | None = None,
        seed: int = 7,
        *,
        catalogue: list[Product] | None = None,
        types: Iterable[str] | None = None,
        plugins: PluginManager | None = None,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        self.seed = seed
        self.catalogue = catalogue if catalogue is not None else demo_catalogue(seed=seed)
        self._faults = dict(faults or {})
        self._only = set(types) if types is not None else None
        self._plugins = plugins
        self._ports = dict(ports or {})
        self.fakes: dict[str, FakeChannel | FakePOS] = {}
        self.connector_types: dict[str, ConnectorType] = {}
        self._servers: dict[str, LoopbackServer] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Build, seed and serve every fake."""
        manager = self._plugins or PluginManager()
        for name, ctype in sorted(manager.connector_types.items()):
            if ctype.fake is None or (self._only is not None and name not in self._only):
                continue
            fake = ctype.fake()
            if not isinstance(fake, FakeChannel | FakePOS):
                raise TypeError(f"the fake of {name} is neither a FakeChannel nor a FakePOS")
            faults = self._faults.get(name) or self._faults.get("*")
            if faults is not None:
                if faults.seed is None:
                    faults = faults.model_copy(update={"seed": self.seed})
                fake.set_faults(faults)
            self.fakes[name] = fake
            self.connector_types[name] = ctype
        if not self.pos_fakes():
            raise RuntimeError("no POS plugin with a fake is installed: the sandbox needs one")
        for fake in self.pos_fakes().values():
            for product in self.catalogue:
                fake.add_product(product)
        try:
            for name, fake in self.fakes.items():
                server = LoopbackServer(fake.asgi_app(), name=name, port=self._ports.get(name, 0))
                server.start()
                self._servers[name] = server
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server."""
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what it offers -----------------------------------------------------------------------

    def pos_fakes(self) -> dict[str, FakePOS]:
        """The POS fakes, by connector name."""
        return {
            n: f
            for n, f in self.fakes.items()
            if isinstance(f, FakePOS) and self.connector_types[n].role == Role.POS
        }

    def channel_fakes(self) -> dict[str, FakeChannel]:
        """The channel fakes, by connector name."""
        return {n: f for n, f in self.fakes.items() if isinstance(f, FakeChannel)}

    def endpoints(self) -> dict[str, str]:
        """Connector name → the base URL its fake is served on."""
        return {name: server.base_url for name, server in self._servers.items()}

    def connector_sections(self) -> dict[str, dict[str, Any]]:
        """One ``[connectors.<name>]`` section per fake, pointing at its server."""
        sections = {}
        for name, fake in self.fakes.items():
            settings = fake.connector_settings(self._servers[name].base_url)
            sections[name] = {"plugin": self.connector_types[name].name, **settings}
        return sections

    def config_toml(self, store_path: Path) -> str:
        """A ``serialsync.toml`` for these fakes, keeping state in ``store_path``."""
        lines = [
            SANDBOX_MARK,
            "# Written by the serialsync sandbox: every connector points at a fake on loopback,",
            "# which exists only while `serialsync sandbox serve` (or the demo) runs; serve them",
            "# again on these ports with `serialsync sandbox serve --config THIS-FILE`.",
            "# The credentials below are the fakes' own; no real account is involved.",
            "",
            "[store]",
            f"path = {toml_value(str(store_path))}",
            "",
            "[sync]",
            "interval = 30  # seconds between passes of `serialsync run`",
            "",
        ]
        for name, section in self.connector_sections().items():
            lines.append(f"[connectors.{name}]")
            nested: dict[str, dict[str, Any]] = {}
            for key, value in section.items():
                if isinstance(value, dict):
                    nested[key] = value
                elif value is not None:
                    lines.append(f"{key} = {toml_value(value)}")
            for key, table in nested.items():
                lines.append(f"[connectors.{name}.{key}]")
                lines.extend(f"{k} = {toml_value(v)}" for k, v in table.items() if v is not None)
            lines.append("")
        return "\n".join(lines)
