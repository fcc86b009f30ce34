"""Fixtures of the workers' tests (:mod:`tests.merchants.world`)."""

from tests.merchants.world import deployment, workers

__all__ = ["deployment", "workers"]
