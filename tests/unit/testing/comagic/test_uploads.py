"""upload.calls validation and idempotency; get.uploaded_calls status progression on the emulated clock."""

from __future__ import annotations

import pytest

from tests.unit.testing.comagic.helpers import NOW, make_api, mnemonic

RANGE = {"date_from": "2024-06-01 00:00:00", "date_till": "2024-06-02 00:00:00"}


def _call(ext_id: str, **extra):
    call = {
        "ext_id": ext_id,
        "direction": "in",
        "calling_phone_number": "79260000001",
        "called_phone_number": "74950000001",
        "start_time": "2024-05-31 10:00:00",
        "finish_time": "2024-05-31 10:05:00",
        "is_lost": False,
        "tags": [{"tag_name": "Целевой"}],
    }
    call.update(extra)
    return call


@pytest.fixture
def up(comagic_emulator_factory):
    emu = comagic_emulator_factory(
        calls_per_day=10,
        start_time=NOW,
        frozen_clock=True,
        upload_step_seconds=10,
        upload_error_ext_ids=frozenset({"bad"}),
        upload_cancel_ext_ids=frozenset({"gone"}),
    )
    return emu, make_api(emu)


def _statuses(api, **params):
    rows = api("get.uploaded_calls", **RANGE, **params)["result"]["data"]
    return {row["ext_id"]: row for row in rows}


def test_upload_and_progress(up):
    emu, api = up
    reply = api("upload.calls", _id="req-1", calls=[_call("a"), _call("bad"), _call("gone")])
    assert reply["result"]["data"] == {"success": True}
    rows = _statuses(api)
    assert {k: r["status"] for k, r in rows.items()} == {"a": "new", "bad": "new", "gone": "new"}
    assert rows["a"]["ext_request_id"] == "req-1" and "upload_time" not in rows["a"]  # not a default field
    timed = _statuses(api, fields=["ext_id", "upload_time", "tags"])
    assert timed["a"] == {"ext_id": "a", "upload_time": "2024-06-01 12:00:00", "tags": [{"tag_name": "Целевой"}]}
    emu.clock.advance(10)
    assert {r["status"] for r in _statuses(api).values()} == {"in_process"}
    emu.clock.advance(10)
    rows = _statuses(api)
    assert rows["a"]["status"] == "processed" and isinstance(rows["a"]["call_session_id"], int)
    assert rows["bad"]["status"] == "error" and rows["bad"]["error_code"] and rows["bad"]["call_session_id"] is None
    assert rows["gone"]["status"] == "cancelled"


def test_ext_id_idempotency(up):
    _emu, api = up
    api("upload.calls", calls=[_call("a")])
    api("upload.calls", calls=[_call("a"), _call("b")])
    assert sorted(r["ext_id"] for r in api("get.uploaded_calls", **RANGE)["result"]["data"]) == ["a", "b"]


def test_error_retries_up_to_three_attempts(up):
    emu, api = up
    for _ in range(5):
        api("upload.calls", calls=[_call("bad")])
        emu.clock.advance(20)
    rows = api("get.uploaded_calls", **RANGE, filter={"field": "ext_id", "operator": "=", "value": "bad"})
    assert rows["result"]["metadata"]["total_items"] == 3


def test_filter_by_ext_request_id_and_status(up):
    emu, api = up
    api("upload.calls", _id="r1", calls=[_call("a")])
    api("upload.calls", _id="r2", calls=[_call("b"), _call("c")])
    got = _statuses(api, filter={"field": "ext_request_id", "operator": "=", "value": "r2"})
    assert sorted(got) == ["b", "c"]
    emu.clock.advance(20)
    got = _statuses(api, filter={"field": "status", "operator": "in", "value": ["processed"]})
    assert sorted(got) == ["a", "b", "c"]


def test_set_outcome_at_runtime(up):
    emu, api = up
    api("upload.calls", calls=[_call("x")])
    emu.uploads.set_outcome("x", "error", error_code="decode_error")
    emu.clock.advance(20)
    assert _statuses(api)["x"]["error_code"] == "decode_error"


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        ({"ext_id": "v"}, "required_parameter_missed", "calls.calling_phone_number"),
        (_call("v", start_time="2024-05-31"), "invalid_parameter_value", "calls.start_time"),
        (_call("v", finish_time="2024-05-31 09:00:00"), "invalid_date_time", "calls.finish_time"),
        (_call("v", direction="sideways"), "invalid_parameter_value", "calls.direction"),
        (_call("v", is_lost="no"), "data_type_error", "calls.is_lost"),
        (_call("v", calling_phone_number="+7 926"), "invalid_parameter_value", "calls.calling_phone_number"),
        (_call("v", colour="red"), "unexpected_parameters", "calls.colour"),
        (
            _call(
                "v",
                wav_records=[{"employee_channel": "left", "employee_name": "A", "record_url": "https://x/1"}],
                mp3_records=[{"record_url": "https://x/2"}],
            ),
            "invalid_parameters_combination",
            "calls.mp3_records",
        ),
        (
            _call("v", wav_records=[{"employee_channel": "middle", "employee_name": "A", "record_url": "https://x"}]),
            "invalid_parameter_value",
            "calls.wav_records.employee_channel",
        ),
    ],
)
def test_upload_validation(up, call, error, field):
    _emu, api = up
    reply = api("upload.calls", calls=[_call("ok"), call])
    assert mnemonic(reply) == error and reply["error"]["data"]["field"] == field
    assert api("get.uploaded_calls", **RANGE)["result"]["data"] == []  # all or nothing


