"""Secrets never leak; TLS is verified unless one connector says otherwise; signatures are
compared in constant time.

Every connector runs with its known credentials against its fake, under faults, with bad input
and a refused credential, so that errors, retries, quarantine reasons and failed outcomes are
all produced. Then no captured log event, JSON log line, exception message, repr, CLI output or
row of any table of the store may contain a secret.
"""

from __future__ import annotations

import ast
import json
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from serialsync import FinancialStatus
from serialsync.sandbox import Sandbox
from serialsync.settings import load_settings
from structlog.testing import capture_logs

from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

#: One virtual clock for the fakes' rate limits and the host's sleeps: waits cost nothing.
CLOCK = h.VirtualTime()

ROOT = Path(__file__).resolve().parents[2]


def secrets_of(config: Path, sandbox: Sandbox) -> set[str]:
    """Every secret in the connectors' settings, and every token the fakes handed out."""
    settings = load_settings(config)
    found: set[str] = set()
    for name, section in settings.connectors.items():
        model = sandbox.connector_types[name].settings_model.model_validate(
            section.options(reveal_secrets=True)
        )
        found |= {s.get_secret_value() for s in model.secret_values()}
    for fake in sandbox.pos_fakes().values():
        found |= set(getattr(fake, "issued_tokens", []))
    assert found and all(len(s) >= 8 for s in found), found
    return found


def leaks(texts: Iterable[str], secrets: set[str]) -> list[tuple[str, str]]:
    """``(secret, where)`` for every secret found, raw or URL-encoded, in ``texts``."""
    forms = {form: s for s in secrets for form in (s, urllib.parse.quote(s, safe=""))}
    found = []
    for text in texts:
        for form, secret in forms.items():
            if form in text:
                at = text.index(form)
                found.append((secret[:4] + "…", text[max(0, at - 80) : at + 20]))
    return found


def test_the_leak_finder_finds_raw_and_url_encoded_secrets() -> None:
    secret = {"cs_s3cret/with+signs"}
    assert leaks(["token=cs_s3cret/with+signs"], secret)
    assert leaks(["?consumer_secret=cs_s3cret%2Fwith%2Bsigns&x=1"], secret)
    assert leaks(["consumer_secret=***"], secret) == []


def store_texts(path: Path) -> list[str]:
    """Every value of every row of every table, as text."""
    return [str(value) for rows in h.dump_tables(path).values() for row in rows for value in row]


