"""The service beside the passes: the app on uvicorn threads, the order worker, the observers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from serialsync.errors import ConfigurationError
from serialsync.host import Host
from serialsync.http import add_response_observer, remove_response_observer
from serialsync.logging import get_logger
from serialsync.sandbox.server import LoopbackServer
from serialsync.service.app import create_app
from serialsync.service.health import HealthPolicy
from serialsync.service.metrics import Metrics
from serialsync.service.webhooks import WebhookReceiver
from serialsync.service.worker import OrderWorker
from serialsync.settings import MetricsSettings, PanelSettings, WebhookSettings

_log = get_logger("serialsync.service")


def split_listen(address: str) -> tuple[str, int]:
    """``"127.0.0.1:8787"`` → ``("127.0.0.1", 8787)``; ``":8787"`` binds every address."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - ":8787" asks for every address
    return host, int(port)


class Service:
    """What ``serialsync run`` serves beside its passes.

    :param host: the host the passes run on (its store, plugins and engine are shared).
    :param webhooks: ``[webhooks]``: with ``listen`` set, deliveries are received and worked.
    :param metrics: ``[metrics]``: with ``listen`` set, health and metrics are served there
        (also on the webhooks address when both are set).
    :param panel: ``[panel]``: with ``listen`` set, the admin panel is served there, on an
        address of its own (webhooks face the platforms, the panel only the staff); it needs
        the ``panel`` extra.
    :param every: how often each kind of pass is scheduled (``/healthz`` expects them).
    """

    def __init__(
        self,
        host: Host,
        *,
        webhooks: WebhookSettings | None = None,
        metrics: MetricsSettings | None = None,
        panel: PanelSettings | None = None,
        every: Mapping[str, timedelta] | None = None,
    ) -> None:
        self.host = host
        self.webhook_settings = webhooks or WebhookSettings()
        self.metric_settings = metrics or MetricsSettings()
        self.panel_settings = panel or PanelSettings()
        self.metrics = Metrics(host.store)
        self.health = HealthPolicy(every=dict(every or {}))
        self.worker: OrderWorker | None = None
        self.receiver: WebhookReceiver | None = None
        if self.webhook_settings.listen:
            self.worker = OrderWorker(
                host,
                observe=self.metrics.observe_delivery,
                threads=self.webhook_settings.workers,
            )
            self.receiver = WebhookReceiver(
                host.plugins,
                self.worker,
                secret=self.webhook_settings.secret,
                observe=self.metrics.observe_delivery,
                store=host.store,
                now=host.engine.now,
            )
        self.app = create_app(
            store=host.store, metrics=self.metrics, health=self.health, receiver=self.receiver
        )
        self._servers: list[LoopbackServer] = []
        #: The panel's base URL once started (``None``: not served).
        self.panel_url: str | None = None

    @property
    def enabled(self) -> bool:
        """True when there is anything to serve."""
        return bool(
            self.webhook_settings.listen
            or self.metric_settings.listen
            or self.panel_settings.listen
        )

    @property
    def urls(self) -> list[str]:
        """The base URLs served (once started)."""
        return [server.base_url for server in self._servers]

    def start(self) -> Service:
        """Hook the observers in, start the worker, and serve on every configured address."""
        addresses = sorted(
            {a for a in (self.webhook_settings.listen, self.metric_settings.listen) if a}
        )
        self.host.pass_observers.append(self.metrics.observe_pass)
        self.host.engine.window_closed = self.metrics.observe_window
        add_response_observer(self.metrics.observe_response)
        if self.worker is not None:
            self.worker.start()
        try:
            for address in addresses:
                where, port = split_listen(address)
                server = LoopbackServer(self.app, name=f"service {address}", host=where, port=port)
                try:
                    server.start()
                except OSError as exc:
                    raise ConfigurationError(
                        f"cannot listen on {address}: {exc.strerror}"
                    ) from None
                self._servers.append(server)
                _log.info("service.listening", url=server.base_url)
            if self.panel_settings.listen:
                self._start_panel(self.panel_settings.listen)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_panel(self, address: str) -> None:
        try:
            from serialsync.panel import create_panel_app
        except ImportError:
            raise ConfigurationError(
                "[panel] listen is set, but the panel needs the panel extra: "
                "pip install 'serialsync[panel]'"
            ) from None
        app = create_panel_app(self.host, session_secret=self.panel_settings.session_secret)
        where, port = split_listen(address)
        server = LoopbackServer(app, name=f"panel {address}", host=where, port=port)
        try:
            server.start()
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {address}: {exc.strerror}") from None
        self._servers.append(server)
        self.panel_url = server.base_url
        _log.info("service.panel", url=server.base_url)

    def stop(self) -> None:
        """Stop serving, finish the order under way, and unhook the observers."""
        for server in self._servers:
            server.stop()
        self._servers.clear()
        self.panel_url = None
        if self.worker is not None:
            self.worker.stop()
        remove_response_observer(self.metrics.observe_response)
        if self.metrics.observe_pass in self.host.pass_observers:
            self.host.pass_observers.remove(self.metrics.observe_pass)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
