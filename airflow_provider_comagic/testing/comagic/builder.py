"""The report builder's row lists (``get.communications``, ``get.calls``, ``get.visits``...): what a call needs.

* ``report_id``: a saved report of the user (``get.reports_list``) of a type the method reads (``get.calls``:
  a ``calls`` report; a method the docs match to no type reads any saved report), else
  ``invalid_parameter_value`` on ``report_id``;
* ``report_type`` (``get.communications``): the type of that report, else ``invalid_parameters_combination``;
* ``is_realtime`` (``get.visits``): a boolean; ``true`` keeps the last 30 minutes of the window ("отчёт за
  последние 30 минут");
* ``fields``: "если параметр пуст или не передан, ответ будет пустым": no ``fields``, no rows (and a total of 0).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from airflow_provider_comagic.testing.comagic.query import Query
from airflow_provider_comagic.testing.comagic.references import ReferenceLists
from airflow_provider_comagic.testing.comagic.rpc import RpcError
from airflow_provider_comagic.utils.time import API_TIME_FORMAT

REALTIME = dt.timedelta(minutes=30)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_builder_query(spec: Any, options: Mapping[str, Any], refs: ReferenceLists) -> None:
    """Raise the API's error for a report-builder call whose report parameters do not fit the account."""
    report_id = options.get("report_id")
    if not _is_int(report_id):
        raise RpcError("data_type_error", field="report_id", value=report_id)
    report = refs.report(report_id)
    if report is None or (spec.report_types and report["type"] not in spec.report_types):
        raise RpcError("invalid_parameter_value", field="report_id", value=report_id)
    if "report_type" in spec.params and options.get("report_type") != report["type"]:
        raise RpcError("invalid_parameters_combination", field="report_type", value=options.get("report_type"))
    if "is_realtime" in spec.params and not isinstance(options.get("is_realtime"), bool):
        raise RpcError("data_type_error", field="is_realtime", value=options.get("is_realtime"))


def builder_query(spec: Any, query: Query, now: dt.datetime) -> Query | None:
    """The query to evaluate for a report-builder call, or ``None`` when it answers no rows (no ``fields``)."""
    if not query.fields:
        return None
    if query.options.get("is_realtime") is True and query.date_from is not None:
        recent = (now - REALTIME).strftime(API_TIME_FORMAT)
        signature = query.signature + b"|realtime|" + recent.encode()  # another selection: its own cache entry
        return dataclasses.replace(query, date_from=max(query.date_from, recent), signature=signature)
    return query
