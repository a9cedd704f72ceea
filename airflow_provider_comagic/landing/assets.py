"""Landed partitions as Airflow Assets: the asset of a report's folder, the key of each partition, the event's extra.

One asset per report folder of a lake (``s3://bucket/comagic/calls_report``, ``file:///data/comagic/calls_report``),
one asset event per committed partition. On Airflow 3.3+ each event carries its partition key
(``YYYY-MM-DD`` of the account's zone, ``<client>|YYYY-MM-DD`` for an agency's client or an MCN vPBX); on older
versions one event per task carries every key in its ``extra``. Airflow gives all partition events of one task the
same ``extra``, so the per-partition details (manifest, rows, bytes, interval, client, API use) are under
``extra["partitions"][key]`` (with ``drift`` when values did not match the docs: the manifest's drift records);
:func:`landed_partitions` reads them back in a consuming task.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_comagic.landing.storage import normalize_url
from airflow_provider_comagic.version_compat import (
    PARTITIONED_ASSETS,
    TRIGGERING_ASSET_EVENTS,
    Asset,
    AssetAlias,
    ObjectStoragePath,
    PartitionedAssetTimetable,
)

__all__ = [
    "EVENT_FIELDS",
    "asset_event_extra",
    "emit_alias_events",
    "emit_asset_events",
    "landed_partitions",
    "landing_alias",
    "landing_asset",
    "partition_key",
    "partitioned_schedule",
    "storage_uri",
]

EVENT_FIELDS = (
    "manifest",
    "partition",
    "rows",
    "bytes",
    "files",
    "date_from",
    "date_till",
    "customer_id",
    "user_id",
    "vpbx_id",
    "api_calls",
    "points",
    "replaced",
    "drift",
)
"""What an event's ``extra["partitions"][key]`` holds of a partition's summary (when the operator has it)."""

_COMPACT = "%Y%m%dT%H%M%S"


def storage_uri(path: str | os.PathLike[str] | ObjectStoragePath) -> str:
    """The URI of a storage location as Airflow's asset rules want it: scheme lower-case, no user info (the
    ``conn_id@`` of ``s3://conn_id@bucket``), no trailing slash; a local path becomes ``file:///abs/path``."""
    text = str(path) if isinstance(path, ObjectStoragePath) else normalize_url(os.fspath(path))
    if "://" not in text:
        text = "file://" + os.path.abspath(text)
    parts = urllib.parse.urlsplit(text)
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/") or "/", "", ""))


def landing_asset(output_path: str | os.PathLike[str] | ObjectStoragePath, folder: str) -> Asset:
    """The asset of a report's folder under a lake, e.g. ``s3://bucket/comagic/calls_report``."""
    base = storage_uri(output_path).rstrip("/")
    return Asset(f"{base}/{folder.strip('/')}")


def partition_key(
    start: dt.datetime, end: dt.datetime, tz: dt.tzinfo, client: Any = None, *, monthly: bool = False
) -> str:
    """``YYYY-MM-DD`` of a one-day interval of the account's zone (``<start>_<end>`` wall clock otherwise;
    ``YYYY-MM`` of a ``monthly`` report's month), prefixed by ``<client>|`` for an agency's client or an MCN
    vPBX."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    if monthly:
        key = local_start.strftime("%Y-%m")
        return key if client in (None, "") else f"{client}|{key}"
    one_day = (
        local_start.timetz().replace(tzinfo=None) == dt.time()
        and local_end.time() == dt.time()
        and local_end.date() == local_start.date() + dt.timedelta(days=1)
    )
    key = (
        local_start.date().isoformat()
        if one_day
        else f"{local_start.strftime(_COMPACT)}_{local_end.strftime(_COMPACT)}"
    )
    return key if client in (None, "") else f"{client}|{key}"


def asset_event_extra(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``extra`` of the asset event(s) of one task: every key, the details of each, and the first partition's
    (the run's own data interval) details at the top level for consumers that read one partition per event."""
    partitions = {
        entry["partition_key"]: {name: entry[name] for name in EVENT_FIELDS if entry.get(name) is not None}
        for entry in entries
    }
    keys = list(partitions)
    first = partitions[keys[0]] if keys else {}
    return {**first, "partition_key": keys[0] if keys else None, "partition_keys": keys, "partitions": partitions}


