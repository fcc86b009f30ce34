"""Settings: TOML < .env < environment < explicit, nesting, clear errors naming the key."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from serialsync import (
    ConfigurationError,
    ConnectorSettings,
    ConnectorType,
    ConnectorTypeRegistrar,
    Role,
    SerialPatternError,
    hookimpl,
)
from serialsync.manager import PluginManager
from serialsync.settings import ConnectorSection, Settings, load_settings

TOML = """\
[sync]
workers = 2
interval = "PT2M"

[store]
path = "state/serialsync.db"

[connectors.shop]
plugin = "shopify"
shop = "acme"
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No SERIALSYNC_* variable of the caller's shell, and an empty working folder."""
    for name in list(os.environ):
        if name.startswith("SERIALSYNC_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path):
    return write(tmp_path / "conf" / "serialsync.toml", TOML)


# -- precedence ---------------------------------------------------------------------------


def test_toml_file_alone(config):
    settings = load_settings(config)
    assert settings.sync.workers == 2
    assert settings.sync.interval == timedelta(minutes=2)
    assert settings.connectors["shop"].plugin == "shopify"


def test_dotenv_overrides_toml(config, clean_env):
    write(clean_env / ".env", "SERIALSYNC_SYNC__WORKERS=3\n")
    settings = load_settings(config)
    assert settings.sync.workers == 3
    assert settings.sync.interval == timedelta(minutes=2)  # merged, not replaced


def test_environment_overrides_dotenv_and_toml(config, clean_env, monkeypatch):
    write(clean_env / ".env", "SERIALSYNC_SYNC__WORKERS=3\n")
    monkeypatch.setenv("SERIALSYNC_SYNC__WORKERS", "4")
    settings = load_settings(config)
    assert settings.sync.workers == 4
    assert settings.sync.interval == timedelta(minutes=2)


def test_explicit_values_override_everything(config, clean_env, monkeypatch):
    write(clean_env / ".env", "SERIALSYNC_SYNC__WORKERS=3\n")
    monkeypatch.setenv("SERIALSYNC_SYNC__WORKERS", "4")
    settings = load_settings(config, sync={"workers": 5})
    assert settings.sync.workers == 5
    assert settings.sync.interval == timedelta(minutes=2)


def test_environment_nests_a_secret_into_a_toml_connector_section(config, monkeypatch):
    monkeypatch.setenv("SERIALSYNC_CONNECTORS__SHOP__ACCESS_TOKEN", "shpat_from_env")
    section = load_settings(config).connectors["shop"]
    assert section.plugin == "shopify"
    assert section.options(reveal_secrets=True) == {
        "shop": "acme",
        "access_token": "shpat_from_env",
    }


def test_dotenv_lines_of_other_tools_are_ignored(config, clean_env):
    write(
        clean_env / ".env",
        "DATABASE_URL=postgres://x\nSERIALSYNC_CONFIG=elsewhere.toml\nSERIALSYNC_SYNC__WORKERS=6\n",
    )
    assert load_settings(config).sync.workers == 6


def test_dotenv_typo_inside_a_section_is_still_refused(config, clean_env):
    write(clean_env / ".env", "SERIALSYNC_SYNC__WORKRS=6\n")
    with pytest.raises(ConfigurationError, match=r"sync\.workrs"):
        load_settings(config)


# -- finding the file ------------------------------------------------------------------------


def test_serialsync_config_variable_names_the_file(config, monkeypatch):
    monkeypatch.setenv("SERIALSYNC_CONFIG", str(config))
    assert load_settings().sync.workers == 2


def test_explicit_path_beats_serialsync_config(config, tmp_path, monkeypatch):
    other = write(tmp_path / "other.toml", "[sync]\nworkers = 9\n")
    monkeypatch.setenv("SERIALSYNC_CONFIG", str(config))
    assert load_settings(other).sync.workers == 9


def test_serialsync_toml_in_the_working_folder_is_found(clean_env):
    write(clean_env / "serialsync.toml", "[sync]\nworkers = 7\n")
    assert load_settings().sync.workers == 7


def test_no_file_at_all_gives_defaults():
    settings = load_settings()
    assert settings == Settings()
    assert settings.sync.workers == 4
    assert settings.connectors == {}


def test_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigurationError, match="does not exist") as info:
        load_settings(missing)
    assert str(missing) in str(info.value)


def test_serialsync_config_naming_a_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SERIALSYNC_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigurationError, match=r"gone\.toml does not exist"):
        load_settings()


# -- errors name the file, the line, the key ---------------------------------------------------


