"""OpenLineage datasets of landed partitions: name from the partition's URI, schema from the manifest's Arrow
schema, row/byte/file counts, the overwrite and what drifted (the ``comagic_schemaDrift`` facet) from the manifest
(see :mod:`airflow_provider_comagic.utils.lineage`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_comagic.landing.assets import storage_uri
from airflow_provider_comagic.landing.manifest import manifest_schema
from airflow_provider_comagic.utils.lineage import Field, dataset, storage_dataset_id

__all__ = ["landed_dataset", "manifest_fields"]


def manifest_fields(manifest: Mapping[str, Any]) -> list[Field] | None:
    """The schema fields of a manifest's exact Arrow schema (None when it records none)."""
    schema = manifest_schema(manifest)
    if schema is None:
        return None
    return [(f.name, str(f.type), (f.metadata or {}).get(b"description", b"").decode() or None) for f in schema]


def landed_dataset(partition: Any, manifest: Mapping[str, Any], *, output: bool) -> Any:
    """The OpenLineage dataset of a committed partition (an output with statistics and, when its commit replaced
    a copy, the ``OVERWRITE`` lifecycle facet; or an input, as the PostgreSQL loader reads it)."""
    namespace, name = storage_dataset_id(storage_uri(partition))
    if not output:
        return dataset(namespace, name, fields=manifest_fields(manifest), drift=manifest.get("drift"))
    return dataset(
        namespace,
        name,
        fields=manifest_fields(manifest),
        rows=manifest["rows"],
        size=manifest["bytes"],
        files=len(manifest["files"]),
        overwritten=bool(manifest.get("replaces")),
        output=True,
        drift=manifest.get("drift"),
    )
