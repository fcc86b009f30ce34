"""The panel's users: names, roles and argon2 password hashes kept in the state store.

Passwords are hashed with argon2id (argon2-cffi, the ``panel`` extra) and never stored, logged
or shown. :func:`authenticate` spends the same time on an unknown name as on a wrong password,
so the answer's timing does not tell which names exist.
"""

from __future__ import annotations

from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from serialsync.errors import SerialsyncError
from serialsync.store import PanelUser, Store


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
