"""What every step of a pass needs: the plugins, the store, the settings, the clock, a logger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from serialsync.logging import get_logger
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings
from serialsync.store import Store


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _no_checkpoint(_step: str) -> None:
    return None


def _no_progress(_task: str, _connector: str, _done: int, _total: int | None) -> None:
    return None


Progress = Callable[[str, str, int, int | None], None]
"""``progress(task, connector, done, total)``: called as a pass advances (for progress bars)."""


@dataclass
class EngineContext:
    """The shared machinery of the passes.

    ``checkpoint`` is called with the name of each step boundary (``"publish.after_call"``,
    ``"report.after_call"`` …), where everything before is committed. Crash tests make it raise
    to prove that a pass interrupted at any boundary loses nothing and repeats nothing; the CLI
    makes it raise to stop cleanly on SIGTERM. ``progress`` reports how far a pass has got.
    """

    plugins: PluginManager
    store: Store
    sync: SyncSettings = field(default_factory=SyncSettings)
    now: Callable[[], datetime] = _utcnow
    logger: Any = None
    checkpoint: Callable[[str], None] = _no_checkpoint
    progress: Progress = _no_progress

    def log(self, **bind: Any) -> Any:
        """A structlog logger bound with ``bind``."""
        return (self.logger or get_logger("serialsync.engine")).bind(**bind)
