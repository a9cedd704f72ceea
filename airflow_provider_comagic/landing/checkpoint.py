"""Where a landing task stands, as plain JSON: what a deferred task hands to its own resumption.

Only :mod:`~airflow_provider_comagic.landing.pipeline` builds and reads these states; operators pass them to
Airflow (``next_kwargs``) and back without looking inside.

A landing task lands one or more intervals (the data interval, then its lookback intervals). When it must wait
mid-interval (a spent point quota), a deferrable task stops between two calls and saves an :class:`IntervalRun`:

* the intervals of the run and a small summary of each one already committed;
* for the interval in progress, a partition checkpoint (:func:`suspend_partition`): the landing writer's state
  (run token, finished parts: the open part is finished first, so every part stays valid), the page source's
  position (``plan``), and what the source spent on that interval so far (``api``).

A source's position can be large: the paging plan's includes the keys of the rows the current query has
emitted, so a query re-read after the resume skips them exactly, up to 110 000 keys, too many for
``next_kwargs``. A position over :data:`INLINE_PLAN_STATE_BYTES` is therefore stored gzipped as a scratch
object next to the interval's parts (one PUT, deleted by the commit) and ``next_kwargs`` holds only its key.
Memory stays bounded by one query's keys, as without deferral, and nothing is fetched twice.

A task landing a group of clients one after the other saves a :class:`ClientGroupRun`: how many clients are
finished, the totals and skipped clients so far, and the :class:`IntervalRun` of the client in progress. It
grows with neither the clients nor their rows (each client's partitions have their manifests).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.assets import EVENT_FIELDS
from airflow_provider_comagic.landing.writer import PartitionWriter

__all__ = [
    "INLINE_PLAN_STATE_BYTES",
    "ClientGroupRun",
    "IntervalRun",
    "pack_position",
    "resume_partition",
    "suspend_partition",
    "unpack_position",
]

INLINE_PLAN_STATE_BYTES = 16 * 1024
"""Largest source position (JSON bytes) kept inside ``next_kwargs``; a larger one goes to a scratch object."""
RUN_STATE_VERSION = 1
_SCRATCH_NAME = "plan-state.json.gz"


def pack_position(state: Mapping[str, Any], writer: PartitionWriter) -> dict[str, Any]:
    """``{"inline": state}`` when small, else ``{"scratch": key, "sha256": ...}`` with the state stored by
    ``writer`` (see the module docstring)."""
    body = orjson.dumps(state)
    if len(body) <= INLINE_PLAN_STATE_BYTES:
        return {"inline": dict(state)}
    key = writer.write_scratch(_SCRATCH_NAME, gzip.compress(body, compresslevel=1, mtime=0))
    return {"scratch": key, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def unpack_position(packed: Mapping[str, Any], writer: PartitionWriter) -> dict[str, Any]:
    """The position :func:`pack_position` saved (read back through the resumed ``writer``)."""
    if "inline" in packed:
        return dict(packed["inline"])
    body = gzip.decompress(writer.read_scratch(packed["scratch"]))
    if hashlib.sha256(body).hexdigest() != packed["sha256"]:
        raise LandingError(f"the saved paging state {packed['scratch']} is corrupt; rerun the task")
    return orjson.loads(body)


def suspend_partition(writer: PartitionWriter, position: Mapping[str, Any], spent: Mapping[str, int]) -> dict[str, Any]:
    """The checkpoint of a partition in progress: the writer suspended (its open part finished), the source's
    ``position`` (packed, see :func:`pack_position`) and what it has ``spent`` so far."""
    state = writer.suspend()
    return {"writer": state, "plan": pack_position(position, writer), "api": dict(spent)}


def resume_partition(
    checkpoint: Mapping[str, Any], target_path: Any, fmt: Any, schema: Any, options: Mapping[str, Any]
) -> tuple[PartitionWriter, dict[str, Any], dict[str, int]]:
    """The writer of a :func:`suspend_partition`-ed checkpoint resumed, the source's position and its spending."""
    writer = PartitionWriter.resume(checkpoint["writer"], target_path, fmt, schema, **options)
    return writer, unpack_position(checkpoint["plan"], writer), dict(checkpoint["api"])


