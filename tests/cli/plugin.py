"""The engine tests' memory connectors as a plugin the CLI loads (SERIALSYNC_EXTRA_PLUGINS).

Their settings add what the CLI tests need: a secret that must never be printed, a check that
fails, a POS that refuses sales, and a slow publish (with a marker file) to stop a run mid-pass.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr
from serialsync import (
    AuthenticationError,
    ConnectorContext,
    ConnectorType,
    ConnectorTypeRegistrar,
    ListingChange,
    PermanentRemoteError,
    Product,
    PublishOutcome,
    Role,
    Sale,
    SaleReceipt,
    hookimpl,
)

from tests.engine.memory import MemoryChannel, MemoryPos, MemorySettings


class CliMemorySettings(MemorySettings):
    """``state_file`` plus the knobs of the CLI tests."""

    api_token: SecretStr | None = None
    fail_check: bool = False
    refuse_sales: bool = False
    publish_delay: float = 0.0
    publishing_marker: Path | None = None
    sigterm_after_publishes: int = 0


class CliPos(MemoryPos):
    def __init__(self, settings: CliMemorySettings, context: ConnectorContext) -> None:
        super().__init__(settings.state_file)
        self.settings = settings

    @hookimpl
    def check_connection(self, connector: str) -> str:
        if self.settings.fail_check:
            raise AuthenticationError("the POS refused the credentials", connector=connector)
        return f"memory POS with {len(self.state['units'])} units"

    @hookimpl
    def report_sale(self, connector: str, sale: Sale) -> SaleReceipt:
        if self.settings.refuse_sales:
            raise PermanentRemoteError("the POS refused the sale: location closed")
        return super().report_sale(connector, sale)


class CliChannel(MemoryChannel):
    def __init__(self, settings: CliMemorySettings, context: ConnectorContext) -> None:
        super().__init__(settings.state_file)
        self.settings = settings
        self.context = context
        self.publishes = 0

    @hookimpl
    def check_connection(self, connector: str) -> str:
        if self.settings.fail_check:
            raise AuthenticationError("the shop refused the token", connector=connector)
        return "memory channel"

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.publishes += 1
        if self.settings.publishing_marker is not None:
            self.settings.publishing_marker.touch()
        if self.settings.publish_delay:
            time.sleep(self.settings.publish_delay)
        outcomes = super().publish_variants(connector, product, changes)
        if self.publishes == self.settings.sigterm_after_publishes:
            os.kill(os.getpid(), signal.SIGTERM)
            # As an operator's signal would, it lands while this call is still under way: the
            # pass runs off the main thread, whose handler notices it and sets the stop event.
            if self.context.stop is not None:
                assert self.context.stop.wait(30), "the stop never reached the connector"
        return outcomes


class CliMemoryPlugin:
    """Declares ``memory_pos`` and ``memory_channel``."""

    @hookimpl
    def register_connector_types(self, registrar: ConnectorTypeRegistrar) -> None:
        registrar.add(ConnectorType("memory_pos", Role.POS, CliMemorySettings, CliPos))
        registrar.add(ConnectorType("memory_channel", Role.CHANNEL, CliMemorySettings, CliChannel))


PLUGIN = CliMemoryPlugin()
