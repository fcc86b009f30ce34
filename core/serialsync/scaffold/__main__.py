"""``python -m serialsync.scaffold NAME [--role channel|pos] [--dir DIR]``: write a plugin.

The same as ``serialsync new-plugin``, for when only the library is at hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from serialsync.scaffold.generate import ScaffoldError, new_plugin, next_steps


def main(argv: Sequence[str] | None = None) -> int:
    """Write the package; print where, and what to do next. Exit status 2 on a bad request."""
    parser = argparse.ArgumentParser(
        prog="python -m serialsync.scaffold", description="Write a new serialsync plugin package."
    )
    parser.add_argument("name", help="the connector type name, e.g. acme or acme_shop")
    parser.add_argument("--role", choices=("channel", "pos"), default="channel")
    # --dir as `serialsync new-plugin` spells it; --dest, its first spelling, still works.
    parser.add_argument(
        "--dir", "--dest", dest="dir", type=Path, default=Path("."), help="folder to write it in"
    )
    args = parser.parse_args(argv)
    try:
        root = new_plugin(args.name, args.dir, role=args.role)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {root}")
    print(next_steps(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
