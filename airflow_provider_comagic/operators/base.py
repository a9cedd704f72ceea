"""What every landing operator shares: the output options, declared, templated, validated and documented once.

A landing operator (the CoMagic report operators, the MCN call-log operator) reads rows from an API and lands
them as partitions through :mod:`~airflow_provider_comagic.landing`. Its output options are those of
:class:`BaseLandingOperator`; the vendor's operator adds its source arguments and sets :attr:`parameter_error`
to its vendor's error class, so bad input names the vendor it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_comagic.exceptions import LandingError, ParameterError
from airflow_provider_comagic.landing.assets import emit_alias_events, emit_asset_events, landing_alias, landing_asset
from airflow_provider_comagic.landing.drift import DEFAULT_MAX_RESCUED_FRACTION, DriftPolicy
from airflow_provider_comagic.landing.formats import DEFAULT_GZIP_LEVEL, FORMATS, check_gzip_level
from airflow_provider_comagic.landing.lineage import landed_dataset
from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.run_info import run_info
from airflow_provider_comagic.landing.storage import normalize_url, to_storage_path
from airflow_provider_comagic.landing.writer import (
    DEFAULT_MAX_BYTES_PER_FILE,
    DEFAULT_MAX_ROWS_PER_FILE,
    DEFAULT_ROW_GROUP_ROWS,
)
from airflow_provider_comagic.utils.lineage import lineage_or_none, operator_lineage
from airflow_provider_comagic.utils.templating import is_templated
from airflow_provider_comagic.version_compat import Asset, AssetAlias, BaseOperator, ObjectStoragePath, current_dag

__all__ = ["TIMESTAMP_MODES", "BaseLandingOperator"]

TIMESTAMP_MODES = ("account", "utc")


def check_output_path(path: Any, error: type[ParameterError] = ParameterError) -> None:
    """A lake path must say where it is: a URL with a scheme, or an absolute local path. A relative path would
    land on the worker's local disk under whatever its current directory is."""
    if isinstance(path, ObjectStoragePath):
        return
    text = normalize_url(str(path or "").strip())
    if not text:
        raise error("output_path is empty: give a URL such as file:///abs/path or s3://conn_id@bucket/prefix")
    if text.startswith("file:") and not text.startswith("file:///"):
        raise error(
            f"output_path {text!r} is not an absolute local path: write file:///abs/path (file:/abs/path is fine "
            "too); a relative one would land under the worker's current directory"
        )
    if "://" not in text and not text.startswith("/"):
        raise error(
            f"output_path {text!r} has no scheme and is not absolute (it would land under the worker's current "
            "directory): give a URL such as file:///abs/path or s3://conn_id@bucket/prefix"
        )


