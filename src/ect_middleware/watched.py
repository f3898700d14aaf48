"""A configuration file that is re-read when it changes (WITs and trust bundles rotate)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import ConfigurationError
from .limits import Clock
from .logs import log

T = TypeVar("T")


class WatchedFile(Generic[T]):
    """Holds ``loader(path)``; checks the file (and the files in ``also``, which the loader
    reads too) at most every ``interval`` seconds, and loads again when any has changed.

    A file that changes into something unusable is reported and the last good value kept,
    so a half-written rotation never takes a service down; it is tried again at every
    check until it loads.
    """

    def __init__(
        self,
        path: str,
        loader: Callable[[str], T],
        clock: Clock,
        interval: float = 1.0,
        *,
        also: tuple[str, ...] = (),
    ) -> None:
        self._path = path
        self._paths = (path, *also)
        self._loader = loader
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._value = loader(path)  # startup: a broken file is a ConfigurationError
        self._checked = clock()

    def get(self) -> T:
        now = self._clock()
        if self._fresh(now):
            return self._value
        with self._lock:
            if not self._fresh(now):
                try:
                    stamp = self._stat()
                    if stamp != self._stamp:
                        self._reload(stamp)
                finally:
                    # Set last, whatever the check found: the unlocked path above trusts
                    # ``_value`` for ``interval`` after ``_checked``, so a check must not
                    # look done before its value is in place. A caller that comes during a
                    # re-read waits for the lock and gets what it loads, not the value it
                    # replaces.
                    self._checked = now
        return self._value

    def _fresh(self, now: float) -> bool:
        """Checked less than ``interval`` ago. A wall clock stepped back (NTP) makes the
        last check look like it is in the future: that is due too, not fresh for as long
        as the step."""
        return 0 <= now - self._checked < self._interval

    def _reload(self, stamp: tuple[tuple[int, int, int] | None, ...]) -> None:
        try:
            self._value = self._loader(self._path)
            self._stamp = stamp
            log.info("ect.config.reloaded", file=self._path)
        except ConfigurationError as exc:
            log.error("ect.config.reload_failed", file=self._path, reason=str(exc))

    def _stat(self) -> tuple[tuple[int, int, int] | None, ...]:
        return tuple(_stamp(path) for path in self._paths)


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
