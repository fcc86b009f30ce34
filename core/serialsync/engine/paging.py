"""Following a hook's pages to the end, and refusing to loop on a page token that repeats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar


class _Page(Protocol):
    @property
    def next_page(self) -> str | None: ...


PageT = TypeVar("PageT", bound=_Page)


class RepeatedPageError(RuntimeError):
    """A plugin handed back a page token it had already given: following it would loop."""


def pages(fetch: Callable[[str | None], PageT], *, what: str) -> Iterator[PageT]:
    """Yield ``fetch(None)``, then ``fetch(next_page)`` … until ``next_page`` is ``None``.

    A paginator that repeats a token would loop forever (the Singer SDK learned it the hard
    way); that raises :class:`RepeatedPageError` naming ``what`` instead.
    """
    token: str | None = None
    seen: set[str] = set()
    while True:
        page = fetch(token)
        yield page
        token = page.next_page
        if token is None:
            return
        if token in seen:
            raise RepeatedPageError(f"{what} repeated its page token {token!r}")
        seen.add(token)