def test_upload_limits(up):
    _emu, api = up
    assert mnemonic(api("upload.calls", calls=[_call(f"n{i}") for i in range(51)])) == "invalid_parameter_value"
    big = [_call(f"b{i}", comment="x" * 11_000) for i in range(50)]
    assert mnemonic(api("upload.calls", calls=big)) == "invalid_parameter_value"
    assert mnemonic(api("upload.calls")) == "required_parameter_missed"


def test_outgoing_call_may_have_empty_called_number(up):
    _emu, api = up
    assert "result" in api("upload.calls", calls=[_call("o", direction="out", called_phone_number="")])
    assert mnemonic(api("upload.calls", calls=[_call("i", called_phone_number="")])) == "invalid_parameter_value"


# -- the orders a client must survive, statuses changing between pages, account-dependent parameters ------
@pytest.fixture
def make_up(comagic_emulator_factory):
    """An emulator with these uploaded_calls_* options; ``upload(ext_ids, request_id)`` one second apart."""

    def make(**config):
        emu = comagic_emulator_factory(
            calls_per_day=10, start_time=NOW, frozen_clock=True, upload_step_seconds=10, **config
        )
        api = make_api(emu)

        def upload(ext_ids, request_id="req"):
            assert "result" in api("upload.calls", _id=request_id, calls=[_call(e) for e in ext_ids])
            emu.clock.advance(1)

        return emu, api, upload

    return make


def _ids(api, **params):
    return [row["ext_id"] for row in api("get.uploaded_calls", **RANGE, **params)["result"]["data"]]


def test_rows_come_by_upload_unless_told_otherwise(make_up):
    _emu, api, upload = make_up()
    for ext_id in ("c", "a", "b"):
        upload([ext_id])
    assert _ids(api) == ["c", "a", "b"]


def test_recently_changed_first(make_up):
    emu, api, upload = make_up(uploaded_calls_order="recently_changed")
    for ext_id in ("c", "a", "b"):
        upload([ext_id])
    assert _ids(api) == ["b", "a", "c"]  # all new: the latest upload changed last
    emu.clock.advance(7)  # c (uploaded 10 s ago) is in_process now, a and b still new
    assert _ids(api) == ["c", "b", "a"]
    assert _ids(api, sort=[{"field": "ext_id", "order": "asc"}]) == ["a", "b", "c"]  # a sort decides


def test_random_order_changes_with_every_call_and_a_sort_keeps_only_ties(make_up):
    _emu, api, upload = make_up(uploaded_calls_order="random")
    upload([f"x{i:02d}" for i in range(40)], "r1")
    orders = {tuple(_ids(api)) for _ in range(4)}
    assert len(orders) > 1 and all(sorted(order) == [f"x{i:02d}" for i in range(40)] for order in orders)
    by_request = {"field": "ext_request_id", "order": "asc"}
    assert len({tuple(_ids(api, sort=[by_request])) for _ in range(4)}) > 1  # one request: all rows tie
    by_ext_id = [{"field": "ext_id", "order": "asc"}]
    assert _ids(api, sort=by_ext_id) == sorted(_ids(api))


def test_statuses_change_after_the_nth_answered_read(make_up):
    emu, api, upload = make_up(
        uploaded_calls_order="recently_changed", uploaded_calls_changes={2: {"late": "error", "fixed": "processed"}}
    )
    upload(["late", "fixed", "early"])
    emu.clock.advance(60)  # the clock would have finished all three
    first = {r["ext_id"]: r["status"] for r in api("get.uploaded_calls", **RANGE)["result"]["data"]}
    assert first == {"late": "in_process", "fixed": "in_process", "early": "processed"}
    second = api("get.uploaded_calls", **RANGE)["result"]["data"]
    assert [r["status"] for r in second] == ["processed", "in_process", "in_process"]  # held until read 2 answered
    third = api("get.uploaded_calls", **RANGE)["result"]["data"]
    statuses = {r["ext_id"]: (r["status"], r["error_code"]) for r in third}
    assert statuses["fixed"] == ("processed", None) and statuses["late"][0] == "error" and statuses["late"][1]
    assert {r["ext_id"] for r in third[:2]} == {"late", "fixed"}  # changed last: first
    assert emu.uploads.reads == 3


def test_the_in_operator_can_be_rejected(make_up):
    _emu, api, upload = make_up(uploaded_calls_reject_in=True)
    upload(["a", "b"], "r1")
    reply = api("get.uploaded_calls", **RANGE, filter={"field": "ext_id", "operator": "in", "value": ["a"]})
    assert mnemonic(reply) == "invalid_parameter_value"
    assert reply["error"]["data"]["field"] == "filter.operator" and reply["error"]["data"]["value"] == "in"
    either = {"filters": [{"field": "ext_id", "operator": "=", "value": v} for v in "ab"], "condition": "or"}
    assert sorted(_ids(api, filter=either)) == ["a", "b"]


def test_report_id_optional_or_required(make_up):
    _emu, api, upload = make_up()
    upload(["a"])
    assert _ids(api, report_id=7) == ["a"]
    assert mnemonic(api("get.uploaded_calls", **RANGE, report_id="7")) == "data_type_error"
    _emu, api, upload = make_up(uploaded_calls_report_id=42)
    upload(["a"])
    missing = api("get.uploaded_calls", **RANGE)
    assert mnemonic(missing) == "required_parameter_missed" and missing["error"]["data"]["field"] == "report_id"
    assert mnemonic(api("get.uploaded_calls", **RANGE, report_id=7)) == "invalid_parameter_value"
    assert _ids(api, report_id=42) == ["a"]


def test_bad_options_are_rejected(comagic_emulator_factory):
    with pytest.raises(ValueError, match="uploaded_calls_order"):
        comagic_emulator_factory(uploaded_calls_order="newest")
    with pytest.raises(ValueError, match="not a final status"):
        comagic_emulator_factory(uploaded_calls_changes={1: {"a": "new"}})
