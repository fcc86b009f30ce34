"""``serialsync init``: a commented starter ``serialsync.toml``.

The file is valid as written (every connector section is commented out); each installed
connector type gets an example section built from its settings model, with secrets left to the
environment (``SERIALSYNC_CONNECTORS__<NAME>__<FIELD>``) rather than written in the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from serialsync.cli.runtime import fail, runtime
from serialsync.connector import ConnectorSettings, ConnectorType
from serialsync.diagnosis import env_var, field_kinds, is_secret
from serialsync.settings import (
    DEFAULT_CONFIG_FILE,
    MerchantsSettings,
    SyncSettings,
    WebhookSettings,
)
from serialsync.tomlwrite import toml_value

# Fields every connector has; their defaults suit almost everyone, so the example skips them.
_COMMON_FIELDS = set(ConnectorSettings.model_fields)

_HEADER = """\
# serialsync configuration.
#
# Precedence, lowest first: this file < .env < the environment < command-line values.
# Any key can be set from the environment with SERIALSYNC_ and "__" between levels:
#   SERIALSYNC_SYNC__INTERVAL=600
#   SERIALSYNC_CONNECTORS__SHOP__ACCESS_TOKEN=...   (sets access_token of [connectors.shop])
# Keep secrets (tokens, passwords, keys) in the environment, not in this file.
# Check it with `serialsync check`; run it with `serialsync run --once`.
"""


def _model_of(field: FieldInfo) -> type[BaseModel] | None:
    for kind in field_kinds(field.annotation):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
    return None


def _placeholder(name: str) -> str:
    return '"https://CHANGE-ME.example.com"' if "url" in name else '"CHANGE-ME"'


def _field_lines(model: type[BaseModel], path: tuple[str, ...]) -> Iterable[str]:
    """Example lines for a model's fields.

    Settings are ``# key = value`` (remove the ``# `` to use one); explanations are ``## …``,
    so that uncommenting a whole section leaves them comments and the section valid TOML.
    """
    for name, field in model.model_fields.items():
        if name in _COMMON_FIELDS and len(path) == 2:
            continue
        about = f"; {field.description}" if field.description else ""
        nested = _model_of(field)
        if is_secret(field):
            need = "required" if field.is_required() else "optional"
            yield f"## {name}: a secret ({need}), from the environment: {env_var(*path, name)}"
        elif nested is not None:
            yield f"## {name}: a table [{'.'.join((*path, name))}] with:"
            for line in _field_lines(nested, (*path, name)):
                yield "##   " + line.lstrip("# ")
        elif field.is_required():
            yield f"# {name} = {_placeholder(name)}  # required{about}"
        else:
            default = field.get_default(call_default_factory=True)
            if default is None:
                yield f"## {name}: optional, no default{about}"
            else:
                yield f"# {name} = {toml_value(default)}" + (
                    f"  # {field.description}" if field.description else ""
                )


def connector_example(ctype: ConnectorType) -> str:
    """A commented ``[connectors.<type>]`` section for one connector type."""
    doc = (ctype.settings_model.__doc__ or "").strip().splitlines()
    lines = [
        f"## --- {ctype.name}: a {ctype.role.value} connector (plugin {ctype.plugin or '?'}) ---"
    ]
    if doc:
        lines.append(f"## {doc[0]}")
    lines += [f"# [connectors.{ctype.name}]", f'# plugin = "{ctype.name}"']
    lines += _field_lines(ctype.settings_model, ("connectors", ctype.name))
    lines.append(
        "## (every connector also takes verify_tls = true, and [connectors.<name>.retry] and "
        ".timeouts tables: `serialsync init` names none of their keys, their defaults suit "
        "almost everyone)"
    )
    return "\n".join(lines) + "\n"


def starter_toml(connector_types: Iterable[ConnectorType]) -> str:
    """The whole starter file."""
    sync = SyncSettings()
    parts = [
        _HEADER,
        "[store]\n# The state file (relative paths are relative to this file).\n"
        'path = "serialsync.db"\n'
        "# Or a PostgreSQL database (pip install 'serialsync[postgres]'), where runners on many\n"
        "# machines share the state:\n"
        '# url = "postgresql://serialsync@db.example:5432/serialsync"\n'
        "# password: PostgreSQL's, from the environment only: SERIALSYNC_STORE__PASSWORD=...\n"
        '# schema = "public"  # PostgreSQL: the schema of this store (one per merchant)\n',
        "[sync]\n"
        f"interval = {toml_value(sync.interval)}  # seconds between inventory passes\n"
        "# inventory_interval = 300  # seconds; inventory passes on their own interval\n"
        "# orders_interval = 60  # seconds (default 60); order passes beside the inventory\n"
        f"order_overlap = {toml_value(sync.order_overlap)}"
        "  # seconds an order pass re-reads before its cursor\n"
        f"order_lookback = {toml_value(sync.order_lookback)}"
        "  # seconds of orders a new store reads before it lists anything (30 days)\n"
        f"reconcile_every = {toml_value(sync.reconcile_every)}"
        "  # seconds between reconciles of the channels with the store (0: never)\n"
        f"full_resync_every = {toml_value(sync.full_resync_every)}"
        "  # seconds between whole re-reads of the POS catalogue (0: never; run --full)\n"
        f'report_orders = "{sync.report_orders}"  # or "all": also orders without our units\n'
        '# serial_pattern = "^[A-Z]{2}[0-9]{6,}$"  # a regex every serial must match\n'
        '# serial_profile = "gs1"  # serials must be GS1 AI (21) serials\n'
        f'sold_out = "{sync.sold_out}"  # or "show": keep products with no unit for sale visible\n'
        f"workers = {sync.workers}  # channels served side by side\n"
        f"# report_retry_initial = {toml_value(sync.report_retry_initial)}"
        "  # seconds before a failed sale report is tried again (then doubled)\n"
        f"# report_retry_max = {toml_value(sync.report_retry_max)}"
        "  # seconds between report retries at most\n"
        f"# publish_chunk = {sync.publish_chunk}  # units sent to one product in one call at most\n"
        f"# sibling_title = {toml_value(sync.sibling_title)}"
        "  # a product continued past a channel's limit ({title}, {sku}, {n})\n",
        "[plugins]\n"
        '# allow = ["aim_pos", "shopify"]  # only these installed plugins load\n'
        "deny = []\n",
        '[log]\nlevel = "info"  # debug, info, warning, error\n'
        'format = "auto"  # auto: JSON lines unless on a terminal; json; console\n',
        "[webhooks]\n"
        "# Orders within seconds: `serialsync run` receives the channels' webhooks here, and\n"
        "# `serialsync webhooks register` subscribes <public_url>/webhooks/<connector>.\n"
        '# listen = "127.0.0.1:8787"\n'
        '# public_url = "https://sync.example.com"  # what the platforms call (your proxy)\n'
        "# secret: what subscriptions are signed with, from the environment:\n"
        "#   SERIALSYNC_WEBHOOKS__SECRET=...\n"
        f"# workers = {WebhookSettings().workers}"
        "  # orders named by webhooks worked side by side\n",
        "[metrics]\n"
        "# /healthz and /metrics (Prometheus), also without webhooks (and with them on listen).\n"
        '# listen = "127.0.0.1:9187"\n',
        "[panel]\n"
        "# The admin panel inside `serialsync run` (or alone: `serialsync panel`); users with\n"
        "# `serialsync panel user add NAME --role operator`.\n"
        '# listen = "127.0.0.1:8788"\n'
        "# allow_remote = false  # true to bind beyond loopback (plain HTTP: put TLS in front)\n"
        "# session_secret: signs the session cookies, from the environment:\n"
        "#   SERIALSYNC_PANEL__SESSION_SECRET=... (without it, a new one at each start)\n",
        "[merchants]\n"
        "# A deployment of many merchants on PostgreSQL (`serialsync merchants`):\n"
        f'# schema = "{MerchantsSettings().db_schema}"  # the schema of the merchants\' register\n',
        "# Connectors: one [connectors.<name>] section each; <name> is yours to choose (lower\n"
        "# case, so that SERIALSYNC_CONNECTORS__<NAME>__... finds it). One POS, any channels.\n",
    ]
    parts += [connector_example(t) for t in sorted(connector_types, key=lambda t: t.name)]
    return "\n".join(parts)


def init_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Option("--path", help="Where to write it.", dir_okay=False)] = Path(
        DEFAULT_CONFIG_FILE
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter serialsync.toml (refuses to overwrite without --force)."""
    rt = runtime(ctx)
    if path.exists() and not force:
        raise fail(f"{path} exists already (use --force to overwrite it)")
    manager = rt.plugin_manager()
    text = starter_toml(manager.connector_types.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    rt.out.print(
        f"wrote {path} with {len(manager.connector_types)} example connector section(s); "
        "uncomment and fill in the ones you use, then run `serialsync check`"
    )
