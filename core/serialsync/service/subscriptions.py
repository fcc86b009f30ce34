"""Managing webhook subscriptions on every channel that offers them (``serialsync webhooks``).

Each channel connector whose plugin implements ``register_webhooks`` is asked to subscribe
``<public_url>/webhooks/<connector>`` with its own derived secret; the plugin makes only what is
missing, so registering again creates nothing. A channel without the hooks stays on polling
and is reported so, not failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from serialsync.connector import Role
from serialsync.errors import ConfigurationError
from serialsync.manager import PluginManager
from serialsync.model import WebhookSubscription
from serialsync.service.webhooks import callback_url, connector_secret
from serialsync.settings import WebhookSettings


class Action(StrEnum):
    """What to do with each channel's subscriptions."""

    REGISTER = "register"
    LIST = "list"
    REMOVE = "remove"


_HOOKS = {
    Action.REGISTER: "register_webhooks",
    Action.LIST: "list_webhooks",
    Action.REMOVE: "remove_webhooks",
}


@dataclass
class ChannelSubscriptions:
    """One channel's answer: its callback address, the subscriptions, or why there are none."""

    connector: str
    url: str
    supported: bool
    subscriptions: list[WebhookSubscription] = field(default_factory=list)
    error: str | None = None


def manage(
    plugins: PluginManager,
    settings: WebhookSettings,
    action: Action,
    *,
    only: str | None = None,
) -> list[ChannelSubscriptions]:
    """Register, list or remove the subscriptions of every channel (or of ``only``).

    A failure on one channel is that channel's ``error``; the others go on.
    :raises ConfigurationError: ``public_url`` is not set, or ``only`` is not a channel.
    """
    channels = [h.name for h in plugins.connectors(Role.CHANNEL)]
    if only is not None:
        if only not in channels:
            raise ConfigurationError(f"no channel connector named {only!r}")
        channels = [only]
    results = []
    for name in channels:
        url = callback_url(settings.public_url, name)
        if not plugins.implements(name, _HOOKS[action]):
            results.append(ChannelSubscriptions(name, url, supported=False))
            continue
        try:
            if action is Action.REGISTER:
                found = plugins.register_webhooks(
                    name, url, connector_secret(settings.secret, name)
                )
            elif action is Action.LIST:
                found = plugins.list_webhooks(name, url)
            else:
                found = plugins.remove_webhooks(name, url)
        except Exception as exc:  # one channel's failure is its row, not the end
            results.append(
                ChannelSubscriptions(
                    name, url, supported=True, error=f"{type(exc).__name__}: {exc}"
                )
            )
            continue
        results.append(ChannelSubscriptions(name, url, supported=True, subscriptions=found))
    return results
