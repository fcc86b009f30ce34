"""Open the store the settings name: a SQLite file (``[store] path``) or a PostgreSQL database
(``[store] url``). The PostgreSQL driver is imported only when a URL asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from serialsync.store.sql import SQLStore
from serialsync.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from serialsync.settings import StoreSettings


def open_store(
    settings: StoreSettings,
    *,
    lock: bool = True,
    read_only: bool = False,
    new: bool = False,
    migrate: bool = True,
    pool: ConnectionPool[Any] | None = None,
    shared: bool = False,
) -> SQLStore:
    """The store of ``settings``, opened as :meth:`SQLiteStore.open` describes.

    :param migrate: ``False`` to leave a store of an older schema as it is (to report its
        version); only a PostgreSQL store or an existing SQLite file can be left so.
    """
    if settings.url is not None:
        from serialsync.store.postgres import PostgresStore

        password = settings.password.get_secret_value() if settings.password else None
        return PostgresStore.open(
            settings.url,
            password=password,
            schema=settings.db_schema,
            lock=lock,
            read_only=read_only,
            new=new,
            migrate=migrate,
            pool=pool,
            shared=shared,
        )
    if not migrate:
        return SQLiteStore.open_unmigrated(settings.path)
    return SQLiteStore.open(settings.path, lock=lock, read_only=read_only, new=new)
