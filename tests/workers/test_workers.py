"""Workers on Procrastinate (issue 18 #3): merchants' passes as jobs on a real PostgreSQL
server, run by ``serialsync worker`` processes; a killed worker's job is run again by another,
and nothing is lost or doubled."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.cli.conftest import SKU_A
from tests.engine.memory import MemoryChannel, MemoryPos
from tests.merchants.world import invoke, merchant_file, start_worker, wait_until


def _add(
    deployment: Path, folder: Path, name: str, serials: tuple[str, ...], extra: str = ""
) -> None:
    config = merchant_file(folder / name, serials, channel_extra=extra)
    added = invoke(deployment, "merchants", "add", name, "--config", str(config))
    assert added.exit_code == 0, added.output


def _live(folder: Path, merchant: str, shop: str) -> list[str]:
    return sorted(MemoryChannel(folder / merchant / f"{shop}.json").live())


def _ids(serials: tuple[str, ...]) -> list[str]:
    return sorted(f"{SKU_A}|||{s}" for s in serials)


def test_scheduled_passes_of_every_merchant_run_as_jobs(deployment: Path, tmp_path: Path) -> None:
    _add(deployment, tmp_path, "acme", ("A1", "A2"))
    _add(deployment, tmp_path, "bolt", ("B1",))
    queued = invoke(deployment, "schedule", "--now", "--json")
    assert queued.exit_code == 0, queued.output
    flows = sorted((q["merchant"], q["flow"]) for q in json.loads(queued.stdout)["queued"])
    assert flows == [
        ("acme", "inventory"),
        ("acme", "orders"),
        ("acme", "reconcile"),
        ("bolt", "inventory"),
        ("bolt", "orders"),
        ("bolt", "reconcile"),
    ]
    # Queued once: scheduling again now queues nothing new (the queueing lock).
    again = json.loads(invoke(deployment, "schedule", "--now", "--json").stdout)
    assert again["queued"] == []
    shown = json.loads(invoke(deployment, "merchants", "show", "acme", "--json").stdout)
    assert shown["jobs"] == {
        "inventory": {"todo": 1},
        "orders": {"todo": 1},
        "reconcile": {"todo": 1},
    }

    worked = invoke(deployment, "worker", "--burst", "--concurrency", "2")
    assert worked.exit_code == 0, worked.output
    for merchant, serials in (("acme", ("A1", "A2")), ("bolt", ("B1",))):
        for shop in ("shop_a", "shop_b"):
            assert _live(tmp_path, merchant, shop) == _ids(serials)
    shown = json.loads(invoke(deployment, "merchants", "show", "acme", "--json").stdout)
    assert shown["jobs"] == {}  # every job succeeded (and a successful job is deleted)
    # Not due again before its interval: nothing to queue.
    assert json.loads(invoke(deployment, "schedule", "--json").stdout)["queued"] == []


def test_a_disabled_merchant_gets_no_passes(deployment: Path, tmp_path: Path) -> None:
    _add(deployment, tmp_path, "acme", ("A1",))
    assert invoke(deployment, "merchants", "disable", "acme").exit_code == 0
    queued = json.loads(invoke(deployment, "schedule", "--now", "--json").stdout)
    assert queued["queued"] == []


def test_a_killed_workers_job_is_run_again_by_another(
    deployment: Path, tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    marker = tmp_path / "acme-publishing"
    slow = f'publish_delay = 3.0\npublishing_marker = "{marker}"\n'
    _add(deployment, tmp_path, "acme", ("A1", "A2", "A3"), slow)
    _add(deployment, tmp_path, "bolt", ("B1",))
    assert invoke(deployment, "schedule", "--now").exit_code == 0

    first = start_worker(deployment, tmp_path, "first")
    workers.append(first)
    wait_until(marker.exists, "acme's publish to start")
    first.kill()  # SIGKILL, mid-publish: no clean stop, its job stays 'doing'
    first.wait(timeout=20)
    marker.unlink()
    # Its flow queued again while the dead job sits in 'doing' (the queueing lock holds only
    # 'todo' jobs): the tick must not choke retrying the dead one beside its twin (it did, every
    # tick, so nothing was deferred any more and the merchant's lock stayed held).
    assert invoke(deployment, "schedule", "--now").exit_code == 0

    second = start_worker(deployment, tmp_path, "second")
    workers.append(second)

    def settled() -> bool:
        jobs = json.loads(invoke(deployment, "merchants", "show", "acme", "--json").stdout)["jobs"]
        return all(set(counts) <= {"succeeded"} for counts in jobs.values()) and all(
            _live(tmp_path, "acme", shop) == _ids(("A1", "A2", "A3"))
            for shop in ("shop_a", "shop_b")
        )

    wait_until(settled, "the killed worker's job to be run again")
    for shop in ("shop_a", "shop_b"):
        assert _live(tmp_path, "bolt", shop) == _ids(("B1",))

    # The merchant's order flow still works after the kill: a sale is withdrawn and reported once.
    sold = f"{SKU_A}|||A2"
    MemoryChannel(tmp_path / "acme" / "shop_a.json").place_order([(sold, 1)])
    assert invoke(deployment, "schedule", "--now").exit_code == 0
    pos = tmp_path / "acme" / "aim.json"
    wait_until(lambda: sold not in _live(tmp_path, "acme", "shop_b"), "the sold unit's withdrawal")
    wait_until(lambda: len(MemoryPos(pos).orders) == 1, "the sale reported")
    time.sleep(1)  # a second report would land here
    assert [o["lines"] for o in MemoryPos(pos).orders.values()] == [[[SKU_A, "A2", 1]]]
