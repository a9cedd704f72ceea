"""Reference snapshots: the account's lists (campaigns, sites, employees, tags, ...) landed whole once per data
interval, so the ids in the facts have their names and attributes in the lake.

:class:`ComagicReferenceOperator` reads a whole list through the paging engine
(:class:`~airflow_provider_comagic.comagic.sources.ListSource`: one page when it fits, else an order that makes it
exact although the API keeps none) and lands it through the landing pipeline; one named subclass per list the
warehouse needs (:data:`REFERENCE_OPERATORS`) fixes ``method``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.catalogue import get_method, reference_methods
from airflow_provider_comagic.comagic.clients import AgencyClient
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.query import ReportQuery
from airflow_provider_comagic.comagic.sources import ListSource
from airflow_provider_comagic.landing.pipeline import Step
from airflow_provider_comagic.operators.comagic_query import ComagicQueryOperator
from airflow_provider_comagic.utils.task_errors import naming_task
from airflow_provider_comagic.utils.time import interval_to_api

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_comagic.hooks.comagic import ComagicHook

__all__ = [
    "REFERENCE_OPERATORS",
    "ComagicCampaignsSnapshotOperator",
    "ComagicChatChannelsSnapshotOperator",
    "ComagicContactsSnapshotOperator",
    "ComagicEmployeeGroupsSnapshotOperator",
    "ComagicEmployeesSnapshotOperator",
    "ComagicEventsSnapshotOperator",
    "ComagicReferenceOperator",
    "ComagicSalesFunnelsSnapshotOperator",
    "ComagicScenariosSnapshotOperator",
    "ComagicSegmentsSnapshotOperator",
    "ComagicSiteBlocksSnapshotOperator",
    "ComagicSitesSnapshotOperator",
    "ComagicSourceChannelsSnapshotOperator",
    "ComagicSourceGroupsSnapshotOperator",
    "ComagicSourcesSnapshotOperator",
    "ComagicStatusesSnapshotOperator",
    "ComagicTagsSnapshotOperator",
    "ComagicVirtualNumbersSnapshotOperator",
]

_ERROR = ComagicParameterError


class ComagicReferenceOperator(ComagicQueryOperator):
    """
    Land a whole CoMagic / UIS reference list (a snapshot) once per data interval in object storage.

    Reads ``method`` (a no-argument list: ``get.campaigns``, ``get.sites``, ``get.employees``, ... see
    ``reference_methods()``) whole and lands it as the partition of the data interval,
    ``<output_path>/<list>/[customer_id=<id>/]date=YYYY-MM-DD`` for a day of the account's zone (asset key
    ``YYYY-MM-DD``, as the facts of that day): the snapshot of day D is the list as read by the run of D, normally
    just after D ended, so the facts of D join the names their ids had then. The manifest records when the list
    was read (``api.snapshot_time``, UTC). A rerun replaces the partition with a new snapshot; a snapshot of an
    earlier day cannot be taken, so ``lookback`` is refused.

    **Exact without a stable order.** Many lists cannot be sorted by their id (``get.campaigns``, ``get.sites``,
    ``get.employees``...) and come back in another order on every call, so plain offset pages would lose and repeat
    rows. A list of up to ``page_size`` (10 000) rows is read in one call. A longer one is sorted by its id where
    the docs allow it, else by documented sortable fields that name its rows (the catalogue's ``order``:
    ``login``, ``name``...), each page starting at the first row of the previous page's last tie; every read must
    give as many distinct ids as ``total_items`` says. A list that changed while it was paged is read again; one
    that keeps changing fails the task clearly (rerun it later). Lists beyond 110 000 rows fail clearly.

    **Cost.** One point per call: one call for a list of up to 10 000 rows, ``ceil(rows / (10 000 - ties))``
    above that.

    Agencies, groups of clients and deferrable quota waits are described on
    :class:`~airflow_provider_comagic.operators.comagic_base.ComagicLandingOperator`; with
    ``skip_on_missing_access`` a client without the list's component (``get.scenarios`` needs the virtual PBX,
    ``get.sources`` Call tracking 3.0...) or permission is skipped. The output options are
    :class:`~airflow_provider_comagic.operators.base.BaseLandingOperator`'s.

    .. seealso::
        For more information on how to use this operator, take a look at the guide:
        :ref:`howto/operator:ComagicReferenceOperator`

    :param method: the list, e.g. ``get.campaigns`` (see ``reference_methods()``).
    :param fields: row fields to return (default: the list's default fields; the key is always added). (templated)
    :param api_params: the list's optional parameters, if any. (templated)
    :param page_size: rows per API call, 1..10 000. Keep 10 000: a list that fits is read in one call.
    """

    ui_color = "#eef7e8"
    family_noun = "reference list"

    def __init__(self, *, method: str | None = None, **kwargs: Any) -> None:
        super().__init__(method=method, **kwargs)
        with naming_task(self.task_id):
            self._validate(rendered=False)
            self.declare_output_asset()

    @classmethod
    def family_methods(cls) -> tuple[str, ...]:
        return reference_methods()

    def _validate(self, *, rendered: bool) -> ReportQuery | None:
        spec = self.method_spec()
        if "fields" not in spec.params and self.fields not in (None, "", []):
            raise _ERROR(f"fields: {self.method} takes no fields (it returns all of them); do not pass fields")
        for name in ("filter", "sort"):
            if getattr(self, name) not in (None, "", [], {}):
                raise _ERROR(
                    f"{name}: a snapshot lands the whole list of {self.method}, read in the order that makes it "
                    f"exact; do not pass {name}"
                )
        if self.lookback:
            raise _ERROR(
                f"lookback: a snapshot of {self.method} is the list as it is now; the lists of earlier days cannot "
                "be read again (leave lookback unset)"
            )
        return self.check_query(spec, rendered=rendered)

    def prepare(self) -> None:
        query = self._validate(rendered=True)
        assert query is not None
        self._query = query

    def land_step(self, context: Context, hook: ComagicHook, step: Step[AgencyClient]) -> dict[str, Any]:
        client = step.client
        tz = hook.checked_timezone(client.user_id)  # read once per client: before its first list call
        spec = get_method(self.method)
        fields = self._query.fields or list(spec.default_fields)
        if "fields" not in spec.params:  # get.account: every field, always
            fields = None
        plan = hook.plan(
            self.method, tz=tz, fields=fields, page_size=self.page_size, params=self._query.call_params(client)
        )
        fields = plan.fields or list(spec.default_fields)
        source = ListSource(hook, plan, query=self._query.as_manifest(fields, self.page_size))
        dates = interval_to_api(step.start, step.end, tz, error=_ERROR)
        return self.land_source(
            context,
            step,
            source,
            tz=tz,
            fields=fields,
            dates=dates,
            describe=f"snapshot for [{dates[0]}, {dates[1]}]",
            host=hook.config.host,
        )

    def manifest_details(self) -> dict[str, Any]:
        return {"snapshot": True}


class _NamedReferenceOperator(ComagicReferenceOperator):
    """Base of the one-list operators: ``method`` is fixed by the class (:attr:`fixed_method`)."""


class ComagicCampaignsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.campaigns`` (advertising campaigns: name, site, type, engine, costs...) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.campaigns"


class ComagicSitesSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.sites`` (the tracked sites: domain, name, default phone number...) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.sites"


class ComagicSiteBlocksSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.site_blocks`` (the sites' blocks of replaced phone numbers) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.site_blocks"


class ComagicTagsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.tags`` (the tags of communications) whole; see :class:`ComagicReferenceOperator`."""

    fixed_method = "get.tags"


class ComagicEmployeesSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.employees`` (employees: names, login, groups, phone numbers, status...) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.employees"


class ComagicEmployeeGroupsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.group_employees`` (groups of employees and their members) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.group_employees"


class ComagicVirtualNumbersSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.virtual_numbers`` (the account's virtual numbers and their campaigns and scenarios) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.virtual_numbers"


class ComagicScenariosSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.scenarios`` (call-processing scenarios; needs the virtual PBX component) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.scenarios"


class ComagicSegmentsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.segments`` (visitor segments) whole; see :class:`ComagicReferenceOperator`."""

    fixed_method = "get.segments"


class ComagicEventsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.events`` (the sites' events and goals) whole; see :class:`ComagicReferenceOperator`."""

    fixed_method = "get.events"


class ComagicChatChannelsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.chat_channels`` (chat channels: site, messengers...) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.chat_channels"


class ComagicStatusesSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.statuses`` (the employees' statuses) whole; see :class:`ComagicReferenceOperator`."""

    fixed_method = "get.statuses"


class ComagicSourcesSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.sources`` (traffic sources, Call tracking 3.0) whole; see :class:`ComagicReferenceOperator`."""

    fixed_method = "get.sources"


class ComagicSourceGroupsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.sources_groups`` (groups of traffic sources, Call tracking 3.0) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.sources_groups"


class ComagicSourceChannelsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.sources_channels`` (channels of traffic sources) whole; see :class:`ComagicReferenceOperator`."""

    fixed_method = "get.sources_channels"


class ComagicSalesFunnelsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.sales_funnel`` (sales funnels and their stages; needs the sales funnel component) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.sales_funnel"


class ComagicContactsSnapshotOperator(_NamedReferenceOperator):
    """Land ``get.contacts`` (the contact book: names, phone numbers, emails, groups, personal manager) whole; see
    :class:`ComagicReferenceOperator`."""

    fixed_method = "get.contacts"


REFERENCE_OPERATORS: dict[str, type[ComagicReferenceOperator]] = {
    cls.fixed_method: cls
    for cls in (
        ComagicCampaignsSnapshotOperator,
        ComagicSitesSnapshotOperator,
        ComagicSiteBlocksSnapshotOperator,
        ComagicTagsSnapshotOperator,
        ComagicEmployeesSnapshotOperator,
        ComagicEmployeeGroupsSnapshotOperator,
        ComagicVirtualNumbersSnapshotOperator,
        ComagicScenariosSnapshotOperator,
        ComagicSegmentsSnapshotOperator,
        ComagicEventsSnapshotOperator,
        ComagicChatChannelsSnapshotOperator,
        ComagicStatusesSnapshotOperator,
        ComagicSourcesSnapshotOperator,
        ComagicSourceGroupsSnapshotOperator,
        ComagicSourceChannelsSnapshotOperator,
        ComagicSalesFunnelsSnapshotOperator,
        ComagicContactsSnapshotOperator,
    )
}
"""Reference list -> its named snapshot operator (the lists a call-analytics warehouse joins its facts to)."""
