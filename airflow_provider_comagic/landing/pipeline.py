"""The one landing pipeline: pages of a source into a committed partition, and a task's run over its intervals
and clients.

Every landing operator, whatever its vendor or family, lands through this module:

1. For each partition it names a :class:`PageSource` (the pages of raw rows of one interval or one snapshot,
   with a position it can save and restore and the API use it has spent) and a :class:`PartitionTarget`
   (folder, format, schema, part options).
2. :func:`land_partition` writes the pages (:class:`~airflow_provider_comagic.landing.writer.PartitionWriter`),
   commits them (:mod:`~airflow_provider_comagic.landing.commit`) and returns the manifest. When the source
   raises one of the errors the task may wait out (a spent point quota), the partition is suspended instead
   and :class:`PartitionSuspended` carries its checkpoint.
3. :class:`LandingRun` walks the task's steps (each client, each interval), hands every step's checkpoint back
   to it, keeps the summary of each committed partition (:func:`partition_entry`: what the asset events, the
   lineage and the XCom summary are built from) and, when a step pauses, raises :class:`RunPaused` with the
   whole run saved as plain JSON (:mod:`~airflow_provider_comagic.landing.checkpoint`) for the deferral.

Nothing here knows a vendor: which errors pause, which skip a client, and how a client is named are given by
the operator.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from airflow_provider_comagic.landing.checkpoint import (
    ClientGroupRun,
    IntervalRun,
    resume_partition,
    suspend_partition,
)
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME
from airflow_provider_comagic.landing.progress import Progress
from airflow_provider_comagic.landing.writer import PartitionWriter
from airflow_provider_comagic.utils.units import human_bytes, human_count, human_duration

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_comagic.version_compat import ObjectStoragePath

__all__ = [
    "LandingRun",
    "MappedSource",
    "PageSource",
    "PartitionSuspended",
    "PartitionTarget",
    "RunPaused",
    "Step",
    "land_partition",
    "partition_entry",
]

log = logging.getLogger(__name__)

Page = Sequence[Mapping[str, Any]] | JsonLines
C = TypeVar("C")


class PageSource(Protocol):
    """The pages of one partition's rows (one interval, or one snapshot), with a position it can save and restore.

    :meth:`pages` yields pages of row dicts or :class:`~airflow_provider_comagic.landing.json_lines.JsonLines`.
    When it raises, the source still points at the page that failed: :meth:`position` then tells where to go on,
    and a new source given that position by :meth:`restore` continues with that page, so no page is read twice.
    A source may also tell ``expected_rows()`` (the rows the partition will have, None while unknown): the
    progress lines then give the share done and an estimate of the time left.
    """

    def pages(self) -> Iterator[Page]:
        """The pages, from the current position to the end."""
        ...

    def position(self) -> Mapping[str, Any]:
        """Where the source stands, as plain JSON."""
        ...

    def restore(self, position: Mapping[str, Any], spent: Mapping[str, int]) -> None:
        """Continue from a saved :meth:`position`; ``spent`` is what :meth:`usage` said then."""
        ...

    def usage(self) -> dict[str, int]:
        """What reading this partition has cost so far (API requests, calls, points), across resumptions."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records of the source (method, interval, query, API use), read after the last page."""
        ...


class MappedSource:
    """A :class:`PageSource` whose pages go through ``transform`` (one page out per page in, e.g. rows mapped to
    the unified call table); position, usage and description are the wrapped source's."""

    def __init__(self, source: PageSource, transform: Callable[[Iterable[Any]], Iterator[Page]]):
        self.source = source
        self._transform = transform

    def pages(self) -> Iterator[Page]:
        return self._transform(self.source.pages())

    def position(self) -> Mapping[str, Any]:
        return self.source.position()

    def restore(self, position: Mapping[str, Any], spent: Mapping[str, int]) -> None:
        self.source.restore(position, spent)

    def usage(self) -> dict[str, int]:
        return self.source.usage()

    def describe(self) -> dict[str, Any]:
        return self.source.describe()

    def expected_rows(self) -> int | None:
        return getattr(self.source, "expected_rows", _unknown)()


