"""Narrating a book through the runner's own path while a test's server serves."""

from __future__ import annotations

import asyncio

from narrator.model import Book
from narrator.runner import BookResult, narrate_planned, plan_book
from narrator.settings import NarrateOptions


def narrate_now(book: Book, stem: str, options: NarrateOptions) -> BookResult:
    """Plan and narrate `book` as `narrate` does, whether or not its files are up to date."""
    result = narrate_planned(plan_book(book, options), stem, options, force=True)
    assert result is not None
    return result


async def narrate_book(book: Book, stem: str, options: NarrateOptions) -> BookResult:
    """The runner makes its own event loop, as it does for `narrate`: it runs in a
    worker thread, while the test's server goes on serving in this loop."""
    return await asyncio.to_thread(narrate_now, book, stem, options)
