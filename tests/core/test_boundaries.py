"""The house's import rules, read from the source with ``ast`` (nothing is imported).

* nothing in ``core/`` imports a plugin (``serialsync_*``);
* no plugin imports another plugin;
* a plugin imports only the public names of ``serialsync`` (``serialsync.__all__``) and of
  ``serialsync.testing`` (its ``__all__``: the fake base classes).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
import serialsync
import serialsync.testing

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core" / "serialsync"
PLUGIN_PACKAGES = sorted(p for p in (ROOT / "plugins").glob("*/serialsync_*") if p.is_dir())
PUBLIC = {
    "serialsync": set(serialsync.__all__),
    "serialsync.testing": set(serialsync.testing.__all__),
}


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def imports(source: str) -> Iterator[tuple[int, str, str | None]]:
    """``(line, module, name)`` for every absolute import; ``name`` is None for ``import m``.

    ``importlib.import_module("m")`` and ``__import__("m")`` with a literal count as imports.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, node.module, alias.name
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value, None


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def serialsync_attribute_uses(source: str) -> Iterator[tuple[int, str]]:
    """``(line, attribute)`` for ``serialsync.X`` after a plain ``import serialsync``."""
    tree = ast.parse(source)
    bound = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "serialsync"
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not isinstance(node.value, ast.Name):
            continue
        if node.value.id in bound:
            yield node.lineno, node.attr


def top_package(module: str) -> str:
    return module.split(".", 1)[0]


def core_violations(files: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in files:
        for line, module, _ in imports(path.read_text(encoding="utf-8")):
            if top_package(module).startswith("serialsync_"):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def plugin_violations(package: Path, root: Path = ROOT) -> list[str]:
    """Every broken rule in one plugin package, as ``file:line what``, in file then line order."""
    own = package.name
    found = []
    for path in python_files(package):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(root)
        for line, module, name in imports(source):
            top = top_package(module)
            if top.startswith("serialsync_") and top != own:
                found.append(f"{where}:{line} imports another plugin: {module}")
            elif top == "serialsync":
                if module not in PUBLIC:
                    found.append(f"{where}:{line} imports private module {module}")
                elif name is not None and name != "*" and name not in PUBLIC[module]:
                    found.append(f"{where}:{line} imports private name {module}.{name}")
        for line, attr in serialsync_attribute_uses(source):
            if attr not in PUBLIC["serialsync"] and attr != "testing":
                found.append(f"{where}:{line} uses private serialsync.{attr}")
    return sorted(found, key=lambda v: (v.split(":")[0], int(v.split(":")[1].split(" ")[0])))


# -- the rules, on the real tree ---------------------------------------------------------------


def test_there_is_code_to_check():
    assert len(python_files(CORE)) > 5
    assert {p.name for p in PLUGIN_PACKAGES} >= {
        "serialsync_aim_pos",
        "serialsync_shopify",
        "serialsync_bigcommerce",
        "serialsync_woocommerce",
        "serialsync_magento",
    }


def test_core_imports_no_plugin():
    assert core_violations(python_files(CORE)) == []


@pytest.mark.parametrize("package", PLUGIN_PACKAGES, ids=lambda p: p.name)
def test_plugin_imports_no_other_plugin_and_only_public_serialsync(package):
    assert plugin_violations(package) == []


# -- the checker itself catches what it must ----------------------------------------------------


BAD_PLUGIN = """
import serialsync
import serialsync_shopify.client
from serialsync import ConnectorSettings, hookimpl
from serialsync import format_validation_error
from serialsync.http import parse_retry_after
from serialsync.testing import FakeChannel
from serialsync.testing.fake import _json
from serialsync_magento import mapping
from serialsync_bigcommerce.client import chunks
from . import helpers
import importlib
importlib.import_module("serialsync_aim_pos.fake")

x = serialsync.Role.POS
y = serialsync.manager.PluginManager
"""


def test_checker_flags_every_kind_of_violation(tmp_path):
    package = tmp_path / "serialsync_bigcommerce"
    package.mkdir()
    (package / "bad.py").write_text(BAD_PLUGIN, encoding="utf-8")
    found = [v.split(" ", 1)[1] for v in plugin_violations(package, tmp_path)]
    assert found == [
        "imports another plugin: serialsync_shopify.client",
        "imports private name serialsync.format_validation_error",
        "imports private module serialsync.http",
        "imports private module serialsync.testing.fake",
        "imports another plugin: serialsync_magento",
        "imports another plugin: serialsync_aim_pos.fake",
        "uses private serialsync.manager",
    ]


def test_checker_flags_a_core_module_importing_a_plugin(tmp_path):
    bad = tmp_path / "engine.py"
    bad.write_text("def f():\n    from serialsync_shopify import plugin\n", encoding="utf-8")
    assert [v.split(" ", 1)[1] for v in core_violations([bad], tmp_path)] == [
        "imports serialsync_shopify"
    ]
