"""Provider metadata read by Airflow's ProvidersManager through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_comagic import __version__


def _http_fields(transient: str) -> dict[str, Any]:
    """The request timeout and retry extras both connection types share."""
    return {
        "timeout": {
            "label": "Request timeout (s)",
            "description": "Seconds to wait for one HTTP response.",
            "schema": {"type": ["number", "null"], "default": 120},
        },
        "max_retries": {
            "label": "Max retries",
            "description": f"Retries of transient failures (HTTP 429/5xx, timeouts, {transient}) with backoff.",
            "schema": {"type": ["integer", "null"], "default": 5},
        },
    }


# One place for each secret: the Password field. Connections made before this form may still carry the secret in
# the extra "access_token" (CoMagic) or "token" (MCN): the hooks keep accepting it, the form no longer offers it.
_CONNECTION_FIELDS: dict[str, Any] = {
    "user_id": {
        "label": "User ID (agents)",
        "description": "Client user id to act as; required for agent (partner) accounts, sent in every call.",
        "schema": {"type": ["integer", "null"]},
    },
    "timezone": {
        "label": "Account time zone",
        "description": "Leave empty to use the account's own zone (read with get.account). A zone given here is "
        "checked against the account's: landing tasks fail when they differ.",
        "schema": {"type": ["string", "null"]},
    },
    "allow_timezone_mismatch": {
        "label": "Allow a zone unlike the account's",
        "description": "true: land in the zone above even where the account's differs (the days are shifted).",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "api_version": {
        # no default stored: Airflow masks every extra value as a secret, and warns on each task that a value
        # this short ("v2.0") cannot be masked
        "label": "API version",
        "description": "Data API version in the URL path; empty means v2.0.",
        "schema": {"type": ["string", "null"]},
    },
    "media_host": {
        "label": "Media host (recordings)",
        "description": "Where call recordings are downloaded from; default: app.<domain> of the API host.",
        "schema": {"type": ["string", "null"]},
    },
    **_http_fields("internal_error"),
}

# Port is shown, and asked for: Airflow 3.3's connections list cannot Test a connection without one (it sends
# port 0, which the API server takes for another destination: version_compat.EMPTY_PORT_FAILS_LIST_TEST). The port
# the host already reaches changes nothing (utils.connection.split_url), so 443 is always safe for the API hosts.
PORT_LABEL = "Port (Test needs it)"

_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "extra"],
    "relabeling": {
        "host": "API host or URL",
        "port": PORT_LABEL,
        "login": "Login (optional)",
        "password": "Password or access token",
    },
    "placeholders": {
        "host": "dataapi.comagic.ru  |  dataapi.uiscom.ru  |  http://127.0.0.1:8765",
        "port": "443  |  8765 for http://127.0.0.1:8765",
        "login": "leave empty when the Password field holds an access token",
        "password": "a permanent access token (Login empty), or the account password (with Login)",
    },
}

_MCN_CONNECTION_FIELDS: dict[str, Any] = {
    "account_id": {
        "label": "Account ID",
        "description": "Personal account number (лицевой счёт) whose vPBXs are read.",
        "schema": {"type": ["string", "null"]},
    },
    "timezone": {
        "label": "Time zone of call times",
        "description": "IANA zone of the call log's wall-clock dates and of date_from/date_to.",
        "schema": {"type": ["string", "null"], "default": "Europe/Moscow"},
    },
    **_http_fields("malformed JSON"),
}

_MCN_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "extra"],
    "relabeling": {"host": "API base URL", "port": PORT_LABEL, "password": "API token"},
    "placeholders": {
        "host": "https://api.mcn.ru/v2/rest  |  http://127.0.0.1:8766",
        "port": "443  |  8766 for http://127.0.0.1:8766",
        "password": "Bearer token from the personal cabinet, API section",
    },
}


def legacy_ui_field_behaviour(behaviour: dict[str, Any]) -> dict[str, Any]:
    """The same form for Airflow 2.10-3.1, whose ``get_ui_field_behaviour`` uses snake_case keys and shows the
    extras as widgets (so the raw Extra field stays hidden there too)."""
    return {key.replace("-", "_"): value for key, value in behaviour.items()}


def legacy_form_widgets(fields: dict[str, Any]) -> dict[str, Any]:
    """The ``conn-fields`` of a connection type as Airflow 2.10-3.1 form widgets (Flask-AppBuilder, imported here
    only: the legacy UI is the one caller)."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, StringField

    kinds = {"integer": IntegerField}  # Airflow 2.10 accepts Integer/String/Password/Boolean fields only
    widgets = {}
    for name, field in fields.items():
        types = field["schema"]["type"]
        kind = next((kinds[t] for t in (types if isinstance(types, list) else [types]) if t in kinds), StringField)
        widgets[name] = kind(
            lazy_gettext(field["label"]), description=field.get("description"), widget=BS3TextFieldWidget()
        )
    return widgets


