"""Where landed files live, and the few store operations the commit protocol needs.

Any :class:`ObjectStoragePath` works (``file://``, ``s3://`` with a connection, ``gs://``...). The commit protocol
(:mod:`~airflow_provider_comagic.landing.commit`) talks to a partition folder through a :class:`PartitionStore`:
list the folder, read the manifest with its version, write the manifest only if it is still at the version read
(compare-and-swap), copy parts to their visible names, delete. :func:`store_for` picks the implementation:

* :class:`LocalStore` (``file://``): the version is the SHA-256 of the manifest's bytes; a first manifest is
  created with ``os.link`` (fails if one exists), a later one replaced with ``os.replace`` while holding an
  ``flock`` on the current manifest's inode (re-checked after the lock is taken, so a writer that waited on a
  replaced inode retries). Needs working ``flock`` (local disks; NFSv4 with its lock manager).
* :class:`S3Store` (``s3://``, s3fs): the version is the ETag; ``PutObject`` with ``If-None-Match: *`` or
  ``If-Match: <etag>`` (AWS S3, MinIO, Ceph RGW and moto honour them); copies are server-side ``CopyObject``;
  deletes one ``DeleteObjects`` call per 1 000 keys.
* :class:`PlainStore` (any other fsspec scheme, e.g. ``gs://`` through gcsfs, which exposes no generation match
  on replace): no precondition the store enforces. The manifest is re-read right before the write and again
  after it, so a conflict is detected unless two writes land within the same few milliseconds; see
  ``docs/landing.rst`` for what that leaves open and how to serialize runs there.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import fcntl
import hashlib
import logging
import os
import posixpath
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_provider_comagic.version_compat import ObjectStoragePath, attach_store

__all__ = [
    "Entry",
    "LocalStore",
    "ManifestConflict",
    "PartitionStore",
    "PlainStore",
    "S3Store",
    "is_local",
    "store_for",
    "to_storage_path",
]

log = logging.getLogger(__name__)

MANIFEST_FILE = "_manifest.json"  # = manifest.MANIFEST_NAME (manifest.py imports this module)
_S3_SINGLE_COPY_LIMIT = 5 * 2**30  # CopyObject copies up to 5 GiB; larger parts go through a multipart copy
_S3_DELETE_BATCH = 1000
_COPY_CONCURRENCY = 16


def normalize_url(text: str) -> str:
    """``file:/abs/path`` (one slash, as RFC 8089 allows) -> ``file:///abs/path``; anything else as given."""
    if text.startswith("file:") and not text.startswith("file://") and text[5:].startswith("/"):
        return "file://" + text[5:]
    return text


