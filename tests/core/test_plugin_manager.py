"""Plugin manager: discovery by entry point, broken plugins skipped, hooks reach one connector."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from serialsync import (
    ConfigurationError,
    ConnectorContext,
    ConnectorSettings,
    ConnectorType,
    ConnectorTypeRegistrar,
    InventoryPage,
    OrdersPage,
    PluginError,
    Role,
    hookimpl,
)
from serialsync.manager import DISABLE_AUTOLOAD_ENV, LoadedPlugin, PluginManager
from serialsync.redaction import redact_event
from serialsync.settings import load_settings

_unique = itertools.count()

# A third-party plugin, as its author would write it: one module, one connector type.
ECHO_PLUGIN = """
from serialsync import ConnectorSettings, ConnectorType, OrdersPage, Role, hookimpl


class EchoSettings(ConnectorSettings):
    greeting: str = "hello"


class EchoConnector:
    def __init__(self, settings, context):
        self.name = context.name
        self.settings = settings
        self.calls = []

    @hookimpl
    def check_connection(self, connector):
        self.calls.append(("check_connection", connector))
        return f"{self.settings.greeting} from {self.name}"

    @hookimpl
    def fetch_orders(self, connector, since, page):
        self.calls.append(("fetch_orders", connector))
        return OrdersPage(next_page=f"{self.name}:{page}")


@hookimpl
def register_connector_types(registrar):
    registrar.add(ConnectorType(
        name="{type_name}", role=Role.{role}, settings_model=EchoSettings, factory=EchoConnector,
        description="echoes",
    ))
"""


class Dists:
    """Writes installed distributions (``*.dist-info`` with entry points) into a sys.path dir."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, ep_name: str, source: str, *, dist: str | None = None) -> str:
        """Install a distribution whose ``serialsync`` entry point ``ep_name`` is a new module."""
        module = f"sstest_{ep_name}_{next(_unique)}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        dist = dist or ep_name
        info = self.root / f"{dist}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[serialsync]\n{ep_name} = {module}\n", encoding="utf-8"
        )
        return module

    def echo(self, ep_name: str, type_name: str, role: str = "CHANNEL") -> str:
        source = ECHO_PLUGIN.replace("{type_name}", type_name).replace("{role}", role)
        return self.add(ep_name, source)


@pytest.fixture
def dists(tmp_path, monkeypatch) -> Dists:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))  # also invalidates importlib's caches
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    return Dists(root)


def only(*names: str) -> PluginManager:
    """A manager loading only these entry points (the first-party ones are left out)."""
    return PluginManager(allow=names)


# -- discovery ------------------------------------------------------------------------------


def test_plugin_registered_through_an_entry_point_builds_a_connector_and_answers(dists):
    module = dists.echo("myplug", "echo")
    manager = only("myplug")
    assert manager.broken == []
    assert manager.loaded == [LoadedPlugin("myplug", module, "myplug", "0.1")]
    assert manager.connector_types["echo"].plugin == "myplug"
    assert manager.connector_types["echo"].role is Role.CHANNEL
    assert manager.plugin_hooks("myplug") == ["register_connector_types"]

    handle = manager.add_connector("shop", "echo", {"greeting": "hi"})
    assert manager.check_connection("shop") == "hi from shop"
    assert manager.fetch_orders("shop", None, "p1") == OrdersPage(next_page="shop:p1")
    assert manager.plugin_hooks("shop") == ["check_connection", "fetch_orders"]
    assert handle.role is Role.CHANNEL


def test_first_party_plugins_are_declared_in_the_same_entry_point_group():
    import importlib.metadata

    names = {ep.name for ep in importlib.metadata.entry_points(group="serialsync")}
    assert {"aim_pos", "shopify", "bigcommerce", "woocommerce", "magento"} <= names


def test_plugin_failing_to_import_is_reported_and_the_host_goes_on(dists):
    dists.add("broken", "raise ImportError('needs libfoo 2')\n")
    dists.echo("good", "echo")
    manager = only("broken", "good")
    assert [(b.name, b.error) for b in manager.broken] == [
        ("broken", "ImportError: needs libfoo 2")
    ]
    assert manager.broken[0].target.startswith("sstest_broken_")
    assert [p.name for p in manager.loaded] == ["good"]
    manager.add_connector("shop", "echo", {})
    assert manager.check_connection("shop") == "hello from shop"


def test_plugin_with_a_syntax_error_is_reported(dists):
    dists.add("typo", "def register_connector_types(:\n")
    manager = only("typo")
    assert manager.broken[0].name == "typo"
    assert manager.broken[0].error.startswith("SyntaxError")


