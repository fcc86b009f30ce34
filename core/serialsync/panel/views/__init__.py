"""The panel's pages, one module each; :func:`routes` lists them all."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from serialsync.panel.views import (
    actions,
    auth,
    conflicts,
    dashboard,
    quarantine,
    runs,
    sales,
    serials,
    unit,
)


def routes() -> list[BaseRoute]:
    """Every page and form of the panel."""
    return [
        Route("/login", auth.login_page, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/login/once/{token}", auth.once_page, methods=["GET"]),
        Route("/login/once/{token}", auth.once_login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/", dashboard.dashboard, methods=["GET"]),
        Route("/charts/{name}.svg", dashboard.chart, methods=["GET"]),
        Route("/serials", serials.serials, methods=["GET"]),
        Route("/unit", unit.unit_page, methods=["GET"]),
        Route("/sales", sales.sales, methods=["GET"]),
        Route("/conflicts", conflicts.conflicts, methods=["GET"]),
        Route("/quarantine", quarantine.quarantine, methods=["GET"]),
        Route("/runs", runs.runs, methods=["GET"]),
        Route("/act/{act}", actions.confirm, methods=["GET"]),
        Route("/act/{act}", actions.perform, methods=["POST"]),
    ]
