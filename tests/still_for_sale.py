"""A ``still_for_sale`` for plugin tests: what the host would answer, and when it was asked.

The host's answer reads its store at the moment of asking; a test stands for that store with
:attr:`SoldMeanwhile.sold`, which it may change while a call is on the wire (from a respx side
effect, say) to place a sale between two requests of one ``publish_variants`` call.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field


@dataclass
class SoldMeanwhile:
    """Every unit asked about is still for sale but those in ``sold``; each question is kept
    in ``asked`` (its serials, sorted), so a test can check how often and about what."""

    sold: set[str] = field(default_factory=set)
    asked: list[list[str]] = field(default_factory=list)

    def __call__(self, serials: Collection[str]) -> frozenset[str]:
        """The host's answer: those of ``serials`` not sold."""
        self.asked.append(sorted(serials))
        return frozenset(serials) - self.sold