class BaseLandingOperator(BaseOperator):
    """
    Base of the operators that land API rows as partitions (gzip JSON Lines or Parquet parts committed by a
    ``_manifest.json``): the output options below, with their checks (literal values at DAG parse time,
    templated ones once rendered).

    :param output_path: base URL or path of the lake, e.g. ``s3://bucket/comagic`` or ``file:///data/comagic``.
        (templated)
    :param output_format: ``"parquet"`` (typed columns) or ``"jsonl"`` (gzip JSON Lines, rows exactly as the
        API returned them). (templated)
    :param output_conn_id: connection of the object storage (e.g. an ``aws`` connection for ``s3://``).
    :param timestamps: Parquet timestamp columns in the account's zone (``"account"``) or in ``"utc"``.
    :param max_rows_per_file: start a new part file after this many rows.
    :param max_bytes_per_file: start a new part file after this many bytes.
    :param row_group_rows: Parquet row-group size (also the most rows held in memory).
    :param gzip_level: gzip level of JSON Lines parts, 0-9 (1 is fastest; 1-3 are written with ISA-L).
    :param on_type_mismatch: Parquet values that do not match the documented type: ``"rescue"`` (default: kept
        as sent in the ``_rescued`` column, the typed column null), ``"coerce_only"`` (lossless coercions only,
        anything else fails the task) or ``"fail"`` (any value not exactly as documented fails the task). See
        ``docs/drift.rst``.
    :param max_rescued_fraction: fail the task when more than this share (0-1) of a partition's rows had a
        documented column's value rescued (a changed API, not noise; up to 5 values never fail); a mapping sets it
        per column (``{"talk_duration": 0.5, "*": 0.01}``); None: no limit. Default 0.05.
    :param schema_evolution: fields the docs do not list become new (string) Parquet columns instead of going to
        ``_rescued``.

    :param output_asset: the ``Asset`` (or ``AssetAlias``) this task's partitions update, declared at DAG parse
        time; default: see below.

    **Assets.** Each committed partition emits an asset event naming the asset of its report folder (e.g.
    ``s3://bucket/comagic/calls_report``; :mod:`airflow_provider_comagic.landing.assets`). Airflow records
    events only for what a task declared at parse time, so the task declares:

    * with a literal ``output_path``: that asset, whose events carry each partition's key (Airflow 3.3+), so a
      DAG can be scheduled once per partition;
    * with a templated ``output_path`` (its URI is known only once rendered): the asset alias
      ``comagic:<dag_id>.<task_id>`` (:func:`~airflow_provider_comagic.landing.assets.landing_alias`), whose events
      name the concrete asset, one event per partition with its key in the event's ``extra`` (an alias event
      carries the run's partition key only);
    * with ``output_asset``: that asset (events with partition keys) or alias, whatever the path.
    """

    template_fields: Sequence[str] = ("output_path", "output_format")
    parameter_error: ClassVar[type[ParameterError]] = ParameterError
    """The error class of bad input (each vendor's operator sets its own)."""

    def __init__(
        self,
        *,
        output_path: str,
        output_format: str = "parquet",
        output_conn_id: str | None = None,
        timestamps: str = "account",
        max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE,
        max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        gzip_level: int = DEFAULT_GZIP_LEVEL,
        on_type_mismatch: str = "rescue",
        max_rescued_fraction: float | Mapping[str, float] | None = DEFAULT_MAX_RESCUED_FRACTION,
        schema_evolution: bool = False,
        output_asset: Asset | AssetAlias | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_asset = output_asset
        self.output_path = output_path
        self.output_format = output_format
        self.output_conn_id = output_conn_id
        self.timestamps = timestamps
        self.max_rows_per_file = max_rows_per_file
        self.max_bytes_per_file = max_bytes_per_file
        self.row_group_rows = row_group_rows
        self.gzip_level = gzip_level
        self.on_type_mismatch = on_type_mismatch
        self.max_rescued_fraction = max_rescued_fraction
        self.schema_evolution = schema_evolution

    @classmethod
    def asset_folder_of(cls, arguments: Mapping[str, Any]) -> str | None:
        """The report folder under ``output_path`` whose asset a task of these constructor ``arguments`` updates
        (None until it is known; each family names its own)."""
        return None

    def asset_folder(self) -> str | None:
        """The report folder under ``output_path`` whose asset this task updates."""
        return type(self).asset_folder_of(vars(self))

    @classmethod
    def parse_time_outlet(cls, arguments: Mapping[str, Any], dag_id: str | None) -> Asset | AssetAlias | None:
        """What a task of these constructor ``arguments`` declares at parse time (see the class docstring)."""
        given = arguments.get("output_asset")
        if given is not None:
            if not isinstance(given, Asset | AssetAlias):
                raise cls.parameter_error(f"output_asset must be an Asset or an AssetAlias, got {given!r:.100}")
            return given
        path, folder = arguments.get("output_path"), cls.asset_folder_of(arguments)
        if folder is None:
            return None
        if is_templated(path) or is_templated(folder):
            return landing_alias(dag_id, arguments["task_id"])
        if not isinstance(path, ObjectStoragePath) and not str(path or "").strip():
            return None
        return landing_asset(path, folder)

    def declare_output_asset(self) -> Asset | AssetAlias | None:
        """Add the parse-time outlet to ``outlets`` (once); remember it for the events."""
        outlet = self.parse_time_outlet(vars(self) | {"task_id": self.task_id}, self._dag_id())
        self._declared_outlet = outlet
        if outlet is not None and outlet not in list(self.outlets or []):
            self.outlets = [*(self.outlets or []), outlet]
        return outlet

    def _dag_id(self) -> str | None:
        dag = getattr(self, "dag", None) if self.has_dag() else None
        return dag.dag_id if dag is not None else None

    def landing_asset(self) -> Asset:
        """The asset of this task's report folder under the (rendered) ``output_path``."""
        return landing_asset(self.output_path, self.asset_folder() or "")

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:  # type: ignore[override]
        """A mapped task declares its outlet at parse time too (its ``__init__`` runs only once mapped)."""
        if not kwargs.get("outlets"):
            dag = kwargs.get("dag") or current_dag()
            outlet = cls.parse_time_outlet(kwargs, dag.dag_id if dag is not None else None)
            if outlet is not None:
                kwargs["outlets"] = [outlet]
        return super().partial(**kwargs)

    def emit_landed(self, context: Mapping[str, Any], entries: list[dict[str, Any]]) -> None:
        """The asset events of the committed partitions ``entries`` (each with its ``partition_key``)."""
        self._landed = list(entries)  # what the lineage reports
        outlet = getattr(self, "_declared_outlet", None)
        outlet_events = context.get("outlet_events")
        if outlet is None or outlet_events is None or not entries:
            return
        if isinstance(outlet, AssetAlias):
            asset = self.landing_asset()
            extra = emit_alias_events(outlet_events, outlet, asset, entries)
            via = f" (through the alias {outlet.name})"
        else:
            asset, via = outlet, ""
            extra = emit_asset_events(outlet_events, outlet, entries)
        self.log.info(
            "Asset %s%s: %d partition event(s), keys %s", asset.uri, via, len(entries), extra["partition_keys"]
        )

    def api_dataset(self) -> Any:
        """The OpenLineage input dataset of the API this task read (set by each vendor's operator)."""
        raise NotImplementedError

    @lineage_or_none
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the API as input, each partition this task committed as output (schema from the
        manifest's Arrow schema, row/byte/file counts, ``OVERWRITE`` when it replaced a copy)."""
        outputs = []
        for entry in getattr(self, "_landed", None) or []:
            manifest = read_manifest(entry["partition"], self.output_conn_id)
            if manifest is not None:
                outputs.append(landed_dataset(entry["partition"], manifest, output=True))
        return operator_lineage([self.api_dataset()], outputs)

    def check_output_options(self, *, rendered: bool) -> None:
        """Raise :attr:`parameter_error` for a bad output option (a templated one is checked once rendered)."""
        error = self.parameter_error
        if rendered or not is_templated(self.output_path):
            check_output_path(self.output_path, error)
        fmt = self.output_format
        if (rendered or not is_templated(fmt)) and fmt not in FORMATS:
            raise error(f"output_format must be one of {', '.join(sorted(FORMATS))}, got {fmt!r}")
        if self.timestamps not in TIMESTAMP_MODES:
            raise error(f"timestamps must be 'account' or 'utc', got {self.timestamps!r}")
        try:
            check_gzip_level(self.gzip_level)
        except LandingError as bad:
            raise error(str(bad)) from None
        for name in ("max_rows_per_file", "max_bytes_per_file", "row_group_rows"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise error(f"{name} must be a positive integer, got {value!r}")
        self.drift_policy()

    def drift_policy(self) -> DriftPolicy:
        """The drift policy of this task's typed partitions; :attr:`parameter_error` naming a bad option."""
        try:
            return DriftPolicy(self.on_type_mismatch, self.max_rescued_fraction, self.schema_evolution)
        except LandingError as bad:
            raise self.parameter_error(str(bad)) from None

    def writer_options(self) -> dict[str, Any]:
        """The :class:`~airflow_provider_comagic.landing.writer.PartitionWriter` options of this task."""
        return {
            "max_rows_per_file": self.max_rows_per_file,
            "max_bytes_per_file": self.max_bytes_per_file,
            "row_group_rows": self.row_group_rows,
            "gzip_level": self.gzip_level,
            "drift": self.drift_policy(),
        }

    def output_base(self) -> ObjectStoragePath:
        """The rendered ``output_path`` as a storage path (with ``output_conn_id``)."""
        return to_storage_path(self.output_path, self.output_conn_id)

    @staticmethod
    def airflow_run_info(context: Mapping[str, Any]) -> dict[str, Any]:
        """What the manifest records about the Airflow run (dag, task, run id, try)."""
        return run_info(context)