def test_no_secret_reaches_a_log_an_error_a_repr_the_cli_or_the_store(tmp_path) -> None:
    seed = h.seed()
    catalogue = h.catalogue(skus=3, units=18, seed=seed)
    units = [u for p in catalogue for u in p.units]
    faults = {"*": h.faults(0.1, seed=seed, stall=0.6)}
    clock = h.VirtualTime()
    with Sandbox(
        faults=faults, catalogue=catalogue, seed=seed, plugins=h.sandbox_plugins(clock)
    ) as sandbox:
        config = h.write_config(sandbox, tmp_path, read_timeout=0.5)
        texts: list[str] = []
        with capture_logs() as events, h.open_host(config, clock) as host:
            h.run_until_quiet(host, sandbox, max_passes=20)
            fakes = sandbox.channel_fakes()
            fakes["shopify"].create_order([(units[0].integration_id, 1)])
            # Staff set the unit's stock to 2 by hand, a shopper buys both: quarantined.
            fakes["magento"].set_source_quantity(units[1].integration_id, 2)  # type: ignore[attr-defined]
            fakes["magento"].create_order([(units[1].integration_id, 2)])
            fakes["bigcommerce"].create_order([(units[2].integration_id, 1)])
            fakes["woocommerce"].create_order(
                [(units[2].integration_id, 1)], status=FinancialStatus.PAID
            )  # a double sale: a conflict
            summaries = [host.run_once() for _ in range(4)]
            # A refused credential: the platform's 401 goes into errors and logs.
            fakes["shopify"].access_token = "shpat_rotated_by_the_merchant"  # type: ignore[attr-defined]
            sandbox.pos_fakes()[h.POS].expire_tokens(oauth=True)  # type: ignore[attr-defined]
            summaries.append(host.run_once())
            texts += [e for s in summaries for c in s.connectors.values() for e in c.errors]
            texts.append(json.dumps([s.as_dict() for s in summaries]))
            assert any("credentials refused" in e for e in texts), texts[:5]
            # Every repr a person or a log might print.
            texts += [repr(host), repr(host.store), repr(load_settings(config))]
            for handle in host.plugins.connectors():
                texts += [repr(handle), repr(handle.settings), str(handle.settings)]
                texts += [repr(handle.impl)] + [repr(v) for v in vars(handle.impl).values()]
            try:
                host.plugins.check_connection("shopify")
            except Exception as exc:  # the refused credential, raised
                texts += [str(exc), repr(exc)]
            else:
                pytest.fail("a refused credential must raise")
        secrets = secrets_of(config, sandbox)
        texts += [json.dumps(e, default=str) for e in events]
        assert len(events) > 100  # the passes logged a lot: retries, failures, conflicts
        assert leaks(texts, secrets) == []
        assert leaks(store_texts(tmp_path / "state.db"), secrets) == []

        cli_texts = cli_outputs(config)
        if cli_texts is not None:
            assert leaks(cli_texts, secrets_of(config, sandbox)) == []
        h.report(
            "security",
            seed=seed,
            secrets_checked=len(secrets),
            log_events=len(events),
            store_rows=sum(len(rows) for rows in h.dump_tables(tmp_path / "state.db").values()),
            cli="checked" if cli_texts is not None else "serialsync.cli not importable: skipped",
        )


def cli_outputs(config: Path) -> list[str] | None:
    """What ``run --once`` (JSON log lines), ``status``, ``sales list`` and ``quarantine list``
    print; ``None`` when the CLI is not there to ask."""
    try:
        from serialsync.cli import app
        from typer.testing import CliRunner
    except ImportError:  # pragma: no cover - the CLI is being built alongside
        return None
    text = config.read_text()
    text = text.replace("[store]\n", '[log]\nlevel = "debug"\nformat = "json"\n\n[store]\n', 1)
    config.write_text(text)
    runner = CliRunner()
    outputs: list[str] = []
    try:
        for args in (
            ["run", "--once"],
            ["status"],
            ["status", "--json"],
            ["sales", "list"],
            ["quarantine", "list"],
        ):
            result = runner.invoke(app, [*args, "--config", str(config)])
            assert result.exit_code in (0, 1), (args, result.output, result.exception)
            outputs += [result.stdout, result.stderr]
            if args == ["run", "--once"]:
                lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
                assert lines, "the CLI logs JSON lines when asked to"
    finally:
        structlog.reset_defaults()
    return outputs


# -- TLS ---------------------------------------------------------------------------------------


def test_tls_is_verified_unless_one_connector_turns_it_off_which_warns(tmp_path) -> None:
    with Sandbox(plugins=h.sandbox_plugins(CLOCK)) as sandbox:
        config = h.write_config(sandbox, tmp_path)
        settings = load_settings(config)
        for name, section in settings.connectors.items():
            model = sandbox.connector_types[name].settings_model.model_validate(
                section.options(reveal_secrets=True)
            )
            assert model.verify_tls is True, name  # on unless a connector says otherwise
        with capture_logs() as events, h.open_host(config, CLOCK):
            pass
        assert not [e for e in events if e["event"] == "http.tls_verification_disabled"]

        off = tmp_path / "off"
        off.mkdir()
        config = h.write_config(sandbox, off, connectors={"woocommerce": {"verify_tls": False}})
        with capture_logs() as events, h.open_host(config, CLOCK) as host:
            handles = {c.name: c for c in host.plugins.connectors()}
            assert handles["woocommerce"].settings.verify_tls is False  # type: ignore[union-attr]
            assert handles["shopify"].settings.verify_tls is True  # type: ignore[union-attr]
        warned = [e for e in events if e["event"] == "http.tls_verification_disabled"]
        assert warned and {e.get("connector") for e in warned} == {"woocommerce"}
        assert all(e["log_level"] == "warning" for e in warned)


