"""The results as markdown tables (printed, and pasted into the README) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.platforms import CHANNELS, FLOOR_FORMULA

RESULTS = Path(__file__).parent / "results"


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _range(value: float | None, upper: float | None, digits: int) -> str:
    if upper is None or value is None or upper - value < 10 ** (-digits):
        return _num(value, digits)
    return f"{_num(value, digits)} to {_num(upper, digits)}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def budget_line(name: str, step: dict[str, Any]) -> str | None:
    """One line on whether a budget-bound channel's budget could have bound its withdrawals
    (``budget``), or on a latency-bound channel's floor (``floor``); ``None`` for a step
    without either (results from before them, a channel that did not withdraw)."""
    budget, floor = step.get("budget"), step.get("floor")
    if budget is not None:
        since = budget["no_refill_since_pass"]
        if "quota" in budget:
            held = (
                f"window {budget['used_at_start']:.0f}/{budget['quota']:.0f} used at its start, "
                f"{budget['spent']:.0f} requests counted in it"
            )
            unit = "requests"
        else:
            held = (
                f"bucket {budget['available_at_start']:.0f}/{budget['capacity']:.0f} points at "
                f"its start, {budget['requests']} requests needed {budget['needed']:.0f} "
                f"(spent {budget['spent']:.0f})"
            )
            unit = "points"
        proven = step.get("busy_platform_proven")
        return (
            f"{name}: budget {'COULD bind' if budget['could_bind'] else 'could not bind'} "
            f"(client waited {budget['client_waited']:.1f} s, {budget['refused']} refused; "
            f"nearest of {len(budget['intervals'])} intervals: {held}; with no refill since "
            f"the pass began: {since['available_at_pass_start']:.0f} {unit} held, "
            f"{since['needed']:.0f} needed, {'could' if since['could_bind'] else 'could not'} "
            "bind"
            + (
                f"; from empty, at most {budget['refill_bound']:.1f} s of refill"
                if "refill_bound" in budget
                else ""
            )
            + "); busy proven "
            + (
                f"{proven:.1f} platform s"
                + (" (measured at 1x)" if step.get("busy_proven_by") == "real speed" else "")
                if proven is not None
                else "— (the upper bound stands)"
            )
        )
    if floor is not None:
        ratio = floor["busy_ratio"]
        return (
            f"{name}: floor {floor['platform_seconds']:.2f} platform s = ceil({floor['count']} "
            f"{floor['basis']} / {floor['workers']} workers) x {floor['latency']:g} s; busy / "
            f"floor {_num(ratio)}"
        )
    return None


def render(results: dict[str, Any]) -> str:
    """Every table of a run."""
    meta = results["meta"]
    full = results["full"]
    publish = full["publish"]
    out = [
        f"Workload: {meta['skus']} SKUs x {meta['units']} serials = {publish['units']:,} units, "
        f"{meta['orders']} orders; time scale x{meta['time_scale']:g} "
        f"(platform seconds shown; real run {meta['real_seconds']:.0f} s).",
        f"Machine: {meta['machine']['cpus']} x {meta['machine']['cpu_model']}, "
        f"{meta['machine']['memory']}; load average "
        f"{results['machine_at_start']['load_average']} at start, "
        f"{meta['machine']['load_average']} at the end.",
        "",
        "**Publish** (a new catalogue, four channels side by side)",
        "",
    ]
    rows = []
    careful = ((results.get("baseline") or {}).get("careful") or {}).get("channels") or {}
    for name in CHANNELS:
        c = publish["channels"][name]
        script = careful.get(name)
        rows.append(
            [
                name,
                _num(c["created"]),
                _num(c["failed"]),
                _num(c["requests"]),
                _num(c["requests_per_unit"], 3),
                _num(c["request_floor"]),
                _num(c["request_ratio"]),
                _num(c["requests_per_unit"] / script["requests_per_unit"], 2) if script else "—",
                _range(c["platform_seconds"], c["platform_upper"], 0),
                _num(c["time_floor"], 0),
                _range(c["time_ratio"], c["time_ratio_upper"], 2),
                f"{_num(c['throttled_fake'])} / {_num(int(c['throttled_client']))}",
                _num(c["cpu_ms_per_unit"], 3),
            ]
        )
    out += _table(
        [
            "channel",
            "created",
            "failed",
            "requests",
            "req/unit",
            "floor",
            "actual ÷ floor",
            "÷ careful script",
            "wall s",
            "time floor s",
            "wall ÷ floor",
            "throttled (fake / client)",
            "host CPU ms/unit",
        ],
        rows,
    )
    small = results.get("small")
    out.append(
        f"Whole pass: {publish['real_seconds']:.1f} s real; host CPU {publish['host_cpu']:.1f} s "
        f"= **{publish['host_cpu_per_1000_units']:.2f} s per 1,000 units** (all four channels and "
        f"the POS read; the sandbox's own CPU, {publish['sandbox_cpu']:.1f} s, is in its child "
        f"process and not counted). POS requests: {publish['pos_requests']:,}."
    )
    memory = results.get("memory")
    if memory:
        sizes = ", ".join(
            f"**{m['peak_rss_mb']:.0f} MB** at {m['units']:,} units" for m in memory.values()
        )
        out.append(
            f"Host peak memory right after the publish pass (RSS, fakes in the child): {sizes}."
        )
    elif small is not None:
        out.append(
            f"Host peak memory (RSS, fakes in the child): **{small['host_peak_rss_mb']:.0f} MB** "
            f"at {small['skus'] * small['units_per_sku']:,} units (publish only), "
            f"**{full['host_peak_rss_mb']:.0f} MB** at {publish['units']:,} units (after every "
            "step, orders included)."
        )
    out.append("")
    noop = full["noop"]
    out += ["**No-op pass** (same catalogue, unchanged)", ""]
    out += _table(
        ["channel", "writes", "reads"],
        [
            [n, _num(noop["channels"][n]["writes"]), _num(noop["channels"][n]["reads"])]
            for n in CHANNELS
        ]
        + [["aim_pos (POS)", "0", _num(noop["pos"]["requests"])]],
    )
    out.append(
        f"Host CPU {noop['host_cpu']:.2f} s, {noop['real_seconds']:.2f} s real "
        f"(POS reads are POST-shaped queries: {noop['pos']['patterns']})."
    )
    out.append("")
    changes = full.get("changes")
    if changes:
        out += ["**Change passes** (one change in the POS, then one inventory pass)", ""]
        out += _table(
            ["channel", *(f"{kind}: requests (writes)" for kind in changes)],
            [
                [
                    n,
                    *(
                        f"{_num(c['channels'][n]['requests'])} ({_num(c['channels'][n]['writes'])})"
                        for c in changes.values()
                    ),
                ]
                for n in CHANNELS
            ],
        )
        out.append(
            "attribute: one unit's finish; image: one unit's photo; title: one product's title. "
            "Operations: "
            + "; ".join(
                f"{kind} {n} {c['channels'][n]['patterns']}"
                for kind, c in changes.items()
                for n in CHANNELS
            )
            + "."
        )
        out.append("")
    orders = full["orders"]
    plat = orders["platform"]
    out += [f"**Orders**: {orders['placed']:,} one-unit orders over the four channels", ""]
    out += _table(
        [
            "fetch s",
            "withdraw s",
            "report to AIM s",
            "total s",
            "reported",
            "refused",
            "withdrawn",
            "still for sale elsewhere",
        ],
        [
            [
                _num(plat["fetch"], 1),
                _num(plat["withdraw"], 1),
                _num(plat["report"], 1),
                _num(plat["total"], 1),
                _num(orders["reported"]),
                _num(orders.get("sales_failed")),
                _num(orders["withdrawn"]),
                _num(sum(orders["still_for_sale"].values())),
            ]
        ],
    )
    out.append(f"Requests: {orders['requests']}; host CPU {orders['host_cpu']:.1f} s.")
    out.append("")
    by_channel = orders.get("withdraw_by_channel")
    if by_channel:
        out += ["**Withdraw step** of that order pass, per channel (side by side)", ""]
        rows = [
            [
                name,
                _num(w["withdrawn"]),
                _num(w["requests"]),
                _range(w["platform_seconds"], w["platform_upper"], 1),
                # Results from before the busy figures have none.
                _range(w.get("busy_platform_seconds"), w.get("busy_platform_upper"), 1),
                _num(w.get("withdrawals")),
                _range(w.get("handover_latency_platform"), w.get("handover_latency_upper"), 1),
                _num(w.get("withdraw_requests")),
                ", ".join(f"{p} x{n}" for p, n in w["patterns"][:2]),
            ]
            for name, w in by_channel.items()
        ]
        out += _table(
            [
                "channel",
                "withdrawn",
                "requests",
                "platform s",
                "busy platform s",
                "withdrawals",
                "hand-over s",
                "withdraw requests",
                "requests by kind",
            ],
            rows,
        )
        lines = [line for n, w in by_channel.items() if (line := budget_line(n, w)) is not None]
        out += [f"* {line}" for line in lines]
        out.append("")
    if "webhooks" in results.get("oversell", {}):
        out += [render_oversell(results["oversell"]), ""]
    cycle = full["cycle"]["platform"]
    out.append(
        "Measured steady cycle (one order per channel): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in cycle.items())
        + f"; the cycle's no-op inventory pass sent {full['cycle']['inventory_pos_requests']} "
        "POS requests."
    )
    out.append("")
    baseline = results.get("baseline")
    if baseline is not None:
        out += render_baseline(baseline, publish)
    out += ["Request floors: " + "; ".join(f"{n}: {f}" for n, f in FLOOR_FORMULA.items()), ""]
    out += ["Request patterns of the publish (top, per channel):", ""]
    for name in CHANNELS:
        patterns = ", ".join(f"{p} x{n}" for p, n in publish["channels"][name]["patterns"][:5])
        out.append(f"* {name}: {patterns}")
    out.append("")
    return "\n".join(out)


def render_baseline(baseline: dict[str, Any], publish: dict[str, Any]) -> list[str]:
    """serialsync against the careful script (the main baseline) and the naive one.

    Speed-ups divide a script's time by serialsync's *upper* bound (``real x N`` for the
    budget-bound platforms): never by the lower estimate.
    """
    careful = (baseline.get("careful") or {}).get("channels") or {}
    out = [
        f"**Baselines** (first {baseline['skus']} SKUs = {baseline['units']:,} units, fresh "
        "fakes each; serialsync's per-unit figures from the full run). *Careful*: a hand-written "
        "script with the platform's documented batches, variants inside the product create, "
        "one request at a time (`bench/careful.py`); *naive*: one request per variant "
        "(`bench/naive.py`). Speed-up = script's s/unit ÷ serialsync's upper bound.",
        "",
    ]
    rows = []
    for name in CHANNELS:
        naive = baseline["channels"][name]
        mine = publish["channels"][name]
        upper = mine.get("platform_upper") or mine["platform_seconds"]
        mine_s = upper / mine["units"]
        mine_req = mine["requests_per_unit"]
        row = [name, _num(mine_req, 3), _num(mine_s, 4)]
        for script in (careful.get(name), naive):
            if script is None:
                row += ["—"] * 5
                continue
            row += [
                _num(script["requests_per_unit"], 3),
                _num(mine_req / script["requests_per_unit"], 2),
                _num(script["platform_seconds_per_unit"], 4),
                _num(script["platform_seconds_per_unit"] / mine_s, 1) if mine_s else "—",
                f"{_num(script['throttled'])} / {_num(script['failed'])}",
            ]
        rows.append(row)
    header = ["channel", "serialsync req/unit", "serialsync s/unit (upper)"]
    for label in ("careful", "naive"):
        header += [
            f"{label} req/unit",
            f"req ÷ {label}",
            f"{label} s/unit",
            f"speed-up vs {label}",
            f"{label} throttled / failed",
        ]
    return out + _table(header, rows)


def render_oversell(runs: dict[str, Any]) -> str:
    """The measured oversell window of each mode: p50 / p99 / max, per ordering channel too."""
    out = [
        "**Oversell window, measured** (order created on a channel's fake → its unit unsellable "
        "on every other channel's fake, as the fakes themselves recorded it; platform seconds = "
        "real x N, so the host's own work counts N times)",
        "",
    ]
    rows = []
    for mode in ("webhooks", "polling"):
        run = runs.get(mode)
        if run is None:
            continue
        windows = run["windows"]
        for label, w in [("all", windows), *windows["by_channel"].items()]:
            rows.append(
                [
                    mode if label == "all" else "",
                    label,
                    _num(w["n"]),
                    _num(w["open"]),
                    _num(w["p50"], 1),
                    _num(w["p99"], 1),
                    _num(w["max"], 1),
                ]
            )
    out += _table(
        ["mode", "ordered on", "orders", "never withdrawn", "p50 s", "p99 s", "max s"], rows
    )
    for mode in ("webhooks", "polling"):
        run = runs.get(mode)
        if run is None:
            continue
        publish = run.get("publish", {})
        w = run["windows"]
        out.append(
            f"* {mode}: orders_interval {run['orders_interval']:.0f} s; {run['placed']} orders "
            f"placed during a publish of {_num(publish.get('created'))} listings "
            f"({_num(publish.get('platform_seconds'), 0)} platform s, ok {publish.get('ok')}); "
            f"other channels selling the unit when ordered: {w['listed_elsewhere']}; seen for "
            f"sale again after withdrawn: {w['relisted']} {w.get('relisted_on', {})}; "
            f"{run['polls']} polls; loop failures: {run['failures'] or 'none'}"
            + (f"; subscriptions {run['subscriptions']}" if "subscriptions" in run else "")
            + "; slowest: "
            + ", ".join(
                f"{s['channel']} {s['window']:.1f} s"
                + (f" (relisted on {', '.join(s['relisted_on'])})" if s["relisted_on"] else "")
                for s in w.get("slowest", [])
            )
        )
        if "watch_windows" in run:
            out.append(_render_cross_check(mode, run["watch_windows"], run["cross_check"]))
        in_pass = (
            (run.get("breakdown") or {})
            .get("steps", {})
            .get("in the order pass that closed it (polling)")
        )
        if mode == "polling" and in_pass:
            out.append(
                f"* polling, the part of each window spent in the order pass that closed it (the "
                f"rest is the wait for that pass): p50 {in_pass['p50']:.1f} / p99 "
                f"{in_pass['p99']:.1f} / max {in_pass['max']:.1f} s"
            )
    out.append("")
    breakdown = (runs.get("webhooks") or {}).get("breakdown")
    if breakdown:
        out += render_breakdown(breakdown["steps"], runs["webhooks"].get("gc"))
    return "\n".join(out)


def _render_cross_check(mode: str, watched: dict[str, Any], check: dict[str, Any]) -> str:
    lag = check["lag"] or {}
    return (
        f"* {mode}, the watch's polls (cross-check): p50 / p99 / max {_num(watched['p50'], 1)} / "
        f"{_num(watched['p99'], 1)} / {_num(watched['max'], 1)} s ({_num(watched['open'])} never "
        f"seen withdrawn); seen later than the fakes' record by p50 {_num(lag.get('p50'), 2)}, "
        f"p99 {_num(lag.get('p99'), 2)}, max {_num(lag.get('max'), 2)} s (least "
        f"{_num(lag.get('min'), 2)}); seen for sale after a fake's end: "
        f"{check['sold_after_end']} {check['sold_after_end_on'] or ''}"
    )


def render_breakdown(steps: dict[str, Any], gc: dict[str, Any] | None) -> list[str]:
    """Where the webhook orders' windows went: each step's p50 / p99 / max (platform s)."""
    out = [
        "**Where a webhook order's window goes** (platform seconds; the order's steps from the "
        "previous one, and per other channel: withdrawal step start to its call, the call, "
        "its answer to the fake recording the unit gone there, the whole order to gone, and "
        "how much later the watch's polls saw it gone)",
        "",
    ]
    rows = [
        [name, _num(v["n"]), _num(v["p50"]), _num(v["p99"]), _num(v["max"])]
        for name, v in steps.items()
    ]
    out += _table(["step", "n", "p50", "p99", "max"], rows)
    if gc:
        out.append(
            "* the host's garbage collector: "
            + "; ".join(
                f"generation {g}: {v['count']} collections, longest {v['max_ms']} ms real"
                for g, v in gc.items()
            )
        )
        out.append("")
    return out


def save(results: dict[str, Any], name: str = "latest.json") -> Path:
    """Write ``bench/results/<name>``."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path
