"""The saved report a report-builder list is read through (``report_id``, ``report_type``, ``is_realtime``).

Every list of the report builder (``get.calls``, ``get.communications``, ``get.visits``...) requires the
``report_id`` of a report the user saved in the UI (``get.reports_list``), of a type the list reads
(:attr:`~airflow_provider_comagic.comagic.catalogue.MethodSpec.report_types`: ``get.calls`` reads ``calls``
reports); ``get.communications`` also wants the report's ``report_type``, ``get.visits`` ``is_realtime``. The
provider never creates or changes a report: a task names one by id or by name, and :class:`ReportChoice` finds
and checks it in the user's list before any report call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_comagic.comagic.catalogue import MethodSpec
from airflow_provider_comagic.comagic.catalogue.specs import listing
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.templating import is_templated, parse_optional_int

__all__ = ["REPORT_ARGUMENTS", "REPORT_LIST_FIELDS", "ReportChoice"]

REPORT_ARGUMENTS = ("report_id", "report_type", "is_realtime")
"""The report builder's request parameters an operator takes as arguments of its own (never ``api_params``)."""
REPORT_LIST_FIELDS = ("id", "name", "type")
"""What is read of ``get.reports_list`` to find a report."""
_ERROR = ComagicParameterError


@dataclasses.dataclass(frozen=True)
class ReportChoice:
    """Which saved report a task reads: by ``report_id`` or by ``report_name`` (exactly one), with the
    ``report_type`` (``get.communications``; default: the report's own type) and ``is_realtime`` (``get.visits``;
    default ``False``, a whole interval)."""

    spec: MethodSpec
    report_id: int | None = None
    report_name: str | None = None
    report_type: str | None = None
    is_realtime: bool | None = None

    @classmethod
    def parse(
        cls, spec: MethodSpec, *, report_id: Any, report_name: Any, report_type: Any, is_realtime: Any
    ) -> ReportChoice:
        """The rendered arguments, checked against the method before any call (the parameter named)."""
        choice = cls(
            spec,
            parse_optional_int(report_id, "report_id", error=_ERROR),
            str(report_name) if report_name not in (None, "") else None,
            str(report_type) if report_type not in (None, "") else None,
            is_realtime,
        )
        choice.check()
        return choice

    @staticmethod
    def check_literal(spec: MethodSpec, **arguments: Any) -> None:
        """At DAG parse time: the arguments that are not templates (templated ones are checked once rendered)."""
        literal = {name: None if is_templated(value) else value for name, value in arguments.items()}
        templated = [name for name, value in arguments.items() if is_templated(value)]
        if {"report_id", "report_name"} & set(templated):
            literal["report_id"] = literal["report_id"] if literal["report_id"] is not None else 0  # given later
        ReportChoice.parse(spec, **literal)

    def check(self) -> None:
        name = self.spec.name
        if (self.report_id is None) == (self.report_name is None):
            raise _ERROR(
                f"{name} reads a report saved in the account: give report_id or report_name (one of them; "
                f"get.reports_list lists them{self._types_hint()})"
            )
        if "report_type" not in self.spec.params and self.report_type is not None:
            raise _ERROR(f"{name} takes no report_type (only get.communications does); do not pass it")
        if self.report_type is not None and self.spec.report_types and self.report_type not in self.spec.report_types:
            raise _ERROR(
                f"{name}: invalid 'report_type' {self.report_type!r}; {name} reads reports of type "
                f"{listing(self.spec.report_types)}"
            )
        if "is_realtime" not in self.spec.params and self.is_realtime is not None:
            raise _ERROR(f"{name} takes no is_realtime (only get.visits does); do not pass it")
        if self.is_realtime is not None and not isinstance(self.is_realtime, bool):
            raise _ERROR(f"{name}: invalid 'is_realtime' {self.is_realtime!r}: true or false")

    def _types_hint(self) -> str:
        return f"; it reads reports of type {listing(self.spec.report_types)}" if self.spec.report_types else ""

    def find(self, reports: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """The chosen report among the user's saved ones (``get.reports_list`` rows), checked to be of a type the
        method reads; the error names ``report_id`` / ``report_name`` and lists the reports that would do."""
        fitting = [r for r in reports if not self.spec.report_types or r.get("type") in self.spec.report_types]
        if self.report_id is not None:
            param, found = "report_id", [r for r in reports if r.get("id") == self.report_id]
            wanted = str(self.report_id)
        else:
            param, found = "report_name", [r for r in reports if r.get("name") == self.report_name]
            wanted = repr(self.report_name)
        choices = listing(f"{r.get('id')} {r.get('name')!r} ({r.get('type')})" for r in fitting)
        if not found:
            raise _ERROR(
                f"{self.spec.name}: invalid '{param}': no saved report {wanted}; reports it can read: {choices}"
            )
        if len(found) > 1:
            raise _ERROR(
                f"{self.spec.name}: invalid '{param}': {len(found)} saved reports are called {wanted} "
                f"({listing(str(r.get('id')) for r in found)}); give report_id"
            )
        report = found[0]
        if self.spec.report_types and report.get("type") not in self.spec.report_types:
            raise _ERROR(
                f"{self.spec.name}: invalid '{param}': report {report.get('id')} {report.get('name')!r} is a "
                f"{report.get('type')!r} report; {self.spec.name} reads {listing(self.spec.report_types)} reports: "
                f"{choices}"
            )
        if self.report_type is not None and self.report_type != report.get("type"):
            raise _ERROR(
                f"{self.spec.name}: invalid 'report_type' {self.report_type!r}: report {report.get('id')} is a "
                f"{report.get('type')!r} report"
            )
        return report

    def params(self, report: Mapping[str, Any]) -> dict[str, Any]:
        """The request parameters of the chosen ``report`` (a row of :meth:`find`)."""
        params: dict[str, Any] = {"report_id": report["id"]}
        if "report_type" in self.spec.params:
            params["report_type"] = self.report_type or report.get("type")
        if "is_realtime" in self.spec.params:
            params["is_realtime"] = bool(self.is_realtime)
        return params
