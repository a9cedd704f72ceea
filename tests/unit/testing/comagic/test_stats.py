"""The emulator's counters: each report page served is counted by its request, so a client that fetches a page
twice (lost its place across a deferral) shows up in ``repeated_pages()``."""

from __future__ import annotations

import orjson

from tests.unit.testing.comagic.helpers import DAY


def test_report_pages_are_counted_by_their_request(emu, api):
    page = {"method": "get.calls_report", **DAY, "limit": 50}
    api(**page, offset=0)
    api(**page, offset=50)
    assert emu.stats.repeated_pages() == {}
    api(**page, offset=50)  # the same page again
    api("get.account")  # not a report page
    api("get.calls_report", date_from="bad", date_till="bad")  # an error serves no page
    key = orjson.dumps({**page, "offset": 50}, option=orjson.OPT_SORT_KEYS)
    assert emu.stats.repeated_pages() == {key: 2}
    assert emu.stats.snapshot()["pages"] == 3 and emu.stats.snapshot()["repeated_pages"] == 1
    emu.stats.reset()
    assert emu.stats.repeated_pages() == {} and emu.stats.snapshot()["pages"] == 0
