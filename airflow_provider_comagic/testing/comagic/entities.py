"""The emulated account's entities: id pools shared by report rows and the reference lists that list them.

An entity (site, campaign, employee, tag...) has a fixed pool of ids, ``1000 * (position + 1) + k`` for
``k = 1..size``; every id field of every method that names it (``site_id``, ``visitor_first_campaign_id``,
``tags[].tag_id``, ``last_talked_employee_id``...) takes its values from the pool, and the reference list of
the entity (``get.sites``, ``get.campaigns``...) has one row per id of the pool, with the same names. So a
warehouse joins every fact to its dimensions.
"""

from __future__ import annotations

import dataclasses
import functools

__all__ = [
    "ENTITIES",
    "Entity",
    "entity",
    "entity_domain",
    "entity_ids",
    "entity_name",
    "entity_of",
    "entity_of_reference",
]


@dataclasses.dataclass(frozen=True)
class Entity:
    """One kind of account entity: its pool size, the reference method listing it, the label of its names."""

    name: str
    size: int
    reference: str | None
    label: str


# The position in this tuple fixes the id range: append only (the first 19 are the pools of the first emulator).
ENTITIES: tuple[Entity, ...] = (
    Entity("site", 3, "get.sites", "Site"),
    Entity("campaign", 25, "get.campaigns", "Campaign"),
    Entity("employee", 40, "get.employees", "Employee"),
    Entity("scenario", 12, "get.scenarios", "Scenario"),
    Entity("source", 15, "get.sources", "Source"),
    Entity("region", 30, None, "Region"),
    Entity("country", 4, None, "Country"),
    Entity("segment", 8, "get.segments", "Segment"),
    Entity("tag", 20, "get.tags", "Tag"),
    Entity("channel", 6, "get.chat_channels", "Chat channel"),
    Entity("user", 10, None, "User"),
    Entity("group", 6, "get.group_employees", "Group"),
    Entity("goal", 10, "get.events", "Event"),
    Entity("form", 5, "get.integrated_forms", "Form"),
    Entity("banner", 30, None, "Banner"),
    Entity("keyword", 40, None, "Keyword"),
    Entity("widget", 4, None, "Widget"),
    Entity("operator", 40, None, "Operator"),
    Entity("sip", 8, "get.sip_lines", "SIP line"),
    Entity("site_block", 6, "get.site_blocks", "Site block"),
    Entity("status", 8, "get.statuses", "Status"),
    Entity("schedule", 4, "get.schedules", "Schedule"),
    Entity("source_group", 5, "get.sources_groups", "Source group"),
    Entity("source_channel", 4, "get.sources_channels", "Source channel"),
    Entity("virtual_number", 20, "get.virtual_numbers", "Virtual number"),
    Entity("contact", 30, "get.contacts", "Contact"),
    Entity("numa_list", 3, "get.numa_lists", "Number list"),
    Entity("page", 4, "get.integrated_pages", "Page"),
    Entity("position", 4, "get.employee_positions", "Position"),
    Entity("organization", 5, "get.contact_organizations", "Organization"),
    Entity("contact_group", 3, "get.group_contacts", "Contact group"),
    Entity("industry", 5, "get.site_categories", "Industry"),
    Entity("tariff_plan", 3, "get.tariff_plans", "Tariff plan"),
    Entity("media_file", 5, "get.media_files", "Media file"),
    Entity("call_processing_rule_group", 4, "get.call_processing_rule_groups", "Rule group"),
    Entity("replacement_phones_group", 3, "get.replacement_phones_groups", "Phones group"),
)
_BY_NAME = {e.name: e for e in ENTITIES}
_BY_REFERENCE = {e.reference: e.name for e in ENTITIES if e.reference}

# words of id fields that name an entity under another word
ALIASES: dict[str, str] = {
    "chat_channel": "channel",
    "ac": "campaign",  # ct_ac_summary_report: "ac" is an advertising campaign
    "coach": "employee",
    "personal_manager": "employee",
    "phone_number": "virtual_number",  # campaigns' site_blocks: phone_number_id, redirection_phone_number_id
}
# (method, field path) -> entity (None: not an account entity) where the field name alone misleads
FIELD_ENTITIES: dict[tuple[str, str], str | None] = {
    ("get.sources", "group_id"): "source_group",
    ("get.sources", "channel_id"): "source_channel",
    ("get.sources_groups", "channel_id"): "source_channel",
    ("get.sources_channels", "default_source_id"): "source",
    ("get.contacts", "groups.group_id"): "contact_group",
    ("get.replacement_phones_groups", "sites.id"): "site",
    ("get.reports_list", "group_id"): None,  # a report group
    ("get.calls", "tags.items.id"): "tag",
    ("get.communications", "tags.items.id"): "tag",
    ("get.visitor_sessions_report", "integrated_campaign_data.group_id"): None,  # an ad group
    ("get.employee_stat", "id"): "employee",
    ("get.geolocations", "parent_id"): None,
    ("get.sites", "parent_id"): None,
}


def entity(name: str) -> Entity:
    return _BY_NAME[name]


@functools.cache
def entity_ids(name: str) -> tuple[int, ...]:
    """The pool of an entity's ids."""
    position = [e.name for e in ENTITIES].index(name)
    base = 1000 * (position + 1)
    return tuple(base + k for k in range(1, _BY_NAME[name].size + 1))


def entity_name(name: str, entity_id: int | None) -> str | None:
    """The entity's name, the same in every row that names it (``Campaign 2005``)."""
    return None if entity_id is None else f"{_BY_NAME[name].label} {entity_id}"


def entity_domain(name: str, entity_id: int | None) -> str | None:
    """A site's domain (``site1001.example.ru``)."""
    return None if entity_id is None else f"{name.replace('_', '')}{entity_id}.example.ru"


def entity_of_reference(method: str) -> str | None:
    """The entity whose pool a reference list lists (``get.sites`` -> ``site``)."""
    return _BY_REFERENCE.get(method)


def entity_of(name: str, method: str | None = None, path: str | None = None) -> str | None:
    """The entity an id field refers to: ``last_talked_employee_id`` -> ``employee``, ``tag_user_id`` -> ``user``.

    The longest run of trailing words of the name before ``_id``/``_ids`` that names an entity (or an alias)
    wins; ``path`` (``"tags.tag_id"``) in ``method`` may be pinned by :data:`FIELD_ENTITIES`; a reference
    list's own ``id`` is its entity.
    """
    if method is not None and (method, path or name) in FIELD_ENTITIES:
        return FIELD_ENTITIES[(method, path or name)]
    if name == "id":
        return entity_of_reference(method) if method is not None and (path or name) == "id" else None
    for suffix in ("_ids", "_id"):
        if name.endswith(suffix):
            words = name[: -len(suffix)].split("_")
            break
    else:
        return None
    for start in range(len(words)):
        candidate = "_".join(words[start:])
        candidate = ALIASES.get(candidate, candidate)
        if candidate in _BY_NAME:
            return candidate
    return None
