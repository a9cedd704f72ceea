"""``ComagicCallRecordingsOperator``: the recordings of one data interval's CoMagic calls, into object storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.clients import AgencyClient
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.recordings import (
    CALLS_METHOD,
    DEFAULT_PATH_ID,
    KINDS,
    LEGS_METHOD,
    PATH_IDS,
    recording_fields,
    recordings_of,
)
from airflow_provider_comagic.landing.assets import partition_key
from airflow_provider_comagic.landing.partitions import partition_name, report_name
from airflow_provider_comagic.landing.pipeline import Step, partition_entry
from airflow_provider_comagic.landing.reader import landed_rows_having
from airflow_provider_comagic.landing.recordings import DEFAULT_READY_WITHIN, land_recordings
from airflow_provider_comagic.operators.comagic_base import ComagicLandingOperator
from airflow_provider_comagic.utils.lineage import dataset
from airflow_provider_comagic.utils.recordings import RecordingFilter, RecordingOptions, check_kinds
from airflow_provider_comagic.utils.task_errors import naming_task
from airflow_provider_comagic.utils.time import interval_to_api, zone_name

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_comagic.hooks.comagic import ComagicHook

__all__ = ["RECORDING_METHODS", "ComagicCallRecordingsOperator"]

_ERROR = ComagicParameterError
RECORDING_METHODS = (CALLS_METHOD, LEGS_METHOD)


def recordings_folder(method: str) -> str:
    """``calls_report_recordings``: the folder of a report's recordings, beside the report's own folder."""
    return f"{report_name(method)}_recordings"


class ComagicCallRecordingsOperator(ComagicLandingOperator):
    """
    Land the call recordings of one data interval (mp3, per-channel wav, voice mail, the full link) in object
    storage: one object per recording under a stable name, one ``_manifest.json`` per interval.

    The calls come from the committed partition of the same interval under ``calls_path`` (the ``output_path``
    of the task that landed ``method``) when it holds the fields the recordings need; otherwise the report is
    read for just those fields (:func:`~airflow_provider_comagic.comagic.recordings.recording_fields`). Layout:
    ``<output_path>/calls_report_recordings/[customer_id=<id>/]date=YYYY-MM-DD/part-<call>-<kind>-<record>.mp3``.

    Downloads run ``concurrency`` at a time, streamed to storage, validated (status, audio type, magic bytes,
    size) and hashed. Outcomes are data: a recording that is absent (404), not ready yet (404 within
    ``ready_within`` of the call's end) or empty (400) is listed in the manifest's ``missing`` and tried again
    by the next run of the interval (``lookback`` re-lands earlier intervals); one already stored with the same
    size is kept, never fetched twice. The task fails only when downloads fail beyond the retries, after the
    commit, naming how many and why. Media URLs are secrets: never logged nor stored (the manifest keeps the
    record id). The agency, lookback and deferral options are those of
    :class:`~airflow_provider_comagic.operators.comagic_base.ComagicLandingOperator`; the output format and part
    sizes do not apply (each recording is one object). See :doc:`/recordings`.

    :param method: ``get.calls_report`` (default) or ``get.call_legs_report`` (legs' files, under their call).
    :param kinds: the kinds to land, of ``mp3``, ``wav``, ``voice_mail``, ``full`` (legs: ``mp3``, ``wav``);
        default: all of them.
    :param directions: only calls of these directions (``in``, ``out``, ``internal``); default: all.
    :param min_talk_seconds: only calls with at least this talk time (default 0: every call).
    :param path_id: the id in the media path, ``communication_id`` (default, as the calls report documents) or
        ``call_session_id``.
    :param calls_path: where the calls were landed (the calls task's ``output_path``), read instead of the API
        when its partition of the interval is committed with the fields needed. (templated)
    :param calls_conn_id: the storage connection of ``calls_path`` (default: ``output_conn_id``).
    :param media_host: where the media are served (default: the connection's extra ``media_host``, else derived
        from its host: ``app.comagic.ru``, ``app.uiscom.ru``).
    :param concurrency: downloads at once (default 4: no rate is documented).
    :param proxy: an HTTP(S) proxy URL for the downloads (a secret: masked in logs).
    :param ready_within: a 404 for a call that ended less than this long ago is "not ready", not "absent".
    :param storage_options: passed to the store when writing, e.g. S3 server-side encryption
        (``{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "..."}``).
    :param fail_on_errors: fail the task (after the commit) when downloads failed beyond the retries.
    """

    template_fields: Sequence[str] = (*ComagicLandingOperator.template_fields, "calls_path")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        method: str = CALLS_METHOD,
        kinds: Sequence[str] | str | None = None,
        directions: Sequence[str] | str | None = None,
        min_talk_seconds: int = 0,
        path_id: str = DEFAULT_PATH_ID,
        calls_path: str | None = None,
        calls_conn_id: str | None = None,
        media_host: str | None = None,
        concurrency: int = 4,
        proxy: str | None = None,
        ready_within: dt.timedelta = DEFAULT_READY_WITHIN,
        storage_options: Mapping[str, Any] | None = None,
        fail_on_errors: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.method = method
        self.kinds = kinds
        self.directions = directions
        self.min_talk_seconds = min_talk_seconds
        self.path_id = path_id
        self.calls_path = calls_path
        self.calls_conn_id = calls_conn_id
        self.media_host = media_host
        self.options = RecordingOptions(
            concurrency=concurrency,
            proxy=proxy,
            ready_within=ready_within,
            storage_options=storage_options,
            fail_on_errors=fail_on_errors,
        )
        with naming_task(self.task_id):
            self._check_recording_options()
            self.check_landing_options(rendered=False)
            self.declare_output_asset()

    def _check_recording_options(self) -> None:
        if self.method not in RECORDING_METHODS:
            listed = " or ".join(RECORDING_METHODS)
            raise _ERROR(f"method must be {listed} (the reports that name recordings), got {self.method!r}")
        known = [kind for kind, spec in KINDS.items() if self.method == CALLS_METHOD or spec.in_legs]
        self._kinds = check_kinds(self.kinds, known, error=_ERROR)
        self.options.check(_ERROR)
        self._filter = RecordingFilter.build(self.directions, self.min_talk_seconds, error=_ERROR)
        if self.path_id not in PATH_IDS:
            raise _ERROR(f"path_id must be one of {', '.join(PATH_IDS)}, got {self.path_id!r}")

    @classmethod
    def asset_folder_of(cls, arguments: Mapping[str, Any]) -> str | None:
        """``calls_report_recordings`` (``call_legs_report_recordings``): the folder of the asset."""
        method = arguments.get("method", CALLS_METHOD)
        return recordings_folder(method) if isinstance(method, str) else None

    # -- one interval of one client ------------------------------------------------------------------------------
    def land_step(self, context: Context, hook: ComagicHook, step: Step[AgencyClient]) -> dict[str, Any]:
        client, start, end = step.client, step.start, step.end
        tz = hook.checked_timezone(client.user_id)
        rows = self._calls(hook, client, start, end, tz)
        base = hook.media_base_url(self.media_host)
        self._api_lineage = {"host": hook.config.host, "customer_id": client.customer_id, "user_id": client.user_id}
        found = recordings_of(
            self.method, rows, media_base=base, tz=tz, kinds=self._kinds, path_id=self.path_id, filter=self._filter
        )
        folder = self.output_base() / self._folder(client, start, end, tz)
        with hook.media_downloader(self._media_settings(hook)) as downloader:
            manifest = land_recordings(
                found,
                folder,
                downloader,
                conn_id=self.output_conn_id,
                extra=self._manifest_extra(context, client, start, end, tz),
                **self.options.landing_kwargs(),
            )
        key = partition_key(start, end, tz, client.key)
        dates = interval_to_api(start, end, tz, error=_ERROR)
        return partition_entry(folder, manifest, key=key, labels=client.labels(), dates=dates)

    def _media_settings(self, hook: ComagicHook) -> Any:
        from airflow_provider_comagic.hooks.media import task_media_settings  # requests: not at DAG parse time

        return task_media_settings(self.options, read_timeout=hook.timeout, max_retries=hook.max_retries)

    def _calls(
        self, hook: ComagicHook, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo
    ) -> Iterable[Mapping[str, Any]]:
        """The interval's calls: the landed partition under ``calls_path`` when it has the fields, else the API."""
        needed = recording_fields(self.method, self._kinds)
        if self.calls_path:
            where = self.calls_path.rstrip("/") + "/" + self._calls_folder(client, start, end, tz)
            rows = landed_rows_having(where, needed, self.calls_conn_id or self.output_conn_id)
            if rows is not None:
                self.log.info("Reading the calls of %s from its landed partition %s", self.method, where)
                return rows
            self.log.info("No committed partition with %s at %s: reading the calls from the API", needed, where)
        params = {"user_id": client.user_id} if client.user_id is not None else None
        plan = hook.plan(self.method, start, end, tz=tz, fields=needed, params=params)
        return hook.iter_rows(self.method, plan=plan)

    def _calls_folder(self, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> str:
        ids = {"customer_id": client.customer_id, "user_id": client.user_id}
        return partition_name(self.method, start, end, tz, None, **ids, error=_ERROR)

    def _folder(self, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> str:
        ids = {"customer_id": client.customer_id, "user_id": client.user_id}
        folder = recordings_folder(self.method)
        return partition_name(folder, start, end, tz, self.partition_template, **ids, error=_ERROR)

    def _manifest_extra(
        self, context: Context, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo
    ) -> dict[str, Any]:
        return {
            "report": recordings_folder(self.method),
            "source": {"method": self.method, "kinds": list(self._kinds), "path_id": self.path_id},
            "interval": {"start": start.isoformat(), "end": end.isoformat(), "timezone": zone_name(tz)},
            **({"client": client.as_dict()} if client.user_id is not None else {}),
            "airflow": self.airflow_run_info(context),
        }

    def api_dataset(self) -> Any:
        """OpenLineage: ``comagic://<Data API host>``, name ``<method>/recordings`` (with the client's id)."""
        state = getattr(self, "_api_lineage", None) or {}
        clients = [f"{k}={state[k]}" for k in ("customer_id", "user_id") if state.get(k) is not None]
        name = "/".join([self.method, "recordings", *clients])
        return dataset(f"comagic://{state.get('host') or 'dataapi.comagic.ru'}", name)
