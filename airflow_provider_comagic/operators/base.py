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
from airflow_provider_comagic.landing.assets import emit_asset_events, landing_asset
from airflow_provider_comagic.landing.drift import DEFAULT_MAX_RESCUED_FRACTION, DriftPolicy
from airflow_provider_comagic.landing.formats import DEFAULT_GZIP_LEVEL, FORMATS, check_gzip_level
from airflow_provider_comagic.landing.lineage import landed_dataset
from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.run_info import run_info
from airflow_provider_comagic.landing.storage import to_storage_path
from airflow_provider_comagic.landing.writer import (
    DEFAULT_MAX_BYTES_PER_FILE,
    DEFAULT_MAX_ROWS_PER_FILE,
    DEFAULT_ROW_GROUP_ROWS,
)
from airflow_provider_comagic.utils.lineage import lineage_or_none, operator_lineage
from airflow_provider_comagic.utils.templating import is_templated
from airflow_provider_comagic.version_compat import Asset, BaseOperator, ObjectStoragePath

__all__ = ["TIMESTAMP_MODES", "BaseLandingOperator"]

TIMESTAMP_MODES = ("account", "utc")


def check_output_path(path: Any, error: type[ParameterError] = ParameterError) -> None:
    """A lake path must say where it is: a URL with a scheme, or an absolute local path. A relative path would
    land on the worker's local disk under whatever its current directory is."""
    if isinstance(path, ObjectStoragePath):
        return
    text = str(path or "").strip()
    if not text:
        raise error("output_path is empty: give a URL such as file:///abs/path or s3://conn_id@bucket/prefix")
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

    **Assets.** The operator's output is the asset of its report folder (:meth:`output_asset`, e.g.
    ``s3://bucket/comagic/calls_report``), added to ``outlets`` at parse time when ``output_path`` is a literal
    and once rendered when it is templated; each committed partition emits an asset event
    (:mod:`airflow_provider_comagic.landing.assets`).
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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

    def asset_folder(self) -> str | None:
        """The report folder under ``output_path`` whose asset this task updates (None until it is known)."""
        return None

    def output_asset(self, *, rendered: bool = True) -> Asset | None:
        """The asset of this task's output, or None while ``output_path`` (or the folder) is still a template."""
        folder = self.asset_folder()
        if folder is None or is_templated(folder) or (not rendered and is_templated(self.output_path)):
            return None
        if not isinstance(self.output_path, ObjectStoragePath) and not str(self.output_path or "").strip():
            return None
        return landing_asset(self.output_path, folder)

    def declare_output_asset(self, *, rendered: bool) -> Asset | None:
        """Add :meth:`output_asset` to ``outlets`` (once) when it is known; return it."""
        asset = self.output_asset(rendered=rendered)
        if asset is not None:
            outlets = list(self.outlets or [])
            if not any(getattr(o, "uri", None) == asset.uri for o in outlets):
                self.outlets = [*outlets, asset]
        return asset

    def emit_landed(self, context: Mapping[str, Any], entries: list[dict[str, Any]]) -> None:
        """The asset events of the committed partitions ``entries`` (each with its ``partition_key``)."""
        self._landed = list(entries)  # what the lineage reports
        asset = self.declare_output_asset(rendered=True)
        outlet_events = context.get("outlet_events")
        if asset is None or outlet_events is None or not entries:
            return
        extra = emit_asset_events(outlet_events, asset, entries)
        self.log.info("Asset %s: %d partition event(s), keys %s", asset.uri, len(entries), extra["partition_keys"])

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