@dataclasses.dataclass(frozen=True)
class PartitionTarget:
    """Where and how one partition is written.

    :param path: the partition folder.
    :param format: a format of :data:`~airflow_provider_comagic.landing.formats.FORMATS` (``jsonl``, ``parquet``).
    :param schema: the Arrow schema of the rows (Parquet columns; recorded in the manifest).
    :param options: :class:`~airflow_provider_comagic.landing.writer.PartitionWriter` keyword arguments.
    """

    path: ObjectStoragePath
    format: str
    schema: pa.Schema | None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def open(self) -> PartitionWriter:
        return PartitionWriter(self.path, self.format, self.schema, **self.options)  # type: ignore[arg-type]


class PartitionSuspended(Exception):
    """A partition stopped on an error its task may wait out; :attr:`checkpoint` continues it (the error is the
    ``__cause__``)."""

    def __init__(self, checkpoint: dict[str, Any]):
        super().__init__("partition suspended")
        self.checkpoint = checkpoint


def land_partition(
    source: PageSource,
    target: PartitionTarget,
    *,
    label: str,
    extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    pause_on: tuple[type[BaseException], ...] = (),
) -> dict[str, Any]:
    """Write every page of ``source`` into ``target`` and commit; return the manifest.

    The manifest records :meth:`PageSource.describe` and ``extra`` (or what the callable returns after the last
    page). ``checkpoint`` continues a suspended partition (its parts kept, the source restored). An error of
    ``pause_on`` raised by the source suspends the partition: its open part is finished, nothing is committed,
    and :class:`PartitionSuspended` carries the checkpoint; any other error discards this run's parts and
    leaves the previous copy. ``label`` names the partition in the logs.
    """
    if checkpoint is None:
        writer = target.open()
        log.info("Landing %s as %s into %s", label, target.format, target.path)
    else:
        writer, position, spent = resume_partition(
            checkpoint, target.path, target.format, target.schema, target.options
        )
        source.restore(position, spent)
        log.info(
            "Continuing %s into %s after %d row(s) in %d part(s)", label, target.path, writer.rows, len(writer.files)
        )
    progress = Progress(label, log, expected=getattr(source, "expected_rows", _unknown), rows=writer.rows)
    with writer:
        try:
            for page in source.pages():
                writer.write(page)
                progress.page(len(page))
                del page  # landed: not held while the next page is made
        except pause_on as error:
            # the failed call changed nothing: the source still points at it, and every page it gave is written
            raise PartitionSuspended(suspend_partition(writer, source.position(), source.usage())) from error
        more = extra() if callable(extra) else extra
        manifest = writer.commit({**source.describe(), **(more or {})})
    log.info(
        "Landed %s rows of %s in %d file(s), %s, in %s; API use: %s",
        human_count(manifest["rows"]),
        label,
        len(manifest["files"]),
        human_bytes(manifest["bytes"]),
        human_duration(progress.elapsed),
        ", ".join(f"{value} {name}" for name, value in source.usage().items()) or "none",
    )
    return manifest


def _unknown() -> None:
    return None


def partition_entry(
    path: ObjectStoragePath,
    manifest: Mapping[str, Any],
    *,
    key: str,
    labels: Mapping[str, Any] | None = None,
    dates: tuple[str, str],
) -> dict[str, Any]:
    """The summary of one committed partition: its asset event's details, an item of the XCom summary.

    ``key`` is the asset partition key, ``labels`` the ids that tell the partition apart (client, vPBX; None
    values left out), ``dates`` the interval as the API was asked for it. ``drift`` (only when a value drifted):
    the rows with a rescued value and the manifest's drift records.
    """
    api = manifest.get("api") or {}
    entry: dict[str, Any] = {
        "partition_key": key,
        **{name: value for name, value in (labels or {}).items() if value is not None},
        "replaced": bool(manifest.get("replaces")),
        "manifest": str(path / MANIFEST_NAME),
        "partition": str(path),
        "rows": manifest["rows"],
        "files": len(manifest["files"]),
        "bytes": manifest["bytes"],
        "api_calls": api.get("calls", 0),
        **({"points": api["points"]} if "points" in api else {}),
        "date_from": dates[0],
        "date_till": dates[1],
    }
    if manifest.get("superseded_by"):  # a later run of the same partition committed after this one
        entry["superseded_by"] = manifest["superseded_by"]
    drift = manifest.get("drift") or {}
    if drift.get("columns"):  # what drifted (masked examples): the manifest's record, without the policy
        entry["drift"] = {"rescued_rows": drift.get("rescued_rows", 0), "columns": drift["columns"]}
    return entry


