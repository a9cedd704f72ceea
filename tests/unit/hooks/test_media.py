"""The vendor-neutral downloader's settings and its redaction of in-flight URLs (hooks/media.py); the vendors'
downloaders and media hosts (hooks/comagic.py, hooks/mcn.py). Downloads themselves: tests/integration/test_recordings.py."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.hooks.media import _IN_FLIGHT, REDACTED, MediaSettings
from airflow_provider_comagic.mcn.errors import McnError
from airflow_provider_comagic.mcn.recordings import McnRecordLocator
from airflow_provider_comagic.utils.recordings import Recording


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"concurrency": 0}, "concurrency must be a positive number"),
        ({"read_timeout": -1}, "read_timeout"),
        ({"max_retries": -1}, "max_retries must be an integer >= 0"),
        ({"max_retries": True}, "max_retries"),
        ({"proxy": "ftp://proxy:21"}, "proxy must be"),
    ],
)
def test_bad_settings_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        MediaSettings(**options)


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, message, args, None)


def test_urls_are_redacted_from_library_logs_while_in_flight():
    line = '%s://%s:%s "%s %s %s" %s %s'
    secret = "/system/media/talk/1/abcdef/"
    with _IN_FLIGHT.holding("https://app.comagic.ru" + secret, secret):
        seen = record(line, "https", "app.comagic.ru", 443, "GET", secret, "HTTP/1.1", 200, 10)
        assert _IN_FLIGHT.filter(seen) and secret not in seen.getMessage() and REDACTED in seen.getMessage()
        with _IN_FLIGHT.holding(secret):  # held twice (two threads): released once, still redacted
            pass
        again = record("Retry: %s", secret)
        assert _IN_FLIGHT.filter(again) and secret not in again.getMessage()
    after = record(line, "https", "app.comagic.ru", 443, "GET", secret, "HTTP/1.1", 200, 10)
    _IN_FLIGHT.filter(after)
    assert secret in after.getMessage()  # nothing held: records pass untouched (and cost nothing)


def test_comagic_media_host_from_the_connection(monkeypatch):
    conn = {"conn_type": "comagic", "host": "dataapi.uiscom.ru", "password": "t"}
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", json.dumps(conn))
    assert ComagicHook().media_base_url() == "https://app.uiscom.ru"
    assert ComagicHook().media_base_url("cdn.example.org") == "https://cdn.example.org"
    conn["extra"] = {"media_host": "https://media-proxy.local/uis"}
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", json.dumps(conn))
    assert ComagicHook().media_base_url() == "https://media-proxy.local/uis"
    downloader = ComagicHook().media_downloader()
    assert downloader.concurrency == 4 and downloader.settings.max_retries == 5


def test_mcn_record_requests_name_the_account_vpbx_and_call(monkeypatch):
    conn = {
        "conn_type": "mcn_telecom",
        "host": "https://api.example/v2/rest",
        "password": "tok",
        "extra": {"account_id": "55"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", json.dumps(conn))
    downloader = McnTelecomHook().record_downloader()
    recording = Recording("1.2", "1.2", "mp3", "mp3", McnRecordLocator("7/1", "1.2"))
    url, params = downloader._request_for(recording)
    assert url == "https://api.example/v2/rest/account/55/vpbx/7%2F1/call_log/record" and params == {"call_id": "1.2"}
    with pytest.raises(McnError, match="not an MCN Telecom recording"):
        downloader._request_for(Recording("1", "1", "mp3", "mp3", "https://elsewhere/x"))


def test_proxy_credentials_are_masked(monkeypatch):
    from airflow_provider_comagic.comagic.errors import ComagicTransportError
    from airflow_provider_comagic.hooks import media

    masked = []
    monkeypatch.setattr(media, "mask_secret", masked.append)
    settings = MediaSettings(proxy="http://user:pr0xy-pass@proxy.local:3128")
    with media.MediaDownloader(
        api_name="t", request_for=lambda r: (r.source, None), transport_error=ComagicTransportError, settings=settings
    ) as downloader:
        assert downloader.concurrency == 4
    assert masked == ["pr0xy-pass"]
