"""Work done in daemon threads on behalf of a generator: pages fetched ahead, calls sent ahead."""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["AheadTally", "CallAhead", "prefetched"]


def prefetched(pages: Iterator[T], ahead: int, name: str) -> Iterator[T]:
    """Yield ``pages`` while a daemon thread produces up to ``ahead`` more: network and decoding of the next page
    overlap the caller's work on this one (compression and Parquet encoding release the GIL).

    Memory stays bounded: the producer takes a slot before producing a page and the caller gives it back when it
    asks for the next one. Errors of the producer are raised here, in order; closing this generator stops it.
    """
    slots = threading.Semaphore(ahead + 1)  # the caller's page holds one slot
    results: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def produce() -> None:
        try:
            while True:
                slots.acquire()
                if stop.is_set():
                    return
                try:
                    page = next(pages)
                except StopIteration:
                    results.put(("done", None))
                    return
                results.put(("page", page))
        except BaseException as error:  # handed to the caller, which raises it
            results.put(("error", error))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = results.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
            slots.release()  # the caller is done with the previous page
    finally:
        stop.set()
        slots.release()  # wake a producer waiting for a slot so it sees `stop`
        thread.join(30)


@dataclasses.dataclass
class AheadTally:
    """What became of the calls sent ahead: ``used`` answers were taken, ``failed`` calls were made again by
    the caller, ``dropped`` answers were not needed after all (the plan changed)."""

    sent: int = 0
    used: int = 0
    failed: int = 0
    dropped: int = 0


class CallAhead(Generic[T]):
    """One call made in a daemon thread before its caller needs it.

    ``send`` is called with a callback it must call once the server starts answering, with the seconds the
    server took (the time to the response's headers). :meth:`answering` waits for that moment, :meth:`result`
    for the answer. A failed call is not raised: its :attr:`error` is kept and :meth:`result` returns ``None``,
    so the caller makes the call itself (with its retries and quota waits). An answer nobody takes is dropped
    with the thread.
    """

    def __init__(self, key: Any, send: Callable[[Callable[[float], None]], T], name: str):
        self.key = key
        """What the call asked for: the caller uses the answer only for exactly this."""
        self.server_seconds = 0.0
        self.error: BaseException | None = None
        self._result: T | None = None
        self._answering = threading.Event()
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(send,), name=name, daemon=True).start()

    def _run(self, send: Callable[[Callable[[float], None]], T]) -> None:
        try:
            self._result = send(self._started_answering)
        except BaseException as error:  # kept for the caller, which calls again itself
            self.error = error
        finally:
            self._answering.set()
            self._done.set()

    def _started_answering(self, seconds: float) -> None:
        self.server_seconds = seconds
        self._answering.set()

    def answering(self) -> float:
        """Wait until the server starts answering (or the call ended); the seconds it took, 0 after a failure."""
        self._answering.wait()
        return 0.0 if self.error is not None else self.server_seconds

    def result(self) -> T | None:
        """Wait for the call to end; its answer, or ``None`` when it failed."""
        self._done.wait()
        return self._result
