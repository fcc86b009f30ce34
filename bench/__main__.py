"""``python -m bench``: run the benchmark against the sandbox and print the table.

Each measurement runs in a process of its own (the host), which starts the sandbox in a child
process (the fakes): CPU time and peak memory are then the host's alone, and each size gets a
fresh peak.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serialsync.cli.run import intervals
from serialsync.settings import SyncSettings

from bench.platforms import Limits
from bench.report import RESULTS, budget_line, render, render_oversell, save
from bench.worker import run_in_process


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark serialsync against the sandbox over loopback: publish, no-op "
        "pass, orders, oversell window, and a naive baseline. Prints a table and writes "
        "bench/results/latest.json.",
    )
    parser.add_argument("--skus", type=int, default=500, help="products (default 500)")
    parser.add_argument(
        "--units", type=int, default=20, help="serials per product (default 20: 10,000 units)"
    )
    parser.add_argument("--orders", type=int, default=1000, help="orders (default 1000)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=10.0,
        help="platform time runs N times faster: windows, buckets, latency and the client's "
        "sleeps (default 10)",
    )
    parser.add_argument(
        "--burst-scale",
        type=float,
        default=1.0,
        metavar="N",
        help="the order burst's pass runs with platform time N times faster (default 1: "
        "platform time is real time, so the host's own work counts once and each budget "
        "refills at its real rate; the publish before it keeps --time-scale)",
    )
    parser.add_argument(
        "--baseline-skus",
        type=int,
        default=50,
        help="products the naive baseline publishes (default 50; 0 skips it)",
    )
    parser.add_argument(
        "--small-skus",
        type=int,
        default=None,
        help="products of the smaller run that memory is compared with (default skus / 5)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small preset that finishes in well under a minute "
        "(40 SKUs x 10, 100 orders, x50, baseline 8 SKUs)",
    )
    parser.add_argument(
        "--pos-age",
        type=float,
        default=3600.0,
        metavar="S",
        help="how long ago the POS catalogue last changed (default 3600; AIM re-reads what "
        "changed within its 300 s cursor margin on every pass: 0 shows that case)",
    )
    parser.add_argument("--seed", type=int, default=7, help="catalogue seed (default 7)")
    parser.add_argument(
        "--woocommerce-latency", type=float, default=Limits.woocommerce_latency, metavar="S"
    )
    parser.add_argument(
        "--magento-latency", type=float, default=Limits.magento_latency, metavar="S"
    )
    parser.add_argument(
        "--woocommerce-workers",
        type=int,
        default=Limits.woocommerce_workers,
        metavar="N",
        help="requests the WooCommerce host serves at once; one more is answered 503",
    )
    parser.add_argument(
        "--magento-workers",
        type=int,
        default=Limits.magento_workers,
        metavar="N",
        help="requests the Magento host serves at once; one more is answered 503",
    )
    parser.add_argument(
        "--magento-consumers",
        type=int,
        default=Limits.magento_consumers,
        metavar="N",
        help="async.operations.all consumer processes of the Magento store (default 1, "
        "Magento's own; 0: none run, so the plugin publishes synchronously)",
    )
    parser.add_argument(
        "--no-oversell",
        action="store_true",
        help="leave out the two oversell runs (the longest part of a full run)",
    )
    parser.add_argument("--output", default="latest.json", help="file name under bench/results/")
    parser.add_argument(
        "--render-only", action="store_true", help="print the tables of the results file again"
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the two publish runs that memory is compared with, fast (no latency, "
        "x1000), added to the results file as 'memory'",
    )
    parser.add_argument(
        "--quiet-only",
        action="store_true",
        help="only the quiet cycle (inventory + order pass, nothing new): host CPU at "
        "--quiet-units (default 20,000) and at a fifth of it (with peak memory after each "
        "publish), the POS last changed --pos-age ago and a moment ago (0); fast (no latency, "
        "x1000), merged into the results file as 'quiet'",
    )
    parser.add_argument("--quiet-units", type=int, default=20_000, metavar="N")
    parser.add_argument(
        "--quiet-profile",
        metavar="DIR",
        default=None,
        help="with --quiet-only: write each quiet cycle's cProfile to DIR "
        "(quiet-<units>@<age>.prof, and the publish's beside it, .publish)",
    )
    parser.add_argument(
        "--http-only",
        action="store_true",
        help="only the HTTP micro-benchmark: host CPU per request through HttpClient on the "
        "loopback sandbox (and through a bare httpx.Client), merged as 'http'",
    )
    parser.add_argument(
        "--burst-only",
        action="store_true",
        help="only the publish and then the --orders burst's order pass (no no-op, change or "
        "steady passes), merged into the results file as 'burst': each channel's withdraw "
        "step and the store statements the pass ran",
    )
    parser.add_argument("--http-requests", type=int, default=3000, metavar="N")
    parser.add_argument(
        "--magento-cpu",
        action="store_true",
        help="only Magento's publish CPU: --skus x --units (default 100 x 20 here) published "
        "to Magento alone by the synchronous path, then by bulk (8 consumers), fast (no "
        "latency, x1000), --magento-cpu-runs times each; ms of host CPU per unit, merged as "
        "'magento_cpu'",
    )
    parser.add_argument("--magento-cpu-runs", type=int, default=3, metavar="N")
    parser.add_argument(
        "--magento-cpu-profile",
        metavar="DIR",
        help="with --magento-cpu: write each run's cProfile (the publishing thread's, by its "
        "CPU clock) to DIR as magento-<path>-<run>.prof; the connector then sends one request "
        "at a time (concurrency = 1), so that every send is in that thread",
    )
    parser.add_argument(
        "--oversell-only",
        action="store_true",
        help="only the oversell window (webhooks on, then polling only), merged into the "
        "results file as 'oversell'",
    )
    parser.add_argument(
        "--oversell-orders",
        type=int,
        default=None,
        help="orders placed at random moments during the publish, per mode (default 100; "
        "--quick 30)",
    )
    parser.add_argument(
        "--orders-interval",
        type=float,
        default=intervals(SyncSettings())[1],
        metavar="S",
        help="[sync] orders_interval of the host (default: serialsync's own, 60 s)",
    )
    parser.add_argument(
        "--oversell-scale",
        type=float,
        default=10.0,
        help="time scale of the oversell runs (default 10, --quick too: the window is read "
        "as real x N, so the host's own work counts N times)",
    )
    parser.add_argument(
        "--oversell-modes",
        default="webhooks,polling",
        metavar="M[,M]",
        help="which oversell modes to run, in order (default webhooks,polling)",
    )
    parser.add_argument(
        "--oversell-poll",
        type=float,
        default=0.2,
        metavar="S",
        help="platform seconds between polls of the fakes' listings (default 0.2)",
    )
    return parser


def oversell_runs(spec: dict[str, Any], args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The oversell window measured with webhooks on, then with polling only.

    Each mode is a fresh host process publishing the whole catalogue with the loops of
    ``serialsync run``, while orders land on the fakes at random moments (``bench.oversell``).
    The gap between orders spreads ``--oversell-orders`` over the slowest channel's publish
    (Magento: about 4 rounds per product plus its children six at a time, at its latency).
    """
    limits = spec["limits"]
    magento = spec["skus"] * (4 + math.ceil(spec["units"] / 6)) * limits["magento_latency"]
    base = {
        **spec,
        "time_scale": args.oversell_scale,
        "orders_interval": args.orders_interval,
        "poll": args.oversell_poll,
        "oversell_orders": args.oversell_orders,
        "order_gap": max(1.0, magento / max(1, args.oversell_orders)),
    }
    out: dict[str, Any] = {}
    for mode in args.oversell_modes.split(","):
        if mode not in ("webhooks", "polling"):
            raise SystemExit(f"--oversell-modes: {mode!r} is neither webhooks nor polling")
        print(f"oversell, {mode}: {args.oversell_orders} orders during the publish …", flush=True)
        out[mode] = run_in_process(
            "run_oversell", {**base, "mode": mode, "workdir": str(workdir / f"o-{mode}")}
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every measurement ran."""
    args = _parser().parse_args(argv)
    # Which options were given (a mode with its own defaults keeps them unless told).
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    if args.quick:
        args.skus, args.units, args.orders = 40, 10, 100
        args.time_scale, args.baseline_skus = 50.0, 8
        args.oversell_orders = args.oversell_orders or 30
    args.oversell_orders = args.oversell_orders or 100
    limits = Limits(
        woocommerce_latency=args.woocommerce_latency,
        magento_latency=args.magento_latency,
        woocommerce_workers=args.woocommerce_workers,
        magento_workers=args.magento_workers,
        magento_consumers=args.magento_consumers,
    )
    spec: dict[str, Any] = {
        "skus": args.skus,
        "units": args.units,
        "orders": args.orders,
        "seed": args.seed,
        "time_scale": args.time_scale,
        "burst_scale": args.burst_scale,
        "limits": limits.as_dict(),
        "baseline_skus": min(args.baseline_skus, args.skus),
        "pos_age": args.pos_age,
    }
    if args.oversell_only:
        return oversell_only(spec, args)
    if args.quiet_only:
        return quiet_only(spec, args)
    if args.http_only:
        return http_only(spec, args)
    if args.magento_cpu:
        return magento_cpu(spec, args)
    if args.burst_only:
        return burst_only(spec, args)
    if args.render_only:
        print(render(json.loads((RESULTS / args.output).read_text())))
        return 0
    if args.memory_only:
        return memory_only(spec, args.output, small=args.small_skus or max(1, args.skus // 5))
    workdir = Path(tempfile.mkdtemp(prefix="serialsync-bench-"))
    started = time.monotonic()
    results: dict[str, Any] = {"machine_at_start": machine()}
    small_skus = args.small_skus or max(1, args.skus // 5)
    print(f"small run: {small_skus} SKUs x {args.units} (for memory) …", flush=True)
    results["small"] = run_in_process(
        "run_scenario", {**spec, "skus": small_skus, "full": False, "workdir": str(workdir / "s")}
    )
    print(f"full run: {args.skus} SKUs x {args.units}, {args.orders} orders …", flush=True)
    results["full"] = run_in_process("run_scenario", {**spec, "workdir": str(workdir / "f")})
    if not args.no_oversell:
        results["oversell"] = oversell_runs(spec, args, workdir)
    if spec["baseline_skus"]:
        print(f"baseline: {spec['baseline_skus']} SKUs, naive …", flush=True)
        results["baseline"] = run_in_process(
            "run_baseline", {**spec, "workdir": str(workdir / "b")}
        )
    results["meta"] = {
        **spec,
        "real_seconds": time.monotonic() - started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": machine(),
        "workdir": str(workdir),
    }
    print()
    print(render(results))
    print(f"written to {save(results, args.output)}")
    return 0


def oversell_only(spec: dict[str, Any], args: argparse.Namespace) -> int:
    """Only the oversell measurement; merged into the results file as ``oversell``."""
    workdir = Path(tempfile.mkdtemp(prefix="serialsync-bench-oversell-"))
    started = time.monotonic()
    runs = oversell_runs(spec, args, workdir)
    runs["meta"] = {
        "skus": spec["skus"],
        "units": spec["units"],
        "real_seconds": time.monotonic() - started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    print(render_oversell(runs))
    path = RESULTS / args.output
    results = json.loads(path.read_text()) if path.exists() else {}
    results["oversell"] = runs
    print(f"written to {save(results, args.output)}")
    return 0


def burst_only(spec: dict[str, Any], args: argparse.Namespace) -> int:
    """The publish, then one order pass of ``--orders`` orders; merged as ``burst``."""
    workdir = Path(tempfile.mkdtemp(prefix="serialsync-bench-burst-"))
    at_start = machine()
    print(f"burst: {args.skus} SKUs x {args.units}, {args.orders} orders …", flush=True)
    run = run_in_process("run_scenario", {**spec, "burst": True, "workdir": str(workdir)})
    orders = run["orders"]
    for name, step in orders["withdraw_by_channel"].items():
        upper = step["platform_upper"]
        print(
            f"  {name}: withdrew {step['withdrawn']} in {step['platform_seconds']:.1f}"
            f"{'' if upper is None else f' to {upper:.1f}'} platform s "
            f"({step['real_seconds']:.2f} s real), {step['requests']} requests; real s from "
            f"its start: {', '.join(f'{k} {v:.2f}' for k, v in step['steps_real'].items())}",
            flush=True,
        )
        print(f"    {_busy_line(step)}", flush=True)
        line = budget_line(name, step)
        if line is not None:
            print(f"    {line}", flush=True)
    print(
        f"  withdraw step {orders['platform']['withdraw']:.1f} platform s; still for sale "
        f"{sum(orders['still_for_sale'].values())}; store statements "
        f"{orders['store_statements']}; limits cut {orders['limit_cuts']}",
        flush=True,
    )
    run["machine_at_start"], run["machine_at_end"] = at_start, machine()
    run["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"written to {_merge(args.output, 'burst', run)}")
    return 0


def _seconds(estimate: float | None, upper: float | None) -> str:
    """``a`` platform seconds, or ``a to b`` with an upper bound (budget-bound channels)."""
    if estimate is None:
        return "-"
    return f"{estimate:.1f}" + ("" if upper is None else f" to {upper:.1f}")


def _busy_line(step: dict[str, Any]) -> str:
    """A channel's withdrawals as their own work (:func:`bench.host_run._busy`), one line."""
    others = ", ".join(f"{p} x{n}" for p, n in step["busy_other_requests"]) or "none"
    return (
        f"busy {_seconds(step['busy_platform_seconds'], step['busy_platform_upper'])} platform s "
        f"({step['busy_real_seconds']:.2f} s real) in {step['withdrawals']} withdrawals; "
        "hand-over latency "
        f"{_seconds(step['handover_latency_platform'], step['handover_latency_upper'])} "
        f"platform s (max over the reading channels); {step['withdraw_requests']} withdraw "
        f"requests (other requests inside: {others})"
    )


def _fast(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` without latency and at x1000: for what does not depend on platform time."""
    fast = {**spec, "time_scale": 1000.0}
    fast["limits"] = {**spec["limits"], "woocommerce_latency": 0.0, "magento_latency": 0.0}
    return fast


def _merge(output: str, key: str, value: Any) -> Path:
    path = RESULTS / output
    results = json.loads(path.read_text()) if path.exists() else {}
    results[key] = value
    return save(results, output)


def quiet_only(spec: dict[str, Any], args: argparse.Namespace) -> int:
    """Host CPU of a quiet cycle and peak memory, at two sizes, for two POS ages."""
    workdir = Path(tempfile.mkdtemp(prefix="serialsync-bench-quiet-"))
    units = spec["units"]
    runs: dict[str, Any] = {"machine_at_start": machine()}
    sizes = [max(units, args.quiet_units // 5 // units * units), args.quiet_units]
    # A POS changed a moment ago is re-read whole while its catalogue is younger than AIM's
    # cursor margin (300 s): measured at the small size, whose publish ends within it.
    for total in sizes:
        for age in dict.fromkeys((spec["pos_age"], 0.0)):
            if age == 0.0 and total != sizes[0]:
                continue
            skus = max(1, total // units)
            print(f"quiet cycle: {skus * units:,} units, POS changed {age:g} s ago …", flush=True)
            run = run_in_process(
                "run_quiet",
                {
                    **_fast(spec),
                    "skus": skus,
                    "pos_age": age,
                    "workdir": str(workdir / f"{total}-{age:g}"),
                    **(
                        {"profile": str(Path(args.quiet_profile) / f"quiet-{total}@{age:g}.prof")}
                        if args.quiet_profile
                        else {}
                    ),
                },
            )
            runs[f"{skus * units}@{age:g}"] = run
            quiet = run["quiet"]
            print(
                f"  publish {run['publish']['host_cpu_ms_per_unit']:.2f} ms/unit, peak RSS "
                f"{run['rss_after_publish_mb']:.0f} MB; quiet cycle "
                f"{quiet['host_cpu_cycle']:.3f} s (inventory "
                f"{quiet['host_cpu_inventory']:.3f}, orders {quiet['host_cpu_orders']:.3f}), "
                f"channel writes {quiet['writes']}",
                flush=True,
            )
    runs["machine_at_end"] = machine()
    runs["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"written to {_merge(args.output, 'quiet', runs)}")
    return 0


def http_only(spec: dict[str, Any], args: argparse.Namespace) -> int:
    """Host CPU per request through HttpClient on the loopback sandbox."""
    workdir = Path(tempfile.mkdtemp(prefix="serialsync-bench-http-"))
    run = run_in_process(
        "run_http", {**_fast(spec), "requests": args.http_requests, "workdir": str(workdir)}
    )
    run["machine"] = machine()
    run["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(
        f"HttpClient: {run['http_client_ms_per_request']:.3f} ms host CPU per request "
        f"(kernel {run['http_client_kernel_ms_per_request']:.3f}); bare httpx.Client: "
        f"{run['bare_httpx_ms_per_request']:.3f} ms ({args.http_requests} requests)"
    )
    print(f"written to {_merge(args.output, 'http', run)}")
    return 0


def magento_cpu(spec: dict[str, Any], args: argparse.Namespace) -> int:
    """Host CPU per unit of Magento's publish, by the synchronous path and by bulk.

    Each run is a fresh host process publishing a fresh catalogue to Magento alone, with
    ``bulk`` fixed (not ``"auto"``, which would mix the paths while it learns their pace).
    Unless ``--skus`` is given, 100 products (2,000 units at 20 a product).
    """
    workdir = Path(tempfile.mkdtemp(prefix="serialsync-bench-magento-"))
    given = any(a == "--skus" or a.startswith("--skus=") for a in args.argv)
    skus = spec["skus"] if given else 100
    fast = {**_fast(spec), "skus": skus}
    runs: dict[str, Any] = {"machine_at_start": machine(), "skus": skus, "units": spec["units"]}
    paths = {"sync": ("false", 1), "bulk": ("true", 8)}
    for label, (bulk, consumers) in paths.items():
        limits = {**fast["limits"], "magento_consumers": consumers}
        per_unit: list[float] = []
        for index in range(args.magento_cpu_runs):
            profile = args.magento_cpu_profile
            run = run_in_process(
                "run_magento_cpu",
                {
                    **fast,
                    "limits": limits,
                    "bulk": bulk,
                    "workdir": str(workdir / f"{label}-{index}"),
                    **(
                        {
                            "profile": str(Path(profile) / f"magento-{label}-{index}.prof"),
                            "options": {"concurrency": "1"},
                        }
                        if profile
                        else {}
                    ),
                },
            )
            if not run["ok"] or run["created"] != skus * spec["units"]:
                raise SystemExit(f"Magento {label} publish did not create every unit: {run}")
            per_unit.append(run["host_cpu_ms_per_unit"])
            runs.setdefault(label, []).append(run)
            print(
                f"Magento {label}: {run['host_cpu_ms_per_unit']:.3f} ms host CPU per unit, "
                f"{run['requests']} requests, {run['units']} units",
                flush=True,
            )
        print(f"  {label}: {min(per_unit):.3f} to {max(per_unit):.3f} ms per unit", flush=True)
    runs["machine_at_end"] = machine()
    runs["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"written to {_merge(args.output, 'magento_cpu', runs)}")
    return 0


def memory_only(spec: dict[str, Any], output: str, *, small: int) -> int:
    """Peak host memory after publishing two catalogue sizes; merged into the results file.

    Memory does not depend on platform time, so these runs drop the latency and scale time
    x1000: each is a fresh process, and its peak is read right after the publish pass.
    """
    fast = {**spec, "time_scale": 1000.0, "full": False}
    fast["limits"] = {**spec["limits"], "woocommerce_latency": 0.0, "magento_latency": 0.0}
    workdir = Path(tempfile.mkdtemp(prefix="serialsync-bench-memory-"))
    sizes = {}
    for skus in (small, spec["skus"]):
        print(f"memory: publishing {skus} SKUs x {spec['units']} …", flush=True)
        run = run_in_process(
            "run_scenario", {**fast, "skus": skus, "workdir": str(workdir / str(skus))}
        )
        units = skus * spec["units"]
        size = sizes[str(units)] = {
            "units": units,
            "peak_rss_mb": run["rss_after_publish_mb"],
            "host_cpu_per_1000_units": run["publish"]["host_cpu_per_1000_units"],
            # Left out of the host CPU above: the bench's own callbacks in the host's threads.
            "bench_callback_cpu_per_1000_units": run["publish"]["bench_callback_cpu"]
            / units
            * 1000,
            "bench_callbacks": run["publish"]["bench_callbacks"],
        }
        print(
            f"  {units:,} units: peak RSS {run['rss_after_publish_mb']:.1f} MB, host CPU "
            f"{size['host_cpu_per_1000_units']:.3f} s per 1,000 units (bench callbacks left "
            f"out: {size['bench_callback_cpu_per_1000_units']:.3f})",
            flush=True,
        )
    path = RESULTS / output
    results = json.loads(path.read_text()) if path.exists() else {}
    results["memory"] = sizes
    save(results, output)
    return 0


def machine() -> dict[str, Any]:
    """CPU model and count, memory: what the numbers were measured on."""
    import os

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory": memory,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    raise SystemExit(main())