def test_plugin_whose_registration_raises_is_reported_and_unregistered(dists):
    dists.add(
        "explodes",
        """
        from serialsync import hookimpl

        @hookimpl
        def register_connector_types(registrar):
            raise RuntimeError("cannot reach licence server")
        """,
    )
    manager = only("explodes")
    assert [(b.name, b.error) for b in manager.broken] == [
        ("explodes", "RuntimeError: cannot reach licence server")
    ]
    assert not manager.pm.has_plugin("explodes")
    assert manager.loaded == []


def test_unknown_type_of_a_broken_plugin_hints_at_the_breakage(dists):
    dists.add("acmeshop", "raise ImportError('x')\n")
    manager = only("acmeshop")
    with pytest.raises(ConfigurationError, match=r"connectors\.main\.plugin: .*broken"):
        manager.add_connector("main", "acmeshop", {})


def test_duplicate_connector_type_from_a_second_plugin_is_reported_broken(dists):
    dists.echo("alpha", "shared")
    dists.echo("beta", "shared", role="POS")
    manager = only("alpha", "beta")
    # Both are broken (issue 21 #10): which would serve the type was an accident of order.
    assert [p.name for p in manager.loaded] == []
    assert sorted(b.name for b in manager.broken) == ["alpha", "beta"]
    for broken in manager.broken:
        assert "'shared'" in broken.error and "'alpha'" in broken.error
        assert "'beta'" in broken.error and "uninstall one" in broken.error
    assert "shared" not in manager.connector_types


def test_plugin_declaring_two_types_where_one_clashes_registers_neither(dists):
    dists.echo("alpha", "shared")
    dists.add(
        "beta",
        """
        from serialsync import ConnectorSettings, ConnectorType, Role, hookimpl

        @hookimpl
        def register_connector_types(registrar):
            for name in ("beta_own", "shared"):
                registrar.add(ConnectorType(name=name, role=Role.POS,
                              settings_model=ConnectorSettings, factory=object))
        """,
    )
    manager = only("alpha", "beta")
    assert sorted(b.name for b in manager.broken) == ["alpha", "beta"]
    assert "beta_own" not in manager.connector_types
    assert "shared" not in manager.connector_types


def test_disable_autoload_variable_turns_discovery_off(dists, monkeypatch):
    dists.echo("myplug", "echo")
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    manager = PluginManager()
    assert manager.loaded == []
    assert manager.connector_types == {}
    # Plugins handed over explicitly still register.
    manager = PluginManager(plugins={"inline": InlinePlugin()})
    assert [p.name for p in manager.loaded] == ["inline"]


def test_allow_list_loads_only_the_named_plugins(dists):
    dists.echo("one", "t1")
    dists.echo("two", "t2")
    manager = PluginManager(allow=["two"])
    assert [p.name for p in manager.loaded] == ["two"]
    assert set(manager.connector_types) == {"t2"}


def test_deny_list_keeps_a_plugin_out(dists):
    dists.echo("one", "t1")
    dists.echo("two", "t2")
    manager = PluginManager(allow=["one", "two"], deny=["one"])
    assert [p.name for p in manager.loaded] == ["two"]


def test_deny_list_alone_keeps_a_broken_plugin_from_loading(dists):
    dists.add("broken", "raise ImportError('x')\n")
    manager = PluginManager(deny=["broken"])
    assert "broken" not in [b.name for b in manager.broken]


# -- connectors and hook calls ---------------------------------------------------------------


class InlinePlugin:
    """A plugin object handed to the manager directly (as an embedding application would)."""

    @hookimpl
    def register_connector_types(self, registrar: ConnectorTypeRegistrar) -> None:
        registrar.add(
            ConnectorType(name="pos", role=Role.POS, settings_model=PosSettings, factory=Pos)
        )


class PosSettings(ConnectorSettings):
    password: SecretStr = SecretStr("")


class Pos:
    """A POS connector; ``answer`` lets a test make it return a wrong type."""

    def __init__(self, settings: PosSettings, context: ConnectorContext) -> None:
        self.name = context.name
        self.answer: object = InventoryPage()
        self.seen: list[str] = []

    @hookimpl
    def fetch_inventory(self, connector, since, page):
        self.seen.append(connector)
        return self.answer

    @hookimpl
    def check_connection(self, connector):
        return self.answer


def no_factory(settings: ConnectorSettings, context: ConnectorContext) -> object:
    raise AssertionError("connectors of this type are added as built instances")


CHANNEL_TYPE = ConnectorType(
    name="c", role=Role.CHANNEL, settings_model=ConnectorSettings, factory=no_factory
)


