"""The commit protocol of a landed partition: overlapping runs and killed workers never break it.

A partition folder holds ``_manifest.json`` (the commit point: readers list files from it) and the parts it
lists. A run writes its parts **hidden**, as ``_tmp-<token>-NNNNN.<ext>`` (Spark, Hive, Trino/Athena, DuckDB's
and pyarrow's dataset readers skip names starting with ``_`` or ``.``), then commits in two compare-and-swap
writes of the manifest (:class:`~airflow_provider_comagic.landing.storage.PartitionStore.put_manifest`):

1. **List** the folder, then **read** the manifest and its version (in this order: see *cleanup* below). Every
   part of the run must be in the listing with its size, and younger than the orphan grace period.
2. **C1**: write a manifest listing the run's hidden names, phase ``publishing``, if the manifest is still at
   the version read. The partition is now committed: manifest readers see exactly the new copy. A failed
   precondition means another run wrote the manifest meanwhile: read again and retry (this run commits later,
   so it wins).
3. **D1**: delete the copy the manifest replaced (both names of each of its parts), every visible ``part-*`` of
   the listing (no manifest can list them any more) and hidden files older than the grace period.
4. **P**: copy each hidden part to its visible name ``part-<token>-NNNNN.<ext>`` (a hard link on local disks,
   a server-side copy on S3).
5. **C2**: write the final manifest (visible names, phase ``final``) if the manifest is still this run's C1.
6. **D2**: delete this run's hidden parts and scratch objects.

**Later commit wins.** If C2's precondition fails, a later run replaced this run's C1: the run deletes its
visible copies and hidden parts and ends without error, reporting the winner (``superseded_by``: its run
token, creation time and Airflow run). Failing the earlier run instead would turn ordinary Airflow overlaps
(two DAG runs whose lookbacks re-land the same days, a manual rerun while the scheduled run goes on) into red
tasks whose retries re-land the same data again; both copies are complete snapshots of the API, and the
partition always holds exactly one of them.

**Cleanup deletes only what is provably dead.** A run makes visible copies only after its C1, and finishes C2
only while its C1 is the current manifest. So a visible part seen in a listing taken *before* the manifest was
read is live only if it is the visible name of a file the manifest lists; any other is dead forever. Hidden
parts of another token may belong to a run in progress or a task deferred for up to a day
(:meth:`~airflow_provider_comagic.landing.writer.PartitionWriter.suspend`): they are deleted only once older
than the grace period (:data:`DEFAULT_ORPHAN_GRACE_PERIOD`, 2 days; keep it above the longest task including
its deferrals). :func:`repair_partition` applies the same rules on its own, and also finishes the commit of a
run killed between C1 and C2 (steps 4-6 on its behalf: the hidden parts are complete since C1); every new
writer runs it when it opens a partition.

**Stable names and kept files.** Parts are normally named by their run's token. A landing whose objects have
stable names (one recording per call and record id, :mod:`~airflow_provider_comagic.landing.recordings`) gives
each new file its hidden name (``staged``, with the run token) next to its stable visible ``path``: C1 records the
visible name as ``publish_as`` and P publishes to it. Files the replaced copy already holds unchanged are passed
as ``kept``: C1 lists them under their visible names as they are (nothing is copied or deleted), and the commit
refuses to keep a file the manifest it replaces no longer lists (another run changed the partition meanwhile:
rerun). A superseded run never deletes a stable visible name (the later run may have published it too).

What a glob reader of the folder (skipping ``_``/``.`` names) sees: the previous copy until D1, nothing (or
the part of the previous copy not yet deleted) during D1 and until P starts, the new copy growing during P,
then exactly the new copy. It never sees two copies, a partial file or a part of an uncommitted run; a run
killed between D1 and the end of P leaves a partial view until :func:`repair_partition` or the next run of the
partition. Read through the manifest (:mod:`~airflow_provider_comagic.landing.reader`) to be exact always.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.formats import PART_PREFIX, TMP_PREFIX
from airflow_provider_comagic.landing.storage import Entry, ManifestConflict, PartitionStore

__all__ = [
    "DEFAULT_ORPHAN_GRACE_PERIOD",
    "PHASE_FINAL",
    "PHASE_PUBLISHING",
    "CommitResult",
    "commit_partition",
    "grace_seconds",
    "live_names",
    "repair_partition",
    "staged_name",
    "visible_name",
]

log = logging.getLogger(__name__)

STAGED_PREFIX = TMP_PREFIX
PHASE_PUBLISHING = "publishing"
PHASE_FINAL = "final"
DEFAULT_ORPHAN_GRACE_PERIOD = dt.timedelta(days=2)
"""How old a hidden file of another run must be before a cleanup deletes it."""
_AGE_MARGIN = 0.9  # a run refuses to commit parts older than 90% of the grace period: others may delete them
_MAX_ATTEMPTS = 20
_now = time.time  # the clock the ages of files are measured with (the tests move it)


def staged_name(visible: str) -> str:
    """``part-<token>-00000.parquet`` -> ``_tmp-<token>-00000.parquet`` (the hidden name a part is written as)."""
    return STAGED_PREFIX + visible[len(PART_PREFIX) :] if visible.startswith(PART_PREFIX) else visible


def visible_name(staged: str) -> str:
    """``_tmp-<token>-00000.parquet`` -> ``part-<token>-00000.parquet``."""
    return PART_PREFIX + staged[len(STAGED_PREFIX) :] if staged.startswith(STAGED_PREFIX) else staged


def grace_seconds(value: dt.timedelta | float | int) -> float:
    """A grace period given as a timedelta or seconds, checked (not negative)."""
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise LandingError(f"orphan_grace_period must be a timedelta or seconds >= 0, got {value!r}")
    return float(seconds)


def live_names(manifest: Mapping[str, Any] | None) -> set[str]:
    """Both names (hidden and visible) of every part a manifest lists, plus its scratch objects."""
    if not manifest:
        return set()
    names = set(manifest.get("scratch") or ())
    for entry in manifest.get("files") or ():
        names |= {entry["path"], staged_name(entry["path"]), _published_name(entry)}
    return names


def _published_name(entry: Mapping[str, Any]) -> str:
    """The visible name a manifest entry has or will have once published."""
    return entry.get("publish_as") or visible_name(entry["path"])


def _to_publish(entry: Mapping[str, Any]) -> bool:
    """Whether a C1 entry is a hidden file still to publish (not a kept, already visible one)."""
    return "publish_as" in entry or entry["path"].startswith(STAGED_PREFIX)


def _staged_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """How C1 lists a new file: under its hidden name, with ``publish_as`` when that name is not derived."""
    item = {key: value for key, value in entry.items() if key != "staged"}
    hidden = entry.get("staged") or staged_name(entry["path"])
    item["path"] = hidden
    if visible_name(hidden) != entry["path"]:
        item["publish_as"] = entry["path"]
    return item


@dataclasses.dataclass
class CommitResult:
    """What a commit did: this run's final manifest, the run that superseded it (if one did), what it replaced."""

    manifest: dict[str, Any]
    superseded_by: dict[str, Any] | None
    replaced: dict[str, Any] | None


