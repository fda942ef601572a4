"""A stream of prepared frames that shows its next frame before handing it out.

The video loop peeks at the next frame to decide whether it is optimised alone or opens a
segment of the rolling batch (:mod:`.schedule`), then takes that frame or the whole segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .frame_pairs import PreparedFrame


class Lookahead:
    """An iterator of prepared frames that can show its next item before handing it out."""

    def __init__(self, items: Iterator[PreparedFrame]) -> None:
        self._items, self._next = items, next(items, None)

    def peek(self) -> PreparedFrame | None:
        return self._next

    def take(self) -> PreparedFrame | None:
        item, self._next = self._next, next(self._items, None)
        return item

    def take_while(self, keep: Callable[[PreparedFrame], bool]) -> Iterator[PreparedFrame]:
        """Hand out items while ``keep(item)`` holds, lazily (frames are pulled as they are needed)."""
        while (item := self._next) is not None and keep(item):
            self.take()
            yield item