def manager_with_pos(*names: str) -> PluginManager:
    manager = PluginManager(load_entrypoints=False, plugins={"inline": InlinePlugin()})
    for name in names:
        manager.add_connector(name, "pos", {})
    return manager


def pos(manager: PluginManager, name: str) -> Pos:
    impl = manager.connector(name).impl
    assert isinstance(impl, Pos)
    return impl


def test_hook_call_reaches_only_the_named_connector():
    manager = manager_with_pos("north", "south")
    pos(manager, "north").answer = InventoryPage(next_page="north")
    pos(manager, "south").answer = InventoryPage(next_page="south")
    assert manager.fetch_inventory("south", None, None).next_page == "south"
    assert manager.fetch_inventory("north", None, None).next_page == "north"
    assert manager.fetch_inventory("south", None, None).next_page == "south"
    assert pos(manager, "north").seen == ["north"]
    assert pos(manager, "south").seen == ["south", "south"]


def test_connector_added_later_does_not_answer_for_an_earlier_one():
    manager = manager_with_pos("north")
    manager.fetch_inventory("north", None, None)  # caches the caller for north
    manager.add_connector("south", "pos", {})
    pos(manager, "south").answer = InventoryPage(next_page="south")
    assert manager.fetch_inventory("north", None, None).next_page is None
    assert pos(manager, "south").seen == []


