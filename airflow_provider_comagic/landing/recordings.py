"""Call recordings into object storage: one object per recording under a stable name, committed per interval.

:func:`land_recordings` is what an operator calls: given the recordings one interval's calls name (a vendor's
rules made them: :func:`~airflow_provider_comagic.comagic.recordings.recordings_of`,
:func:`~airflow_provider_comagic.mcn.recordings.call_log_recordings`), a partition folder and a vendor's downloader
(:meth:`~airflow_provider_comagic.hooks.comagic.ComagicHook.media_downloader`,
:meth:`~airflow_provider_comagic.hooks.mcn.McnTelecomHook.record_downloader`), it

1. reads the partition's committed manifest: a recording it lists as landed whose object is still there with the
   same size is **kept** (its SHA-256 is the manifest's: it was computed from the bytes as they were written, and
   the object is only ever written through this module), so a rerun or a lookback downloads nothing twice;
2. downloads the others, :attr:`~airflow_provider_comagic.utils.recordings.Downloader.concurrency` at a time,
   each streamed chunk by chunk into a hidden object ``_tmp-<run token>-<name>`` (multipart uploads of 5 MiB parts
   on S3: memory stays flat whatever the file sizes);
3. commits them with the landing's commit protocol (:mod:`~airflow_provider_comagic.landing.commit`, *Stable
   names*): ``_manifest.json`` lists every recording (call, record id, kind, bytes, sha256, status; never a URL),
   the new objects are published under their stable names (:func:`object_name`:
   ``part-<call>-<kind>-<record id>.mp3``), objects no longer listed are deleted. A run killed before the commit
   point leaves the previous manifest and its objects as they were.

Outcomes are data: a 404 is ``absent`` (or ``not_ready`` when the call ended less than ``ready_within`` ago), a
400 ``empty``, both listed under ``missing`` with a reason and tried again by the next run of the interval
(a lookback); downloads that fail beyond the retries are ``failed``: committed like the others, then
:class:`RecordingDownloadError` names how many and why (unless ``fail_on_errors=False``).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import logging
import os
import posixpath
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from airflow_provider_comagic import __version__
from airflow_provider_comagic.exceptions import LandingError, ProviderError
from airflow_provider_comagic.landing.commit import (
    DEFAULT_ORPHAN_GRACE_PERIOD,
    commit_partition,
    grace_seconds,
    parse_manifest,
    repair_partition,
    store_delete,
)
from airflow_provider_comagic.landing.formats import PART_PREFIX, TMP_PREFIX
from airflow_provider_comagic.landing.manifest import MANIFEST_VERSION
from airflow_provider_comagic.landing.progress import Progress
from airflow_provider_comagic.landing.storage import PartitionStore, is_local, store_for, to_storage_path
from airflow_provider_comagic.utils.audio import AUDIO_FORMATS
from airflow_provider_comagic.utils.memory import return_large_buffers_to_os
from airflow_provider_comagic.utils.recordings import (
    FETCH_EMPTY,
    FETCH_NOT_FOUND,
    FETCH_OK,
    OUTCOMES,
    STATUS_ABSENT,
    STATUS_EMPTY,
    STATUS_FAILED,
    STATUS_LANDED,
    STATUS_NOT_READY,
    Downloader,
    Fetched,
    Recording,
    dedupe,
)
from airflow_provider_comagic.version_compat import ObjectStoragePath

__all__ = [
    "DEFAULT_READY_WITHIN",
    "RECORDINGS_FORMAT",
    "RecordingDownloadError",
    "land_recordings",
    "object_name",
]

log = logging.getLogger(__name__)

RECORDINGS_FORMAT = "recordings"
"""The ``format`` of a recordings partition's manifest (readers of rows refuse it)."""
DEFAULT_READY_WITHIN = dt.timedelta(hours=2)
"""A 404 for a call that ended less than this long ago means "not ready yet", not "absent"."""
UPLOAD_BLOCK_SIZE = 5 * 2**20
"""Bytes buffered per object being written (S3's smallest multipart part): what bounds memory per download."""
_COPIED_OPTIONS = ("ServerSideEncryption", "SSEKMSKeyId", "SSEKMSEncryptionContext", "BucketKeyEnabled")
"""Write options a server-side copy must repeat (S3 encrypts a copy with the bucket default otherwise)."""
_SAFE = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,99}")


class RecordingDownloadError(ProviderError):
    """Recordings failed beyond the retries (after the partition was committed with every other outcome).

    ``failed``: how many; ``reasons``: how many failed for each reason."""

    def __init__(self, message: str, *, failed: int, reasons: Mapping[str, int]):
        super().__init__(message)
        self.failed = failed
        self.reasons = dict(reasons)