def commit_partition(
    store: PartitionStore,
    files: Sequence[Mapping[str, Any]],
    build: Callable[[str, list[dict[str, Any]], dict[str, Any] | None], dict[str, Any]],
    *,
    kept: Sequence[Mapping[str, Any]] = (),
    scratch: Iterable[str] = (),
    grace: float = DEFAULT_ORPHAN_GRACE_PERIOD.total_seconds(),
    on_commit: Callable[[], None] | None = None,
) -> CommitResult:
    """Commit ``files`` (entries with the *visible* ``path``, ``bytes`` and what else the manifest should say of
    them, e.g. ``rows``; written under their hidden names: ``staged``, else the one :func:`staged_name` derives).

    ``kept``: entries of the replaced manifest carried over unchanged (already visible; see *Stable names*).
    ``build(phase, files, replaces)`` returns the C1 manifest (with ``run_token``) for the files it is given;
    ``on_commit()`` is called right after C1 (from then on the run's hidden parts must stay).
    Steps and guarantees: the module docstring.
    """
    scratch = set(scratch)
    listing = store.list()  # first the listing, then the manifest: what makes the cleanup rule sound
    _check_parts(store, listing, files, kept, grace)
    body, version = store.read_manifest()
    staged = [_staged_entry(entry) for entry in files]
    phase = PHASE_PUBLISHING if files else PHASE_FINAL  # no new files: nothing to publish, C1 is final
    listed = staged + [dict(entry) for entry in kept]
    first, first_version, replaced = _swap_in(store, build, phase, listed, body, version, scratch, kept)
    if on_commit is not None:
        on_commit()
    own = {entry["path"] for entry in listed} | {entry["path"] for entry in files} | scratch
    store_delete(store, _dead(listing, replaced, own, grace))  # D1: the copy it replaced, as early as possible
    if not files:
        store_delete(store, scratch)
        return CommitResult(first, None, replaced)
    final, winner = finish_publishing(store, first, first_version)
    if winner is not None:
        log.warning(
            "%s: the commit of run %s was superseded by the later commit of run %s (created %s%s); that copy is kept",
            store.path,
            first["run_token"],
            winner.get("run_token"),
            winner.get("created_at"),
            _airflow_label(winner),
        )
    return CommitResult(final, winner, replaced)


