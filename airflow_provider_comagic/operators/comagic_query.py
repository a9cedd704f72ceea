"""What the CoMagic operators that land one Data API method's rows share: the method (checked to be of the
operator's family), its query options (``fields``, ``filter``, ``sort``, ``api_params``, ``page_size``) checked
against the catalogue at DAG parse time when literal, and landing one page source into one partition.

A family (the classic reports, the report builder's lists, the reference snapshots) subclasses
:class:`ComagicQueryOperator`, names its methods (:meth:`~ComagicQueryOperator.family_methods`) and in
``land_step`` builds the page source of one client and interval (:mod:`~airflow_provider_comagic.comagic.sources`);
:meth:`~ComagicQueryOperator.land_source` writes it into the step's partition and returns its summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_comagic.comagic.catalogue import MethodSpec, get_method, unknown_method_error
from airflow_provider_comagic.comagic.catalogue.specs import listing
from airflow_provider_comagic.comagic.clients import AgencyClient
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.paging import MAX_LIMIT
from airflow_provider_comagic.comagic.query import ReportQuery, check_literal_query
from airflow_provider_comagic.landing.assets import partition_key
from airflow_provider_comagic.landing.partitions import partition_name, report_name
from airflow_provider_comagic.landing.pipeline import PageSource, PartitionTarget, Step, partition_entry
from airflow_provider_comagic.operators.comagic_base import ComagicLandingOperator
from airflow_provider_comagic.utils.lineage import dataset
from airflow_provider_comagic.utils.time import zone_name

if TYPE_CHECKING:
    import datetime as dt

    import pyarrow as pa
    from airflow.sdk import Context

__all__ = ["FAMILY_OPERATORS", "ComagicQueryOperator"]

_ERROR = ComagicParameterError
FAMILY_OPERATORS = {
    "classic_report": "ComagicReportOperator",
    "report_builder": "ComagicReportBuilderOperator",
    "reference": "ComagicReferenceOperator",
}
"""The operator that lands each landable family (named in the error for a method of another family)."""


class ComagicQueryOperator(ComagicLandingOperator):
    """
    Base of the CoMagic operators that land the rows of one method (a family's operators: reports, report-builder
    lists, reference snapshots): the method and its query options, checked against the catalogue before any call
    (at DAG parse time for literal values, once rendered for templated ones), and the landing of one partition.

    :param method: the Data API method, one of the family's (:meth:`family_methods`); fixed by the named
        subclasses.
    :param fields: row fields to return (default: the method's default fields); the key and time fields are
        added when missing. A list, or a JSON/comma-separated string once rendered. (templated)
    :param filter: a Data API filter, ``{"field", "operator", "value"}`` or ``{"filters": [...], "condition"}``.
        (templated)
    :param sort: a Data API sort list ``[{"field", "order"}]``; normally leave it unset (the engine sorts to read
        exactly). (templated)
    :param api_params: method-specific parameters passed through (``params`` is taken by Airflow). (templated)
    :param page_size: rows per API call, 1..10 000. Keep 10 000: smaller pages cost more points.
    """

    template_fields: Sequence[str] = (
        *ComagicLandingOperator.template_fields,
        "fields",
        "filter",
        "sort",
        "api_params",
    )
    template_fields_renderers = {
        **ComagicLandingOperator.template_fields_renderers,
        "filter": "json",
        "sort": "json",
        "api_params": "json",
        "fields": "json",
    }
    fixed_method: ClassVar[str] = ""
    """Set by the one-method subclasses: ``method`` is then fixed and may not be passed."""
    family_noun: ClassVar[str] = "method"
    """How errors name the family's methods (``report method``, ``reference list``)."""
    own_params: ClassVar[tuple[str, ...]] = ()
    """Request parameters the operator takes as arguments of their own (never in ``api_params``)."""
    monthly: ClassVar[bool] = False
    """One partition per calendar month (``month=YYYY-MM``, key ``YYYY-MM``) instead of one per interval."""

    def __init__(
        self,
        *,
        method: str | None = None,
        fields: Sequence[str] | str | None = None,
        filter: Mapping[str, Any] | str | None = None,
        sort: Sequence[Mapping[str, Any]] | str | None = None,
        api_params: Mapping[str, Any] | None = None,
        page_size: int = MAX_LIMIT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        fixed = type(self).fixed_method
        if fixed and method is not None:
            raise _ERROR(f"{type(self).__name__} always reads {fixed}; do not pass method")
        if not (fixed or method):
            raise _ERROR(f"{type(self).__name__} needs method, one of: {listing(self.family_methods())}")
        self.method = fixed or method
        self.fields = fields
        self.filter = filter
        self.sort = sort
        self.api_params = api_params
        self.page_size = page_size

    # -- the family ----------------------------------------------------------------------------------------------
    @classmethod
    def family_methods(cls) -> tuple[str, ...]:
        """The methods this operator lands."""
        raise NotImplementedError

    def method_spec(self) -> MethodSpec:
        """The catalogue entry of ``method``, checked to be one of :meth:`family_methods`: an unknown method fails
        with the family's closest method and the family's list; a method of another family names its operator."""
        methods = self.family_methods()
        if self.method in methods:
            return get_method(self.method)
        try:
            spec = get_method(self.method)
        except ComagicParameterError as unknown:
            if "left out of the catalogue" in str(unknown):
                raise  # the reason it is not landed
            raise unknown_method_error(self.method, methods, self.family_noun) from None
        other = FAMILY_OPERATORS.get(spec.family)
        use = f"; land it with {other}" if other else " and is not landed by any operator"
        raise _ERROR(
            f"{self.method} is not a {self.family_noun} (it is of the family {spec.family!r}{use}); "
            f"{type(self).__name__} lands: {listing(methods)}"
        )

    # -- validation ----------------------------------------------------------------------------------------------
    def check_query(
        self, spec: MethodSpec, *, rendered: bool, provided: Sequence[str] = (), own: Sequence[str] | None = None
    ) -> ReportQuery | None:
        """Check the landing and query options (literal values at parse time, every value once rendered); return
        the parsed :class:`~airflow_provider_comagic.comagic.query.ReportQuery` once rendered. ``provided``:
        required parameters the operator supplies itself when ``api_params`` lacks them; ``own``: those it takes
        as arguments of their own (default :attr:`own_params`)."""
        own = self.own_params if own is None else own
        self.check_landing_options(rendered=rendered)
        page_size, limit = self.page_size, min(MAX_LIMIT, spec.paging.limit_max or MAX_LIMIT)
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= limit:
            raise _ERROR(f"page_size must be an integer from 1 to {limit}, got {page_size!r}")
        query = {"fields": self.fields, "filter": self.filter, "sort": self.sort, "api_params": self.api_params}
        if rendered:
            return ReportQuery.parse(spec, **query, own=own, provided=provided)
        check_literal_query(spec, **query, own=own, provided=provided)
        return None

    # -- one partition -------------------------------------------------------------------------------------------
    def land_source(
        self,
        context: Context,
        step: Step[AgencyClient],
        source: PageSource,
        *,
        tz: dt.tzinfo,
        fields: Sequence[str],
        dates: tuple[str, str],
        describe: str,
        host: str,
    ) -> dict[str, Any]:
        """Land ``source`` into the partition of ``step`` and return its
        :func:`~airflow_provider_comagic.landing.pipeline.partition_entry`.

        ``fields``: the columns asked for (the schema, the lineage); ``dates``: the interval as the API was asked
        for it (the summary's ``date_from``/``date_till``); ``describe``: what the log line names (the dates, the
        snapshot); ``host``: the API host (lineage)."""
        client, start, end = step.client, step.start, step.end
        self._api_lineage = {
            "host": host,
            "fields": list(fields),
            "customer_id": client.customer_id,
            "user_id": client.user_id,
        }
        target = PartitionTarget(
            self.output_base() / self.partition_folder(client, start, end, tz),
            self.output_format,
            self.row_schema(fields, tz),
            self.writer_options(),
        )
        who = f" for {client.label()}" if client.user_id is not None else ""
        label = f"{self.method} {describe} (account zone {zone_name(tz)}){who}"
        manifest = step.land(source, target, label=label, extra=self.manifest_extra(context, client, start, end, tz))
        key = self.partition_key(client, start, end, tz)
        return partition_entry(target.path, manifest, key=key, labels=client.labels(), dates=dates)

    def row_schema(self, fields: Sequence[str], tz: dt.tzinfo) -> pa.Schema:
        """The Arrow schema of the landed rows: the method's ``fields`` typed from the catalogue."""
        from airflow_provider_comagic.comagic.schemas import method_schema  # pyarrow: not at DAG parse time

        return method_schema(self.method, fields, timestamps=self.timestamps, timezone=zone_name(tz))

    @classmethod
    def asset_folder_of(cls, arguments: Mapping[str, Any]) -> str | None:
        """``<method without get.>``: the folder of the asset (None while the method is unknown)."""
        method = cls.fixed_method or arguments.get("method")
        return report_name(method) if isinstance(method, str) and method else None

    def partition_method(self) -> str:
        """The method the partition folders are named after (``{report}``, ``{method}`` of a template)."""
        return self.method

    def partition_folder(self, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> str:
        """The partition folder of ``[start, end)`` under the output path."""
        return partition_name(
            self.partition_method(),
            start,
            end,
            tz,
            self.partition_template,
            customer_id=client.customer_id,
            user_id=client.user_id,
            monthly=self.monthly,
            error=_ERROR,
        )

    def partition_key(self, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> str:
        """The asset partition key of ``[start, end)``: ``YYYY-MM-DD`` (``<client>|YYYY-MM-DD``)."""
        return partition_key(start, end, tz, client.key, monthly=self.monthly)

    def manifest_details(self) -> dict[str, Any]:
        """What a family adds to every manifest (e.g. the report builder's saved report)."""
        return {}

    def manifest_extra(
        self, context: Context, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo
    ) -> dict[str, Any]:
        """What the manifest records besides the source and the files: the method's folder, the interval, the
        client, the run."""
        return {
            "report": report_name(self.method),
            "interval": {"start": start.isoformat(), "end": end.isoformat(), "timezone": zone_name(tz)},
            "timestamps": self.timestamps,
            **self.manifest_details(),
            **({"client": client.as_dict()} if client.user_id is not None else {}),
            "airflow": self.airflow_run_info(context),
        }

    def api_dataset(self) -> Any:
        """OpenLineage: ``comagic://<Data API host>``, name ``<method>`` (``<method>/customer_id=<id>`` for an agency's
        client, ``.../user_id=<id>`` for a user), schema = the requested fields as the catalogue describes them."""
        state = getattr(self, "_api_lineage", None) or {}
        spec = get_method(self.method)
        names = state.get("fields") or list(spec.default_fields)
        catalogue = {f.name: f for f in spec.fields}
        fields = [(n, catalogue[n].type, catalogue[n].description or None) for n in names if n in catalogue]
        clients = [f"{k}={state[k]}" for k in ("customer_id", "user_id") if state.get(k) is not None]
        name = "/".join([self.method, *clients])
        return dataset(f"comagic://{state.get('host') or 'dataapi.comagic.ru'}", name, fields=fields)
