"""The store's file: who may write it, whether it is still the one we opened, and its errors.

Three guards keep one SQLite file safe, each with one plain line when it refuses:

* **The runner lock is on the store file itself**, resolved through symlinks: an exclusive
  ``flock`` on an open descriptor of the real file. Any two paths to the same file (a symlink, a
  relative path, a hard link) meet on the same lock, and there is no lock file to delete. The
  kernel releases it when the process dies, even by SIGKILL. ``flock`` locks do not interfere
  with SQLite's own POSIX record locks on Linux, but closing *any* descriptor of a file drops
  the process's POSIX locks on it: the descriptor is therefore kept open for as long as the
  database is, and closed after it.
* **A marker beside the store** (``<store>.marker``) records the identity of the store that ran
  there (a random id, also kept in the store's ``meta``). A store file that is missing or empty
  where the marker says one lived, or a different store put in its place, is refused: starting
  from nothing would put units already sold back on sale. ``--new-store`` says "yes, start
  afresh" (see :func:`lost_store_message`).
* **SQLite's errors become one line** naming the file and what to do (:func:`explain`): a
  corrupt file, a read-only file or folder, a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from serialsync.errors import StoreError, StoreLockedError

MARKER_SUFFIX = ".marker"

_MARKER_HEADER = (
    "# serialsync: a state store lives beside this file. Do not delete it: it lets serialsync\n"
    "# tell a lost store from a first start, so that a lost store never relists sold units.\n"
)

NEW_STORE_START = (
    "start a new store with `serialsync run --new-store` (its first pass reads the channels' "
    "recent orders before it lists anything)"
)
NEW_STORE_HINT = f"restore the file from a backup, or {NEW_STORE_START}"


def real_path(path: Path) -> Path:
    """``path`` with every symlink resolved (the file need not exist yet)."""
    return Path(os.path.realpath(path))


def marker_path(real: Path) -> Path:
    """Where the marker of the store at ``real`` lives."""
    return real.with_name(real.name + MARKER_SUFFIX)


def new_store_id() -> str:
    """A fresh store identity."""
    return uuid.uuid4().hex


def read_marker(real: Path) -> str | None:
    """The store id the marker beside ``real`` records: ``None`` when there is no marker, ``""``
    when it names no id (a store lived here, which one is unknown)."""
    try:
        text = marker_path(real).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(
            f"cannot read {marker_path(real)} ({exc.strerror}): make it readable for the user "
            "serialsync runs as"
        ) from None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "store_id" and value.strip():
            return value.strip()
    # A marker we cannot read an id from still says a store lived here, whichever it was.
    return ""


def write_marker(real: Path, store_id: str) -> None:
    """Record ``store_id`` beside the store, atomically and durably."""
    marker = marker_path(real)
    temporary = marker.with_name(marker.name + ".tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(_MARKER_HEADER + f"store_id = {store_id}\n")
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(marker)
        folder = os.open(marker.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as exc:
        hint = _writable_hint(marker)
        raise StoreError(f"cannot write {marker} ({exc.strerror}): {hint}") from None


def lost_store_message(path: Path, marker: Path, *, empty: bool) -> str:
    """The line that refuses a store file missing (or empty) where a store used to be."""
    what = "is empty" if empty else "is missing"
    return (
        f"the state store {path} {what}, but {marker} says a store was used here: starting "
        f"from nothing could put units already sold back on sale; {NEW_STORE_HINT}"
    )


def replaced_store_message(path: Path, marker: Path) -> str:
    """The line that refuses a store file other than the one last used here."""
    return (
        f"the state store {path} is not the one serialsync last used here ({marker} names "
        "another store): an older copy could put units sold since back on sale; restore the "
        "store that ran here, or accept this one with `serialsync run --new-store`"
    )


@dataclass
class FileLock:
    """An open descriptor of the store file, holding the runner lock (or not), and its identity."""

    path: Path
    fd: int
    device: int
    inode: int

    @classmethod
    def open(cls, real: Path, *, lock: bool) -> FileLock:
        """Open (creating it if needed) the file at ``real``; take the runner lock if asked."""
        try:
            fd = os.open(real, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(_open_failure(real, exc)) from None
        if lock:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _lock_holder(fd)
                os.close(fd)
                raise StoreLockedError(
                    f"the state store {real} is in use by another runner ({holder}); only one "
                    "runner may use a store at a time: stop the other one, or wait for it"
                ) from None
        stat = os.fstat(fd)
        return cls(real, fd, stat.st_dev, stat.st_ino)

    def size(self) -> int:
        """The file's size now, in bytes."""
        return os.fstat(self.fd).st_size

    def check_in_place(self, shown: Path) -> None:
        """Raise :class:`StoreError` if the file was deleted or replaced since it was opened.

        A runner writing on into a deleted file (or into the old file when another was put in
        its place) would go on selling from a store nobody will ever read again.
        """
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreError(
                f"the state store {shown} was deleted while serialsync was using it: stopped, "
                f"so that nothing more is recorded in a file nobody can read; {NEW_STORE_HINT}"
            ) from None
        except OSError as exc:
            raise StoreError(f"the state store {shown} cannot be checked: {exc.strerror}") from None
        if (stat.st_dev, stat.st_ino) != (self.device, self.inode):
            raise StoreError(
                f"the state store {shown} was replaced by another file while serialsync was "
                "using it: stopped, so that nothing more is recorded in the old one; start "
                "serialsync again to use the new file (it is checked before it is used)"
            )

    def close(self) -> None:
        """Release the lock and the descriptor (after the database is closed)."""
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _lock_holder(fd: int) -> str:
    """``pid N`` of the process holding the lock on ``fd``'s file (Linux), else a phrase."""
    stat = os.fstat(fd)
    pid = _flock_pid(stat.st_dev, stat.st_ino)
    return f"pid {pid}" if pid is not None else "another process"


