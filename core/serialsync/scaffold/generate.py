"""Write a new plugin package from the template kept beside this module.

The template lives in ``template/`` as package data: ``common/`` for every plugin, and
``channel/`` or ``pos/`` for one role (a role's file wins over a common one of the same path).
Every file ends in ``.tmpl`` so that no tool mistakes it for part of serialsync (ruff, mypy and
pytest skip it); the suffix is dropped when the file is written. ``{{placeholder}}`` names are
replaced by :func:`plugin_names`; a directory named ``__package__`` becomes the import package.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from dataclasses import asdict, dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Literal

from serialsync.errors import SerialsyncError

SUFFIX = ".tmpl"
PACKAGE_DIR = "__package__"
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

Role = Literal["channel", "pos"]


class ScaffoldError(SerialsyncError):
    """The plugin cannot be generated as asked (a bad name, an existing folder)."""


@dataclass(frozen=True)
class PluginNames:
    """Every spelling of a plugin's name the template uses."""

    #: The connector type name and entry-point name: ``acme_shop``.
    name: str
    #: The distribution: ``serialsync-acme-shop``.
    dist: str
    #: The import package: ``serialsync_acme_shop``.
    package: str
    #: The class-name stem: ``AcmeShop``.
    Class: str
    #: ``channel`` or ``pos``.
    role: str
    #: The :class:`serialsync.Role` member: ``CHANNEL`` or ``POS``.
    Role: str
    #: The serialsync version the plugin is written against (its lowest dependency).
    serialsync_version: str


def plugin_names(name: str, role: Role = "channel") -> PluginNames:
    """The spellings of ``name`` (lower case letters, digits, ``_`` or ``-``), checked."""
    if not _NAME.match(name):
        raise ScaffoldError(
            f"plugin name {name!r} must be lower case letters and digits, words joined by "
            "'_' or '-', starting with a letter (for example 'acme' or 'acme_shop')"
        )
    if role not in ("channel", "pos"):
        raise ScaffoldError(f"role must be 'channel' or 'pos', not {role!r}")
    from serialsync import __version__

    snake = name.replace("-", "_")
    return PluginNames(
        name=snake,
        dist=f"serialsync-{snake.replace('_', '-')}",
        package=f"serialsync_{snake}",
        Class="".join(word.capitalize() for word in snake.split("_")),
        role=role,
        Role=role.upper(),
        serialsync_version=__version__,
    )


def new_plugin(name: str, destination: Path, *, role: Role = "channel") -> Path:
    """Write the plugin package ``serialsync-<name>/`` into ``destination``; return its path.

    The package is complete: ``pyproject.toml`` (entry point ``serialsync``), settings,
    client, hook implementations, an in-memory fake of a small JSON API, registration, and a
    test module running the conformance suite. Untouched, it installs and passes its tests.

    :param name: the connector type name (``acme`` gives ``serialsync_acme``).
    :param destination: an existing folder; the package folder must not exist in it yet.
    :param role: ``"channel"`` (a web shop) or ``"pos"`` (a point of sale).
    :raises ScaffoldError: for a bad name or role, or when the package folder exists.
    """
    names = plugin_names(name, role)
    holder = taken_by(names)
    if holder is not None:
        raise ScaffoldError(
            f"the name {names.name!r} is taken: {holder}; a second plugin under it would "
            "break both (choose another name, e.g. 'acme_" + names.name + "')"
        )
    target = Path(destination) / names.dist
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or folder")
    values = {key: str(value) for key, value in asdict(names).items()}
    files = template_files(role)
    rendered = {
        _output_path(relative, names.package): render(text, values)
        for relative, text in files.items()
    }
    for relative, text in sorted(rendered.items()):
        path = target.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def taken_by(names: PluginNames) -> str | None:
    """What already holds one of the plugin's names in this environment, said in words.

    An installed plugin's entry point, a connector type some plugin declares, or an importable
    package of the same name: a generated package under any of them would clash with it.
    """
    from serialsync.hookspecs import PROJECT_NAME
    from serialsync.manager import PluginManager

    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=PROJECT_NAME)}
    if names.name in points:
        return f"an installed plugin registers it ({points[names.name]})"
    types = PluginManager().connector_types
    if names.name in types:
        return f"the plugin {types[names.name].plugin!r} declares a connector type of that name"
    if importlib.util.find_spec(names.package) is not None:
        return f"the package {names.package} is importable here"
    return None


def next_steps(root: Path) -> str:
    """The ``next:`` line both scaffold commands print.

    The package is installed with the very Python that runs serialsync, so that serialsync
    itself comes from where it is installed now (a checkout, a wheel), not from an index.
    """
    python = sys.executable
    return f"next: cd {root} && {python} -m pip install -e '.[test]' && {python} -m pytest"


def template_files(role: Role) -> dict[PurePosixPath, str]:
    """The template's files for ``role``: relative path (with ``.tmpl``) → text."""
    root = resources.files("serialsync.scaffold").joinpath("template")
    files: dict[PurePosixPath, str] = {}
    for layer in ("common", role):
        for relative, entry in _walk(root.joinpath(layer), PurePosixPath()):
            files[relative] = entry.read_text(encoding="utf-8")
    return files


def _walk(folder: Traversable, prefix: PurePosixPath) -> list[tuple[PurePosixPath, Traversable]]:
    found: list[tuple[PurePosixPath, Traversable]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                found += _walk(entry, prefix / entry.name)
        elif entry.name.endswith(SUFFIX):
            found.append((prefix / entry.name, entry))
    return found


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with every ``{{key}}`` replaced; an unknown key is an error, not left behind."""

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ScaffoldError(f"the template names an unknown placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(substitute, text)


def _output_path(relative: PurePosixPath, package: str) -> PurePosixPath:
    parts = [package if part == PACKAGE_DIR else part for part in relative.parts]
    parts[-1] = parts[-1].removesuffix(SUFFIX)
    return PurePosixPath(*parts)