def _check_parts(
    store: PartitionStore,
    listing: list[Entry],
    files: Sequence[Mapping[str, Any]],
    kept: Sequence[Mapping[str, Any]],
    grace: float,
) -> None:
    """Every hidden part of the run is there, complete, and young enough that no cleanup may delete it; every
    kept file is there with its size."""
    found = {entry.name: entry for entry in listing}
    problems, oldest = [], _now()
    for item in kept:
        entry = found.get(item["path"])
        if entry is None or entry.size != item["bytes"]:
            problems.append(f"{item['path']} (kept: {'missing' if entry is None else f'{entry.size} bytes'})")
    for item in files:
        name = item.get("staged") or staged_name(item["path"])
        entry = found.get(name)
        if entry is None:
            problems.append(f"{name} (missing)")
        elif entry.size != item["bytes"]:
            problems.append(f"{name} ({entry.size} bytes, not {item['bytes']})")
        elif entry.modified is not None:
            oldest = min(oldest, entry.modified)
    if problems:
        raise LandingError(
            f"{store.path}: parts of this run are missing or incomplete: {', '.join(problems)}; they were removed "
            "outside this run (or by a cleanup after the orphan grace period); nothing was committed, rerun the task"
        )
    age = _now() - oldest
    if files and age > grace * _AGE_MARGIN:
        raise LandingError(
            f"{store.path}: the parts of this run were written {dt.timedelta(seconds=int(age))} ago, close to the "
            f"orphan grace period ({dt.timedelta(seconds=int(grace))}), after which other runs may delete them; "
            "nothing was committed, rerun the task (or raise orphan_grace_period)"
        )


