"""Stopping on request: one shared :class:`threading.Event` that every wait listens to.

A :class:`~serialsync.host.Host` owns a stop event and hands it to each connector's
:class:`~serialsync.http.HttpClient`. Setting it (the CLI does on SIGTERM / Ctrl-C; an embedding
application may) ends a retry's backoff or a pacing pause at once and keeps the next request from
being sent: both raise :class:`StopRequested`, which unwinds the pass like the engine's
checkpoints do. Nothing half-written follows: a request is either sent whole or not at all, and
what a pass committed stays committed (the next pass adopts what was sent but not recorded).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class StopRequested(BaseException):
    """Raised where a stop was noticed (a checkpoint, a wait, before a request).

    A ``BaseException``, so that the engine's "one connector's failure must not stop the others"
    handlers (``except Exception``) let it through. Its text names the step it stopped at.
    """


def raise_if_stopped(stop: threading.Event | None, step: str) -> None:
    """Raise :class:`StopRequested` (naming ``step``) when ``stop`` is set."""
    if stop is not None and stop.is_set():
        raise StopRequested(step)


def stoppable(
    sleep: Callable[[float], None], stop: threading.Event | None, step: str
) -> Callable[[float], None]:
    """``sleep``, made to end at once when ``stop`` is set (then raise :class:`StopRequested`).

    Real time (``time.sleep``) is waited as ``stop.wait``, which a stop wakes; an injected
    ``sleep`` (a test's recorder, a benchmark's scaled clock) is not real time, so it is called
    as it is and the stop checked after it.
    """
    if stop is None:
        return sleep

    def pause(seconds: float) -> None:
        if sleep is time.sleep:
            stop.wait(max(0.0, seconds))
        else:
            sleep(seconds)
        raise_if_stopped(stop, step)

    return pause