def _safe(value: str) -> str:
    """An id as a name segment: kept when it is letters, digits, ``.``, ``_`` and ``-`` (not first), else its digest."""
    return value if _SAFE.fullmatch(value) else "x" + hashlib.sha256(value.encode()).hexdigest()[:32]


def object_name(recording: Recording) -> str:
    """The stable, visible name of a recording's object in its interval's folder:
    ``part-<call id>-<kind>-<record id><suffix>`` (an id with other characters than letters, digits, ``.``, ``_``
    and ``-``, or starting with ``-``, or over 100 characters, is replaced by ``x`` + 32 hex digits of its SHA-256). The kind keeps an mp3 and a wav of one record
    apart; the ``part-`` prefix makes it a visible part of the commit protocol."""
    suffix = AUDIO_FORMATS[recording.audio_format].suffix
    return f"{PART_PREFIX}{_safe(recording.call_id)}-{_safe(recording.kind)}-{_safe(recording.record_id)}{suffix}"


@dataclasses.dataclass
class _Plan:
    """Which recordings are kept from the committed copy (their manifest entries) and which are fetched."""

    kept: list[dict[str, Any]]
    fetch: list[Recording]


def _plan(recordings: Sequence[Recording], previous: Mapping[str, Any] | None, sizes: Mapping[str, int]) -> _Plan:
    """Keep what the committed manifest lists as landed, under the same name, with the same size in the store."""
    landed = {}
    for entry in (previous or {}).get("files") or ():
        if entry.get("status") == STATUS_LANDED and entry.get("sha256"):
            landed[(str(entry.get("call")), str(entry.get("kind")), str(entry.get("record")))] = entry
    kept, fetch = [], []
    for recording in recordings:
        entry = landed.get(recording.key)
        name = object_name(recording)
        if entry is not None and entry["path"] == name and sizes.get(name) == entry["bytes"]:
            kept.append(dict(entry))
        else:
            fetch.append(recording)
    return _Plan(kept, fetch)


class _StagedObject:
    """One download attempt's hidden object (a :class:`~airflow_provider_comagic.utils.recordings.Sink`)."""

    def __init__(self, fs: Any, directory: str, name: str, options: Mapping[str, Any], done: Callable[[str], None]):
        self.fs = fs
        self.name = name
        self.target = posixpath.join(directory, name)
        self.local = is_local(fs)
        self._done = done
        self._handle = fs.open(self.target, "wb", **options)

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)

    def finish(self) -> None:
        if self.local:  # on disk before the manifest may list it
            self._handle.flush()
            os.fsync(self._handle.fileno())
        self._handle.close()
        self._done(self.name)

    def discard(self) -> None:
        handle = self._handle
        try:
            if not handle.closed and not self.local and callable(getattr(handle, "discard", None)):
                handle.discard()  # abort the multipart upload: no partial object is ever completed
                handle.closed = True
            elif not handle.closed:
                handle.close()
        except Exception:  # the failure that got us here matters more
            log.debug("Closing an unfinished recording object failed", exc_info=True)
        try:
            self.fs.rm_file(self.target)
        except FileNotFoundError:
            pass
        except Exception:
            log.warning("Could not delete an unfinished recording object; a later run removes it")


class _Run:
    """One landing run of one partition: its token, its hidden objects, its downloads."""

    def __init__(self, path: ObjectStoragePath, downloader: Downloader, token: str, options: Mapping[str, Any]):
        self.path = path
        self.fs = path.fs
        self.directory = path.path.rstrip("/")
        self.downloader = downloader
        self.token = token
        self.options = {"block_size": UPLOAD_BLOCK_SIZE, **options}
        self.written: set[str] = set()
        self._lock = threading.Lock()

    def hidden_name(self, recording: Recording) -> str:
        return f"{TMP_PREFIX}{self.token}-{object_name(recording).removeprefix(PART_PREFIX)}"

    def _opener(self, recording: Recording) -> Callable[[], _StagedObject]:
        def open_sink() -> _StagedObject:
            return _StagedObject(self.fs, self.directory, self.hidden_name(recording), self.options, self._finished)

        return open_sink

    def _finished(self, name: str) -> None:
        with self._lock:
            self.written.add(name)

    def fetch_all(self, recordings: Sequence[Recording]) -> list[Fetched]:
        """Every download, ``concurrency`` at a time, in order; at most twice that many queued (flat memory)."""
        if not recordings:
            return []
        if is_local(self.fs):
            self.fs.makedirs(self.directory, exist_ok=True)
        else:  # each S3 upload buffers a 5 MiB part: freed parts must leave the process, not the threads' heaps
            return_large_buffers_to_os()
        workers = max(1, min(int(self.downloader.concurrency), len(recordings)))
        progress = Progress(
            f"Recordings of {self.path}", log, expected=lambda: len(recordings), unit="recordings", pages=None
        )
        results: list[Fetched] = []

        def take(done: Future[Fetched]) -> None:
            results.append(done.result())
            progress.page(1)

        pending: collections.deque[Future[Fetched]] = collections.deque()
        with ThreadPoolExecutor(workers, thread_name_prefix="recordings") as pool:
            try:
                for recording in recordings:
                    if len(pending) >= 2 * workers:
                        take(pending.popleft())
                    pending.append(pool.submit(self.downloader.fetch, recording, self._opener(recording)))
                while pending:
                    take(pending.popleft())
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return results

    def abort(self) -> None:
        """Delete the hidden objects of this run (best effort; a later run removes what is left)."""
        store_delete(store_for(self.path), self.written)


