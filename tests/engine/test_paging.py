"""Following pages: to the end, and never around in a circle."""

from __future__ import annotations

import pytest
from serialsync import OrdersPage
from serialsync.engine.paging import RepeatedPageError, pages


def test_follows_tokens_to_the_last_page() -> None:
    book = {None: "2", "2": "3", "3": None}
    asked: list[str | None] = []

    def fetch(token: str | None) -> OrdersPage:
        asked.append(token)
        return OrdersPage(next_page=book[token])

    assert len(list(pages(fetch, what="shop"))) == 3
    assert asked == [None, "2", "3"]


def test_a_repeated_token_is_refused_rather_than_looped_on() -> None:
    book = {None: "a", "a": "b", "b": "a"}
    with pytest.raises(RepeatedPageError, match="shop: fetch_orders repeated its page token 'a'"):
        list(pages(lambda t: OrdersPage(next_page=book[t]), what="shop: fetch_orders"))
