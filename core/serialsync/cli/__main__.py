"""``python -m serialsync.cli``: the same as the ``serialsync`` command."""

from serialsync.cli.app import main

main()