# -- signatures --------------------------------------------------------------------------------

_SIGNATURE_WORDS = ("signature", "sig", "hmac", "mac")


def _mentions_signature(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        name = (
            sub.id
            if isinstance(sub, ast.Name)
            else sub.attr
            if isinstance(sub, ast.Attribute)
            else sub.value
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str)
            else None
        )
        if name is None:
            continue
        words = name.lower().replace("-", "_").split("_")
        if "method" in words:  # "oauth_signature_method": a name, not a signature
            return False
        if any(w in words for w in _SIGNATURE_WORDS):
            return True
    return False


def plain_signature_comparisons(source: str) -> list[int]:
    """Lines where a signature, digest or MAC is compared with ``==``/``!=`` (not in constant
    time). A comparison with a string literal (a key's name, a method's name) is not one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        sides = [node.left, *node.comparators]
        if any(isinstance(s, ast.Constant) for s in sides):
            continue
        if any(_mentions_signature(s) for s in sides):
            found.append(node.lineno)
    return found


def python_sources() -> list[Path]:
    return sorted(p for folder in ("core", "plugins") for p in (ROOT / folder).rglob("*.py"))


def test_the_checker_finds_a_plain_signature_comparison() -> None:
    assert plain_signature_comparisons("ok = given_signature == expected_sig\n") == [1]
    assert plain_signature_comparisons("ok = mac != request.headers['X-Hmac']\n") == [1]
    assert plain_signature_comparisons("ok = hmac.compare_digest(sig, expected)\n") == []
    assert plain_signature_comparisons("ok = key != 'oauth_signature'\n") == []


def test_signatures_are_compared_in_constant_time_everywhere() -> None:
    # serialsync receives no webhooks yet, so no platform's signature is checked on the way
    # in; the fakes and the OAuth 1.0a code compute and check signatures. The day a webhook
    # receiver (or anything else) compares one with ==, this fails.
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in python_sources()
        if (lines := plain_signature_comparisons(path.read_text()))
    }
    assert offenders == {}, "compare signatures with hmac.compare_digest: " + str(offenders)
    users = [p for p in python_sources() if "hmac.new(" in p.read_text()]
    assert users, "the OAuth 1.0a signers use hmac: the scan must see them"


def test_every_webhook_receiver_refuses_a_forged_or_missing_signature() -> None:
    # Every channel plugin that verifies webhooks, built against its own fake's settings: a
    # delivery without a signature, or signed with another key, is refused before anything in
    # it is read. (The scan above keeps the comparison constant-time.)
    from pydantic import SecretStr
    from serialsync import WebhookSignatureError, hmac_sha256_base64
    from serialsync.manager import PluginManager

    manager = PluginManager()
    body = json.dumps({"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1"}).encode()
    forged = hmac_sha256_base64("not the secret", body)
    checked = []
    for name, ctype in sorted(manager.connector_types.items()):
        if ctype.fake is None:
            continue
        fake = ctype.fake()
        settings = fake.connector_settings("http://127.0.0.1:9")
        manager.add_connector(name, name, settings)
        if not manager.implements(name, "verify_webhook"):
            continue
        secret = SecretStr("the real secret of this connector")
        for headers in (
            {},
            {name: forged for name in _SIGNATURE_HEADERS},
        ):
            with pytest.raises(WebhookSignatureError):
                manager.verify_webhook(name, headers, body, secret)
        checked.append(name)
    manager.close()
    assert "shopify" in checked


_SIGNATURE_HEADERS = (
    "x-shopify-hmac-sha256",
    "x-wc-webhook-signature",
    "x-serialsync-webhook-secret",
)


def test_no_code_turns_tls_verification_off_by_itself() -> None:
    # Only a connector's own ``verify_tls = false`` may: a client made with verify=False (or
    # an SSL context without certificate checks) anywhere else would bypass the warning above.
    offenders = []
    for path in python_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "verify"
                and isinstance(node.value, ast.Constant)
                and node.value.value is False
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in (
                "CERT_NONE",
                "_create_unverified_context",
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


# -- customer personal data --------------------------------------------------------------------

#: One customer, as a platform might echo her in an error body.
CUSTOMER = {
    "first": "Philippa",
    "last": "Quarrington",
    "email": "philippa.q@example.org",
    "phone": "+44 20 7946 0958",
    "street": "17 Larkspur Lane",
    "postcode": "GL20 5PT",
}


def _json_answer(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def _echoing_errors() -> dict[str, tuple[Callable[[httpx.Request], bool], httpx.Response]]:
    """Per platform: which request to refuse, and the refusal, echoing the customer in the
    platform's own error shape (a 4xx quoting the billing address of the order it choked on)."""
    c = CUSTOMER
    return {
        "bigcommerce": (
            lambda r: r.method == "GET" and r.url.path.endswith("/v2/orders"),
            _json_answer(
                422,
                {
                    "status": 422,
                    "title": "The order could not be read",
                    "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
                    "errors": {
                        "billing_address": {
                            "first_name": c["first"],
                            "last_name": c["last"],
                            "street_1": c["street"],
                            "zip": c["postcode"],
                            "email": c["email"],
                            "phone": c["phone"],
                        }
                    },
                },
            ),
        ),
        "woocommerce": (
            lambda r: r.method == "GET" and r.url.path.endswith("/orders"),
            _json_answer(
                400,
                {
                    "code": "woocommerce_rest_shop_order_invalid",
                    "message": f"Invalid order for {c['email']}",
                    "data": {
                        "status": 400,
                        "billing": {
                            "first_name": c["first"],
                            "last_name": c["last"],
                            "address_1": c["street"],
                            "postcode": c["postcode"],
                            "phone": c["phone"],
                        },
                    },
                },
            ),
        ),
        "magento": (
            lambda r: r.method == "GET" and "/V1/orders" in r.url.path,
            _json_answer(
                400,
                {
                    "message": 'The order of "%1" (phone "%2") could not be loaded.',
                    "parameters": [c["email"], c["phone"]],
                },
            ),
        ),
        "shopify": (
            lambda r: b"OrdersPage" in r.content,
            _json_answer(
                400,
                {
                    "errors": [
                        {
                            "message": "Order could not be loaded",
                            "extensions": {
                                "code": "BAD_REQUEST",
                                "customer": {
                                    "firstName": c["first"],
                                    "lastName": c["last"],
                                    "email": c["email"],
                                    "phone": c["phone"],
                                },
                                "shippingAddress": {
                                    "address1": c["street"],
                                    "zip": c["postcode"],
                                },
                            },
                        }
                    ]
                },
            ),
        ),
        h.POS: (
            lambda r: r.method == "POST" and r.url.path.lower().endswith("/customerorders"),
            # AIM refuses in-band: HTTP 200 and a failed Status.
            _json_answer(
                200,
                {
                    "Status": {
                        "StatusCode": "Failed",
                        "ErrorCode": "CustomerInvalid",
                        "ErrorMessage": f"Customer {c['email']} (phone {c['phone']}) is on hold.",
                    }
                },
            ),
        ),
    }