def runner_pid(real: Path) -> str | None:
    """The pid of the runner holding the lock on the store file ``real``, read from
    ``/proc/locks`` (Linux); ``None`` when none holds it or it cannot be told.

    Only looks: taking even a shared lock to find out would make a runner starting at that
    moment refuse, as if another runner held the store.
    """
    try:
        stat = os.stat(real)
    except OSError:
        return None
    return _flock_pid(stat.st_dev, stat.st_ino)


def _flock_pid(device: int, inode: int) -> str | None:
    """The pid holding a ``flock`` on the file ``(device, inode)``, from ``/proc/locks``."""
    wanted = f":{inode}"
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"
            if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(wanted):
                major_minor = fields[5].rsplit(":", 1)[0]
                major, _, minor = major_minor.partition(":")
                with contextlib.suppress(ValueError):
                    if os.makedev(int(major, 16), int(minor, 16)) == device:
                        return fields[4]
    return None


def _open_failure(real: Path, exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        if real.exists():
            return (
                f"the state store {real} is read-only ({exc.strerror}): make it writable for "
                "the user serialsync runs as (`status`, `serials`, `sales list` and "
                "`quarantine list` read it as it is)"
            )
        return f"cannot create the state store {real} ({exc.strerror}): {_writable_hint(real)}"
    if exc.errno == errno.ENOSPC:
        return f"cannot create the state store {real}: the disk is full; free some space"
    if exc.errno == errno.EISDIR:
        return f"the state store {real} is a folder: set [store] path to a file"
    return f"cannot open the state store {real}: {exc.strerror}"


def _writable_hint(path: Path) -> str:
    return f"make the folder {path.parent} writable for the user serialsync runs as"


def explain(path: Path, exc: sqlite3.Error) -> str:
    """One line for a SQLite error on the store at ``path``: what is wrong and what to do."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary == sqlite3.SQLITE_FULL or "disk is full" in text:
        return (
            f"the state store {path}: the disk is full ({text}); free some space on it, then "
            "start serialsync again (what was committed is kept)"
        )
    if primary == sqlite3.SQLITE_READONLY or "readonly database" in text:
        return (
            f"the state store {path} cannot be written ({text}): make the file and its folder "
            f"{path.parent} writable for the user serialsync runs as"
        )
    if primary == sqlite3.SQLITE_CANTOPEN or "unable to open" in text:
        return (
            f"cannot open the state store {path} ({text}): serialsync writes its journal "
            f"beside it; make the folder {path.parent} writable for the user serialsync runs as"
        )
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or (
        "malformed" in text or "not a database" in text
    ):
        return (
            f"the state store {path} is damaged ({text}): restore it from a backup; or move it "
            f"aside (keep it for a person to look at) and {NEW_STORE_START}"
        )
    if primary == sqlite3.SQLITE_IOERR or "disk I/O error" in text:
        return (
            f"the state store {path} cannot be read or written ({text}): check the disk and "
            "the file, then start serialsync again"
        )
    return f"the state store {path} cannot be used: {text}"


class sqlite_errors:  # noqa: N801 - used as a function: ``with sqlite_errors(path):``
    """Turn any SQLite error inside into a one-line :class:`StoreError` naming ``path``.

    A class rather than a generator: every statement of the store runs inside one, and
    entering and leaving a generator-based context costs three times as much."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, sqlite3.Error):
            raise StoreError(explain(self.path, exc)) from None
