"""The ``serialsync`` command line (placeholder until the CLI issue lands)."""


def main() -> None:
    """Entry point of the ``serialsync`` command."""
    raise SystemExit("serialsync: the CLI is not built yet")
