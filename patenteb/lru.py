"""A bounded least-recently-used cache that computes each missing value once, however many threads ask at once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class LruCache(Generic[Value]):
    """At most `size` values; the least recently used one is dropped first. `hits` and `misses` count lookups."""

    def __init__(self, size: int):
        self.size = size
        self.hits = 0
        self.misses = 0
        self._values: OrderedDict[Hashable, Value] = OrderedDict()
        self._being_made: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Value]) -> Value:
        """The value for `key`; `make()` runs only when no other thread is already making it."""
        with self._guard:
            if key in self._values:
                return self._hit(key)
            making = self._being_made.setdefault(key, threading.Lock())
        with making:
            with self._guard:
                if key in self._values:
                    return self._hit(key)
                self.misses += 1
            try:
                value = make()
                with self._guard:
                    self._values[key] = value
                    while len(self._values) > self.size:
                        self._values.popitem(last=False)
                return value
            finally:
                with self._guard:
                    self._being_made.pop(key, None)

    def _hit(self, key: Hashable) -> Value:
        self.hits += 1
        self._values.move_to_end(key)
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)