def test_invalid_toml_names_the_file_and_the_line(tmp_path):
    bad = write(tmp_path / "bad.toml", '[sync]\nworkers = 2\ninterval = "PT1M\n')
    with pytest.raises(ConfigurationError) as info:
        load_settings(bad)
    message = str(info.value)
    assert str(bad) in message
    assert "line 3" in message


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[sync]\nworkers = 0\n", "sync.workers"),
        ("[sync]\nworkers = 'many'\n", "sync.workers"),
        ("[sync]\nwokers = 2\n", "sync.wokers"),
        ("[sync]\nserial_pattern = '[A-Z'\n", "sync.serial_pattern"),
        ("[log]\nlevel = 'loud'\n", "log.level"),
        ("[connectors.shop]\nshop = 'acme'\n", "connectors.shop.plugin"),
        ("colour = 'blue'\n", "colour"),
    ],
)
def test_bad_value_names_the_full_key(tmp_path, toml, key):
    path = write(tmp_path / "serialsync.toml", toml)
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    message = str(info.value)
    assert f"{key}:" in message
    assert str(path) in message


def test_bad_environment_value_names_the_key(monkeypatch):
    monkeypatch.setenv("SERIALSYNC_SYNC__WORKERS", "99")
    with pytest.raises(ConfigurationError, match=r"sync\.workers: .*32"):
        load_settings()


# -- paths, reprs, serial rules --------------------------------------------------------------


def test_relative_store_path_is_resolved_against_the_config_folder(config, tmp_path):
    settings = load_settings(config)
    assert settings.store.path == (tmp_path / "conf" / "state" / "serialsync.db")
    assert settings.store.path.is_absolute()


def test_relative_config_path_still_gives_an_absolute_store_path(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("conf") / "serialsync.toml")
    assert settings.store.path == tmp_path / "conf" / "state" / "serialsync.db"


def test_absolute_store_path_is_kept(tmp_path):
    target = tmp_path / "elsewhere" / "s.db"
    path = write(tmp_path / "conf" / "serialsync.toml", f"[store]\npath = '{target}'\n")
    assert load_settings(path).store.path == target


def test_connector_section_repr_hides_its_options(config, monkeypatch):
    monkeypatch.setenv("SERIALSYNC_CONNECTORS__SHOP__ACCESS_TOKEN", "shpat_hidden_value")
    settings = load_settings(config)
    for shown in (repr(settings), repr(settings.connectors["shop"]), str(settings)):
        assert "shpat_hidden_value" not in shown
        assert "acme" not in shown
    assert "hidden" in repr(settings.connectors["shop"])


SECRET_TOML = """\
[connectors.shop]
plugin = "shopify"
shop = "acme"
access_token = "shpat_in_the_file_0001"
page_size = 25
verify_tls = false

[connectors.shop.keys]
eu = "key_eu_in_the_file"
"""


def every_way_out(settings: Settings) -> list[str]:
    """Every public way a caller can read the settings, as text."""
    section = settings.connectors["shop"]
    return [
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
        str(settings.model_dump(mode="json")),
        str(dict(settings)),
        str(list(settings)),
        str(vars(settings)),
        repr(section),
        str(section),
        str(section.model_dump()),
        section.model_dump_json(),
        str(section.model_extra),
        str(dict(section)),
        str(section.options()),
        str(settings.model_copy().model_dump()),
    ]


def test_settings_keep_secrets_masked_on_every_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("SERIALSYNC_CONNECTORS__SHOP__PASSWORD", "pw_from_the_environment")
    monkeypatch.setenv("SERIALSYNC_WEBHOOKS__SECRET", "whsec_master_secret")
    monkeypatch.setenv("SERIALSYNC_STORE__PASSWORD", "pg_store_password")
    settings = load_settings(write(tmp_path / "s.toml", SECRET_TOML))
    for shown in every_way_out(settings):
        for secret in (
            "shpat_in_the_file_0001",
            "key_eu_in_the_file",
            "pw_from_the",
            "whsec_master",
            "pg_store_pass",
        ):
            assert secret not in shown, shown
    dumped = settings.model_dump()["connectors"]["shop"]
    # The options' keys stay readable; the section is not validated yet, so only the plugin
    # knows which values are secret: every value is masked, a boolean tells nothing.
    assert dumped == {
        "plugin": "shopify",
        "enabled": True,
        "shop": "***",
        "access_token": "***",
        "password": "***",
        "page_size": "***",
        "verify_tls": False,
        "keys": {"eu": "***"},
    }
    assert not hasattr(settings.connectors["shop"], "access_token")


