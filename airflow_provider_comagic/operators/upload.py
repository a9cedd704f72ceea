"""``ComagicUploadCallsOperator``: upload calls recorded elsewhere to CoMagic (``upload.calls``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.config import DEFAULT_CONN_ID
from airflow_provider_comagic.comagic.errors import ComagicError, ComagicParameterError
from airflow_provider_comagic.comagic.uploads.files import read_calls
from airflow_provider_comagic.comagic.uploads.rules import (
    MAX_CALLS_PER_REQUEST,
    UPLOAD_METHOD,
    batch_calls,
    batch_request_id,
    validate_calls,
)
from airflow_provider_comagic.landing.storage import to_storage_path
from airflow_provider_comagic.utils.lineage import dataset, lineage_or_none, operator_lineage, storage_dataset_id
from airflow_provider_comagic.utils.task_errors import explained_failures, naming_task
from airflow_provider_comagic.utils.templating import parse_structure
from airflow_provider_comagic.version_compat import BaseOperator, ObjectStoragePath

if TYPE_CHECKING:
    from airflow.sdk import Context


class ComagicUploadCallsOperator(BaseOperator):
    """
    Upload calls to CoMagic for speech and end-to-end analytics (``upload.calls``).

    The calls come either from ``calls`` (a list of call objects, templated; a JSON string is accepted) or
    from a JSON Lines / CSV file at ``calls_path`` in object storage (see
    :mod:`airflow_provider_comagic.comagic.uploads.files` for the file formats). Every call is checked against the
    documented rules before anything is sent (required fields, types and allowed values, E.164 numbers,
    ``finish_time`` not before ``start_time``, recording URLs, size); all problems are collected and the task
    fails listing them, each naming the call's ``ext_id`` and the field.

    Valid calls are sent in requests of at most 50 calls and 512 KB of JSON; each request costs 5 points.
    Each request's JSON-RPC id, which CoMagic records as the calls' ``ext_request_id``, is derived from the
    ext_ids it carries.

    **Safe to retry.** CoMagic ignores a call whose ``ext_id`` it already has (uploaded successfully or still
    being processed, or after three failed attempts), so a retry or rerun re-sends the same calls without
    creating duplicates, under the same ``ext_request_id``\\s. A call whose earlier attempts ended in ``error``
    is attempted again (CoMagic keeps up to three attempts per ``ext_id``); the sensor judges the latest.

    Returns (XCom) ``{"ext_request_ids": [...], "calls_per_request": {ext_request_id: calls}, "ext_ids": [...],
    "batches": n, "points": p}``, to be passed to
    :class:`~airflow_provider_comagic.sensors.uploaded_calls.ComagicUploadedCallsSensor`: ``ext_request_ids``
    with ``calls_per_request`` as its ``expected_calls`` (the sensor then waits until every call of every
    request is visible), or ``ext_ids``.

    :param calls: the calls, as ``upload.calls`` takes them.
    :param calls_path: URL of a ``.jsonl``/``.ndjson``/``.json``/``.csv`` file (optionally ``.gz``).
    :param calls_conn_id: connection for the object storage of ``calls_path``.
    :param calls_format: ``jsonl`` or ``csv`` when the file name does not tell.
    :param comagic_conn_id: the ``comagic`` connection.
    :param batch_size: calls per request, at most 50.
    :param max_errors_reported: how many validation problems the failure message lists.
    :param request_id_prefix: prefix of the generated ``ext_request_id``\\s.
    """

    template_fields: Sequence[str] = ("calls", "calls_path", "calls_conn_id", "request_id_prefix")
    template_fields_renderers = {"calls": "json"}
    ui_color = "#d6ecf3"

    def __init__(
        self,
        *,
        calls: Sequence[Mapping[str, Any]] | str | None = None,
        calls_path: str | ObjectStoragePath | None = None,
        calls_conn_id: str | None = None,
        calls_format: str | None = None,
        comagic_conn_id: str = DEFAULT_CONN_ID,
        batch_size: int = MAX_CALLS_PER_REQUEST,
        max_errors_reported: int = 20,
        request_id_prefix: str = "airflow",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        with naming_task(self.task_id):
            if (calls is None) == (calls_path is None):
                raise ComagicParameterError("Give exactly one of calls= or calls_path=")
            if not 1 <= batch_size <= MAX_CALLS_PER_REQUEST:
                raise ComagicParameterError(f"batch_size must be within 1..{MAX_CALLS_PER_REQUEST}, got {batch_size!r}")
        self.calls = calls
        self.calls_path = calls_path
        self.calls_conn_id = calls_conn_id
        self.calls_format = calls_format
        self.comagic_conn_id = comagic_conn_id
        self.batch_size = batch_size
        self.max_errors_reported = max_errors_reported
        self.request_id_prefix = request_id_prefix

    @lineage_or_none
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the calls file (when read from one) as input, ``upload.calls`` of the Data API as output
        (``comagic://<host>``, with the number of calls sent)."""
        state = getattr(self, "_lineage", None) or {}
        inputs = []
        if self.calls_path is not None:
            inputs.append(dataset(*storage_dataset_id(str(to_storage_path(self.calls_path, self.calls_conn_id)))))
        output = dataset(
            f"comagic://{state.get('host') or 'dataapi.comagic.ru'}",
            UPLOAD_METHOD,
            rows=state.get("calls"),
            output=True,
        )
        return operator_lineage(inputs, [output])

    def _load_calls(self) -> list[Any]:
        if self.calls_path is not None:
            path = to_storage_path(self.calls_path, self.calls_conn_id)
            calls = read_calls(path, self.calls_format, max_reported=self.max_errors_reported)
            self.log.info("Read %d calls from %s", len(calls), path)
            return calls
        # a rendered template without native rendering is a string: JSON, or the repr of an XCom list
        calls = parse_structure(self.calls, "calls", kinds=(list, tuple), error=ComagicParameterError)
        return list(calls or [])

    @explained_failures
    def execute(self, context: Context) -> dict[str, Any]:
        calls = self._load_calls()
        validate_calls(calls, max_reported=self.max_errors_reported)  # before anything is sent
        batches = batch_calls(calls, max_calls=self.batch_size)
        request_ids = [batch_request_id(batch, self.request_id_prefix) for batch in batches]
        # the sensor counts each request's calls by its id: two batches must never share one
        if len(set(request_ids)) != len(request_ids):
            raise ComagicError(f"{UPLOAD_METHOD}: two batches got the same ext_request_id; nothing was sent")
        from airflow_provider_comagic.hooks.comagic import ComagicHook  # requests: not at DAG parse time

        hook = ComagicHook(self.comagic_conn_id)
        calls_per_request: dict[str, int] = {}
        try:
            for number, (batch, request_id) in enumerate(zip(batches, request_ids, strict=True), start=1):
                result = hook.call(UPLOAD_METHOD, {"calls": list(batch)}, request_id=request_id)
                data = result.get("data")
                if isinstance(data, Mapping) and data.get("success") in (False, "false"):
                    raise ComagicError(f"{UPLOAD_METHOD} request {request_id} was not accepted: {data}")
                calls_per_request[request_id] = len(batch)
                self.log.info(
                    "Uploaded batch %d of %d: %d calls, ext_request_id %s", number, len(batches), len(batch), request_id
                )
        finally:
            hook.close()
        points = hook.quota.points
        self._lineage = {"host": hook.config.host, "calls": len(calls)}
        self.log.info("Uploaded %d calls in %d requests (%d points)", len(calls), len(batches), points)
        return {
            "ext_request_ids": list(calls_per_request),
            "calls_per_request": calls_per_request,
            "ext_ids": [str(call["ext_id"]) for call in calls],
            "batches": len(batches),
            "points": points,
        }