def _outcome(recording: Recording, fetched: Fetched, now: dt.datetime, ready_within: dt.timedelta) -> tuple[str, str]:
    """The manifest status and reason of a download that stored nothing."""
    reason = fetched.reason or fetched.status
    if fetched.status == FETCH_NOT_FOUND:
        recent = recording.call_end is not None and now - recording.call_end < ready_within
        if recent:
            return STATUS_NOT_READY, f"{reason}: the call ended less than {ready_within} ago; not ready yet"
        return STATUS_ABSENT, f"{reason}: expired or never recorded"
    if fetched.status == FETCH_EMPTY:
        return STATUS_EMPTY, reason
    return STATUS_FAILED, reason


def _landed_entry(recording: Recording, fetched: Fetched, run: _Run) -> dict[str, Any]:
    return {
        "path": object_name(recording),
        "staged": run.hidden_name(recording),
        "bytes": fetched.bytes,
        "sha256": fetched.sha256,
        "call": recording.call_id,
        "record": recording.record_id,
        "kind": recording.kind,
        "format": recording.audio_format,
        "status": STATUS_LANDED,
        "run_token": run.token,
    }


def _results(
    recordings: Sequence[Recording], fetched: Sequence[Fetched], run: _Run, now: dt.datetime, ready: dt.timedelta
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """New files (entries for the commit) and what was not stored (entries of ``missing``)."""
    files, missing = [], []
    for recording, result in zip(recordings, fetched, strict=True):
        if result.status == FETCH_OK:
            files.append(_landed_entry(recording, result, run))
            continue
        status, reason = _outcome(recording, result, now, ready)
        missing.append(
            {
                "call": recording.call_id,
                "record": recording.record_id,
                "kind": recording.kind,
                "status": status,
                "reason": reason,
                "attempts": result.attempts,
            }
        )
    return files, missing


def _counts(files: int, kept: int, missing: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    counts[STATUS_LANDED] = files + kept
    for entry in missing:
        counts[entry["status"]] += 1
    return {**counts, "downloaded": files, "kept": kept}


def _check_partition(store: PartitionStore, previous: Mapping[str, Any] | None) -> None:
    """Never commit recordings over a partition of rows (the cleanup would delete its parts)."""
    if previous is not None and previous.get("format") != RECORDINGS_FORMAT:
        raise LandingError(
            f"{store.path} holds a committed {previous.get('format')!r} partition, not recordings: give the "
            "recordings a folder of their own"
        )


def land_recordings(
    recordings: Iterable[Recording],
    partition: str | os.PathLike[str] | ObjectStoragePath,
    downloader: Downloader,
    *,
    conn_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
    ready_within: dt.timedelta = DEFAULT_READY_WITHIN,
    storage_options: Mapping[str, Any] | None = None,
    token: str | None = None,
    orphan_grace_period: dt.timedelta | float = DEFAULT_ORPHAN_GRACE_PERIOD,
    fail_on_errors: bool = True,
) -> dict[str, Any]:
    """Land ``recordings`` in ``partition`` and commit its ``_manifest.json``; return the manifest.

    :param recordings: what the interval's calls name (duplicates of a key are landed once).
    :param partition: the interval's folder (``ObjectStoragePath``, URL or local path; its own folder, not a
        partition of rows).
    :param downloader: the vendor's downloader (its hook builds it); :attr:`concurrency` downloads run at once.
    :param conn_id: the storage connection when ``partition`` is a URL.
    :param extra: merged into the manifest (the interval, the Airflow run, the source).
    :param now: the time "not ready yet" is judged against (default: now).
    :param ready_within: a 404 for a call that ended less than this long before ``now`` is ``not_ready``.
    :param storage_options: passed to the store's ``open`` for writing (e.g. server-side encryption options of
        s3fs such as ``{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": ...}``); the encryption ones are
        repeated by the server-side copies that publish the objects.
    :param token: this run's token in hidden names (default: UTC time plus random hex).
    :param orphan_grace_period: how old another run's hidden objects must be before this run deletes them.
    :param fail_on_errors: raise :class:`RecordingDownloadError` after the commit when downloads failed.

    The manifest: ``format`` ``"recordings"``, ``rows`` (the recordings stored), ``files`` (every stored recording: ``path``, ``bytes``, ``sha256``,
    ``call``, ``record``, ``kind``, ``format``, ``status`` ``landed``, the ``run_token`` that downloaded it),
    ``missing`` (``call``, ``record``, ``kind``, ``status``, ``reason``, ``attempts``), ``counts``, ``bytes``.
    """
    grace = grace_seconds(orphan_grace_period)
    now = now or dt.datetime.now(dt.timezone.utc)
    path = to_storage_path(partition, conn_id)
    store = store_for(path)
    store.copy_options = {key: value for key, value in (storage_options or {}).items() if key in _COPIED_OPTIONS}
    _check_partition(store, parse_manifest(store.read_manifest()[0]))  # before any cleanup of the folder
    _repair(store, grace)
    wanted = dedupe(recordings)
    previous = parse_manifest(store.read_manifest()[0])
    plan = _plan(wanted, previous, {entry.name: entry.size for entry in store.list()})
    token = token or f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    run = _Run(path, downloader, token, dict(storage_options or {}))
    committed = False
    try:
        fetched = run.fetch_all(plan.fetch)
        files, missing = _results(plan.fetch, fetched, run, now, ready_within)
        counts = _counts(len(files), len(plan.kept), missing)

        def mark_committed() -> None:
            nonlocal committed
            committed = True

        build = _builder(run.token, missing, counts, extra)
        result = commit_partition(store, files, build, kept=plan.kept, grace=grace, on_commit=mark_committed)
    except BaseException:
        if not committed:
            run.abort()
        raise
    manifest = result.manifest
    if result.superseded_by is not None:
        manifest = {**manifest, "superseded_by": result.superseded_by}
    _report(path, counts, missing, fail_on_errors)
    return manifest


def _builder(
    token: str, missing: list[dict[str, Any]], counts: dict[str, int], extra: Mapping[str, Any] | None
) -> Callable[[str, list[dict[str, Any]], dict[str, Any] | None], dict[str, Any]]:
    """The manifest of this run for the files a commit step lists (``commit_partition``'s ``build``)."""

    def build(phase: str, listed: list[dict[str, Any]], replaces: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "format": RECORDINGS_FORMAT,
            "rows": len(listed),  # one per recording stored: what lineage and run summaries count
            "files": listed,
            "missing": missing,
            "counts": counts,
            "bytes": sum(int(entry["bytes"]) for entry in listed),
            "run_token": token,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "producer": {"package": "airflow-provider-comagic", "version": __version__},
            **dict(extra or {}),
            "phase": phase,
            "replaces": replaces,
        }

    return build


def _repair(store: PartitionStore, grace: float) -> None:
    try:
        repair_partition(store, grace)
    except Exception:
        log.warning("Could not tidy %s before landing recordings; the commit retries", store.path, exc_info=True)


def _report(
    path: ObjectStoragePath, counts: Mapping[str, int], missing: Sequence[Mapping[str, Any]], fail: bool
) -> None:
    """Log what the run came to (counts only: no id, no URL); raise for failures when asked."""
    log.info(
        "Recordings of %s: %d landed (%d downloaded, %d kept), %d absent, %d not ready, %d empty, %d failed",
        path,
        counts[STATUS_LANDED],
        counts["downloaded"],
        counts["kept"],
        counts[STATUS_ABSENT],
        counts[STATUS_NOT_READY],
        counts[STATUS_EMPTY],
        counts[STATUS_FAILED],
    )
    failed = [entry for entry in missing if entry["status"] == STATUS_FAILED]
    if not failed or not fail:
        return
    reasons = collections.Counter(entry["reason"] for entry in failed)
    listed = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(5))
    more = f"; and {len(reasons) - 5} other reasons" if len(reasons) > 5 else ""
    total = sum(counts[status] for status in OUTCOMES)
    raise RecordingDownloadError(
        f"{len(failed)} of {total} recordings could not be downloaded ({listed}{more}); "
        f"every other outcome is committed in {path}, and a rerun downloads only what is missing",
        failed=len(failed),
        reasons=reasons,
    )
