"""The masking rule of drift examples (landing/masking.py): personal data and secrets never reach a manifest, an
asset event, a lineage facet or a log line, while the shape of what arrived stays readable."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.landing.masking import is_sensitive_name, mask_example


@pytest.mark.parametrize(
    "name",
    [
        "contact_phone_number",
        "virtual_phone_number",
        "src_num",
        "dst_num",
        "did",
        "communication_number",
        "email",
        "contact_full_name",
        "employee_full_name",
        "tags[].tag_name",
        "tag_user_login",
        "visitor_first_name",
        "call_records",
        "record_url",
        "file_link",
        "access_token",
        "password",
        "api_key",
        "comment",
        "text",
        "form_answers",
        "search_query",
        "utm_term",
        "ip_address",
        "visitor_ip",
        "address",
        "user_agent",
        "properties",
    ],
)
def test_names_of_personal_data_and_secrets_are_sensitive(name):
    assert is_sensitive_name(name)


@pytest.mark.parametrize(
    "name",
    ["id", "talk_duration", "is_lost", "direction", "site_id", "last_answered_employee_id", "tags", "sale_cost"],
)
def test_other_names_are_not(name):
    assert not is_sensitive_name(name)


@pytest.mark.parametrize(
    ("name", "value", "masked"),
    [
        ("contact_phone_number", "+7 (916) 123-45-67", "+# (###) ###-##-##"),
        ("contact_phone_number", 79161234567, "###########"),
        ("employee_full_name", "Иван Петров", "xxxx xxxxxx"),
        ("email", "ivan@example.ru", "xxxx@xxxxxxx.xx"),
        ("call_records", ["3f2a9c"], ["#x#x#x"]),
        ("src_name", None, None),
        ("is_private_name", True, True),  # a flag tells nothing personal
    ],
)
def test_a_sensitive_value_keeps_only_its_shape(name, value, masked):
    assert mask_example(name, value) == masked


def test_metadata_marks_a_field_sensitive_whatever_its_name():
    assert mask_example("x", "secret-7", sensitive=True) == "xxxxxx-#"
    assert mask_example("x", 12.5, sensitive=True) == "##.#"
    assert mask_example("x", 12.5) == 12.5


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("515", "515"),  # what drifted, kept: a number as text
        ("n/a", "n/a"),
        ("call me: +7 916 123 45 67", "call me: +# ### ### ## ##"),
        ("write to a.b@mail.ru today", "write to x.x@xxxx.xx today"),
        ("https://app.example/rec/9f8e7d6c5b4a39281706f5e4d3c2b1a0?hash=abc", "https://app.example/…"),
        ("2024-03-01 10:31:17", "2024-03-01 10:31:17"),  # a time is no phone number
        ("token 9f8e7d6c5b4a39281706f5e4d3c2b1a0 ok", "token #x#x#x#x#x#x########x#x#x#x#x#x# ok"),
    ],
)
def test_other_strings_are_scrubbed_of_what_looks_personal_or_secret(value, masked):
    assert mask_example("talk_duration", value) == masked


def test_objects_are_masked_member_by_member_and_everything_is_cut():
    value = {"tag_id": 5, "tag_name": "Иван", "tag_change_time": "2024-03-01 10:31:17"}
    assert mask_example("tags", value) == {"tag_id": 5, "tag_name": "xxxx", "tag_change_time": "2024-03-01 10:31:17"}
    assert mask_example("contact", {"id": 7, "note": "x"}) == {"id": "#", "note": "x"}  # under a sensitive parent
    assert mask_example("t", "a" * 100) == "a" * 64 + "…"
    assert mask_example("t", list(range(10))) == [0, 1, 2, "… 7 more"]
    assert len(mask_example("t", {f"k{i}": i for i in range(20)})) == 13
