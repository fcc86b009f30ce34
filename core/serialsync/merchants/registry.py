"""The register of a deployment's merchants, in its PostgreSQL database.

One row per merchant: its name, the schema that holds its state (``<register>__<name>``: a
store of its own, so no query of one merchant's store can read another's rows), the names and
plugins of its connectors (in clear, to list them), whether it is enabled, and its whole
configuration sealed with :class:`~serialsync.merchants.secrets.SecretBox`: connector tokens
and passwords are never in clear in the database.

A merchant's :class:`~serialsync.settings.Settings` are built from that configuration alone
(the process's environment does not leak into it), with ``[store]`` set by the deployment: the
database of the deployment's ``[store] url``, the merchant's own schema.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import re
import tomllib
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from serialsync.errors import ConfigurationError
from serialsync.merchants.secrets import SecretBox
from serialsync.settings import Settings, StoreSettings, settings_from_data

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

#: The register schemas whose tables were checked on each pool's connections: a worker opens
#: the register for every job and every webhook delivery, and creating the tables each time
#: (an advisory lock, three statements) is a round trip too many.
_CREATED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

MERCHANT_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class MerchantNotFoundError(ConfigurationError):
    """No merchant of that name is registered."""


class MerchantExistsError(ConfigurationError):
    """A merchant of that name is registered already."""


@dataclass(frozen=True)
class Merchant:
    """One merchant as the register lists it (nothing secret: its configuration stays sealed)."""

    name: str
    store_schema: str
    connectors: dict[str, str]
    """Connector name → plugin."""
    intervals: dict[str, float]
    """Seconds between passes of each flow (``inventory``, ``orders``, ``reconcile``; 0 is off),
    from its ``[sync]`` settings: kept in clear so that scheduling needs no secret key."""
    enabled: bool
    created_at: datetime
    updated_at: datetime


def flow_intervals(settings: Settings) -> dict[str, float]:
    """Seconds between a merchant's passes of each flow, as ``serialsync run`` would space
    them (``inventory``, ``orders``; ``reconcile``, 0 when off)."""
    from serialsync.cli.run import MIN_INTERVAL, intervals

    inventory, orders = intervals(settings.sync)
    reconcile = settings.sync.reconcile_every.total_seconds()
    return {
        "inventory": inventory,
        "orders": orders,
        "reconcile": max(MIN_INTERVAL, reconcile) if reconcile > 0 else 0.0,
    }


def check_name(name: str) -> str:
    """``name`` if it can name a merchant (it names a PostgreSQL schema too), else an error."""
    if not MERCHANT_NAME.fullmatch(name):
        raise ConfigurationError(
            f"merchant name {name!r} must be 1 to 40 lower-case letters, digits and '_', "
            "starting with a letter"
        )
    return name


def parse_configuration(text: str, *, where: str) -> dict[str, Any]:
    """A merchant's TOML configuration, parsed; ``[store]`` is refused (the deployment sets it)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{where}: not valid TOML: {exc}") from None
    if "store" in data:
        raise ConfigurationError(
            f"{where}: a merchant's configuration has no [store] section: its state lives in "
            "the deployment's database, in a schema of its own"
        )
    if "merchants" in data:
        raise ConfigurationError(f"{where}: [merchants] belongs to the deployment's configuration")
    return data


