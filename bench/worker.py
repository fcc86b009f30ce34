"""Running one measurement in a fresh process (spawned, so nothing is inherited but the spec)."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bench import host_run


def _in_process(conn: Connection, target: str, spec: dict[str, Any]) -> None:
    runner: Callable[[dict[str, Any]], dict[str, Any]] = getattr(host_run, target)
    try:
        conn.send({"result": runner(spec)})
    except BaseException as exc:
        conn.send({"error": f"{exc!r}\n{traceback.format_exc()}"})


def run_in_process(target: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``bench.host_run.<target>(spec)`` in a fresh process; its result."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_in_process, args=(child, target, spec), name=target)
    process.start()
    answer = parent.recv()
    process.join()
    if "error" in answer:
        raise RuntimeError(f"{target} failed: {answer['error']}")
    result: dict[str, Any] = answer["result"]
    return result
