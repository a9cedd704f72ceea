"""``McnCallLogOperator``: the MCN Telecom vPBX call log of a data interval, landed in object storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.landing.assets import partition_key
from airflow_provider_comagic.landing.partitions import partition_name
from airflow_provider_comagic.landing.pipeline import (
    LandingRun,
    MappedSource,
    PageSource,
    PartitionTarget,
    Step,
    partition_entry,
)
from airflow_provider_comagic.landing.reader import landed_rows_having
from airflow_provider_comagic.landing.recordings import DEFAULT_READY_WITHIN, land_recordings
from airflow_provider_comagic.mcn.call_log import DEFAULT_CHUNK_DAYS, call_log_schema, vpbx_ids
from airflow_provider_comagic.mcn.config import DEFAULT_CONN_ID
from airflow_provider_comagic.mcn.errors import McnParameterError
from airflow_provider_comagic.mcn.recordings import RECORDING_FIELDS, call_log_recordings
from airflow_provider_comagic.mcn.sources import CallLogSource, CallLogWindow
from airflow_provider_comagic.operators.base import BaseLandingOperator
from airflow_provider_comagic.unified.mcn import mcn_pages_to_unified
from airflow_provider_comagic.unified.schema import OUTPUT_SCHEMAS, unified_report_name, unified_schema
from airflow_provider_comagic.utils.lineage import dataset
from airflow_provider_comagic.utils.recordings import RecordingFilter, RecordingOptions
from airflow_provider_comagic.utils.task_errors import explained_failures, naming_task
from airflow_provider_comagic.utils.templating import is_templated, parse_list
from airflow_provider_comagic.utils.time import check_literal_interval, resolve_interval, zone_name

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import Context

    from airflow_provider_comagic.hooks.mcn import McnTelecomHook

__all__ = ["MCN_RECORDINGS", "MCN_REPORT", "McnCallLogOperator", "McnCallRecordingsOperator"]

MCN_REPORT = "mcn_call_log"
MCN_RECORDINGS = "mcn_call_recordings"


class McnCallLogOperator(BaseLandingOperator):
    """
    Land the MCN Telecom vPBX call log of one data interval in object storage, one partition per vPBX.

    Reads ``GET /account/{account_id}/vpbx/{vpbx_id}/call_log`` through
    :class:`~airflow_provider_comagic.hooks.mcn.McnTelecomHook` for ``[data_interval_start, data_interval_end)``
    (or ``[date_from, date_till)``): the covering whole dates in ``chunk_days`` requests, each call kept once by
    its start time. The pages go through the package's landing module exactly like the CoMagic report operators:
    gzip JSON Lines or Parquet parts committed by ``_manifest.json``, a rerun of the interval replacing the
    previous copy.

    Layout: ``<output_path>/mcn_call_log/vpbx_id=<id>/date=YYYY-MM-DD/`` for a one-day interval of the
    account's zone (``.../interval=<start>_<end>/`` otherwise); with ``output_schema="unified"``:
    ``<output_path>/unified_calls/mcn/vpbx_id=<id>/date=YYYY-MM-DD/``, next to the CoMagic calls' ``unified_calls/comagic``.

    Returns (XCom) a small summary: ``rows``, ``files``, ``bytes``, ``api_calls``, ``date_from``, ``date_to``
    (the requested dates), ``partitions`` (``vpbx_id``, ``partition``, ``manifest``, ``rows`` each), and
    ``partition``/``manifest`` when there is one vPBX.

    The output options (``output_path``, ``output_format``, ``output_conn_id``, part sizes, ``gzip_level``) are
    those of :class:`~airflow_provider_comagic.operators.base.BaseLandingOperator`; ``timestamps`` applies to the
    raw Parquet ``date`` column.

    :param mcn_conn_id: the ``mcn_telecom`` connection.
    :param account_id: the personal account (default: the connection's extra ``account_id``). (templated)
    :param vpbx_id: a vPBX id or a list of them; default: every active vPBX of ``list_vpbx()``. (templated)
    :param date_from: start of the interval (inclusive) instead of the data interval: datetime, date or ISO
        string; naive values are wall-clock times in the connection's ``timezone``. (templated)
    :param date_till: end of the interval (exclusive), same forms. (templated)
    :param output_schema: ``"raw"`` (the call log's own fields; in Parquet, values unlike the docs and undocumented
        fields go to ``_rescued``) or ``"unified"`` (:data:`airflow_provider_comagic.unified.schema.UNIFIED_SCHEMA`). (templated)
    :param partition_template: :meth:`str.format` template of the partition folder (keys of
        :func:`airflow_provider_comagic.landing.partitions.partition_name`; ``{report}`` is ``mcn_call_log/vpbx_id=<id>``
        and must be in it when several vPBXs are landed). (templated)
    :param chunk_days: days per call-log request (1..31).
    """

    template_fields: Sequence[str] = (
        *BaseLandingOperator.template_fields,
        "account_id",
        "vpbx_id",
        "date_from",
        "date_till",
        "output_schema",
        "partition_template",
    )
    ui_color = "#fdf1e8"
    parameter_error = McnParameterError
    summary_noun = "MCN calls"

    def __init__(
        self,
        *,
        mcn_conn_id: str = DEFAULT_CONN_ID,
        account_id: str | int | None = None,
        vpbx_id: str | int | Sequence[str | int] | None = None,
        date_from: str | dt.datetime | dt.date | None = None,
        date_till: str | dt.datetime | dt.date | None = None,
        output_schema: str = "raw",
        partition_template: str | None = None,
        chunk_days: int = DEFAULT_CHUNK_DAYS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mcn_conn_id = mcn_conn_id
        self.account_id = account_id
        self.vpbx_id = vpbx_id
        self.date_from = date_from
        self.date_till = date_till
        self.output_schema = output_schema
        self.partition_template = partition_template
        self.chunk_days = chunk_days
        with naming_task(self.task_id):
            self._validate(rendered=False)
            if not (is_templated(date_from) or is_templated(date_till)):
                check_literal_interval(date_from, date_till, error=McnParameterError)
            self.declare_output_asset()

    @classmethod
    def asset_folder_of(cls, arguments: Mapping[str, Any]) -> str | None:
        """``mcn_call_log`` (``unified_calls/mcn`` with ``output_schema="unified"``): the folder of the asset,
        one partition key ``<vpbx_id>|YYYY-MM-DD`` per vPBX and day."""
        schema = arguments.get("output_schema", "raw")
        if is_templated(schema):
            return schema
        return unified_report_name("mcn") if schema == "unified" else MCN_REPORT

    def api_dataset(self) -> Any:
        """OpenLineage: ``mcn://<API host>``, name ``call_log/account_id=<id>``, schema = the call log's fields."""
        state = getattr(self, "_api_lineage", None) or {}
        schema = call_log_schema(state.get("timezone") or "UTC", "utc")
        fields = [(f.name, str(f.type), None) for f in schema]
        name = f"call_log/account_id={state.get('account', self.account_id)}"
        return dataset(f"mcn://{state.get('host') or 'api.mcn.ru'}", name, fields=fields)

    def _validate(self, *, rendered: bool) -> None:
        """Literal values are checked at parse time, templated ones once rendered."""
        self.check_output_options(rendered=rendered)
        if (rendered or not is_templated(self.output_schema)) and self.output_schema not in OUTPUT_SCHEMAS:
            raise McnParameterError(f"output_schema must be 'raw' or 'unified', got {self.output_schema!r}")
        days = self.chunk_days
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 31:
            raise McnParameterError(f"chunk_days must be an integer from 1 to 31, got {days!r}")

    def get_hook(self) -> McnTelecomHook:
        """The hook talking to the MCN Telecom API (one per task run: it reuses the HTTP session)."""
        from airflow_provider_comagic.hooks.mcn import McnTelecomHook  # requests: not at DAG parse time

        return McnTelecomHook(self.mcn_conn_id)

    def _vpbx_list(self, hook: McnTelecomHook, account: str) -> list[str]:
        ids = parse_list(self.vpbx_id, "vpbx_id", item=str, error=McnParameterError)
        if ids is None:
            ids = vpbx_ids(hook.list_vpbx(account))
            self.log.info("Active vPBXs of account %s: %s", account, ", ".join(ids) or "none")
            return ids
        return list(dict.fromkeys(ids))

    @explained_failures
    def execute(self, context: Context) -> dict[str, Any]:
        self._validate(rendered=True)
        hook = self.get_hook()
        try:
            tz = hook.timezone
            start, end = resolve_interval(self.date_from, self.date_till, context, tz, error=McnParameterError)
            account = hook.account(self.account_id)
            self._api_lineage = {"host": hook.config.host, "account": account, "timezone": hook.config.timezone}
            ids = self._vpbx_list(hook, account)
            if len(ids) > 1 and self.partition_template and "{report}" not in self.partition_template:
                raise McnParameterError(
                    "partition_template must contain {report} (it holds the vpbx_id) when several vPBXs are landed"
                )
            window = CallLogWindow(start, end, tz, self.chunk_days)
            run = LandingRun.start([(start, end)], ids, grouped=True, key=str, name=lambda vpbx: f"vPBX {vpbx}")
            run.land(lambda step: self._land_vpbx(context, hook, account, window, step))
        finally:
            hook.close()
        self.emit_landed(context, run.entries)
        return self._summary(run.entries, window.dates())

    def _land_vpbx(
        self, context: Context, hook: McnTelecomHook, account: str, window: CallLogWindow, step: Step[str]
    ) -> dict[str, Any]:
        """Land and commit the partition of one vPBX; return its entry."""
        vpbx, start, end, tz = step.client, window.start, window.end, window.tz
        folder = unified_report_name("mcn", vpbx) if self.output_schema == "unified" else f"{MCN_REPORT}/vpbx_id={vpbx}"
        target = PartitionTarget(
            self.output_base()
            / partition_name(folder, start, end, tz, self.partition_template, error=McnParameterError),
            self.output_format,
            self._schema(hook),
            self.writer_options(),
        )
        source: PageSource = CallLogSource(
            hook, account, vpbx, window, typed=self.output_schema == "raw" and self.output_format == "parquet"
        )
        if self.output_schema == "unified":
            source = MappedSource(
                source, lambda pages: mcn_pages_to_unified(pages, tz, account_id=account, vpbx_id=vpbx)
            )
        extra = self._extra(context, account, vpbx, window)
        label = (
            f"the MCN call log of account {account} vPBX {vpbx}, [{start.isoformat()}, {end.isoformat()}) "
            f"({self.output_schema})"
        )
        manifest = step.land(source, target, label=label, extra=extra)
        return self._entry(target.path, manifest, window, vpbx)

    def _extra(self, context: Context, account: str, vpbx: str, window: CallLogWindow) -> dict[str, Any]:
        """What a partition's manifest records besides its files: the source, the interval, the run."""
        return {
            "report": MCN_REPORT,
            "vendor": "mcn",
            "account_id": account,
            "vpbx_id": vpbx,
            "interval": {
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "timezone": zone_name(window.tz),
            },
            "output_schema": self.output_schema,
            "timestamps": self.timestamps,
            "airflow": self.airflow_run_info(context),
        }

    @staticmethod
    def _entry(path: Any, manifest: Mapping[str, Any], window: CallLogWindow, vpbx: str) -> dict[str, Any]:
        start, end = window.start, window.end
        return partition_entry(
            path,
            manifest,
            key=partition_key(start, end, window.tz, vpbx),
            labels={"vpbx_id": vpbx},
            dates=(start.isoformat(), end.isoformat()),
        )

    def _schema(self, hook: McnTelecomHook) -> pa.Schema:
        if self.output_schema == "unified":
            return unified_schema()
        return call_log_schema(hook.config.timezone, self.timestamps)  # type: ignore[arg-type]

    def _summary(self, entries: list[dict[str, Any]], dates: dict[str, str]) -> dict[str, Any]:
        partitions = [
            {
                "vpbx_id": entry["vpbx_id"],
                "partition": entry["partition"],
                "manifest": entry["manifest"],
                "rows": entry["rows"],
                # a later run of the same partition committed after this one: the partition holds its copy
                **({"superseded_by": entry["superseded_by"]} if entry.get("superseded_by") else {}),
            }
            for entry in entries
        ]
        summary: dict[str, Any] = {
            **{name: sum(entry[name] for entry in entries) for name in ("rows", "files", "bytes", "api_calls")},
            **dates,
            "partitions": partitions,
        }
        if len(partitions) == 1:
            summary["partition"] = partitions[0]["partition"]
            summary["manifest"] = partitions[0]["manifest"]
        self.log.info(
            "Landed %d %s of %d vPBX(s) in %d file(s), %d bytes; %d API calls",
            summary["rows"],
            self.summary_noun,
            len(partitions),
            summary["files"],
            summary["bytes"],
            summary["api_calls"],
        )
        return summary


class McnCallRecordingsOperator(McnCallLogOperator):
    """
    Land the recordings of one data interval's MCN Telecom calls (those with ``has_record``) in object storage:
    one MP3 object per call under a stable name, one ``_manifest.json`` per vPBX and interval, in
    ``<output_path>/mcn_call_recordings/vpbx_id=<id>/date=YYYY-MM-DD/``.

    The calls come from the committed call-log partition of the same vPBX and interval under ``calls_path`` (the
    ``output_path`` of a :class:`McnCallLogOperator` with ``output_schema="raw"``) when there is one, else from the
    call log itself. Each file is downloaded from ``call_log/record`` (an endpoint our documentation does not
    cover: see :mod:`airflow_provider_comagic.mcn.recordings`) with the connection's token, validated, hashed and
    committed exactly as :class:`~airflow_provider_comagic.operators.recordings.ComagicCallRecordingsOperator`
    does (outcomes as data, nothing fetched twice, the task failing only for downloads failed beyond the retries).
    The connection, account, vPBX and interval options are :class:`McnCallLogOperator`'s; the output format and
    part sizes do not apply. See :doc:`/recordings`.

    :param directions: only calls of these directions (``in``, ``out``, ``internal``); default: all.
    :param min_talk_seconds: only calls with at least this talk time (default 0).
    :param calls_path: where the raw call log was landed, read instead of the API when committed. (templated)
    :param calls_conn_id: the storage connection of ``calls_path`` (default: ``output_conn_id``).
    :param concurrency: downloads at once (default 4); :param proxy: an HTTP(S) proxy URL for the downloads.
    :param ready_within: a 404 for a call that ended less than this long ago is "not ready", not "absent".
    :param storage_options: passed to the store when writing (e.g. S3 server-side encryption).
    :param fail_on_errors: fail the task (after the commit) when downloads failed beyond the retries.
    """

    template_fields: Sequence[str] = (*McnCallLogOperator.template_fields, "calls_path")
    summary_noun = "MCN call recordings"

    def __init__(
        self,
        *,
        directions: Sequence[str] | str | None = None,
        min_talk_seconds: int = 0,
        calls_path: str | None = None,
        calls_conn_id: str | None = None,
        concurrency: int = 4,
        proxy: str | None = None,
        ready_within: dt.timedelta = DEFAULT_READY_WITHIN,
        storage_options: Mapping[str, Any] | None = None,
        fail_on_errors: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.calls_path = calls_path
        self.calls_conn_id = calls_conn_id
        self.options = RecordingOptions(concurrency, proxy, ready_within, storage_options, fail_on_errors)
        with naming_task(self.task_id):
            self._filter = RecordingFilter.build(directions, min_talk_seconds, error=McnParameterError)
            self.options.check(McnParameterError)

    @classmethod
    def asset_folder_of(cls, arguments: Mapping[str, Any]) -> str | None:
        """``mcn_call_recordings``: the folder of the asset (keys ``<vpbx_id>|YYYY-MM-DD``)."""
        return MCN_RECORDINGS

    def _land_vpbx(
        self, context: Context, hook: McnTelecomHook, account: str, window: CallLogWindow, step: Step[str]
    ) -> dict[str, Any]:
        from airflow_provider_comagic.hooks.media import task_media_settings  # requests: not at DAG parse time

        vpbx, start, end, tz = step.client, window.start, window.end, window.tz
        found = call_log_recordings(self._calls(hook, account, vpbx, window), vpbx_id=vpbx, tz=tz, filter=self._filter)
        folder = f"{MCN_RECORDINGS}/vpbx_id={vpbx}"
        path = self.output_base() / partition_name(
            folder, start, end, tz, self.partition_template, error=McnParameterError
        )
        settings = task_media_settings(self.options, read_timeout=hook.timeout, max_retries=hook.max_retries)
        with hook.record_downloader(account, settings=settings) as downloader:
            manifest = land_recordings(
                found,
                path,
                downloader,
                conn_id=self.output_conn_id,
                extra={**self._extra(context, account, vpbx, window), "report": MCN_RECORDINGS},
                **self.options.landing_kwargs(),
            )
        return self._entry(path, manifest, window, vpbx)

    def _calls(
        self, hook: McnTelecomHook, account: str, vpbx: str, window: CallLogWindow
    ) -> Iterable[Mapping[str, Any]]:
        """The calls of ``vpbx``: its committed raw partition under ``calls_path`` when there is one, else the API."""
        if self.calls_path:
            folder = partition_name(
                f"{MCN_REPORT}/vpbx_id={vpbx}", window.start, window.end, window.tz, error=McnParameterError
            )
            where = self.calls_path.rstrip("/") + "/" + folder
            rows = landed_rows_having(where, RECORDING_FIELDS, self.calls_conn_id or self.output_conn_id)
            if rows is not None:
                self.log.info("Reading the calls of vPBX %s from its landed partition %s", vpbx, where)
                return rows
            self.log.info("No committed raw call log at %s: reading the calls from the API", where)
        return (row for page in hook.iter_call_log(account, vpbx, window.start, window.end) for row in page)