def to_storage_path(path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """An :class:`ObjectStoragePath` for a URL (``s3://bucket/x``), a local path, or an existing path object."""
    if isinstance(path, ObjectStoragePath):
        return path if conn_id is None else ObjectStoragePath(str(path), conn_id=conn_id)
    text = normalize_url(os.fspath(path))
    if "://" not in text:
        text = "file://" + os.path.abspath(text)
    if text.startswith("file://") and not conn_id:
        _attach_local_disk()
    # no conn_id=None: on Airflow 2.10 an explicit None overrides the connection named in the URL (s3://conn@bucket)
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def _attach_local_disk() -> None:
    """Register the local disk with Airflow's object-store registry unless something else already did (then
    that store is kept). Otherwise the first ``.fs`` of a ``file://`` path has Airflow discover and import every
    provider's file systems (the Amazon provider's S3 hooks and boto: over a second per task) to build the very
    ``LocalFileSystem`` given here."""
    from fsspec.implementations.local import LocalFileSystem

    attach_store("file", fs=LocalFileSystem())


def is_local(fs: Any) -> bool:
    """Whether an fsspec file system is the local disk (atomic rename available)."""
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file of a partition folder as a listing shows it: base name, size, last change (POSIX seconds)."""

    name: str
    size: int
    modified: float | None


class ManifestConflict(Exception):
    """The manifest is not at the version a conditional write expected: another run wrote (or removed) it."""


class PartitionStore:
    """The store operations of the commit protocol on one partition folder.

    ``requests`` counts the store requests made, by operation (the protocol's cost, see ``benchmarks/``).
    ``conditional`` says whether the store itself enforces :meth:`put_manifest`'s precondition.
    ``copy_options`` are sent with every server-side copy of :meth:`publish` (S3: the server-side encryption the
    parts were written with, which a copy does not inherit).
    """

    conditional = True

    def __init__(self, path: ObjectStoragePath):
        self.copy_options: dict[str, Any] = {}
        self.path = path
        self.fs = path.fs
        self.directory = path.path.rstrip("/")
        self.requests: collections.Counter[str] = collections.Counter()

    def key(self, name: str) -> str:
        return posixpath.join(self.directory, name)

    def list(self) -> list[Entry]:
        """The files of the folder now (never a cached listing); [] when the folder does not exist."""
        raise NotImplementedError

    def read_manifest(self) -> tuple[bytes | None, str | None]:
        """The manifest's bytes and version, or ``(None, None)`` when there is none."""
        raise NotImplementedError

    def put_manifest(self, body: bytes, expected: str | None) -> str:
        """Write the manifest if it is still at ``expected`` (None: if there is none); return the new version.

        Raises :class:`ManifestConflict` otherwise.
        """
        raise NotImplementedError

    def publish(self, copies: Sequence[tuple[str, str, int]]) -> None:
        """Copy each ``(source, target, size)`` file of the folder; a missing source raises FileNotFoundError."""
        raise NotImplementedError

    def delete(self, names: Iterable[str]) -> None:
        """Delete these files of the folder; missing ones are fine."""
        raise NotImplementedError


class LocalStore(PartitionStore):
    """``file://``: compare-and-swap under ``flock``, hard links for publishing (see the module docstring)."""

    def list(self) -> list[Entry]:
        self.requests["list"] += 1
        entries = []
        try:
            scan = os.scandir(self.directory)
        except FileNotFoundError:
            return []
        with scan:
            for item in scan:
                with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                    if item.is_file(follow_symlinks=False):
                        stat = item.stat(follow_symlinks=False)
                        entries.append(Entry(item.name, stat.st_size, stat.st_mtime))
        return entries

    def read_manifest(self) -> tuple[bytes | None, str | None]:
        self.requests["read"] += 1
        try:
            with open(self.key(MANIFEST_FILE), "rb") as handle:
                body = handle.read()
        except FileNotFoundError:
            return None, None
        return body, _digest(body)

    def put_manifest(self, body: bytes, expected: str | None) -> str:
        self.requests["put"] += 1
        target = self.key(MANIFEST_FILE)
        os.makedirs(self.directory, exist_ok=True)
        tmp = self.key(f"_tmp-{uuid.uuid4().hex}{MANIFEST_FILE}")
        with open(tmp, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            if expected is None:
                try:
                    os.link(tmp, target)  # atomic create-if-absent
                except FileExistsError:
                    raise ManifestConflict("a manifest exists already") from None
            else:
                with self._locked_manifest(target) as current:
                    if _digest(current) != expected:
                        raise ManifestConflict("the manifest changed since it was read")
                    os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        _fsync_directory(self.directory)
        return _digest(body)

    @staticmethod
    @contextlib.contextmanager
    def _locked_manifest(target: str) -> Iterator[bytes]:
        """Hold an exclusive lock on the manifest currently at ``target`` and yield its bytes."""
        while True:
            try:
                fd = os.open(target, os.O_RDWR)  # read-write: NFS emulates flock with write locks
            except FileNotFoundError:
                raise ManifestConflict("the manifest was removed since it was read") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.fstat(fd).st_ino == os.stat(target).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    with os.fdopen(os.dup(fd), "rb") as handle:
                        yield handle.read()
                    return
            finally:
                os.close(fd)  # releases the lock
            # the manifest was replaced while we waited for the lock: lock the new one

    def publish(self, copies: Sequence[tuple[str, str, int]]) -> None:
        for source, target, _size in copies:
            self.requests["copy"] += 1
            try:
                os.link(self.key(source), self.key(target))  # the same inode: no bytes copied
            except FileExistsError:  # published before (a repair finishing this run's commit): the same inode
                if not os.path.samefile(self.key(source), self.key(target)):
                    os.unlink(self.key(target))
                    os.link(self.key(source), self.key(target))
        if copies:
            _fsync_directory(self.directory)

    def delete(self, names: Iterable[str]) -> None:
        for name in names:
            self.requests["delete"] += 1
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.key(name))


class S3Store(PartitionStore):
    """``s3://`` through s3fs: conditional ``PutObject``, server-side copies, bulk deletes."""

    def _bucket_key(self, name: str) -> tuple[str, str]:
        bucket, key, _ = self.fs.split_path(self.key(name))
        return bucket, key

    def _sync(self, coroutine: Any) -> Any:
        from fsspec.asyn import sync

        return sync(self.fs.loop, lambda: coroutine)

    def list(self) -> list[Entry]:
        self.requests["list"] += 1
        self.fs.invalidate_cache(self.directory)
        try:
            items = self.fs.ls(self.directory, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        finally:
            self.fs.invalidate_cache(self.directory)  # a cached listing would hide files created after it
        entries = []
        for item in items:
            if item.get("type") == "file":
                modified = item.get("LastModified")
                stamp = modified.timestamp() if hasattr(modified, "timestamp") else None
                entries.append(Entry(posixpath.basename(item["name"]), int(item.get("size") or 0), stamp))
        return entries

    def read_manifest(self) -> tuple[bytes | None, str | None]:
        self.requests["read"] += 1
        bucket, key = self._bucket_key(MANIFEST_FILE)

        async def get() -> tuple[bytes, str]:
            response = await self.fs._call_s3("get_object", Bucket=bucket, Key=key)
            async with response["Body"] as stream:
                return await stream.read(), response["ETag"]

        try:
            return self._sync(get())
        except FileNotFoundError:
            return None, None

    def put_manifest(self, body: bytes, expected: str | None) -> str:
        self.requests["put"] += 1
        bucket, key = self._bucket_key(MANIFEST_FILE)
        condition = {"IfNoneMatch": "*"} if expected is None else {"IfMatch": expected}
        try:
            response = self.fs.call_s3(
                "put_object", Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition
            )
        except FileNotFoundError:  # If-Match on a manifest that was removed meanwhile
            raise ManifestConflict("the manifest was removed since it was read") from None
        except OSError as error:
            if _s3_precondition_failed(error):
                raise ManifestConflict(f"the manifest changed since it was read ({error})") from None
            raise
        finally:
            self.fs.invalidate_cache(self.directory)
        return response["ETag"]

    def publish(self, copies: Sequence[tuple[str, str, int]]) -> None:
        if not copies:
            return
        self.requests["copy"] += len(copies)
        limit = asyncio.Semaphore(_COPY_CONCURRENCY)

        async def copy(source: str, target: str, size: int) -> None:
            async with limit:
                if size < _S3_SINGLE_COPY_LIMIT:
                    bucket, source_key = self._bucket_key(source)
                    _, target_key = self._bucket_key(target)
                    await self.fs._call_s3(
                        "copy_object",
                        Bucket=bucket,
                        Key=target_key,
                        CopySource={"Bucket": bucket, "Key": source_key},
                        **self.copy_options,
                    )
                else:
                    await self.fs._copy_managed(self.key(source), self.key(target), size, **self.copy_options)

        async def copy_all() -> None:
            await asyncio.gather(*(copy(*item) for item in copies))

        try:
            self._sync(copy_all())
        finally:
            self.fs.invalidate_cache(self.directory)

    def delete(self, names: Iterable[str]) -> None:
        keys = sorted({self._bucket_key(name)[1] for name in names})
        if not keys:
            return
        bucket = self._bucket_key(MANIFEST_FILE)[0]
        for start in range(0, len(keys), _S3_DELETE_BATCH):
            self.requests["delete"] += 1
            batch = [{"Key": key} for key in keys[start : start + _S3_DELETE_BATCH]]
            response = self.fs.call_s3("delete_objects", Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            for failed in response.get("Errors") or []:
                log.warning("Could not delete %s: %s", failed.get("Key"), failed.get("Message"))
        self.fs.invalidate_cache(self.directory)


class PlainStore(PartitionStore):
    """Any other fsspec store: the same protocol without a store-enforced precondition (module docstring)."""

    conditional = False

    def list(self) -> list[Entry]:
        self.requests["list"] += 1
        self.fs.invalidate_cache(self.directory)
        try:
            items = self.fs.ls(self.directory, detail=True)
        except FileNotFoundError:
            return []
        return [
            Entry(posixpath.basename(item["name"].rstrip("/")), int(item.get("size") or 0), _modified(item))
            for item in items
            if item.get("type") == "file"
        ]

    def read_manifest(self) -> tuple[bytes | None, str | None]:
        self.requests["read"] += 1
        try:
            body = self.fs.cat_file(self.key(MANIFEST_FILE))
        except FileNotFoundError:
            return None, None
        return body, _digest(body)

    def put_manifest(self, body: bytes, expected: str | None) -> str:
        if self.read_manifest()[1] != expected:
            raise ManifestConflict("the manifest changed since it was read")
        self.requests["put"] += 1
        self.fs.pipe_file(self.key(MANIFEST_FILE), body)
        if self.read_manifest()[0] != body:  # overwritten right away by another run: that run is the later one
            raise ManifestConflict("another run wrote the manifest at the same moment")
        return _digest(body)

    def publish(self, copies: Sequence[tuple[str, str, int]]) -> None:
        for source, target, _size in copies:
            self.requests["copy"] += 1
            self.fs.copy(self.key(source), self.key(target))

    def delete(self, names: Iterable[str]) -> None:
        for name in names:
            self.requests["delete"] += 1
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self.key(name))


def store_for(path: ObjectStoragePath) -> PartitionStore:
    """The :class:`PartitionStore` of a partition folder's file system."""
    if is_local(path.fs):
        return LocalStore(path)
    if "s3" in _protocols(path.fs) and hasattr(path.fs, "call_s3"):
        return S3Store(path)
    return PlainStore(path)


def _protocols(fs: Any) -> set[str]:
    protocol = getattr(fs, "protocol", ())
    return {protocol} if isinstance(protocol, str) else set(protocol)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _fsync_directory(directory: str) -> None:
    """Make renames and links in ``directory`` durable (a power cut after the commit keeps them)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _modified(item: dict[str, Any]) -> float | None:
    for name in ("mtime", "LastModified", "updated", "last_modified", "created"):
        value = item.get(name)
        if isinstance(value, int | float):
            return float(value)
        if hasattr(value, "timestamp"):
            return value.timestamp()
        if isinstance(value, str):
            import datetime as dt

            with contextlib.suppress(ValueError):
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def _s3_precondition_failed(error: BaseException) -> bool:
    """Whether an s3fs error is a failed If-Match / If-None-Match (412) or a conflicting conditional write (409)."""
    seen: BaseException | None = error
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in {"PreconditionFailed", "ConditionalRequestConflict"} or status in {409, 412}:
                return True
        seen = seen.__cause__ or seen.__context__
    return "PreconditionFailed" in str(error) or "ConditionalRequestConflict" in str(error)
