"""``serialsync.scaffold.new_plugin``: the generated package is complete and passes its tests.

Fast tests generate into ``tmp_path`` and check the package in this interpreter (its files,
its pyproject, its plugin registered by the real plugin manager, its own test suite run with
``src`` on the path, ruff clean). The slow round trip does what a plugin author does: a fresh
virtual environment, ``pip install`` of serialsync from this checkout, the package generated
by that installed serialsync (so the template must ship in the wheel), ``pip install`` of the
generated packages, their tests, and the entry point found.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from serialsync import Role
from serialsync.manager import PluginManager
from serialsync.scaffold import ScaffoldError, new_plugin, plugin_names
from serialsync.testing import FakeChannel, FakePOS

REPO = Path(__file__).resolve().parents[2]

CHANNEL_FILES = {
    "pyproject.toml",
    "README.md",
    "src/serialsync_acme/__init__.py",
    "src/serialsync_acme/py.typed",
    "src/serialsync_acme/settings.py",
    "src/serialsync_acme/client.py",
    "src/serialsync_acme/ratelimit.py",
    "src/serialsync_acme/connector.py",
    "src/serialsync_acme/fake.py",
    "src/serialsync_acme/plugin.py",
    "tests/test_conformance.py",
    "tests/test_plugin.py",
}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def _summary(output: str) -> dict[str, int]:
    """Counts of pytest's last summary line (``12 passed, 1 failed in 0.5s``)."""
    lines = [line for line in output.splitlines() if re.search(r"\bin [\d.]+s\b", line)]
    if not lines:
        return {}
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", lines[-1])}


def _assert_passed(result: subprocess.CompletedProcess[str], at_least: int) -> None:
    output = result.stdout + result.stderr
    counts = _summary(output)
    failed = {k: v for k, v in counts.items() if k in {"failed", "error", "errors"} and v}
    assert result.returncode == 0 and not failed and counts.get("passed", 0) >= at_least, output


# -- names and refusals -------------------------------------------------------------------------


def test_names_are_spelt_for_each_use() -> None:
    names = plugin_names("acme-shop", "pos")
    assert names.name == "acme_shop"
    assert names.dist == "serialsync-acme-shop"
    assert names.package == "serialsync_acme_shop"
    assert names.Class == "AcmeShop"
    assert names.Role == "POS"


@pytest.mark.parametrize("bad", ["", "Acme", "1acme", "acme shop", "acme__shop", "acme-", "ac.me"])
def test_a_bad_name_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ScaffoldError, match="plugin name"):
        new_plugin(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="role"):
        new_plugin("acme", tmp_path, role="shop")  # type: ignore[arg-type]


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "serialsync-acme").mkdir()
    (tmp_path / "serialsync-acme" / "mine.txt").write_text("keep me")
    with pytest.raises(ScaffoldError, match="already exists"):
        new_plugin("acme", tmp_path)
    assert _files(tmp_path / "serialsync-acme") == {"mine.txt"}


