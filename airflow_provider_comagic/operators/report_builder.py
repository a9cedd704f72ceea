"""Report-builder operators: the rows of the report builder's lists (``get.communications``, ``get.calls``,
``get.chats``, ``get.deals``, ``get.leads``, ``get.visits``, ``get.tags_history``...) for a data interval, read
through a report the user saved in the account, landed in object storage.

:class:`ComagicReportBuilderOperator` finds the saved report (by id or by name,
:class:`~airflow_provider_comagic.comagic.saved_reports.ReportChoice`), reads the interval through the paging engine
(:class:`~airflow_provider_comagic.comagic.sources.ReportSource`, windows at the method's cap) and lands it through
the landing pipeline; one named subclass per list (:data:`REPORT_BUILDER_OPERATORS`) fixes ``method``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.catalogue import get_method, report_builder_methods
from airflow_provider_comagic.comagic.clients import AgencyClient
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.query import ReportQuery
from airflow_provider_comagic.comagic.quota import ApiMeter
from airflow_provider_comagic.comagic.saved_reports import REPORT_ARGUMENTS, REPORT_LIST_FIELDS, ReportChoice
from airflow_provider_comagic.comagic.sources import ReportSource
from airflow_provider_comagic.landing.pipeline import Step
from airflow_provider_comagic.operators.comagic_query import ComagicQueryOperator
from airflow_provider_comagic.utils.task_errors import naming_task
from airflow_provider_comagic.utils.time import interval_to_api

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_comagic.hooks.comagic import ComagicHook

__all__ = [
    "REPORT_BUILDER_OPERATORS",
    "ComagicReportBuilderApiRequestsOperator",
    "ComagicReportBuilderCallsOperator",
    "ComagicReportBuilderChatsOperator",
    "ComagicReportBuilderCommunicationsOperator",
    "ComagicReportBuilderDealsOperator",
    "ComagicReportBuilderLeadsOperator",
    "ComagicReportBuilderMgfCallsOperator",
    "ComagicReportBuilderNotificationsOperator",
    "ComagicReportBuilderOperator",
    "ComagicReportBuilderSmsOperator",
    "ComagicReportBuilderTagsHistoryOperator",
    "ComagicReportBuilderVisitsOperator",
]

_ERROR = ComagicParameterError


class ComagicReportBuilderOperator(ComagicQueryOperator):
    """
    Land every row of a report-builder list of CoMagic / UIS for one data interval in object storage.

    Reads ``method`` (``get.communications``, ``get.calls``, ``get.visits``... see ``report_builder_methods()``)
    over ``[data_interval_start, data_interval_end)`` (or ``[date_from, date_till)``), in windows of the method's
    cap (366 days; 31 for ``get.visits``), every row exactly once, and lands it like
    :class:`~airflow_provider_comagic.operators.report.ComagicReportOperator`:
    ``<output_path>/<list>/[customer_id=<id>/]date=YYYY-MM-DD`` (asset key ``YYYY-MM-DD``), committed by a
    ``_manifest.json``; a rerun replaces the interval.

    **The saved report.** Every list is read through a report the user saved in the account's report builder
    (``get.reports_list``), of a type the list reads (``get.calls``: a ``calls`` report; ``get.communications``: a
    ``communications`` or ``communications_operator_workplace`` one; ``get.visits``, ``get.tags_history`` and the
    others: any). Name it by ``report_id`` or by ``report_name``; the task reads the user's list of reports once
    per client (one call) and fails before any report call when the report is missing, ambiguous or of the
    wrong type, naming the parameter and listing the reports that would do. The provider never creates or
    changes a report. ``get.communications`` is sent the report's type (or ``report_type``); ``get.visits``
    ``is_realtime`` (``False``: the whole interval).

    **Columns.** The API answers no row when ``fields`` is empty, so without ``fields`` the task asks for the
    docs' default columns of the list (``get_method(method).default_fields``), plus the key and time fields the
    engine needs. Enumerations come as ``{"value": label, "value_id": mnemonic}`` objects: JSON Lines keeps
    them as sent, Parquet as ``struct<value: string, value_id: string|bool>`` columns.

    **Cost.** One point per call: ``ceil(rows / 10 000)`` calls per window, one more per client for
    ``get.reports_list``.

    Agencies, groups of clients, ``lookback`` and deferrable quota waits are described on
    :class:`~airflow_provider_comagic.operators.comagic_base.ComagicLandingOperator`; the query options on
    :class:`~airflow_provider_comagic.operators.comagic_query.ComagicQueryOperator`.

    .. seealso::
        For more information on how to use this operator, take a look at the guide:
        :ref:`howto/operator:ComagicReportBuilderOperator`

    :param method: the list, e.g. ``get.communications`` (see ``report_builder_methods()``).
    :param report_id: the id of the saved report to read through (``get.reports_list``). (templated)
    :param report_name: or its name, exactly as saved (one report of the user must have it). (templated)
    :param report_type: ``get.communications`` only: the report's type (default: the type of the report found).
        (templated)
    :param is_realtime: ``get.visits`` only: ``True`` reads the last 30 minutes of the interval ("отчёт
        реалтайм"); default ``False``.
    """

    template_fields: Sequence[str] = (
        *ComagicQueryOperator.template_fields,
        "report_id",
        "report_name",
        "report_type",
    )
    ui_color = "#fdf3e8"
    family_noun = "report-builder list"
    own_params = REPORT_ARGUMENTS

    def __init__(
        self,
        *,
        method: str | None = None,
        report_id: int | str | None = None,
        report_name: str | None = None,
        report_type: str | None = None,
        is_realtime: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(method=method, **kwargs)
        self.report_id = report_id
        self.report_name = report_name
        self.report_type = report_type
        self.is_realtime = is_realtime
        with naming_task(self.task_id):
            self._validate(rendered=False)
            self.declare_output_asset()

    @classmethod
    def family_methods(cls) -> tuple[str, ...]:
        return report_builder_methods()

    def _report_arguments(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "report_name": self.report_name,
            "report_type": self.report_type,
            "is_realtime": self.is_realtime,
        }

    def _validate(self, *, rendered: bool) -> tuple[ReportQuery, ReportChoice] | None:
        spec = self.method_spec()
        query = self.check_query(spec, rendered=rendered)
        if not rendered:
            ReportChoice.check_literal(spec, **self._report_arguments())
            return None
        assert query is not None
        return query, ReportChoice.parse(spec, **self._report_arguments())

    def prepare(self) -> None:
        parsed = self._validate(rendered=True)
        assert parsed is not None
        self._query, self._choice = parsed
        self._reports: dict[int | None, Mapping[str, Any]] = {}

    def land_step(self, context: Context, hook: ComagicHook, step: Step[AgencyClient]) -> dict[str, Any]:
        client, start, end = step.client, step.start, step.end
        tz = hook.checked_timezone(client.user_id)  # read once per client: before its first report call
        meter = ApiMeter(hook.quota)  # before get.reports_list: the client's first partition pays for it
        report = self._report_of(hook, client)
        query = self._query
        params = {**query.call_params(client), **self._choice.params(report)}
        fields = query.fields or list(get_method(self.method).default_fields)  # nothing comes back without fields
        plan = hook.plan(
            self.method,
            start,
            end,
            tz=tz,
            fields=fields,
            filter=query.filter,
            sort=query.sort,
            page_size=self.page_size,
            params=params,
        )
        dates = interval_to_api(start, end, tz, error=_ERROR)
        fields = plan.fields or fields
        source = ReportSource(hook, plan, api_dates=dates, query=query.as_manifest(fields, self.page_size), meter=meter)
        self._saved_report = {name: report.get(name) for name in REPORT_LIST_FIELDS}
        return self.land_source(
            context,
            step,
            source,
            tz=tz,
            fields=fields,
            dates=dates,
            describe=f"[{dates[0]}, {dates[1]}] through report {report['id']} {report.get('name')!r}",
            host=hook.config.host,
        )

    def _report_of(self, hook: ComagicHook, client: AgencyClient) -> Mapping[str, Any]:
        """The chosen saved report of the client (``get.reports_list``: read and checked once per client)."""
        if client.user_id not in self._reports:
            params = {"user_id": client.user_id} if client.user_id is not None else None
            reports = list(hook.iter_rows("get.reports_list", fields=list(REPORT_LIST_FIELDS), params=params))
            report = self._choice.find(reports)
            self.log.info(
                "%s of %s through saved report %s %r (%s)",
                self.method,
                client.label(),
                report["id"],
                report.get("name"),
                report.get("type"),
            )
            self._reports[client.user_id] = report
        return self._reports[client.user_id]

    def manifest_details(self) -> dict[str, Any]:
        return {"saved_report": getattr(self, "_saved_report", None)}


class _NamedBuilderOperator(ComagicReportBuilderOperator):
    """Base of the one-list operators: ``method`` is fixed by the class (:attr:`fixed_method`)."""


class ComagicReportBuilderCommunicationsOperator(_NamedBuilderOperator):
    """Land ``get.communications`` (every communication: calls, chats, goals, offline messages, with their visit
    and its source) through a ``communications`` report; see :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.communications"


class ComagicReportBuilderCallsOperator(_NamedBuilderOperator):
    """Land ``get.calls`` (calls with their scenario, duration, finish reason, coaches...) through a ``calls``
    report; see :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.calls"


class ComagicReportBuilderChatsOperator(_NamedBuilderOperator):
    """Land ``get.chats`` (chats with their channel, status and durations) through a ``chats`` report; see
    :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.chats"


class ComagicReportBuilderDealsOperator(_NamedBuilderOperator):
    """Land ``get.deals`` (CRM deals with their funnel, stage and revenue) through a ``deals`` report; see
    :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.deals"


class ComagicReportBuilderLeadsOperator(_NamedBuilderOperator):
    """Land ``get.leads`` (leads with their stage and source) through a ``leads`` report; see
    :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.leads"


class ComagicReportBuilderVisitsOperator(_NamedBuilderOperator):
    """Land ``get.visits`` (site visits with their source, UTM marks and visitor; windows of at most 31 days); see
    :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.visits"


class ComagicReportBuilderTagsHistoryOperator(_NamedBuilderOperator):
    """Land ``get.tags_history`` (every tag set on a communication, with when and by whom: tags added after the
    call show on the day they were added); see :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.tags_history"


class ComagicReportBuilderSmsOperator(_NamedBuilderOperator):
    """Land ``get.sms`` (SMS messages); see :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.sms"


class ComagicReportBuilderNotificationsOperator(_NamedBuilderOperator):
    """Land ``get.notifications`` (notifications sent on events); see :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.notifications"


class ComagicReportBuilderMgfCallsOperator(_NamedBuilderOperator):
    """Land ``get.mgf_calls`` (calls of MegaFon's virtual PBX) through a ``mgf_calls`` report; see
    :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.mgf_calls"


class ComagicReportBuilderApiRequestsOperator(_NamedBuilderOperator):
    """Land ``get.api_requests`` (the account's API calls: method, weight, errors; quota monitoring); see
    :class:`ComagicReportBuilderOperator`."""

    fixed_method = "get.api_requests"


REPORT_BUILDER_OPERATORS: dict[str, type[ComagicReportBuilderOperator]] = {
    cls.fixed_method: cls
    for cls in (
        ComagicReportBuilderCommunicationsOperator,
        ComagicReportBuilderCallsOperator,
        ComagicReportBuilderChatsOperator,
        ComagicReportBuilderDealsOperator,
        ComagicReportBuilderLeadsOperator,
        ComagicReportBuilderVisitsOperator,
        ComagicReportBuilderTagsHistoryOperator,
        ComagicReportBuilderSmsOperator,
        ComagicReportBuilderNotificationsOperator,
        ComagicReportBuilderMgfCallsOperator,
        ComagicReportBuilderApiRequestsOperator,
    )
}
"""Report-builder list -> its named operator (one per ``report_builder_methods()``)."""