def test_secrets_come_out_only_when_the_caller_asks(tmp_path, monkeypatch):
    monkeypatch.setenv("SERIALSYNC_WEBHOOKS__SECRET", "whsec_master_secret")
    monkeypatch.setenv("SERIALSYNC_STORE__PASSWORD", "pg_store_password")
    settings = load_settings(write(tmp_path / "s.toml", SECRET_TOML))
    revealed = {"reveal_secrets": True}
    plain = settings.model_dump(context=revealed)
    assert plain["webhooks"]["secret"] == "whsec_master_secret"
    assert plain["store"]["password"] == "pg_store_password"
    assert "whsec_master_secret" in settings.model_dump_json(context=revealed)
    assert "pg_store_password" in settings.model_dump_json(context=revealed)
    plain = settings.model_dump(context=revealed)["connectors"]["shop"]
    assert plain["access_token"] == "shpat_in_the_file_0001"
    assert plain["keys"] == {"eu": "key_eu_in_the_file"}
    assert "shpat_in_the_file_0001" in settings.model_dump_json(context=revealed)
    options = settings.connectors["shop"].options(reveal_secrets=True)
    assert options["access_token"] == "shpat_in_the_file_0001"
    assert options["page_size"] == 25
    # What model_dump revealed loads back into the same settings.
    assert Settings.model_validate(settings.model_dump(context=revealed)) == settings


def test_masked_options_are_refused_by_the_connector_factory(config, monkeypatch):
    # A caller still relying on options() carrying the secrets would build a connector with
    # "***" as its token: it gets a clear error instead.
    monkeypatch.setenv("SERIALSYNC_CONNECTORS__SHOP__ACCESS_TOKEN", "shpat_from_env")
    section = load_settings(config).connectors["shop"]
    with pytest.raises(ConfigurationError, match="reveal_secrets=True"):
        manager_with_shop_type().add_connector("shop", section.plugin, section.options())


def test_plugin_settings_keep_secrets_masked_too():
    settings = ShopSettings(shop="acme", access_token=SecretStr("shpat_model_secret"))
    for shown in (
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
        str(settings.model_dump(mode="json")),
    ):
        assert "shpat_model_secret" not in shown


def test_connector_section_options_leave_out_plugin_and_enabled():
    section = ConnectorSection(plugin="shopify", enabled=False, shop="acme")
    assert section.options(reveal_secrets=True) == {"shop": "acme"}
    assert not section.enabled


def test_sync_serial_rules_come_from_settings(tmp_path):
    path = write(
        tmp_path / "s.toml", "[sync]\nserial_pattern = 'US[0-9]+'\nserial_profile = 'gs1'\n"
    )
    rules = load_settings(path).sync.serial_rules()
    rules.check("US123")
    with pytest.raises(SerialPatternError):
        rules.check("XX123")


# -- a connector section validated by its plugin's model --------------------------------------


class ShopSettings(ConnectorSettings):
    shop: str
    access_token: SecretStr


class Shop:
    def __init__(self, settings, context):
        self.settings = settings
        self.name = context.name


class ShopPlugin:
    @hookimpl
    def register_connector_types(self, registrar: ConnectorTypeRegistrar) -> None:
        registrar.add(
            ConnectorType(
                name="shopify", role=Role.CHANNEL, settings_model=ShopSettings, factory=Shop
            )
        )


def manager_with_shop_type() -> PluginManager:
    manager = PluginManager(load_entrypoints=False)
    assert manager.add_plugin(ShopPlugin(), name="shopify")
    return manager


def test_connector_section_is_validated_by_the_plugin_settings_model(config, monkeypatch):
    monkeypatch.setenv("SERIALSYNC_CONNECTORS__SHOP__ACCESS_TOKEN", "shpat_from_env")
    section = load_settings(config).connectors["shop"]
    manager = manager_with_shop_type()
    handle = manager.add_connector("shop", section.plugin, section.options(reveal_secrets=True))
    assert isinstance(handle.settings, ShopSettings)
    assert handle.settings.shop == "acme"
    assert handle.settings.access_token.get_secret_value() == "shpat_from_env"


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"shop": "acme"}, "connectors.shop.access_token"),
        ({"shop": "acme", "access_token": "t", "colour": "b"}, "connectors.shop.colour"),
        (
            {"shop": "acme", "access_token": "t", "retry": {"max_attempts": 0}},
            "connectors.shop.retry.max_attempts",
        ),
    ],
)
def test_invalid_connector_section_error_names_connectors_name_field(options, key):
    manager = manager_with_shop_type()
    with pytest.raises(ConfigurationError) as info:
        manager.add_connector("shop", "shopify", options)
    assert f"{key}:" in str(info.value)


@pytest.mark.parametrize("name", ["Shop", "my-shop", "1shop", "shop a"])
def test_connector_names_that_the_environment_cannot_carry_are_refused(tmp_path, name) -> None:
    config = tmp_path / "serialsync.toml"
    config.write_text(f'[connectors."{name}"]\nplugin = "shopify"\n')
    with pytest.raises(ConfigurationError, match="lower-case letters"):
        load_settings(config)