def test_the_module_command_writes_a_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from serialsync.scaffold.__main__ import main

    assert main(["till", "--role", "pos", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "serialsync-till" / "src" / "serialsync_till" / "connector.py").exists()
    assert f"wrote {tmp_path / 'serialsync-till'}" in capsys.readouterr().out
    assert main(["till", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


# -- the generated package ----------------------------------------------------------------------


def test_a_channel_package_has_every_file_and_no_placeholder(tmp_path: Path) -> None:
    root = new_plugin("acme", tmp_path)
    assert root == tmp_path / "serialsync-acme"
    assert _files(root) == CHANNEL_FILES
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "{{" not in text, path
            assert "__package__" not in str(path)


def test_a_pos_package_has_the_pos_hooks(tmp_path: Path) -> None:
    root = new_plugin("till", tmp_path, role="pos")
    connector = (root / "src/serialsync_till/connector.py").read_text(encoding="utf-8")
    assert "def fetch_inventory(" in connector
    assert "def report_sale(" in connector
    assert "def publish_variants(" not in connector
    assert "class TestTillConformance(PosConformance)" in (
        root / "tests/test_conformance.py"
    ).read_text(encoding="utf-8")


def test_the_pyproject_declares_the_entry_point_and_the_dependency(tmp_path: Path) -> None:
    root = new_plugin("acme_shop", tmp_path)
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert project["project"]["name"] == "serialsync-acme-shop"
    assert project["project"]["entry-points"]["serialsync"] == {
        "acme_shop": "serialsync_acme_shop.plugin"
    }
    assert any(d.startswith("serialsync>=") for d in project["project"]["dependencies"])
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        "src/serialsync_acme_shop"
    ]


@pytest.mark.parametrize(
    ("name", "role", "fake_base", "expected_role"),
    [
        ("inproc_shop", "channel", FakeChannel, Role.CHANNEL),
        ("inproc_till", "pos", FakePOS, Role.POS),
    ],
)
def test_the_generated_plugin_registers_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name, role, fake_base, expected_role
) -> None:
    root = new_plugin(name, tmp_path, role=role)
    monkeypatch.syspath_prepend(str(root / "src"))
    package = f"serialsync_{name}"
    try:
        plugin = __import__(f"{package}.plugin", fromlist=["plugin"])
        manager = PluginManager(load_entrypoints=False, plugins={name: plugin})
        assert not manager.broken
        ctype = manager.connector_types[name]
        assert ctype.role == expected_role
        assert ctype.fake is not None
        fake = ctype.fake()
        assert isinstance(fake, fake_base)
        settings = ctype.settings_model.model_validate(fake.connector_settings("http://x.test"))
        assert settings.secret_values(), "the token must be a SecretStr"
        assert fake.token not in repr(settings)
    finally:
        for module in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[module]


def test_the_generated_packages_pass_their_own_tests(tmp_path: Path) -> None:
    # Both roles in one pytest process: its start-up is most of the time.
    shop = new_plugin("quick_shop", tmp_path)
    till = new_plugin("quick_till", tmp_path, role="pos")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(shop / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            str(shop / "tests"),
            str(till / "tests"),
        ],
        cwd=tmp_path,
        env=_clean_env(PYTHONPATH=os.pathsep.join([str(shop / "src"), str(till / "src")])),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # The conformance suite has 13 channel and 4 POS tests; each plugin adds 4 of its own.
    _assert_passed(result, at_least=25)


@pytest.mark.parametrize("role", ["channel", "pos"])
def test_the_generated_package_is_lint_clean(tmp_path: Path, role: str) -> None:
    root = new_plugin(f"tidy_{role}", tmp_path, role=role)  # type: ignore[arg-type]
    for command in (["format", "--check", "."], ["check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("role", ["channel", "pos"])
def test_the_generated_package_type_checks_strictly(tmp_path: Path, role: str) -> None:
    root = new_plugin(f"typed_{role}", tmp_path, role=role)  # type: ignore[arg-type]
    cache = str(tmp_path / "mypy-cache")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache, "src", "tests"],
        cwd=root,
        env=_clean_env(MYPYPATH=str(root / "src")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the round trip -----------------------------------------------------------------------------


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_template_round_trip_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    started = time.monotonic()
    venv = tmp_path / "venv"
    _ok(_run([sys.executable, "-m", "venv", str(venv)], tmp_path))
    python = str(venv / "bin" / "python")
    # serialsync from this checkout, as a wheel (not editable): the template must ship in it.
    _ok(_run([python, "-m", "pip", "install", "-q", str(REPO)], tmp_path))
    generate = (
        "import sys; from pathlib import Path; from serialsync.scaffold import new_plugin; "
        "new_plugin('roundtrip', Path(sys.argv[1])); "
        "new_plugin('roundtrip_till', Path(sys.argv[1]), role='pos')"
    )
    _ok(_run([python, "-c", generate, str(tmp_path)], tmp_path))
    shop, till = tmp_path / "serialsync-roundtrip", tmp_path / "serialsync-roundtrip-till"
    _ok(_run([python, "-m", "pip", "install", "-q", f"{shop}[test]", f"{till}[test]"], tmp_path))
    installed = time.monotonic() - started

    found = _ok(
        _run(
            [
                python,
                "-c",
                "import json; from serialsync.manager import PluginManager; m = PluginManager(); "
                "types = {n: t.role.value for n, t in m.connector_types.items()}; "
                "print(json.dumps({'types': types, 'broken': [b.error for b in m.broken]}))",
            ],
            tmp_path,
        )
    )
    plugins = json.loads(found.stdout.strip().splitlines()[-1])
    assert plugins["broken"] == []
    assert plugins["types"]["roundtrip"] == "channel"
    assert plugins["types"]["roundtrip_till"] == "pos"

    # Everything comes from the environment's site-packages: serialsync's wheel (the template
    # shipped in it, or the packages above could not have been generated) and the plugins.
    where = _ok(
        _run(
            [
                python,
                "-c",
                "import serialsync.scaffold, serialsync_roundtrip, serialsync_roundtrip_till; "
                "print(serialsync.scaffold.__file__); print(serialsync_roundtrip.__file__); "
                "print(serialsync_roundtrip_till.__file__)",
            ],
            tmp_path,
        )
    )
    for line in where.stdout.split():
        assert f"{venv}{os.sep}lib" in line and "site-packages" in line, where.stdout

    for root, at_least in ((shop, 17), (till, 8)):
        result = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], root)
        _assert_passed(result, at_least)
    print(f"round trip: {installed:.1f}s to install, {time.monotonic() - started:.1f}s in all")