def refuse_with_personal_data(sandbox: Sandbox, names: Iterable[str]) -> None:
    """Make each named fake answer its chosen request with its echoing error, from now on."""
    errors = _echoing_errors()
    for name in names:
        fake = sandbox.fakes[name]
        wanted, answer = errors[name]
        handle = fake.handle

        def refusing(
            request: httpx.Request,
            handle: Callable[[httpx.Request], httpx.Response] = handle,
            wanted: Callable[[httpx.Request], bool] = wanted,
            answer: httpx.Response = answer,
        ) -> httpx.Response:
            if wanted(request):
                return httpx.Response(
                    answer.status_code, content=answer.content, headers=answer.headers
                )
            return handle(request)

        fake.handle = refusing  # type: ignore[method-assign]


def personal_data_in(texts: Iterable[str]) -> list[tuple[str, str]]:
    """``(what, where)`` for every piece of the customer found in ``texts``."""
    found = []
    for text in texts:
        for what, value in CUSTOMER.items():
            for form in {value, urllib.parse.quote(value, safe=""), json.dumps(value)[1:-1]}:
                if form in text:
                    at = text.index(form)
                    found.append((what, text[max(0, at - 80) : at + 40]))
    return found


def test_the_personal_data_finder_finds_what_it_looks_for() -> None:
    assert personal_data_in(["billing: 17 Larkspur Lane"]) == [
        ("street", "billing: 17 Larkspur Lane")
    ]
    assert personal_data_in(["mail=philippa.q%40example.org"])
    assert personal_data_in(["first_name: *** last_name: ***"]) == []


