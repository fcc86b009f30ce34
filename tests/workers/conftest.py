"""Fixtures of the workers' tests (:mod:`tests.merchants.world`)."""

from tests.merchants.world import deployment

__all__ = ["deployment"]
