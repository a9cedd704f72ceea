"""OpenLineage datasets of the provider's tasks, built from plain data (OpenLineage is imported only when called).

``apache-airflow-providers-openlineage`` is an optional extra (``[openlineage]``): every function here imports it
inside, so nothing imports it unless Airflow's OpenLineage listener asks a task for its lineage. Naming follows
the OpenLineage dataset naming spec: ``file`` + absolute path, ``s3://<bucket>`` / ``gs://<bucket>`` + key,
``postgres://<host>:<port>`` + ``<database>.<schema>.<table>``, ``clickhouse://<host>:<port>`` +
``<database>.<table>``; an API is ``<vendor>://<host>`` + the method.

A landed partition whose values did not all match the docs carries the custom dataset facet
:data:`DRIFT_FACET` (``comagic_schemaDrift``): the manifest's drift record (policy, rows with a rescued value, per
column and kind of value that arrived the counts coerced/rescued/added/unlisted and one masked example).
"""

from __future__ import annotations

import functools
import logging
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = [
    "DRIFT_FACET",
    "clickhouse_dataset_id",
    "dataset",
    "drift_facet",
    "lineage_or_none",
    "operator_lineage",
    "postgres_dataset_id",
    "storage_dataset_id",
]

log = logging.getLogger(__name__)
Field = tuple[str, str, str | None]
"""A schema field of a dataset: name, type, description."""
F = TypeVar("F", bound=Callable[..., Any])
DRIFT_FACET = "comagic_schemaDrift"
"""The key of the schema-drift dataset facet."""
_DRIFT_SCHEMA_URL = (
    "https://github.com/airflow-provider-comagic/airflow-provider-comagic/tree/main/docs/drift.rst#openlineage"
)


def lineage_or_none(method: F) -> F:
    """Lineage never fails a task: an error (OpenLineage missing, a bad value) is logged and None returned, as
    Airflow's own providers do."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception:
            getattr(self, "log", log).warning("Could not build the OpenLineage facets of %s", self, exc_info=True)
            return None

    return wrapper  # type: ignore[return-value]


def storage_dataset_id(uri: str) -> tuple[str, str]:
    """``(namespace, name)`` of a storage location: ``("file", "/abs/path")``, ``("s3://bucket", "key/path")``."""
    parts = urllib.parse.urlsplit(uri)
    scheme = (parts.scheme or "file").lower()
    path = parts.path.rstrip("/")
    if scheme == "file":
        return "file", path or "/"
    bucket = parts.netloc.rpartition("@")[2]  # no conn_id@
    return f"{scheme}://{bucket}", path.lstrip("/") or "/"


def postgres_dataset_id(host: str, port: int | None, database: str, table: str) -> tuple[str, str]:
    """``(namespace, name)`` of a PostgreSQL table: ``postgres://host:5432``, ``db.schema.table``."""
    schema, _, name = table.rpartition(".")
    return f"postgres://{host}:{port or 5432}", f"{database}.{schema or 'public'}.{name}"


def clickhouse_dataset_id(host: str, port: int | None, database: str, table: str) -> tuple[str, str]:
    """``(namespace, name)`` of a ClickHouse table: ``clickhouse://host:8123``, ``database.table``."""
    return f"clickhouse://{host}:{port or 8123}", f"{database}.{table}"


def dataset(
    namespace: str,
    name: str,
    *,
    fields: Iterable[Field] | None = None,
    rows: int | None = None,
    size: int | None = None,
    files: int | None = None,
    overwritten: bool = False,
    output: bool = False,
    drift: Mapping[str, Any] | None = None,
) -> Any:
    """An OpenLineage input (or ``output``) dataset with a schema facet, output statistics, a lifecycle facet
    (``OVERWRITE`` when it replaced an earlier copy) and, with ``drift`` (a manifest's drift record) that has
    columns, the :data:`DRIFT_FACET`."""
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    facets: dict[str, Any] = {}
    if fields is not None:
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=n, type=t, description=d) for n, t, d in fields]
        )
    if drift and drift.get("columns"):
        facets[DRIFT_FACET] = drift_facet(drift)
    if not output:
        return InputDataset(namespace=namespace, name=name, facets=facets)
    if overwritten:
        facets["lifecycleStateChange"] = LifecycleStateChangeDatasetFacet(
            lifecycleStateChange=LifecycleStateChange.OVERWRITE
        )
    output_facets = {}
    if rows is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=rows, size=size, fileCount=files
        )
    return OutputDataset(namespace=namespace, name=name, facets=facets, outputFacets=output_facets)


@functools.cache
def _drift_facet_class() -> type:
    import attr
    from airflow.providers.common.compat.openlineage.facet import DatasetFacet

    @attr.define
    class SchemaDriftDatasetFacet(DatasetFacet):  # type: ignore[misc]
        """Values of the dataset that did not match the documented types: per column and kind of value that
        arrived, how many were coerced, rescued (into ``_rescued``), added as a new column or not listed by an
        enum, with one masked example."""

        policy: dict = attr.field(factory=dict)
        rescuedRows: int = 0  # OpenLineage facets use camelCase
        columns: list = attr.field(factory=list)

        @staticmethod
        def _get_schema() -> str:
            return _DRIFT_SCHEMA_URL

    return SchemaDriftDatasetFacet


def drift_facet(drift: Mapping[str, Any]) -> Any:
    """The :data:`DRIFT_FACET` of a manifest's drift record."""
    return _drift_facet_class()(
        policy=dict(drift.get("policy") or {}),
        rescuedRows=int(drift.get("rescued_rows") or 0),
        columns=[dict(column) for column in drift.get("columns") or ()],
    )


def operator_lineage(inputs: Sequence[Any], outputs: Sequence[Any]) -> Any:
    """The ``OperatorLineage`` Airflow's OpenLineage listener expects from ``get_openlineage_facets_on_*``."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=list(inputs), outputs=list(outputs))
