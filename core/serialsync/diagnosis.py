"""What an operator reads when a connector fails: the connector, what failed, what to check.

One style for every plugin, since the host writes it from the error's type and the connector's
settings model, not from the plugin's wording: ``shop: credentials refused; check access_token
(SERIALSYNC_CONNECTORS__SHOP__ACCESS_TOKEN)``. No exception class names, no URLs with their
query strings, no response bodies, unless asked for (``verbose``); never a secret, since every
message was redacted when the error was made and the settings named are names, not values.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from serialsync.errors import AuthenticationError, RemoteError
from serialsync.http import UNREACHABLE

_CAUSE = re.compile(r"could not connect to \S+ \(([^)]*)\)")
_URL_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


def env_var(*parts: str) -> str:
    """The environment variable that sets a key (``SERIALSYNC_CONNECTORS__SHOP__TOKEN``)."""
    return "SERIALSYNC_" + "__".join(part.upper() for part in parts)


def field_kinds(annotation: Any) -> list[Any]:
    """The types an annotation allows (``X | None`` → ``[X, NoneType]``)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return [kind for arg in typing.get_args(annotation) for kind in field_kinds(arg)]
    return [annotation]


def is_secret(field: FieldInfo) -> bool:
    """Whether a settings field holds a secret (a ``SecretStr``)."""
    return any(kind is SecretStr for kind in field_kinds(field.annotation))


def credential_fields(model: type[BaseModel]) -> list[str]:
    """The settings a refused credential may come from: the secrets, and the required names
    that go with them (an account, an app id), but not addresses."""
    return [
        name
        for name, field in model.model_fields.items()
        if is_secret(field) or (field.is_required() and "url" not in name)
    ]


def address_fields(settings: BaseModel, host: str) -> list[str]:
    """The settings that name ``host`` (else those that hold a URL)."""
    fields = type(settings).model_fields
    naming = [n for n in fields if host and host in str(getattr(settings, n, "") or "")]
    return naming or [n for n in fields if "url" in n]


def _checks(connector: str, names: Iterable[str]) -> str:
    return ", ".join(f"{name} ({env_var('connectors', connector, name)})" for name in names)


def plain(text: str) -> str:
    """``text`` without the query strings of the URLs it quotes."""
    return _URL_QUERY.sub(r"\1", text)


def explain(
    exc: BaseException,
    *,
    connector: str,
    settings: BaseModel | None = None,
    verbose: bool = False,
) -> str:
    """One line for an operator: the connector, what failed, and what to check.

    :param settings: the connector's settings, to name the keys to check (and their
        environment variables).
    :param verbose: add the error's class and its whole (redacted) message.
    """
    return f"{connector}: {describe(exc, connector=connector, settings=settings, verbose=verbose)}"


def describe(
    exc: BaseException,
    *,
    connector: str,
    settings: BaseModel | None = None,
    verbose: bool = False,
) -> str:
    """:func:`explain` without the connector's name in front (for a line that names it)."""
    if isinstance(exc, AuthenticationError):
        text = "credentials refused"
        names = credential_fields(type(settings)) if settings is not None else []
        if names:
            text += f"; check {_checks(connector, names)}"
    elif isinstance(exc, RemoteError) and exc.code == UNREACHABLE:
        host = urlsplit(exc.url or "").netloc
        cause = _CAUSE.search(str(exc))
        text = f"cannot reach {host or 'its host'}"
        if cause:
            text += f" ({cause.group(1)})"
        text += "; is the host up?"
        names = address_fields(settings, host) if settings is not None else []
        if names:
            text += f" check {_checks(connector, names)}"
    else:
        text = plain(str(exc)) or type(exc).__name__
    if verbose:
        text += f" [{type(exc).__name__}: {exc}]"
    return text