class MerchantRegistry:
    """The merchants of one deployment; use :meth:`open`, and close it (or use ``with``)."""

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        *,
        store: StoreSettings,
        schema: str,
        box: SecretBox | None,
        pool: ConnectionPool[Any] | None = None,
    ):
        self._db = connection
        self._store = store
        self.schema = schema
        self._box = box
        self._pool = pool

    def __repr__(self) -> str:
        return f"MerchantRegistry(schema={self.schema!r})"

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        box: SecretBox | None = None,
        pool: ConnectionPool[Any] | None = None,
    ) -> MerchantRegistry:
        """The register of the deployment that ``settings`` configures (its ``[store] url``).

        :param box: the keys that seal and open configurations; without it, the register lists
            merchants but cannot add one or build one's settings (the key is asked for then).
        :param pool: take the connection from this pool (a worker's, shared by its jobs and
            webhook deliveries: :func:`~serialsync.store.postgres.connection_pool` of the same
            database) and give it back on :meth:`close`; the tables are checked once per pool.
        """
        if settings.store.url is None:
            raise ConfigurationError(
                "merchants live in a PostgreSQL database: set [store] url in the deployment's "
                "configuration (and install the postgres extra)"
            )
        from psycopg.rows import dict_row

        from serialsync.store.postgres import connect_settings, describe, pg_errors

        schema = settings.merchants.db_schema
        shown = describe(settings.store.url, schema)
        if pool is not None:
            with pg_errors(shown):
                db = pool.getconn()
        else:
            db = connect_settings(
                settings.store,
                autocommit=True,
                row_factory=dict_row,
                application_name="serialsync merchants",
            )
        registry = cls(db, store=settings.store, schema=schema, box=box, pool=pool)
        created = _CREATED.setdefault(pool, set()) if pool is not None else set()
        try:
            if schema not in created:
                with pg_errors(shown):
                    registry._create()
                created.add(schema)
        except BaseException:
            registry.close()
            raise
        return registry

    def close(self) -> None:
        """Close the connection to the database (or give it back to its pool)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.putconn(self._db)
        elif not self._db.closed:
            self._db.close()

    def __enter__(self) -> MerchantRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the table -----------------------------------------------------------------------------

    def _create(self) -> None:
        from psycopg import sql

        with self.transaction():
            # CREATE … IF NOT EXISTS is not safe against a second process doing the same at
            # the same moment; the advisory lock makes the two wait in turn.
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
            self._db.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            self._db.execute(
                sql.SQL(
                    """CREATE TABLE IF NOT EXISTS {}.merchants (
                        name TEXT PRIMARY KEY,
                        store_schema TEXT NOT NULL UNIQUE,
                        connectors JSONB NOT NULL,
                        intervals JSONB NOT NULL DEFAULT '{{}}',
                        sealed BYTEA NOT NULL,
                        enabled BOOLEAN NOT NULL DEFAULT TRUE,
                        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
                    )"""
                ).format(sql.Identifier(self.schema))
            )
            # Which merchants each user of the deployment's panel may see and act on.
            self._db.execute(
                sql.SQL(
                    """CREATE TABLE IF NOT EXISTS {}.panel_grants (
                        user_name TEXT NOT NULL,
                        merchant TEXT NOT NULL
                            REFERENCES {}.merchants (name) ON DELETE CASCADE,
                        PRIMARY KEY (user_name, merchant)
                    )"""
                ).format(sql.Identifier(self.schema), sql.Identifier(self.schema))
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction on the register's connection (nested ones are savepoints)."""
        with self._db.transaction():
            yield

    def execute(self, statement: Any, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Run one statement on the register's database; its rows, if it returns any."""
        cursor = self._db.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []

    def _table(self) -> Any:
        from psycopg import sql

        return sql.SQL("{}.merchants").format(sql.Identifier(self.schema))

    def _query(self, template: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        from psycopg import sql

        return self.execute(sql.SQL(template).format(table=self._table()), params)

    def store_schema(self, name: str) -> str:
        """The schema that holds merchant ``name``'s state."""
        return f"{self.schema}__{check_name(name)}"

    def _require_box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox.from_env()
        return self._box

    # -- reading ---------------------------------------------------------------------------------

    def list(self) -> list[Merchant]:
        """Every merchant, by name."""
        return [_merchant(row) for row in self._query("SELECT * FROM {table} ORDER BY name")]

    def get(self, name: str) -> Merchant:
        """Merchant ``name``, or :class:`MerchantNotFoundError`."""
        rows = self._query("SELECT * FROM {table} WHERE name = %s", (name,))
        if not rows:
            raise MerchantNotFoundError(
                f"no merchant named {name!r} (`serialsync merchants list` shows them)"
            )
        return _merchant(rows[0])

    def configuration(self, name: str) -> str:
        """Merchant ``name``'s configuration as it was added (TOML text, secrets included:
        callers show it masked, through :meth:`settings`)."""
        rows = self._query("SELECT sealed FROM {table} WHERE name = %s", (name,))
        if not rows:
            self.get(name)  # raises the not-found error
        return self._require_box().open(rows[0]["sealed"], what=f"merchant {name!r}")

    def settings(self, name: str) -> Settings:
        """Merchant ``name``'s settings: its configuration, with the deployment's database and
        the merchant's own schema as ``[store]``; the environment does not leak in."""
        text = self.configuration(name)
        return self.settings_of(name, text)

    def settings_of(self, name: str, text: str) -> Settings:
        """The settings merchant ``name`` would have with configuration ``text`` (validated)."""
        where = f"merchant {name!r}"
        data = parse_configuration(text, where=where)
        store = StoreSettings(
            url=self._store.url,
            password=self._store.password,
            db_schema=self.store_schema(name),
        )
        return settings_from_data(data, where=where, store=store)

    # -- writing ---------------------------------------------------------------------------------

    def add(self, name: str, text: str) -> Merchant:
        """Register merchant ``name`` with its configuration ``text`` (TOML), sealed.

        The configuration is validated first (a bad one is refused with every problem named);
        the merchant's store is created on its first run.
        """
        check_name(name)
        settings = self.settings_of(name, text)
        sealed = self._require_box().seal(text)
        connectors = json.dumps({key: c.plugin for key, c in settings.connectors.items()})
        intervals = json.dumps(flow_intervals(settings))
        with self.transaction():
            if self._query("SELECT 1 AS found FROM {table} WHERE name = %s FOR UPDATE", (name,)):
                raise MerchantExistsError(
                    f"a merchant named {name!r} exists already "
                    "(`serialsync merchants update` replaces its configuration)"
                )
            self._query(
                "INSERT INTO {table} (name, store_schema, connectors, intervals, sealed) "
                "VALUES (%s, %s, %s, %s, %s)",
                (name, self.store_schema(name), connectors, intervals, sealed),
            )
        return self.get(name)

    def update(self, name: str, text: str) -> Merchant:
        """Replace merchant ``name``'s configuration with ``text`` (validated, sealed)."""
        self.get(name)
        settings = self.settings_of(name, text)
        sealed = self._require_box().seal(text)
        connectors = json.dumps({key: c.plugin for key, c in settings.connectors.items()})
        intervals = json.dumps(flow_intervals(settings))
        self._query(
            "UPDATE {table} SET sealed = %s, connectors = %s, intervals = %s, updated_at = now() "
            "WHERE name = %s",
            (sealed, connectors, intervals, name),
        )
        return self.get(name)

    def set_enabled(self, name: str, enabled: bool) -> Merchant:
        """Enable or disable merchant ``name`` (a disabled merchant gets no passes)."""
        self.get(name)
        self._query(
            "UPDATE {table} SET enabled = %s, updated_at = now() WHERE name = %s", (enabled, name)
        )
        return self.get(name)

    def remove(self, name: str) -> Merchant:
        """Unregister merchant ``name`` and drop its state (its schema), in one transaction."""
        from psycopg import sql

        merchant = self.get(name)
        with self.transaction():
            self._db.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(merchant.store_schema)
                )
            )
            self._query("DELETE FROM {table} WHERE name = %s", (name,))
        return merchant

    # -- the panel's grants ------------------------------------------------------------------

    def _grants_table(self) -> Any:
        from psycopg import sql

        return sql.SQL("{}.panel_grants").format(sql.Identifier(self.schema))

    def grant(self, user: str, merchant: str) -> None:
        """Let panel user ``user`` see and act on ``merchant`` (its role says which)."""
        from psycopg import sql

        self.get(merchant)
        self.execute(
            sql.SQL(
                "INSERT INTO {} (user_name, merchant) VALUES (%s, %s) ON CONFLICT DO NOTHING"
            ).format(self._grants_table()),
            (user, merchant),
        )

    def revoke(self, user: str, merchant: str) -> bool:
        """Take ``merchant`` from panel user ``user``; False when it was not granted."""
        from psycopg import sql

        rows = self.execute(
            sql.SQL(
                "DELETE FROM {} WHERE user_name = %s AND merchant = %s RETURNING merchant"
            ).format(self._grants_table()),
            (user, merchant),
        )
        return bool(rows)

    def granted(self, user: str) -> builtins.list[str]:
        """The enabled merchants panel user ``user`` may see, by name."""
        from psycopg import sql

        rows = self.execute(
            sql.SQL(
                "SELECT g.merchant FROM {} g JOIN {} m ON m.name = g.merchant "
                "WHERE g.user_name = %s AND m.enabled ORDER BY g.merchant"
            ).format(self._grants_table(), self._table()),
            (user,),
        )
        return [str(row["merchant"]) for row in rows]

    def panel_schema(self) -> str:
        """The schema of the deployment panel's users (a store of their own)."""
        return f"{self.schema}_panel"

    def rotate_key(self) -> int:
        """Reseal every merchant's configuration with the newest key; returns how many.

        One transaction: either every row is resealed or none is.
        """
        box = self._require_box()
        with self.transaction():
            rows = self._query("SELECT name, sealed FROM {table} ORDER BY name FOR UPDATE")
            for row in rows:
                resealed = box.reseal(row["sealed"], what=f"merchant {row['name']!r}")
                self._query(
                    "UPDATE {table} SET sealed = %s WHERE name = %s", (resealed, row["name"])
                )
        return len(rows)


def _merchant(row: dict[str, Any]) -> Merchant:
    connectors = row["connectors"]
    if isinstance(connectors, str):
        connectors = json.loads(connectors)
    return Merchant(
        name=row["name"],
        store_schema=row["store_schema"],
        connectors=dict(connectors),
        intervals={key: float(value) for key, value in dict(row["intervals"] or {}).items()},
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