def test_no_customer_personal_data_reaches_an_error_a_log_run_json_or_the_runs_table(
    tmp_path,
) -> None:
    seed = h.seed()
    catalogue = h.catalogue(skus=2, units=6, seed=seed)
    units = [u for p in catalogue for u in p.units]
    clock = h.VirtualTime()
    with Sandbox(catalogue=catalogue, seed=seed, plugins=h.sandbox_plugins(clock)) as sandbox:
        config = h.write_config(sandbox, tmp_path)
        texts: list[str] = []
        with capture_logs() as events, h.open_host(config, clock) as host:
            h.run_until_quiet(host, sandbox, max_passes=10)
            # The POS refuses a sale, quoting the customer; then every channel refuses its
            # order read, quoting the customer of the order it choked on.
            refuse_with_personal_data(sandbox, [h.POS])
            sandbox.channel_fakes()["shopify"].create_order([(units[0].integration_id, 1)])
            summaries = [host.run_once()]
            refuse_with_personal_data(sandbox, h.CHANNELS)
            summaries.append(host.run_once())
            errors = [e for s in summaries for c in s.connectors.values() for e in c.errors]
            texts += errors + [json.dumps(s.as_dict()) for s in summaries]
            for channel in h.CHANNELS:
                try:
                    host.plugins.fetch_orders(channel, None, None)
                except Exception as exc:
                    texts += [str(exc), repr(exc)]
                else:
                    pytest.fail(f"{channel}: the refused order read must raise")
        texts += [json.dumps(e, default=str) for e in events]
        tables = h.dump_tables(tmp_path / "state.db")
        runs = tables["runs"]
        texts += [str(value) for row in runs for value in row]
        # The refused sale's error, as `sales list` shows it.
        texts += [
            str(value) for row in tables["outbox"] for value in row if "refused" in str(value)
        ]
        cli = cli_run_json(config)
        texts += cli

        # The refusals did reach every exit, with the customer masked.
        for channel in h.CHANNELS:
            failed = [s.connectors[channel].errors for s in summaries]
            assert failed[-1], f"{channel}: the refused read must be an error of the pass"
        refusal = [e for e in events if e.get("pos") == h.POS and "error" in e]
        assert refusal and "on hold" in str(refusal), "the POS's refusal must be logged"
        assert any("could not be read" in t for t in texts)  # BigCommerce's title
        assert any("***" in t for t in errors)
        assert runs, "every pass is recorded in the runs table"
        assert any('"ok": false' in line for line in cli), cli
        assert personal_data_in(texts) == []


def cli_run_json(config: Path) -> list[str]:
    """What ``run --once --json`` prints (pass records on stdout, JSON log lines on stderr)."""
    from serialsync.cli import app
    from typer.testing import CliRunner

    text = config.read_text()
    if "[log]" not in text:
        text = text.replace("[store]\n", '[log]\nlevel = "debug"\nformat = "json"\n\n[store]\n', 1)
        config.write_text(text)
    try:
        result = CliRunner().invoke(app, ["run", "--once", "--json", "--config", str(config)])
    finally:
        structlog.reset_defaults()
    assert result.exit_code in (0, 1), (result.output, result.exception)
    assert result.stdout.strip(), "run --json prints its pass records"
    return [result.stdout, result.stderr]
