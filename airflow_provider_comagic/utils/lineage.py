"""OpenLineage datasets of the provider's tasks, built from plain data (OpenLineage is imported only when called).

``apache-airflow-providers-openlineage`` is an optional extra (``[openlineage]``): every function here imports it
inside, so nothing imports it unless Airflow's OpenLineage listener asks a task for its lineage. Naming follows
the OpenLineage dataset naming spec: ``file`` + absolute path, ``s3://<bucket>`` / ``gs://<bucket>`` + key,
``postgres://<host>:<port>`` + ``<database>.<schema>.<table>``, ``clickhouse://<host>:<port>`` +
``<database>.<table>``; an API is ``<vendor>://<host>`` + the method.
"""

from __future__ import annotations

import functools
import logging
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

__all__ = [
    "clickhouse_dataset_id",
    "dataset",
    "lineage_or_none",
    "operator_lineage",
    "postgres_dataset_id",
    "storage_dataset_id",
]

log = logging.getLogger(__name__)
Field = tuple[str, str, str | None]
"""A schema field of a dataset: name, type, description."""
F = TypeVar("F", bound=Callable[..., Any])


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
) -> Any:
    """An OpenLineage input (or ``output``) dataset with a schema facet, output statistics and a lifecycle facet
    (``OVERWRITE`` when it replaced an earlier copy)."""
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


def operator_lineage(inputs: Sequence[Any], outputs: Sequence[Any]) -> Any:
    """The ``OperatorLineage`` Airflow's OpenLineage listener expects from ``get_openlineage_facets_on_*``."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=list(inputs), outputs=list(outputs))
