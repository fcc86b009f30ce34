"""The ``serialsync`` command line (Typer + rich). See :mod:`serialsync.cli.app`.

For tests and embedding, extra plugin objects can be given to every command through
:data:`EXTRA_PLUGINS` (mutate the dict) or ``SERIALSYNC_EXTRA_PLUGINS=name=module:attribute``.
"""

from serialsync.cli.app import EXTRA_PLUGINS, app, main

__all__ = ["EXTRA_PLUGINS", "app", "main"]