def _swap_in(
    store: PartitionStore,
    build: Callable[[str, list[dict[str, Any]], dict[str, Any] | None], dict[str, Any]],
    phase: str,
    files: list[dict[str, Any]],
    body: bytes | None,
    version: str | None,
    scratch: set[str],
    kept: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
    """C1: the manifest written over the version read; re-read and retry while other runs write meanwhile."""
    for _ in range(_MAX_ATTEMPTS):
        replaced = parse_manifest(body)
        _check_kept(store, kept, replaced)
        manifest = build(phase, files, summary(replaced))
        if scratch:
            manifest["scratch"] = sorted(scratch)  # so a run replacing a killed one can delete them at once
        data = dump_manifest(manifest)
        try:
            return manifest, store.put_manifest(data, version), replaced
        except ManifestConflict:
            body, version = store.read_manifest()
            if body == data and version is not None:  # a retried request of ours had gone through
                return manifest, version, replaced
    raise LandingError(f"{store.path}: could not commit: other runs rewrote the manifest {_MAX_ATTEMPTS} times")


def _check_kept(store: PartitionStore, kept: Sequence[Mapping[str, Any]], replaced: Mapping[str, Any] | None) -> None:
    """A kept file must be listed, the same, by the manifest C1 replaces: only then can no cleanup delete it."""
    listed = {entry["path"]: entry for entry in (replaced or {}).get("files") or ()}
    changed = [
        entry["path"]
        for entry in kept
        if (previous := listed.get(entry["path"])) is None
        or previous.get("bytes") != entry["bytes"]
        or previous.get("sha256") != entry.get("sha256")
    ]
    if changed:
        raise LandingError(
            f"{store.path}: {len(changed)} file(s) this run keeps are no longer listed as they were by the committed "
            "manifest: another run changed the partition meanwhile; nothing was committed, rerun the task"
        )


def finish_publishing(
    store: PartitionStore, first: dict[str, Any], first_version: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """P, C2 and D2 of a C1 manifest (by its run, or by a repair): ``(final manifest, winner or None)``."""
    token = first["run_token"]
    final = {**first, "phase": PHASE_FINAL, "files": [_final_entry(entry) for entry in first["files"]]}
    data = dump_manifest(final)
    published = [entry for entry in first["files"] if _to_publish(entry)]
    copies = [(entry["path"], _published_name(entry), int(entry["bytes"])) for entry in published]
    winner = None
    try:
        store.publish(copies)
        store.put_manifest(data, first_version)
    except (FileNotFoundError, ManifestConflict) as lost:
        body, _ = store.read_manifest()
        current = parse_manifest(body)
        if body == data or (current and current.get("run_token") == token and current.get("phase") == PHASE_FINAL):
            pass  # our final manifest is in place: a retried request, or a repair finished this commit
        elif current and current.get("run_token") == token:
            raise LandingError(
                f"{store.path}: a hidden part of run {token} disappeared after its commit ({lost}); it was "
                "removed outside the landing module; rerun the task"
            ) from lost
        else:
            winner = summary(current) or {"run_token": None}
    except Exception as error:
        raise LandingError(
            f"{store.path}: run {token} is committed (manifest readers see its copy) but publishing its visible "
            f"part names failed ({error}); the next run of the partition or repair_partition() completes it"
        ) from error
    own = {entry["path"] for entry in published} | set(first.get("scratch") or ())
    if winner is not None:  # the later run's cleanup may have run before our copies; stable names may be its own
        own |= {visible_name(entry["path"]) for entry in published if "publish_as" not in entry}
    store_delete(store, own)
    return final, winner


def _final_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """How C2 lists a C1 entry: under its visible name."""
    item = {key: value for key, value in entry.items() if key != "publish_as"}
    item["path"] = _published_name(entry)
    return item


def repair_partition(store: PartitionStore, grace: float = DEFAULT_ORPHAN_GRACE_PERIOD.total_seconds()) -> set[str]:
    """Bring a partition folder back to its committed copy; returns the names deleted.

    Finishes a commit left in phase ``publishing`` (its run was killed, or is still publishing: both finish it
    the same way), deletes visible parts no manifest lists, the hidden leftovers of the committed run and hidden
    files older than ``grace`` seconds. ``grace=0`` deletes every hidden file of other runs: only when no run of
    the partition can be in progress or deferred.
    """
    listing = store.list()
    body, version = store.read_manifest()
    manifest = parse_manifest(body)
    if manifest is not None and manifest.get("phase") == PHASE_PUBLISHING and version is not None:
        manifest, winner = finish_publishing(store, manifest, version)
        if winner is not None:
            return set()  # a later run is committing: its own cleanup takes over
    live = live_names(manifest)
    # the committed run is past C2: its hidden parts and scratch objects are leftovers
    leftovers = {staged_name(entry["path"]) for entry in (manifest or {}).get("files") or ()}
    leftovers |= set((manifest or {}).get("scratch") or ())
    now = _now()
    dead = set()
    for entry in listing:
        if entry.name.startswith(PART_PREFIX) and entry.name not in live:
            dead.add(entry.name)
        elif entry.name.startswith(STAGED_PREFIX) and (entry.name in leftovers or _older(entry, now, grace)):
            dead.add(entry.name)
    store_delete(store, dead)
    return dead


def _dead(listing: list[Entry], replaced: Mapping[str, Any] | None, own: set[str], grace: float) -> set[str]:
    """D1: what no manifest can list any more once this run's C1 is in place (the module docstring)."""
    now = _now()
    dead = live_names(replaced)
    for entry in listing:
        if entry.name.startswith(PART_PREFIX) or (entry.name.startswith(STAGED_PREFIX) and _older(entry, now, grace)):
            dead.add(entry.name)
    return dead - own


def _older(entry: Entry, now: float, grace: float) -> bool:
    return entry.modified is not None and now - entry.modified > grace


def store_delete(store: PartitionStore, names: Iterable[str]) -> None:
    """Delete best effort: the commit stands whatever happens here; the next run retries the cleanup."""
    names = sorted(set(names))
    if not names:
        return
    try:
        store.delete(names)
    except Exception:
        log.warning("Could not delete %d file(s) of %s; the next run retries", len(names), store.path, exc_info=True)


def parse_manifest(body: bytes | None) -> dict[str, Any] | None:
    """The manifest in ``body``; None for no manifest or one this module cannot read (then it lists nothing)."""
    if body is None:
        return None
    try:
        manifest = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return manifest if isinstance(manifest, dict) else None


def dump_manifest(manifest: Mapping[str, Any]) -> bytes:
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def summary(manifest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Which run a manifest is: its token, creation time, rows and Airflow run (to name it in logs and errors)."""
    if not manifest:
        return None
    keys = ("run_token", "created_at", "rows", "airflow")
    return {key: manifest[key] for key in keys if key in manifest}


def _airflow_label(run: Mapping[str, Any]) -> str:
    airflow = run.get("airflow") or {}
    parts = [f"{key} {airflow[key]}" for key in ("dag_id", "task_id", "run_id", "try_number") if key in airflow]
    return f"; {', '.join(parts)}" if parts else ""
