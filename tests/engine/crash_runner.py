"""A runner for the SIGKILL test: passes over file-backed platforms until it is killed.

Usage: ``python -m tests.engine.crash_runner DIR PASSES STORE…`` (STORE: the words of
:meth:`tests.stores.StoreSpec.argv`). Each step boundary pauses a moment,
so that the killer lands at many different points of a pass.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings

from tests.engine.memory import CHANNEL_TYPE, POS_TYPE, MemoryChannel, MemoryPos
from tests.stores import StoreSpec, parse


def main(folder: Path, passes: int, spec: StoreSpec) -> None:
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, MemoryPos(folder / "pos.json"))
    manager.add_connector_instance("shop_a", CHANNEL_TYPE, MemoryChannel(folder / "a.json"))
    manager.add_connector_instance("shop_b", CHANNEL_TYPE, MemoryChannel(folder / "b.json"))
    host = Host(
        plugins=manager,
        store=spec.open(),
        sync=SyncSettings(workers=1),
        checkpoint=lambda _step: time.sleep(0.002),
        owns_store=True,
    )
    for _ in range(passes):
        host.run_once()
    host.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), parse(sys.argv[3:]))
