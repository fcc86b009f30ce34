"""The generated parts of ``docs/plugin-authors.md``: the hook reference and the model tables.

The guide keeps each generated part between two markers::

    <!-- BEGIN GENERATED: hooks -->
    ...
    <!-- END GENERATED: hooks -->

``python -m serialsync.scaffold.docs docs/plugin-authors.md`` rewrites them from
:mod:`serialsync.hookspecs` and :mod:`serialsync.model`; with ``--check`` it only says whether
the file is up to date (exit status 1 when not), which is what the docs test asks too.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from serialsync import hookspecs, model

_MARKER = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>\w+) -->\n)(?P<body>.*?)(<!-- END GENERATED: (?P=name) -->)",
    re.DOTALL,
)
_MODULE_PATH = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+([A-Za-z_]\w*)")


@dataclass(frozen=True)
class HookDoc:
    """One hook specification as the guide shows it."""

    name: str
    signature: str
    options: dict[str, Any]
    docstring: str

    @property
    def decorator(self) -> str:
        """``@hookspec`` with the options that are set (``firstresult=True``)."""
        chosen = [f"{key}={value!r}" for key, value in self.options.items() if value]
        return f"@hookspec({', '.join(chosen)})" if chosen else "@hookspec"


class _Source(str):
    """An annotation kept as its source text: ``inspect`` shows it without quotes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def signature_of(function: Callable[..., Any]) -> str:
    """``name(arg: type, ...) -> type`` as :func:`inspect.signature` renders it.

    The hookspecs module postpones annotations, so each one is the text of the source; it is
    shown as written (``datetime | None``), not quoted.
    """
    signature = inspect.signature(function)
    parameters = [
        p.replace(annotation=_Source(p.annotation)) if isinstance(p.annotation, str) else p
        for p in signature.parameters.values()
    ]
    returns = signature.return_annotation
    if isinstance(returns, str):
        returns = _Source(returns)
    return (
        f"{function.__name__}{signature.replace(parameters=parameters, return_annotation=returns)}"
    )


def hook_specs() -> list[HookDoc]:
    """Every hook specification of :mod:`serialsync.hookspecs`, in the order of the source."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    found = [
        (inspect.getsourcelines(function)[1], name, function)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    ]
    return [
        HookDoc(
            name=name,
            signature=signature_of(function),
            options=dict(getattr(function, marker)),
            docstring=inspect.getdoc(function) or "",
        )
        for _, name, function in sorted(found)
    ]


def hook_reference() -> str:
    """The hook reference: each spec's decorator, signature and whole docstring."""
    parts = []
    for hook in hook_specs():
        parts.append(
            f"### `{hook.name}`\n\n"
            f"```python\n{hook.decorator}\ndef {hook.signature}\n```\n\n"
            f"```rst\n{hook.docstring}\n```\n"
        )
    return "\n".join(parts)


def type_text(annotation: Any) -> str:
    """A readable type: ``tuple[SerializedUnit, ...]``, ``str | None``, ``Decimal``."""
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    return _MODULE_PATH.sub(r"\1", repr(annotation))


def _default_text(field: Any) -> str:
    if field.default_factory is not None:
        return f"`{field.default_factory()!r}`"
    if field.default is PydanticUndefined:
        return "required"
    value = field.default
    if isinstance(value, frozenset):
        # A set's order changes from one process to the next: the guide lists it sorted.
        items = sorted(v.value if isinstance(v, enum.Enum) else v for v in value)
        return f"`frozenset({items!r})`"
    return f"`{value.value!r}`" if isinstance(value, enum.Enum) else f"`{value!r}`"


def _summary(obj: object) -> str:
    return (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ")


def model_reference() -> str:
    """Tables of the canonical model: each model's fields, each enum's values."""
    parts = []
    for name in model.__all__:
        obj = getattr(model, name)
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            rows = [
                f"| `{field}` | `{type_text(info.annotation).replace('|', chr(92) + '|')}` "
                f"| {_default_text(info)} |"
                for field, info in obj.model_fields.items()
            ]
            table = "| field | type | default |\n|---|---|---|\n" + "\n".join(rows)
            parts.append(f"#### `{name}`\n\n{_summary(obj)}\n\n{table}\n")
        elif isinstance(obj, type) and issubclass(obj, enum.Enum):
            values = ", ".join(f"`{member.value}`" for member in obj)
            parts.append(f"#### `{name}`\n\n{_summary(obj)}\n\nValues: {values}.\n")
    return "\n".join(parts)


def conformance_reference() -> str:
    """The conformance suite's checks, one line per test, for each base class."""
    # Imported here: the suite needs pytest, which rendering the other sections does not.
    from serialsync.testing import conformance

    parts = []
    for cls in (conformance.ChannelConformance, conformance.PosConformance):
        tests = [name for name in dir(cls) if name.startswith("test_")]
        ordered = sorted(tests, key=lambda name: inspect.getsourcelines(getattr(cls, name))[1])
        lines = "\n".join(f"* `{name}`" for name in ordered)
        parts.append(f"`{cls.__name__}` ({len(ordered)} tests):\n\n{lines}\n")
    return "\n".join(parts)


GENERATORS: dict[str, Callable[[], str]] = {
    "hooks": hook_reference,
    "models": model_reference,
    "conformance": conformance_reference,
}


def update_guide(text: str) -> str:
    """``text`` with every generated section rewritten; an unknown section is an error."""

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise ValueError(f"unknown generated section {name!r}")
        return f"{match.group(1)}\n{GENERATORS[name]()}\n{match.group(4)}"

    return _MARKER.sub(fill, text)


def generated_sections(text: str) -> dict[str, str]:
    """The generated sections of a guide, by name."""
    return {m.group("name"): m.group("body") for m in _MARKER.finditer(text)}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m serialsync.scaffold.docs [--check] GUIDE``."""
    parser = argparse.ArgumentParser(prog="python -m serialsync.scaffold.docs")
    parser.add_argument("guide", type=Path, help="the guide, e.g. docs/plugin-authors.md")
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    text = args.guide.read_text(encoding="utf-8")
    updated = update_guide(text)
    if args.check:
        if updated != text:
            print(f"{args.guide} is out of date; run without --check to rewrite it")
            return 1
        return 0
    if updated != text:
        args.guide.write_text(updated, encoding="utf-8")
        print(f"rewrote {args.guide}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
