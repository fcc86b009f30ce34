"""Throughput of ``serialsync worker`` processes (issue 18): merchants x units published per
minute with 1, 2 and 4 workers, against fakes whose every request takes ``--latency`` seconds.

Each round makes a PostgreSQL database of its own, registers ``--merchants`` merchants (each
its own sandbox: AIM, Shopify and WooCommerce fakes on loopback, ``--units`` units), starts the
workers (one job at a time each, so the rounds compare processes), queues every merchant's
passes at once (``serialsync schedule --now``) and times until every unit is for sale on every
channel of every merchant. Worker start-up is not timed: the clock starts once they all run.

    python -m bench.workers --merchants 8 --units 20 --latency 0.05 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from serialsync.merchants import SECRET_KEY_ENV, new_key
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.testing import Faults

ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("SERIALSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CHANNELS = ["shopify", "woocommerce"]


def _cli(deployment: Path, *args: str) -> None:
    command = [sys.executable, "-m", "serialsync.cli", "--config", str(deployment), *args]
    subprocess.run(command, check=True, capture_output=True, env=_env())


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def one_round(merchants: int, units: int, latency: float, workers: int, folder: Path) -> float:
    """Seconds until every unit of every merchant is for sale everywhere, with ``workers``."""
    import psycopg

    database = f"serialsync_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    base = SERVER.rpartition("/")[0]
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    procs: list[subprocess.Popen[bytes]] = []
    try:
        deployment = folder / "deployment.toml"
        deployment.write_text(f'[store]\nurl = "{base}/{database}"\n')
        with ExitStack() as stack:
            sandboxes = []
            for n in range(merchants):
                catalogue = demo_catalogue(seed=100 + n, products=2, units_per_product=units // 2)
                sandbox = stack.enter_context(
                    Sandbox(types=["aim_pos", *CHANNELS], catalogue=catalogue)
                )
                for name in CHANNELS:
                    sandbox.channel_fakes()[name].set_faults(Faults(latency=latency))
                config = folder / f"m{n}.toml"
                text = re.sub(r"\[store\]\npath = [^\n]*\n", "", sandbox.config_toml(folder / "x"))
                config.write_text(text.replace("interval = 30", "interval = 3600"))
                _cli(deployment, "merchants", "add", f"m{n}", "--config", str(config))
                sandboxes.append((sandbox, sum(len(p.units) for p in catalogue)))
            for w in range(workers):
                log = (folder / f"worker-{w}.log").open("ab")
                command = [sys.executable, "-m", "serialsync.cli", "--config", str(deployment)]
                procs.append(
                    subprocess.Popen(
                        [*command, "worker", "--concurrency", "1", "--heartbeat", "2"],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=_env(),
                    )
                )
            _wait_started(folder, workers)
            started = time.monotonic()
            _cli(deployment, "schedule", "--now")
            while not all(_listed(s, n) for s, n in sandboxes):
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"a worker stopped: see {folder}/worker-*.log")
                time.sleep(0.1)
            return time.monotonic() - started
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _wait_started(folder: Path, workers: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        logs = [folder / f"worker-{w}.log" for w in range(workers)]
        if all(p.exists() and b"worker started" in p.read_bytes() for p in logs):
            return
        time.sleep(0.2)
    raise RuntimeError("the workers did not start")


def _listed(sandbox: Sandbox, units: int) -> bool:
    return all(
        sum(1 for x in sandbox.channel_fakes()[name].listings() if x.sellable and x.stock) >= units
        for name in CHANNELS
    )


def main(argv: list[str] | None = None) -> None:
    """Run the rounds and print units published per minute for each worker count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=8)
    parser.add_argument("--units", type=int, default=20, help="units per merchant")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    args = parser.parse_args(argv)
    os.environ.setdefault(SECRET_KEY_ENV, new_key())
    results = []
    for count in (int(w) for w in args.workers.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            seconds = one_round(args.merchants, args.units, args.latency, count, Path(folder))
        published = args.merchants * args.units * len(CHANNELS)
        per_minute = published / seconds * 60
        results.append({"workers": count, "seconds": round(seconds, 1), "per_minute": per_minute})
        first = results[0]["per_minute"]
        print(
            f"{count} worker(s): {published} unit listings ({args.merchants} merchants x "
            f"{args.units} units x {len(CHANNELS)} channels) in {seconds:.1f} s = "
            f"{per_minute:.0f}/min ({per_minute / first:.2f}x one worker)",
            flush=True,
        )
    print(json.dumps({"merchants": args.merchants, "latency": args.latency, "rounds": results}))


if __name__ == "__main__":
    main()
