"""The rules of serial references (see :mod:`serialsync.registry`); callers hold a transaction."""

from __future__ import annotations

import re
import secrets
import string
from datetime import UTC, datetime

from serialsync.errors import SerialsyncError
from serialsync.store import Reference, RefGroup, Store

DEFAULT_ALPHABET = string.ascii_uppercase + string.digits
DEFAULT_LENGTH = 25
DEFAULT_LIMIT = 1000
BATCH_CAP = 500
MIN_FIND = 3
KINDS = ("continuous", "batch")
#: The unit attribute a channel shows the assigned reference under.
REFERENCE_ATTRIBUTE = "Serial reference"
# Group and batch names people type: letters, digits and a few separators.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}")
# Rounds of drawing before giving up on an alphabet too small for what is asked; each round
# draws at least _DRAW candidates, so that the last few free codes of a tiny space are found.
_TRIES = 100
_DRAW = 16


class RefusedError(SerialsyncError):
    """A reference operation refused, nothing written; the message says why."""


def create_group(
    store: Store,
    name: str,
    kind: str,
    *,
    limit: int = DEFAULT_LIMIT,
    alphabet: str = DEFAULT_ALPHABET,
    length: int = DEFAULT_LENGTH,
) -> RefGroup:
    """Create a group of references; refused for a name taken or not plain, an unknown kind, a
    limit below 1, an alphabet of fewer than two distinct characters (or holding ``|`` or
    white space), or a length outside 4 to 64."""
    if not _NAME.fullmatch(name):
        raise RefusedError(f"group name {name!r}: letters, digits, space . _ : - (up to 64)")
    if kind not in KINDS:
        raise RefusedError(f"group type {kind!r}: continuous or batch")
    if limit < 1:
        raise RefusedError(f"limit {limit}: a group holds at least one reference")
    if not 2 <= len(set(alphabet)) == len(alphabet) <= 256:
        raise RefusedError(f"alphabet {alphabet!r}: 2 to 256 characters, each once")
    if "|" in alphabet or any(c.isspace() for c in alphabet):
        raise RefusedError("alphabet: no '|' and no white space (they would confuse ids)")
    if not 4 <= length <= 64:
        raise RefusedError(f"length {length}: between 4 and 64 characters")
    if any(g.name == name for g in store.ref_groups()):
        raise RefusedError(f"a group {name!r} exists already")
    group = RefGroup(
        name=name,
        kind=kind,
        limit=limit,
        alphabet=alphabet,
        length=length,
        created_at=datetime.now(UTC),
    )
    store.put_ref_group(group)
    return group


def get_group(store: Store, name: str) -> RefGroup:
    """The group ``name``, or :class:`RefusedError`."""
    for group in store.ref_groups():
        if group.name == name:
            return group
    raise RefusedError(f"no group {name!r} (see `serialsync refs group list`)")


def _mint(store: Store, group: RefGroup, count: int, batch: str | None) -> list[str]:
    held = store.count_refs(group.name)
    if held + count > group.limit:
        raise RefusedError(
            f"group {group.name!r} holds {held} of at most {group.limit} references: "
            f"{count} more would pass its limit; nothing was minted"
        )
    codes: list[str] = []
    chosen: set[str] = set()
    for _ in range(_TRIES):
        wanted = count - len(codes)
        fresh = set(draw(group.alphabet, group.length, max(wanted, _DRAW))) - chosen
        fresh -= store.taken(sorted(fresh))
        codes += sorted(fresh)[:wanted]
        chosen |= fresh
        if len(codes) == count:
            store.add_refs(group.name, batch, codes)
            return codes
    raise RefusedError(
        f"group {group.name!r}: {group.length} characters of {group.alphabet!r} are too few "
        "to mint unique references; nothing was minted"
    )


def draw(alphabet: str, length: int, count: int) -> list[str]:
    """``count`` codes of ``length`` characters of ``alphabet`` (at most 256 characters), from
    :func:`secrets.token_bytes`: a byte picks ``alphabet[byte % k]`` and bytes at or above the
    largest multiple of ``k`` are dropped, so that every character is equally likely. One call
    for many codes: a batch costs a few reads of the system's secure source, not one a
    character."""
    k = len(alphabet)
    cutoff = 256 - 256 % k
    need = length * count
    chars: list[str] = []
    while len(chars) < need:
        more = need - len(chars)
        chars += [alphabet[b % k] for b in secrets.token_bytes(more + more // 4 + 8) if b < cutoff]
    text = "".join(chars[:need])
    return [text[i : i + length] for i in range(0, need, length)]


def mint_one(store: Store, group_name: str) -> str:
    """Mint one reference in a continuous group."""
    group = get_group(store, group_name)
    if group.kind != "continuous":
        raise RefusedError(
            f"group {group.name!r} mints in batches: `serialsync refs batch create {group.name}`"
        )
    return _mint(store, group, 1, None)[0]


def mint_batch(
    store: Store, group_name: str, count: int, *, name: str | None = None
) -> tuple[str, list[str]]:
    """Mint ``count`` (1 to 500) references in a new batch of a batch group, named ``name`` or
    by the current date and time; returns the batch's name and its references."""
    group = get_group(store, group_name)
    if group.kind != "batch":
        raise RefusedError(
            f"group {group.name!r} mints one at a time: `serialsync refs create {group.name}`"
        )
    if not 1 <= count <= BATCH_CAP:
        raise RefusedError(f"a batch holds 1 to {BATCH_CAP} references, not {count}")
    batch = name or datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if not _NAME.fullmatch(batch):
        raise RefusedError(f"batch name {batch!r}: letters, digits, space . _ : - (up to 64)")
    if store.has_ref_batch(group.name, batch):
        raise RefusedError(f"group {group.name!r} has a batch {batch!r} already")
    codes = _mint(store, group, count, batch)
    store.put_ref_batch(group.name, batch)
    return batch, codes


def find(store: Store, text: str, *, limit: int = 100) -> list[Reference]:
    """Live references containing ``text`` (at least 3 characters, case-insensitive)."""
    if len(text.strip()) < MIN_FIND:
        raise RefusedError(f"a search needs at least {MIN_FIND} characters, got {text.strip()!r}")
    return store.refs(contains=text.strip(), limit=limit)


def delete(store: Store, codes: list[str]) -> list[str]:
    """Delete live references (all or none: an unknown or deleted one refuses the lot); they
    are never minted again. Returns the codes deleted."""
    missing = [c for c in codes if (r := store.get_ref(c)) is None or r.deleted]
    if missing:
        raise RefusedError(f"no live reference {', '.join(map(repr, missing))}; nothing deleted")
    for code in codes:
        store.delete_ref(code)
    return codes


def assign(store: Store, code: str, serial: str) -> Reference:
    """Link reference ``code`` to unit ``serial``; a reference is used once, and a unit
    carries one reference."""
    ref = store.get_ref(code)
    if ref is None or ref.deleted:
        raise RefusedError(f"no live reference {code!r}")
    if store.get_unit(serial) is None:
        raise RefusedError(f"no unit with serial {serial!r}")
    if ref.serial is not None:
        raise RefusedError(f"reference {code} is assigned to {ref.serial} already (used once)")
    other = store.ref_of_unit(serial)
    if other is not None:
        raise RefusedError(f"unit {serial} carries reference {other.ref} already")
    store.assign_ref(code, serial)
    assigned = store.get_ref(code)
    assert assigned is not None
    return assigned