def comagic_form_widgets() -> dict[str, Any]:
    """The CoMagic connection form's extra fields (Airflow 2.10-3.1 form)."""
    return legacy_form_widgets(_CONNECTION_FIELDS)


def mcn_form_widgets() -> dict[str, Any]:
    """The MCN Telecom connection form's extra fields (Airflow 2.10-3.1 form)."""
    return legacy_form_widgets(_MCN_CONNECTION_FIELDS)


def comagic_ui_field_behaviour() -> dict[str, Any]:
    """The CoMagic connection form's field behaviour (Airflow 2.10-3.1 form)."""
    return legacy_ui_field_behaviour(_UI_FIELD_BEHAVIOUR)


def mcn_ui_field_behaviour() -> dict[str, Any]:
    """The MCN Telecom connection form's field behaviour (Airflow 2.10-3.1 form)."""
    return legacy_ui_field_behaviour(_MCN_UI_FIELD_BEHAVIOUR)


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata (connection type, hooks, operators, sensors, triggers)."""
    return {
        "package-name": "airflow-provider-comagic",
        "name": "CoMagic",
        "description": "CoMagic / UIS call-tracking Data API: reports, report-builder lists and reference snapshots to "
        "object storage, call uploads, sensors.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "CoMagic",
                "external-doc-url": "https://www.comagic.ru/support/api/data-api/",
                "tags": ["service"],
            },
            {
                "integration-name": "MCN Telecom",
                "external-doc-url": "https://www.mcn.ru/",
                "tags": ["service"],
            },
        ],
        "connection-types": [
            {
                "connection-type": "comagic",
                "hook-class-name": "airflow_provider_comagic.hooks.comagic.ComagicHook",
                "hook-name": "CoMagic",
                "conn-fields": _CONNECTION_FIELDS,
                "ui-field-behaviour": _UI_FIELD_BEHAVIOUR,
            },
            {
                "connection-type": "mcn_telecom",
                "hook-class-name": "airflow_provider_comagic.hooks.mcn.McnTelecomHook",
                "hook-name": "MCN Telecom",
                "conn-fields": _MCN_CONNECTION_FIELDS,
                "ui-field-behaviour": _MCN_UI_FIELD_BEHAVIOUR,
            },
        ],
        "hooks": [
            {
                "integration-name": "CoMagic",
                "python-modules": [
                    "airflow_provider_comagic.hooks.comagic",
                    "airflow_provider_comagic.hooks.comagic_async",
                ],
            },
            {"integration-name": "MCN Telecom", "python-modules": ["airflow_provider_comagic.hooks.mcn"]},
        ],
        "operators": [
            {
                "integration-name": "CoMagic",
                "python-modules": [
                    "airflow_provider_comagic.operators.report",
                    "airflow_provider_comagic.operators.report_builder",
                    "airflow_provider_comagic.operators.reference",
                    "airflow_provider_comagic.operators.customers",
                    "airflow_provider_comagic.operators.upload",
                    "airflow_provider_comagic.operators.recordings",
                ],
            },
            {"integration-name": "MCN Telecom", "python-modules": ["airflow_provider_comagic.operators.mcn"]},
        ],
        "transfers": [
            {
                "source-integration-name": "CoMagic",
                "target-integration-name": "PostgreSQL",
                "python-module": "airflow_provider_comagic.transfers.postgres",
            },
        ],
        "sensors": [
            {"integration-name": "CoMagic", "python-modules": ["airflow_provider_comagic.sensors.uploaded_calls"]},
        ],
        "triggers": [
            {
                "integration-name": "CoMagic",
                "python-modules": [
                    "airflow_provider_comagic.triggers.uploaded_calls",
                    "airflow_provider_comagic.triggers.quota",
                ],
            },
        ],
    }