def emit_asset_events(outlet_events: Any, asset: Asset, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Record the events of ``entries`` on ``asset``: one per partition key on Airflow 3.3+, else one event whose
    ``extra`` holds the keys. Returns the ``extra``."""
    extra = asset_event_extra(entries)
    accessor = outlet_events[asset]
    accessor.extra.update(extra)
    if PARTITIONED_ASSETS and extra["partition_keys"]:
        accessor.add_partitions(extra["partition_keys"])
    return extra


def landing_alias(dag_id: str | None, task_id: str) -> AssetAlias:
    """The asset alias a landing task declares when its output path is a template (the asset's URI is known only
    once rendered): ``comagic:<dag_id>.<task_id>``. Its events name the concrete asset of the report folder."""
    return AssetAlias(name=f"comagic:{dag_id}.{task_id}" if dag_id else f"comagic:{task_id}")


def emit_alias_events(
    outlet_events: Any, alias: AssetAlias, asset: Asset, entries: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Record the events of ``entries`` on ``asset`` through ``alias``: one event per partition, its ``extra`` the
    partition's details and ``partition_key``, flat (Airflow keeps one event per distinct extra, an alias event
    carries the run's partition key only, and Airflow 2.10 hashes an alias event's extra: scalars only). Returns
    the extra of all the partitions, for the log."""
    accessor = outlet_events[alias]
    for entry in entries:
        details = {name: entry[name] for name in EVENT_FIELDS if entry.get(name) is not None}
        accessor.add(asset, extra={**details, "partition_key": entry["partition_key"]})
    return asset_event_extra(entries)


def partitioned_schedule(assets: Asset | Iterable[Asset]) -> Any:
    """A DAG ``schedule`` running once per partition of ``assets`` on Airflow 3.3+ (``PartitionedAssetTimetable``),
    else once per asset event (each event then lists its partitions in ``extra``)."""
    listed = [assets] if isinstance(assets, Asset) else list(assets)
    if PartitionedAssetTimetable is None:
        return listed
    condition = listed[0]
    for asset in listed[1:]:
        condition = condition | asset
    return PartitionedAssetTimetable(assets=condition)


def landed_partitions(context: Mapping[str, Any], asset: Asset | str | None = None) -> list[dict[str, Any]]:
    """The partitions (``partition_key`` plus the :data:`EVENT_FIELDS` entries) that triggered this run.

    In a run of a partition (Airflow 3.3+, :func:`partitioned_schedule`) that is the run's partition; otherwise
    every partition listed by the triggering events. ``asset`` (or its URI) limits the events read."""
    uri = None if asset is None else asset if isinstance(asset, str) else asset.uri
    run_key = context.get("partition_key")
    found: dict[str, dict[str, Any]] = {}
    for event_asset, events in _triggering_events(context):
        if uri is not None and getattr(event_asset, "uri", event_asset) != uri:
            continue
        for event in events:
            extra = dict(getattr(event, "extra", None) or {})
            key = getattr(event, "partition_key", None) or run_key
            listed = extra.get("partitions") or {}
            if not listed and extra.get("partition_key"):  # an event through an alias: one partition, flat
                details = {name: value for name, value in extra.items() if name != "partition_key"}
                listed = {extra["partition_key"]: details}
            wanted = [key] if key and key in listed else list(listed)
            for name in wanted:
                found[name] = {"partition_key": name, **listed[name]}
    return list(found.values())


def _triggering_events(context: Mapping[str, Any]) -> list[tuple[Any, list[Any]]]:
    events = context.get(TRIGGERING_ASSET_EVENTS) or {}
    return [(key, list(events[key])) for key in events]  # a lazy mapping: iterated by key, not .items()