class IntervalRun:
    """The intervals of one landing task (for one client), those committed so far, and the checkpoint of the
    one in progress.

    :param intervals: ``[start, end)`` pairs in landing order (the data interval first).
    :param done: the summary of each committed interval, in the same order.
    :param current: the checkpoint of the interval in progress (``writer``, ``plan``, ``api``), if suspended.
    :param deferrals: how many times the task has deferred so far.
    """

    def __init__(
        self,
        intervals: list[tuple[dt.datetime, dt.datetime]],
        done: list[dict[str, Any]] | None = None,
        current: dict[str, Any] | None = None,
        deferrals: int = 0,
    ):
        self.intervals = intervals
        self.done = done or []
        self.current = current
        self.deferrals = deferrals

    def next_interval(self) -> tuple[dt.datetime, dt.datetime] | None:
        """The interval to land next, or None when every one is committed."""
        return self.intervals[len(self.done)] if len(self.done) < len(self.intervals) else None

    def finish(self, entry: dict[str, Any]) -> None:
        """Record the summary of the interval just committed."""
        self.done.append(entry)
        self.current = None

    def suspend(self, checkpoint: dict[str, Any] | None) -> None:
        """Record where the interval in progress stopped (None: before it started); the task is about to defer."""
        self.current = checkpoint
        self.deferrals += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RUN_STATE_VERSION,
            "intervals": [[start.isoformat(), end.isoformat()] for start, end in self.intervals],
            "done": self.done,
            "current": self.current,
            "deferrals": self.deferrals,
        }

    @classmethod
    def from_json(cls, state: Mapping[str, Any] | None) -> IntervalRun:
        if not state or state.get("version") != RUN_STATE_VERSION:
            raise LandingError(f"cannot resume: the saved run state is missing or of another version ({state!r:.200})")
        parse = dt.datetime.fromisoformat
        return cls(
            [(parse(start), parse(end)) for start, end in state["intervals"]],
            [dict(entry) for entry in state["done"]],
            dict(state["current"]) if state.get("current") else None,
            int(state.get("deferrals") or 0),
        )


_LANDED_FIELDS = ("partition_key", "partition", *EVENT_FIELDS)
GROUP_TOTALS = ("partitions", "rows", "files", "bytes", "api_calls", "points")
"""What a group task adds up over its clients' committed intervals."""


class ClientGroupRun:
    """Where a task landing a group of clients stands: clients ``[0, position)`` are finished (landed or
    skipped), ``current`` is the run of client ``position``.

    :param size: how many clients the group has.
    :param current: the :class:`IntervalRun` of the client in progress (fresh when it has not started).
    :param position: index of the client in progress.
    :param totals: sums of :data:`GROUP_TOTALS` over the finished clients' committed intervals.
    :param skipped: ids of the clients skipped for lack of access.
    :param deferrals: how many times the task has deferred so far.
    :param client: the id of the client in progress when the task deferred (checked on resume).
    :param landed: what the asset events say of each partition the finished clients committed (their
        ``partition_key``, ``partition`` and :data:`~airflow_provider_comagic.landing.assets.EVENT_FIELDS`), so a
        group that deferred still emits an event for every partition it landed.
    """

    def __init__(
        self,
        size: int,
        current: IntervalRun,
        position: int = 0,
        totals: Mapping[str, int] | None = None,
        skipped: list[Any] | None = None,
        deferrals: int = 0,
        client: Any = None,
        landed: list[dict[str, Any]] | None = None,
    ):
        self.size = size
        self.current = current
        self.position = position
        self.totals = {name: int((totals or {}).get(name, 0)) for name in GROUP_TOTALS}
        self.skipped = list(skipped or [])
        self.deferrals = deferrals
        self.client = client
        self.landed = list(landed or [])

    def finish(self) -> None:
        """The client in progress is done: add up what it committed and move to the next client."""
        self.totals["partitions"] += len(self.current.done)
        for entry in self.current.done:
            for name in GROUP_TOTALS[1:]:
                self.totals[name] += int(entry.get(name) or 0)
            self.landed.append({name: entry[name] for name in _LANDED_FIELDS if entry.get(name) is not None})
        self.position += 1
        self.current = IntervalRun(self.current.intervals)
        self.client = None

    def skip(self, client: int) -> None:
        """The client in progress was refused (no access): record it and move on (anything it committed
        before the refusal is counted)."""
        self.skipped.append(client)
        self.finish()

    def suspend(self, client: int) -> None:
        """The task is about to defer while landing ``client`` (its run holds the checkpoint)."""
        self.client = client
        self.deferrals += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RUN_STATE_VERSION,
            "size": self.size,
            "position": self.position,
            "client": self.client,
            "totals": self.totals,
            "skipped": self.skipped,
            "deferrals": self.deferrals,
            "landed": self.landed,
            "current": self.current.to_json(),
        }

    @classmethod
    def from_json(cls, state: Mapping[str, Any] | None, client_keys: list[int] | None) -> ClientGroupRun:
        """The saved group, checked against the ids of the task's clients (rendered again on resume)."""
        if not state or state.get("version") != RUN_STATE_VERSION:
            raise LandingError(
                f"cannot resume: the saved group state is missing or of another version ({state!r:.200})"
            )
        position, size = int(state["position"]), int(state["size"])
        if client_keys is None or len(client_keys) != size or not 0 <= position <= size:
            raise LandingError(
                f"cannot resume: the group had {size} client(s) when it deferred, the task now has "
                f"{'none' if client_keys is None else len(client_keys)}"
            )
        if position < size and state.get("client") not in (None, client_keys[position]):
            raise LandingError(
                f"cannot resume: client {position + 1} of the group was {state['client']} when it deferred, "
                f"now {client_keys[position]}"
            )
        return cls(
            size,
            IntervalRun.from_json(state["current"]),
            position,
            state.get("totals"),
            list(state.get("skipped") or []),
            int(state.get("deferrals") or 0),
            state.get("client"),
            [dict(entry) for entry in state.get("landed") or []],
        )