class Observer:
    """A non-connector plugin wrapping a hook for every connector (an alerting plugin)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def fetch_inventory(self, connector: str) -> Generator[None, InventoryPage, InventoryPage]:
        page = yield
        self.seen.append(connector)
        return page.model_copy(update={"next_page": f"{page.next_page}+observed"})


def test_wrapper_from_a_non_connector_plugin_observes_every_connector():
    observer = Observer()
    manager = manager_with_pos("north", "south")
    manager.add_plugin(observer, name="observer")
    pos(manager, "north").answer = InventoryPage(next_page="n")
    pos(manager, "south").answer = InventoryPage(next_page="s")
    assert manager.fetch_inventory("north", None, None).next_page == "n+observed"
    assert manager.fetch_inventory("south", None, None).next_page == "s+observed"
    assert observer.seen == ["north", "south"]


@pytest.mark.parametrize("answer", [{"products": []}, OrdersPage(), "text"])
def test_hook_returning_the_wrong_type_raises_plugin_error(answer):
    manager = manager_with_pos("north")
    pos(manager, "north").answer = answer
    with pytest.raises(PluginError, match=r"'north': fetch_inventory returned .*InventoryPage"):
        manager.fetch_inventory("north", None, None)


def test_check_connection_returning_a_non_string_raises_plugin_error():
    manager = manager_with_pos("north")
    pos(manager, "north").answer = 42
    with pytest.raises(PluginError, match="check_connection"):
        manager.check_connection("north")


def test_hook_the_connector_does_not_implement_raises_plugin_error():
    manager = manager_with_pos("north")
    with pytest.raises(PluginError, match="does not implement fetch_orders"):
        manager.fetch_orders("north", datetime(2026, 1, 1, tzinfo=UTC), None)


def test_publish_variants_must_return_a_list_of_outcomes():
    class Channel:
        @hookimpl
        def publish_variants(self, connector, product, changes):
            return ("not", "a list")

    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("shop", CHANNEL_TYPE, Channel())
    with pytest.raises(PluginError, match="list of PublishOutcome"):
        manager.publish_variants("shop", None, [])  # type: ignore[arg-type]


def test_connector_may_bear_its_plugin_name():
    manager = PluginManager(load_entrypoints=False, plugins={"pos": InlinePlugin()})
    manager.add_connector("pos", "pos", {})
    assert manager.fetch_inventory("pos", None, None) == InventoryPage()
    assert manager.plugin_hooks("pos") == ["register_connector_types"]


def test_connector_names_are_unique():
    manager = manager_with_pos("north")
    with pytest.raises(ConfigurationError, match=r"connectors\.north: the name is already taken"):
        manager.add_connector("north", "pos", {})


def test_unknown_connector_type_lists_the_known_ones():
    manager = manager_with_pos()
    with pytest.raises(
        ConfigurationError, match=r"connectors\.x\.plugin: .*'nope'.*known types: pos"
    ):
        manager.add_connector("x", "nope", {})


def test_unknown_connector_name_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="no connector named 'ghost'"):
        manager_with_pos().fetch_inventory("ghost", None, None)


def test_connectors_are_listed_by_role():
    manager = manager_with_pos("north")
    manager.add_connector_instance(
        "shop",
        CHANNEL_TYPE,
        object(),
    )
    assert [h.name for h in manager.connectors()] == ["north", "shop"]
    assert [h.name for h in manager.connectors(Role.POS)] == ["north"]
    assert [h.name for h in manager.connectors(Role.CHANNEL)] == ["shop"]


def test_connector_secrets_are_registered_for_log_redaction():
    manager = manager_with_pos()
    manager.add_connector("north", "pos", {"password": "pos_password_917"})
    assert redact_event(None, "info", {"event": "login pos_password_917"}) == {"event": "login ***"}


class Typo:
    @hookimpl
    def fetch_inventories(self, connector):  # not a hook: fetch_inventory
        return InventoryPage()


class WrongArgument:
    @hookimpl
    def fetch_orders(self, connector, since, cursor):  # the spec says page, not cursor
        return OrdersPage()


@pytest.mark.parametrize(
    ("impl", "words"), [(Typo(), "unknown hook.*fetch_inventories;"), (WrongArgument(), "cursor")]
)
def test_connector_with_a_hook_the_spec_does_not_know_is_refused(impl, words):
    manager = PluginManager(load_entrypoints=False)
    with pytest.raises(PluginError, match=words):
        manager.add_connector_instance("shop", CHANNEL_TYPE, impl)
    assert manager.connectors() == []
    assert not manager.pm.is_registered(impl)


def test_plugin_with_an_unknown_hook_is_reported_broken():
    class Plugin:
        @hookimpl
        def register_conector_types(self, registrar):  # typo
            raise AssertionError("never called")

    manager = PluginManager(load_entrypoints=False)
    assert not manager.add_plugin(Plugin(), name="typo")
    assert "register_conector_types" in manager.broken[0].error
    assert not manager.pm.has_plugin("typo")


class FragilePos(Pos):
    def __init__(self, settings: PosSettings, context: ConnectorContext) -> None:
        raise ValueError(f"cannot parse host from {settings.password.get_secret_value()}")


def test_factory_failure_is_a_plugin_error_naming_the_connector_without_secrets():
    manager = PluginManager(load_entrypoints=False)
    ctype = ConnectorType(
        name="fragile", role=Role.POS, settings_model=PosSettings, factory=FragilePos
    )
    manager.connector_types["fragile"] = ctype
    with pytest.raises(PluginError, match=r"connector 'north' .*ValueError: cannot parse") as info:
        manager.add_connector("north", "fragile", {"password": "pw_very_secret_1"})
    assert "pw_very_secret_1" not in str(info.value)
    assert manager.connectors() == []


def test_allow_and_deny_lists_come_from_the_settings(dists, tmp_path, monkeypatch):
    dists.echo("one", "t1")
    dists.echo("two", "t2")
    dists.echo("three", "t3")
    config = tmp_path / "serialsync.toml"
    config.write_text('[plugins]\nallow = ["one", "two", "three"]\n', encoding="utf-8")
    monkeypatch.setenv("SERIALSYNC_PLUGINS__DENY", '["two"]')
    plugins = load_settings(config).plugins
    manager = PluginManager(allow=plugins.allow, deny=plugins.deny)
    assert [p.name for p in manager.loaded] == ["one", "three"]


def test_two_packages_under_one_plugin_name_are_both_broken(dists):
    # A generated serialsync_shopify installed beside the real plugin, both named "twin".
    dists.echo("twin", "twin")
    dists.add(
        "twin",
        ECHO_PLUGIN.replace("{type_name}", "twin").replace("{role}", "CHANNEL"),
        dist="serialsync_twin",
    )
    manager = only("twin")
    assert manager.loaded == []
    assert [b.name for b in manager.broken] == ["twin", "twin"]
    assert all("taken by more than one installed package" in b.error for b in manager.broken)
    with pytest.raises(ConfigurationError, match="installed but broken"):
        manager.add_connector("shop", "twin", {})


def test_a_plugin_left_out_by_allow_or_deny_is_named_as_excluded(dists):
    dists.echo("one", "one")
    dists.echo("two", "two")
    manager = PluginManager(allow=["one"])
    assert manager.excluded["two"] == "not allowed by [plugins] allow"
    with pytest.raises(
        ConfigurationError, match=r"two is installed but not allowed by \[plugins\] allow"
    ):
        manager.add_connector("shop", "two", {})
    denied = PluginManager(allow=["one", "two"], deny=["two"])
    with pytest.raises(
        ConfigurationError, match=r"two is installed but denied by \[plugins\] deny"
    ):
        denied.add_connector("shop", "two", {})
