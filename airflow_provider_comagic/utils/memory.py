"""Keeping a long report's memory flat: large buffers go back to the operating system when freed."""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["LARGE_BUFFER_BYTES", "return_large_buffers_to_os"]

LARGE_BUFFER_BYTES = 2**20
"""Allocations at least this large get their own memory mapping (glibc's ``M_MMAP_THRESHOLD``)."""

_M_MMAP_THRESHOLD = -3  # <malloc.h>
_lock = threading.Lock()
_done = False
log = logging.getLogger(__name__)


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # not a glibc system (macOS, musl, Windows)
        return False


def return_large_buffers_to_os() -> bool:
    """Fix glibc's mmap threshold at :data:`LARGE_BUFFER_BYTES` for this process (once; ``True`` when set).

    glibc serves a large allocation from its own mapping, released when freed, but raises that threshold to the
    size of every such block freed (up to 32 MiB): from the second page of a report on, 10-40 MB response bodies
    and joined pages come from the heaps of the threads that made them, where freed blocks stay resident and
    fragment. Over a 100-page report that held ~50 MiB more than the pages themselves; with a fixed threshold
    each page's buffers are returned as soon as they are dropped. Other C libraries are left alone.
    """
    global _done
    with _lock:
        if _done:
            return True
        if not _glibc():
            return False
        import ctypes  # here: only a task that pages a report pays for it

        try:
            _done = bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES))
        except (OSError, AttributeError) as error:  # no usable libc: nothing to tune
            log.debug("mallopt unavailable: %s", error)
            return False
        return _done
