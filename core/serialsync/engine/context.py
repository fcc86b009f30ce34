"""What every step of a pass needs: the plugins, the store, the settings, the clock, a logger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings
from serialsync.store import Store


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _no_checkpoint(_step: str) -> None:
    return None


@dataclass
class EngineContext:
    """The shared machinery of the passes.

    ``checkpoint`` is called with the name of each step boundary (``"publish.after_call"``,
    ``"report.after_call"`` …). It does nothing in production; crash tests make it raise, to
    prove that a pass interrupted at any boundary loses nothing and repeats nothing.
    """

    plugins: PluginManager
    store: Store
    sync: SyncSettings = field(default_factory=SyncSettings)
    now: Callable[[], datetime] = _utcnow
    logger: Any = None
    checkpoint: Callable[[str], None] = _no_checkpoint

    def log(self, **bind: Any) -> Any:
        """A structlog logger bound with ``bind``."""
        return (self.logger or structlog.get_logger("serialsync.engine")).bind(**bind)
