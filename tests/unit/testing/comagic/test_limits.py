"""Points quota: weights, metadata.limits, limit_exceeded, resets with the controllable clock."""

from __future__ import annotations

from tests.unit.testing.comagic.helpers import DAY, NOW, make_api, mnemonic

CALL = {"method": "get.calls_report", **DAY, "limit": 1}


def _quota_emu(factory, **overrides):
    emu = factory(calls_per_day=50, start_time=NOW, frozen_clock=True, **overrides)
    return emu, make_api(emu)


def _get(api):
    return api(CALL["method"], date_from=CALL["date_from"], date_till=CALL["date_till"], limit=1)


def test_successful_calls_are_charged(comagic_emulator_factory):
    emu, api = _quota_emu(comagic_emulator_factory, minute_limit=10, day_limit=100)
    limits = _get(api)["result"]["metadata"]["limits"]
    assert limits["minute_remaining"] == 9 and limits["day_remaining"] == 99
    assert limits["minute_reset"] == 60  # NOW is a whole minute
    assert emu.stats.points == 1 and emu.stats.successes["get.calls_report"] == 1


def test_failed_calls_are_not_charged(comagic_emulator_factory):
    emu, api = _quota_emu(comagic_emulator_factory, minute_limit=10)
    reply = api("get.calls_report", date_from="bad", date_till="bad")
    assert reply["error"]["data"]["metadata"]["limits"]["minute_remaining"] == 10
    assert emu.stats.points == 0 and emu.stats.errors["invalid_parameter_value"] == 1


def test_minute_limit_and_reset(comagic_emulator_factory):
    emu, api = _quota_emu(comagic_emulator_factory, minute_limit=3, day_limit=100)
    for _ in range(3):
        assert "result" in _get(api)
    reply = _get(api)
    assert mnemonic(reply) == "limit_exceeded"
    error = reply["error"]
    assert error["code"] == -32029 and error["data"]["params"]["limit_type"] == "minute"
    assert error["message"] == "Limit per minute has been exceeded. Value of current limit per minute is 3"
    assert error["data"]["metadata"]["limits"]["minute_remaining"] == 0
    emu.clock.advance(30)
    assert _get(api)["error"]["data"]["metadata"]["limits"]["minute_reset"] == 30
    emu.clock.advance(30)
    assert _get(api)["result"]["metadata"]["limits"]["minute_remaining"] == 2


def test_day_limit_and_reset(comagic_emulator_factory):
    emu, api = _quota_emu(comagic_emulator_factory, minute_limit=100, day_limit=2)
    assert "result" in _get(api) and "result" in _get(api)
    reply = _get(api)
    assert mnemonic(reply) == "limit_exceeded" and reply["error"]["data"]["params"]["limit_type"] == "day"
    assert reply["error"]["data"]["metadata"]["limits"]["day_reset"] == 12 * 3600  # midnight Moscow
    emu.clock.advance(12 * 3600)
    assert "result" in _get(api)


def test_upload_weighs_five(comagic_emulator_factory):
    _emu, api = _quota_emu(comagic_emulator_factory, minute_limit=7)
    call = {
        "ext_id": "q1",
        "calling_phone_number": "79260000001",
        "called_phone_number": "74950000001",
        "start_time": "2024-05-01 10:00:00",
        "finish_time": "2024-05-01 10:01:00",
        "is_lost": False,
    }
    reply = api("upload.calls", calls=[call])
    assert reply["result"]["metadata"]["limits"]["minute_remaining"] == 2
    assert mnemonic(api("upload.calls", calls=[dict(call, ext_id="q2")])) == "limit_exceeded"
    assert "result" in _get(api)  # one point still fits


def test_runtime_limit_controls(comagic_emulator_factory):
    emu, api = _quota_emu(comagic_emulator_factory)
    emu.quota.exhaust("day")
    assert mnemonic(_get(api)) == "limit_exceeded"
    emu.quota.set_limits(day_limit=10**6)
    assert "result" in _get(api)
