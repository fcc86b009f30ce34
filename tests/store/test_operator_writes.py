"""A person's writes beside a running runner (issue 19), on both backends: the CLI's
``sales retry`` and ``quarantine drop`` and the panel's users and operator log are written
while a runner holds the store's lock, and the runner's own connection sees them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from serialsync.cli import app
from serialsync.panel.users import Role, add_user, authenticate
from serialsync.store import OutboxRecord, OutboxState
from typer.testing import CliRunner

from tests.stores import StoreSpec


def _failed_sale() -> OutboxRecord:
    sale = {
        "idempotency_key": "shop:1",
        "status": "paid",
        "channel": "shop",
        "order_id": "1",
        "order_number": "#1",
        "placed_at": "2026-11-23T00:00:00Z",
        "lines": [],
    }
    return OutboxRecord(
        channel="shop",
        order_id="1",
        order_number="#1",
        state=OutboxState.FAILED,
        financial_status="paid",
        order_updated_at=datetime(2026, 11, 23, tzinfo=UTC),
        sale_json=json.dumps(sale),
        last_error="refused",
    )


def _config(folder: Path, spec: StoreSpec) -> Path:
    config = folder / "serialsync.toml"
    if spec.url is None:
        config.write_text(f'[store]\npath = "{spec.path}"\n')
    else:
        config.write_text(f'[store]\nurl = "{spec.url}"\nschema = "{spec.schema}"\n')
    return config


def _cli(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_persons_writes_are_taken_while_a_runner_holds_the_lock(
    store_spec: StoreSpec, tmp_path: Path
) -> None:
    with store_spec.open() as runner:  # holds the runner lock, as `serialsync run` does
        with runner.transaction():
            runner.put_outbox(_failed_sale())
            runner.quarantine(kind="order", key="shop:2", connector="shop", reason="bad")
        [record] = runner.quarantined()
        config = _config(tmp_path, store_spec)
        retried = _cli(config, "sales", "retry", "shop", "1", "--by", "sam", "--reason", "POS ok")
        assert retried["retry"] is True
        assert _cli(config, "quarantine", "drop", str(record.id))["dropped"] is True
        # Both acts are in the operator log, with who and why (a default for the latter).
        logged = [(a.who, a.action, a.target, a.reason) for a in runner.operator_actions()]
        assert logged == [
            ("an operator", "Drop quarantined", "order:shop:2", "from the command line"),
            ("sam", "Retry sale", "shop:1", "POS ok"),
        ]
        sale = runner.get_outbox("shop", "1")
        assert sale is not None and sale.state == OutboxState.PENDING
        assert runner.quarantined() == []
        # The panel's own writes, through a second connection without the lock.
        with store_spec.open(lock=False) as panel:
            add_user(panel, "olive", Role.OPERATOR, "a long enough password")
            with panel.transaction():
                panel.record_action(
                    who="olive", action="Retry sale", target="shop:1", reason="r", outcome="ok"
                )
        user = runner.get_panel_user("olive")
        assert user is not None and user.role == "operator"
        assert "long enough" not in repr(user) and user.password_hash not in repr(user)
        assert authenticate(runner, "olive", "a long enough password") == user
        assert authenticate(runner, "olive", "a long enough passworD") is None
        act = runner.operator_actions(target="shop:1")[0]
        assert (act.who, act.action, act.reason, act.outcome) == ("olive", "Retry sale", "r", "ok")


def test_a_password_is_stored_only_as_an_argon2_hash(store_spec: StoreSpec) -> None:
    with store_spec.open() as store:
        add_user(store, "victor", Role.VIEWER, "another fine password")
        [user] = store.panel_users()
        assert user.password_hash.startswith("$argon2id$")
        assert "another fine password" not in user.password_hash
        # Adding again replaces the role and the password.
        add_user(store, "victor", Role.OPERATOR, "a second fine password")
        assert authenticate(store, "victor", "another fine password") is None
        again = authenticate(store, "victor", "a second fine password")
        assert again is not None and again.role == "operator"


@pytest.mark.parametrize(
    ("name", "password", "words"),
    [
        ("", "long enough password", "printable"),
        (" olive", "long enough password", "spaces"),
        ("ol\x1bive", "long enough password", "printable"),
        ("olive", "short", "at least 10"),
    ],
)
def test_a_user_is_refused_with_the_reason(
    tmp_path: Path, name: str, password: str, words: str
) -> None:
    from serialsync.panel.users import UserRefusedError
    from serialsync.store import SQLiteStore

    with SQLiteStore.open(tmp_path / "s.db") as store:
        with pytest.raises(UserRefusedError, match=words) as refused:
            add_user(store, name, Role.VIEWER, password)
        assert password not in str(refused.value)
        assert store.panel_users() == []
