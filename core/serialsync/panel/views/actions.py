"""The operator's actions: each a form that asks for confirmation and a reason, then performs
one act of :mod:`serialsync.operations.acts` under the operator's name.

``GET /act/<act>?…`` shows what will happen and asks why; ``POST /act/<act>`` (the form, with
its CSRF token) does it. Only operators act (a viewer is refused, 403), an action the record
does not allow from where it stands is refused before the form is shown and again when it is
sent (the rule is read again in the act's transaction), and a form without the session's CSRF
token is refused (403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from serialsync.errors import SerialsyncError
from serialsync.host import Host
from serialsync.lifecycle import ALLOWED_MOVES
from serialsync.operations import acts
from serialsync.operations.acts import ActRefusedError
from serialsync.operations.marking import ACTIONS, LABELS
from serialsync.panel.csrf import FIELD, csrf_ok
from serialsync.panel.web import current_user, is_operator, notice, panel_of, render
from serialsync.store import OutboxState, Store

Params = dict[str, str]


@dataclass(frozen=True)
class Act:
    """One action: its title, the parameters naming its record, what it will do (raising
    :class:`ActRefusedError` when the record does not allow it now), how it is done, and the
    page to go back to."""

    title: str
    params: tuple[str, ...]
    describe: Callable[[Store, Params], str]
    perform: Callable[[Host, Params, str, str], str]
    back: Callable[[Params], str]


def _unit_url(p: Params) -> str:
    return "/unit?" + urlencode({"serial": p["serial"]})


def _describe_mark(store: Store, p: Params) -> str:
    record = store.get_unit(p["serial"])
    target = ACTIONS.get(p["action"])
    if record is None:
        raise ActRefusedError(f"no unit with serial {p['serial']!r}")
    if target is None or target not in ALLOWED_MOVES[record.status]:
        raise ActRefusedError(
            f"{record.unit.integration_id} is {record.status.value}: that action is not allowed"
        )
    effect = (
        "it is listed again on every channel at the next pass"
        if target.value == "in_stock"
        else "it is held in that status whatever the POS says, and withdrawn from every "
        "channel at the next pass"
    )
    return (
        f"{LABELS[target]}: {record.unit.integration_id} moves from {record.status.value} "
        f"to {target.value}; {effect}."
    )


def _describe_sale(store: Store, p: Params, wanted: tuple[OutboxState, ...], what: str) -> str:
    record = store.get_outbox(p["channel"], p["order_id"])
    if record is None or record.state not in wanted:
        state = "unknown" if record is None else record.state.value
        if record is not None and record.state == OutboxState.CANCELLED and record.note:
            state += f" ({record.note})"  # why it ended: the shop refunded or cancelled it
        raise ActRefusedError(f"sale {p['channel']}/{p['order_id']} is {state}: {what} refused")
    units = ", ".join(f"{li.sku}|||{li.serial}" for li in record.sale.lines if li.serial)
    return f"order {record.order_number} on {record.channel} ({units or 'no units'})"


def _describe_quarantined(store: Store, p: Params, what: str) -> str:
    record = store.get_quarantined(_id(p))
    if record is None:
        raise ActRefusedError(f"no quarantined record {p['id']}")
    return f"{what} quarantined {record.kind} {record.key}: {record.reason}"


def _id(p: Params) -> int:
    try:
        return int(p["id"])
    except ValueError:
        raise ActRefusedError(f"no quarantined record {p['id']!r}") from None


def _describe_restock(store: Store, p: Params) -> str:
    record = store.get_unit(p["serial"])
    if record is None:
        raise ActRefusedError(f"no unit with serial {p['serial']!r}")
    return (
        f"Restock {record.unit.integration_id}: the POS shows it available again after its web "
        "sale; it goes back to in_stock and is listed again at the next pass. Check the unit "
        "first (returned at the counter, or the web order not invoiced yet?)."
    )


ACTS: dict[str, Act] = {
    "mark": Act(
        "Change a unit's status",
        ("serial", "action"),
        _describe_mark,
        lambda h, p, why, by: acts.mark_unit(h, p["serial"], p["action"], reason=why, by=by),
        _unit_url,
    ),
    "restock": Act(
        "Restock a discrepancy",
        ("serial",),
        _describe_restock,
        lambda h, p, why, by: acts.restock_unit(h, p["serial"], reason=why, by=by),
        _unit_url,
    ),
    "retry-sale": Act(
        "Retry a sale",
        ("channel", "order_id"),
        lambda s, p: (
            "Report again "
            + _describe_sale(s, p, (OutboxState.FAILED, OutboxState.PENDING), "retry")
            + " at the next pass."
        ),
        lambda h, p, why, by: acts.retry_sale(h, p["channel"], p["order_id"], reason=why, by=by),
        lambda p: "/sales",
    ),
    "settle": Act(
        "Settle a conflict",
        ("channel", "order_id"),
        lambda s, p: (
            "Settle "
            + _describe_sale(s, p, (OutboxState.CONFLICT,), "settling")
            + ": it was refunded or cancelled on its channel, so it is never reported to the POS,"
            " and the units it held are let go."
        ),
        lambda h, p, why, by: acts.settle(h, p["channel"], p["order_id"], reason=why, by=by),
        lambda p: "/conflicts",
    ),
    "quarantine-retry": Act(
        "Retry a quarantined record",
        ("id",),
        lambda s, p: _describe_quarantined(s, p, "Process again"),
        lambda h, p, why, by: acts.retry_quarantined(h, _id(p), reason=why, by=by),
        lambda p: "/quarantine",
    ),
    "quarantine-drop": Act(
        "Drop a quarantined record",
        ("id",),
        lambda s, p: _describe_quarantined(s, p, "Forget"),
        lambda h, p, why, by: acts.drop_quarantined(h, _id(p), reason=why, by=by),
        lambda p: "/quarantine",
    ),
}


def _forbidden(request: Request) -> Response | None:
    """Refuse anyone but a logged-in operator (``None``: go ahead)."""
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if not is_operator(user):
        return render(request, "refused.html", 403, why="viewers read; only operators act")
    return None


def confirm(request: Request) -> Response:
    """The confirmation form of one action on one record."""
    act = ACTS.get(request.path_params["act"])
    if act is None:
        return render(request, "missing.html", 404, what="no such action")
    refused = _forbidden(request)
    if refused is not None:
        return refused
    params = {name: request.query_params.get(name, "") for name in act.params}
    try:
        what = act.describe(panel_of(request).store, params)
    except ActRefusedError as exc:
        return render(request, "refused.html", 409, why=str(exc), back=act.back(params))
    return render(
        request,
        "confirm.html",
        act=act,
        name=request.path_params["act"],
        params=params,
        what=what,
        back=act.back(params),
    )


async def perform(request: Request) -> Response:
    """Do one confirmed action, under the operator's name, and go back to its page."""
    act = ACTS.get(request.path_params["act"])
    if act is None:
        return render(request, "missing.html", 404, what="no such action")
    form = await request.form()
    if not csrf_ok(request, form.get(FIELD)):
        return render(request, "refused.html", 403, why="the form has no valid CSRF token")
    refused = _forbidden(request)
    if refused is not None:
        return refused
    user = current_user(request)
    assert user is not None  # checked by _forbidden
    params = {name: str(form.get(name, "")) for name in act.params}
    reason = str(form.get("reason", ""))
    panel = panel_of(request)
    try:
        outcome = await run_in_threadpool(
            act.perform, panel.current_host, params, reason, user.name
        )
    except ActRefusedError as exc:
        return render(request, "refused.html", 409, why=str(exc), back=act.back(params))
    except SerialsyncError as exc:
        return render(request, "refused.html", 503, why=str(exc), back=act.back(params))
    notice(request, f"{act.title}: {outcome}")
    return RedirectResponse(act.back(params), status_code=303)