@dataclasses.dataclass(frozen=True)
class Step(Generic[C]):
    """One partition of a run: the client, the interval ``[start, end)``, and the checkpoint to continue from
    (None: start it). :meth:`land` lands it with the run's pause rules."""

    client: C
    start: dt.datetime
    end: dt.datetime
    checkpoint: Mapping[str, Any] | None
    pause_on: tuple[type[BaseException], ...] = ()

    def land(
        self,
        source: PageSource,
        target: PartitionTarget,
        *,
        label: str,
        extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """:func:`land_partition` of this step; returns the manifest."""
        return land_partition(
            source, target, label=label, extra=extra, checkpoint=self.checkpoint, pause_on=self.pause_on
        )


class RunPaused(Exception):
    """A run stopped to wait (e.g. for a spent point quota) with its position saved.

    :param cause: the error that paused it.
    :param saved: plain JSON to hand to Airflow as the deferral's ``kwargs``; :meth:`LandingRun.resume` takes it
        back.
    :param committed: partitions the task has committed so far.
    :param rows_in_progress: rows already landed in the suspended partition (0 between partitions).
    """

    def __init__(self, cause: BaseException, saved: dict[str, Any], committed: int, rows_in_progress: int = 0):
        super().__init__(f"paused after {committed} committed partition(s): {cause}")
        self.cause = cause
        self.saved = saved
        self.committed = committed
        self.rows_in_progress = rows_in_progress


def _never(error: BaseException) -> bool:
    return False


class LandingRun(Generic[C]):
    """The steps of one landing task, each client's intervals in turn, and where it stands across deferrals.

    One client (``grouped=False``): the run is an :class:`~airflow_provider_comagic.landing.checkpoint.IntervalRun`
    saved as ``{"run": ...}``. A group of clients landed one after the other (an agency's group, an MCN account's
    vPBXs): a :class:`~airflow_provider_comagic.landing.checkpoint.ClientGroupRun` saved as ``{"group": ...}``.

    :param clients: what each step acts for, in order (for one client: a one-item list).
    :param state: the run state (new, or resumed).
    :param key: a client's id in the saved state (checked on resume).
    :param name: how the logs name a client.
    """

    def __init__(
        self,
        clients: Sequence[C],
        state: IntervalRun | ClientGroupRun,
        *,
        key: Callable[[C], Any],
        name: Callable[[C], str] = str,
    ):
        self.clients = list(clients)
        self.state = state
        self.key = key
        self.name = name

    @classmethod
    def start(
        cls,
        intervals: Sequence[tuple[dt.datetime, dt.datetime]],
        clients: Sequence[C],
        *,
        grouped: bool,
        key: Callable[[C], Any] = id,
        name: Callable[[C], str] = str,
    ) -> LandingRun[C]:
        """A new run over ``intervals`` for each of ``clients``."""
        if not grouped and len(clients) != 1:
            raise ValueError("a run that is not grouped lands exactly one client")
        run = IntervalRun(list(intervals))
        state = ClientGroupRun(len(clients), run) if grouped else run
        return cls(clients, state, key=key, name=name)

    @classmethod
    def resume(
        cls,
        saved: Mapping[str, Any],
        clients: Sequence[C],
        *,
        grouped: bool,
        key: Callable[[C], Any] = id,
        name: Callable[[C], str] = str,
    ) -> LandingRun[C]:
        """The run :attr:`RunPaused.saved` described, for the same clients (checked)."""
        if grouped:
            state: IntervalRun | ClientGroupRun = ClientGroupRun.from_json(
                saved.get("group"), [key(c) for c in clients]
            )
        else:
            state = IntervalRun.from_json(saved.get("run"))
        return cls(clients, state, key=key, name=name)

    @staticmethod
    def can_resume(saved: Mapping[str, Any] | None) -> bool:
        """Whether ``saved`` (a deferral's ``kwargs`` as they came back) holds a run."""
        return bool(saved) and any(saved.get(name) for name in ("run", "group"))  # type: ignore[union-attr]

    @property
    def grouped(self) -> bool:
        return isinstance(self.state, ClientGroupRun)

    @property
    def current(self) -> IntervalRun:
        """The interval run of the client in progress."""
        return self.state.current if isinstance(self.state, ClientGroupRun) else self.state

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The summary of every partition this task has committed (across deferrals), in landing order."""
        if isinstance(self.state, ClientGroupRun):
            return [*self.state.landed, *self.state.current.done]
        return list(self.state.done)

    @property
    def deferrals(self) -> int:
        return self.state.deferrals

    def saved(self) -> dict[str, Any]:
        """The run as plain JSON, for a deferral's ``kwargs``."""
        return (
            {"group": self.state.to_json()} if isinstance(self.state, ClientGroupRun) else {"run": self.state.to_json()}
        )

    def land(
        self,
        land_step: Callable[[Step[C]], dict[str, Any]],
        *,
        pause_on: tuple[type[BaseException], ...] = (),
        may_skip: Callable[[BaseException], bool] = _never,
        on_skip: Callable[[C, BaseException, int], None] | None = None,
    ) -> None:
        """Land every remaining step with ``land_step`` (which returns the step's :func:`partition_entry`).

        An error of ``pause_on`` pauses the run (:class:`RunPaused`): inside a partition it is suspended, between
        partitions nothing is. An error ``may_skip`` accepts calls ``on_skip(client, error, committed)``: in a
        group the client is then recorded as skipped and the next one lands; for one client the error is raised
        again unless ``on_skip`` raised its own.
        """
        group = self.state if isinstance(self.state, ClientGroupRun) else None
        while group is None or group.position < len(self.clients):
            client = self.clients[group.position if group else 0]
            if group is not None and group.client is None:
                log.info("%d of %d: %s", group.position + 1, group.size, self.name(client))
            try:
                self._land_client(client, land_step, pause_on)
            except (PartitionSuspended, *pause_on) as error:
                if group is not None:
                    group.suspend(self.key(client))
                cause = error.__cause__ if isinstance(error, PartitionSuspended) else error
                checkpoint = self.current.current or {}
                rows = int((checkpoint.get("writer") or {}).get("rows") or 0)
                raise RunPaused(cause or error, self.saved(), len(self.entries), rows) from cause
            except Exception as error:
                if not may_skip(error):
                    raise
                if on_skip is not None:
                    on_skip(client, error, len(self.current.done))
                if group is None:
                    raise
                group.skip(self.key(client))
                continue
            if group is None:
                return
            group.finish()

    def _land_client(
        self, client: C, land_step: Callable[[Step[C]], dict[str, Any]], pause_on: tuple[type[BaseException], ...]
    ) -> None:
        run = self.current
        while (interval := run.next_interval()) is not None:
            try:
                entry = land_step(Step(client, *interval, run.current, pause_on))
            except PartitionSuspended as suspended:
                run.suspend(suspended.checkpoint)
                raise
            except pause_on:
                run.suspend(None)  # between partitions: nothing to continue but the next interval
                raise
            run.finish(entry)

    # -- what the task returns --------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The XCom of a one-client run: the first (the data interval's) entry, API use summed over the run,
        every entry under ``intervals`` when there are several, ``deferrals`` when it waited."""
        entries = self.entries
        summary = dict(entries[0])
        for name in ("api_calls", "points"):
            if any(name in entry for entry in entries):
                summary[name] = sum(entry.get(name, 0) for entry in entries)
        if len(self.current.intervals) > 1:
            summary["intervals"] = entries
        if self.deferrals:
            summary["deferrals"] = self.deferrals
        return summary

    def group_summary(self) -> dict[str, Any]:
        """The XCom of a group: totals over its clients, never one entry per client (their manifests hold them)."""
        group = self.state
        assert isinstance(group, ClientGroupRun)
        summary = {
            "clients": group.size,
            "landed": group.size - len(group.skipped),
            "skipped": group.skipped,
            **group.totals,
        }
        if group.deferrals:
            summary["deferrals"] = group.deferrals
        return summary
