"""The runner the crash test kills: passes against the sandbox, until done or killed.

Usage: ``python -m tests.reliability.runner CONFIG PASSES``. The sandbox is served by the test
process over loopback; this process is what an operator's ``serialsync run`` would be. It
prints ``pass N`` after each pass, so the test can tell how far it got.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from serialsync.host import Host
from serialsync.settings import load_settings


def _sleep(seconds: float) -> None:
    # Retry-After and backoff are honoured in order, not in full: the fakes' quotas are wide.
    time.sleep(min(seconds, 0.01))


def main(config: Path, passes: int) -> None:
    """Run ``passes`` passes (inventory, then orders) with the host ``config`` describes."""
    settings = load_settings(config)
    with Host.from_settings(settings, sleep=_sleep) as host:
        for number in range(1, passes + 1):
            host.run_once()
            print(f"pass {number}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
