"""pytest plugin entry point (``pytest11``): makes the conformance suite's fixtures available."""
