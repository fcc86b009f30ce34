"""The panel's users: names, roles and argon2 password hashes kept in the state store.

Passwords are hashed with argon2id (argon2-cffi, the ``panel`` extra) and never stored, logged
or shown. :func:`authenticate` spends the same time on an unknown name as on a wrong password,
so the answer's timing does not tell which names exist.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from serialsync.errors import SerialsyncError
from serialsync.store import PanelLogin, PanelUser, Store
from serialsync.store.sql import utcnow


class Role(StrEnum):
    """What a panel user may do: a viewer reads, an operator reads and acts."""

    VIEWER = "viewer"
    OPERATOR = "operator"


#: The shortest password ``panel user add`` accepts.
MIN_PASSWORD = 10
_MAX_NAME = 64

_hasher = PasswordHasher()
# Verified against when the name is unknown, so that both answers take as long.
_DUMMY_HASH = _hasher.hash("serialsync: no such user")


class UserRefusedError(SerialsyncError):
    """A user that cannot be added as given; the message says why (never the password)."""


def add_user(store: Store, name: str, role: Role, password: str) -> PanelUser:
    """Add user ``name`` with ``role`` (or replace their role and password). Refused
    (:class:`UserRefusedError`) for an empty or unprintable name, or a password shorter than
    :data:`MIN_PASSWORD` characters."""
    if not name or len(name) > _MAX_NAME or not name.isprintable() or name != name.strip():
        raise UserRefusedError(
            f"a user name is 1 to {_MAX_NAME} printable characters, without spaces around it"
        )
    if len(password) < MIN_PASSWORD:
        raise UserRefusedError(f"the password must have at least {MIN_PASSWORD} characters")
    user = PanelUser(name=name, role=Role(role).value, password_hash=_hasher.hash(password))
    with store.transaction():
        store.put_panel_user(user)
    return user


def authenticate(store: Store, name: str, password: str) -> PanelUser | None:
    """The user when ``password`` is theirs, else ``None`` (unknown name or wrong password)."""
    user = store.get_panel_user(name)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


#: How long a one-time login link stays good when nobody used it.
LOGIN_LINK_LIFETIME = timedelta(hours=24)
#: Where a one-time login link points (the token follows).
LOGIN_LINK_PATH = "/login/once/"


def token_hash(token: str) -> str:
    """What the store keeps of a one-time login's token: its SHA-256 (the token itself is
    256 random bits, so no slow hash is needed to keep it from being guessed back)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_login(store: Store, name: str, *, lifetime: timedelta = LOGIN_LINK_LIFETIME) -> str:
    """A one-time login for the existing user ``name``: the token of a link
    (:data:`LOGIN_LINK_PATH` + token) that logs in once, within ``lifetime``. Only its hash is
    stored. Refused (:class:`UserRefusedError`) for a name that is not a user."""
    if store.get_panel_user(name) is None:
        raise UserRefusedError(f"no panel user named {name!r}: add them first")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    login = PanelLogin(token_hash(token), name, created_at=now, expires_at=now + lifetime)
    with store.transaction():
        store.put_panel_login(login)
    return token


def login_state(store: Store, token: str, now: datetime | None = None) -> str:
    """Where a one-time login stands, for the page that offers or refuses it: ``"ready"``,
    ``"used"``, ``"expired"`` or ``"unknown"``."""
    login = store.get_panel_login(token_hash(token))
    if login is None:
        return "unknown"
    if login.used_at is not None:
        return "used"
    return "expired" if login.expires_at <= (now or utcnow()) else "ready"


def spend_login(store: Store, token: str) -> PanelUser | None:
    """Spend a one-time login: its user (read again: a user removed since gets nothing) when
    the token was unused and unexpired, else ``None``. A token is spent at its first use and
    never works again."""
    login = store.spend_panel_login(token_hash(token), utcnow())
    return None if login is None else store.get_panel_user(login.name)
