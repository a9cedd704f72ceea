"""Provider discovery: the entry point, the connection types and their form metadata."""

from __future__ import annotations

import importlib
import importlib.metadata

from airflow_provider_comagic.get_provider_info import get_provider_info
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.hooks.mcn import McnTelecomHook


def test_entry_point_points_to_get_provider_info():
    (entry_point,) = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_comagic")
    ]
    assert entry_point.load() is get_provider_info


def test_package_name_and_connection_type_match_the_hook():
    info = get_provider_info()
    assert info["package-name"] == importlib.metadata.metadata("airflow-provider-comagic")["Name"]
    (conn_type,) = [c for c in info["connection-types"] if c["connection-type"] == "comagic"]
    assert conn_type["connection-type"] == ComagicHook.conn_type == "comagic"
    module, _, name = conn_type["hook-class-name"].rpartition(".")
    assert getattr(importlib.import_module(module), name) is ComagicHook
    behaviour = conn_type["ui-field-behaviour"]
    assert set(behaviour) == {"hidden-fields", "relabeling", "placeholders"}  # kebab-case for Airflow 3.2+
    assert "access_token" not in conn_type["conn-fields"]  # the Password field is the one place for the token


def test_every_listed_module_imports():
    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)


def test_airflow_providers_manager_knows_the_hook():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-comagic" in manager.providers
    assert manager.hooks["comagic"].hook_class_name == "airflow_provider_comagic.hooks.comagic.ComagicHook"


def test_python_form_methods_are_defined_on_the_class_itself():
    # Airflow 2.10-3.1 only reads them from the class __dict__, not inherited ones
    assert "get_ui_field_behaviour" in ComagicHook.__dict__
    assert "get_connection_form_widgets" in ComagicHook.__dict__
    assert set(ComagicHook.get_ui_field_behaviour()) == {"hidden_fields", "relabeling", "placeholders"}


# -- MCN Telecom -----------------------------------------------------------------------------------------------------
def test_provider_info_declares_the_connection_type():
    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "mcn_telecom"]
    assert entry["connection-type"] == McnTelecomHook.conn_type
    assert entry["hook-class-name"] == "airflow_provider_comagic.hooks.mcn.McnTelecomHook"
    assert entry["hook-name"] == McnTelecomHook.hook_name
    assert "token" not in entry["conn-fields"]  # the Password field is the one place for the token
    assert set(entry["ui-field-behaviour"]) == {"hidden-fields", "relabeling", "placeholders"}
    assert "get_ui_field_behaviour" in McnTelecomHook.__dict__
    assert "get_connection_form_widgets" in McnTelecomHook.__dict__
    assert set(McnTelecomHook.get_ui_field_behaviour()) == {"hidden_fields", "relabeling", "placeholders"}


def test_airflow_providers_manager_knows_the_mcn_hook():
    from airflow.providers_manager import ProvidersManager

    hook = ProvidersManager().hooks["mcn_telecom"]
    assert hook.hook_class_name == "airflow_provider_comagic.hooks.mcn.McnTelecomHook"


def test_no_form_default_is_a_string_too_short_to_mask():
    """Airflow masks every value of a connection's extra as a secret and warns, on every task, about a string too
    short to mask (under 5 characters): the forms store no such default (``api_version`` ``"v2.0"`` did)."""
    from airflow_provider_comagic.get_provider_info import get_provider_info

    for connection in get_provider_info()["connection-types"]:
        for name, field in (connection.get("conn-fields") or {}).items():
            default = field["schema"].get("default")
            assert not (isinstance(default, str) and len(default) < 5), (connection["connection-type"], name, default)
