"""The emulator's clock: real time by default, shiftable and freezable by tests.

Quota resets, session expiry and upload status schedules all read this clock, so a test can move an hour
forward with ``emu.clock.advance(3600)`` instead of sleeping. Fault delays (slow responses) stay real.
"""

from __future__ import annotations

import threading
import time


class EmulatorClock:
    """Unix-time clock with an adjustable offset; ``freeze()`` stops it at the current instant."""

    def __init__(self, start: float | None = None, *, frozen: bool = False):
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()
        self._frozen_at: float | None = None
        if frozen:
            self.freeze()

    def now(self) -> float:
        """Current emulated Unix time in seconds."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward (or back, with a negative value); return the new time."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
                return self._frozen_at
            self._offset += seconds
            return time.time() + self._offset

    def set(self, timestamp: float) -> None:
        """Jump to ``timestamp`` (stays frozen if frozen)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = timestamp
            else:
                self._offset = timestamp - time.time()

    def freeze(self) -> None:
        """Stop the clock at the current instant; only ``advance``/``set`` move it afterwards."""
        now = self.now()
        with self._lock:
            self._frozen_at = now

    def unfreeze(self) -> None:
        """Let the clock run again from where it stands."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None
