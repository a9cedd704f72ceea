"""Call recordings into object storage over real HTTP: the emulators' media paths -> land_recordings -> file:// and
moto's S3. Every outcome, idempotent reruns and lookbacks, a kill mid-download, the proxy, and no secret anywhere."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.landing.commit import repair_partition
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.recordings import RecordingDownloadError, land_recordings, object_name
from airflow_provider_comagic.landing.storage import store_for, to_storage_path
from airflow_provider_comagic.mcn.errors import McnAuthError
from airflow_provider_comagic.mcn.recordings import call_log_recordings
from airflow_provider_comagic.testing.pytest_plugin import mcn_connection_json
from airflow_provider_comagic.utils.time import get_timezone
from tests.fixtures import landing_crash
from tests.fixtures.lake import lake  # noqa: F401 - fixture
from tests.fixtures.recordings import QUICK, TZ, comagic_account, land_in_child

pytestmark = pytest.mark.integration


def by_key(manifest, status=None):
    entries = manifest["files"] + manifest["missing"]
    return {(e["call"], e["kind"], e["record"]): e for e in entries if status is None or e["status"] == status}


def media_requests(emu) -> int:
    return emu.stats.media["requests"]


def test_every_recording_lands_with_its_size_and_hash(lake, comagic_emulator_factory, monkeypatch):  # noqa: F811
    account = comagic_account(comagic_emulator_factory, monkeypatch)
    kinds = {r.kind for r in account.recordings}
    assert kinds == {"mp3", "wav", "voice_mail", "full"}  # the day has every kind
    manifest = land_recordings(account.recordings, lake.url, account.downloader(), conn_id=lake.conn_id)
    assert manifest["format"] == "recordings" and manifest["phase"] == "final" and manifest["missing"] == []
    assert manifest["counts"]["landed"] == manifest["counts"]["downloaded"] == len(account.recordings)
    landed = by_key(manifest)
    assert set(landed) == {r.key for r in account.recordings}
    for recording in account.recordings:
        entry = landed[recording.key]
        body = lake.read(object_name(recording))
        assert body == account.body(recording) and entry["path"] == object_name(recording)
        assert entry["bytes"] == len(body) and entry["sha256"] == hashlib.sha256(body).hexdigest()
        assert entry["status"] == "landed" and entry["format"] == recording.audio_format
    assert lake.names() == sorted([MANIFEST_NAME, *(object_name(r) for r in account.recordings)])
    assert read_manifest(lake.url, lake.conn_id) == manifest


def test_a_rerun_and_a_lookback_download_nothing_twice(lake, comagic_emulator_factory, monkeypatch):  # noqa: F811
    account = comagic_account(comagic_emulator_factory, monkeypatch)
    emu = account.emulator
    total = len(account.recordings)
    emu.faults.add("http_404", method="media", calls={2, 5})  # two recordings missing on the first run
    first = land_recordings(account.recordings, lake.url, account.downloader(), conn_id=lake.conn_id)
    assert first["counts"]["absent"] == 2 and first["counts"]["landed"] == total - 2
    before = {name: lake.read(name) for name in lake.names() if name != MANIFEST_NAME}
    requests_before = media_requests(emu)
    lookback = land_recordings(account.recordings, lake.url, account.downloader(), conn_id=lake.conn_id)
    assert media_requests(emu) - requests_before == 2  # only the two missing ones were asked for again
    assert lookback["counts"] == {**lookback["counts"], "landed": total, "downloaded": 2, "kept": total - 2}
    assert lookback["missing"] == []
    for name, body in before.items():
        assert lake.read(name) == body
    kept = by_key(lookback)
    assert {kept[k]["run_token"] for k in by_key(first, "landed")} == {first["run_token"]}  # who downloaded it
    again = land_recordings(account.recordings, lake.url, account.downloader(), conn_id=lake.conn_id)
    assert media_requests(emu) - requests_before == 2 and again["counts"]["kept"] == total
    assert by_key(again) == by_key(lookback)


def test_a_stored_object_that_changed_size_is_fetched_again(tmp_path, comagic_emulator_factory, monkeypatch):
    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"])
    land_recordings(account.recordings, tmp_path, account.downloader())
    victim = account.recordings[0]
    (tmp_path / object_name(victim)).write_bytes(b"ID3 damaged")
    requests_before = media_requests(account.emulator)
    manifest = land_recordings(account.recordings, tmp_path, account.downloader())
    assert media_requests(account.emulator) - requests_before == 1 and manifest["counts"]["downloaded"] == 1
    assert (tmp_path / object_name(victim)).read_bytes() == account.body(victim)


def test_outcomes_are_data_and_failures_are_named_after_the_commit(tmp_path, comagic_emulator_factory, monkeypatch):
    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"])
    emu = account.emulator
    assert len(account.recordings) >= 7
    # requests in order (concurrency 1): 1 -> 404, 2 -> 400, 3 -> 503 beyond the retries (3 attempts),
    # 6 -> wrong content type (not retried), 7 -> 503 once then fine, 9 -> truncated once then fine
    emu.faults.add("http_404", method="media", calls={1})
    emu.faults.add("http_400", method="media", calls={2})
    emu.faults.add("http_503", method="media", calls={3, 4, 5, 7})
    emu.faults.add("wrong_content_type", method="media", calls={6})
    emu.faults.add("truncate", method="media", calls={9})
    with pytest.raises(RecordingDownloadError) as failure:
        land_recordings(account.recordings, tmp_path, account.downloader(concurrency=1))
    text = str(failure.value)
    assert failure.value.failed == 2
    assert "2 of" in text and "1 x HTTP 503 (after 3 attempts)" in text and "1 x not audio" in text
    manifest = read_manifest(tmp_path)  # committed before the error was raised
    outcomes = [(e["status"], e["attempts"]) for e in manifest["missing"]]
    assert outcomes == [("absent", 1), ("empty", 1), ("failed", 3), ("failed", 1)]
    assert manifest["missing"][3]["reason"].startswith("not audio: Content-Type 'text/html'")
    assert manifest["counts"]["landed"] == len(account.recordings) - 4
    first = account.recordings[0]
    assert manifest["missing"][0] == {
        "call": first.call_id,
        "record": first.record_id,
        "kind": "mp3",
        "status": "absent",
        "reason": "HTTP 404: expired or never recorded",
        "attempts": 1,
    }
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])  # nothing partial left


def test_a_recent_call_is_not_ready_yet_and_lands_on_a_later_run(tmp_path, comagic_emulator_factory, monkeypatch):
    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"], media_ready_after=3 * 86400)
    emu = account.emulator
    now = emu.now()
    manifest = land_recordings(account.recordings, tmp_path, account.downloader(), now=now, fail_on_errors=False)
    assert manifest["counts"]["absent"] == len(account.recordings)  # calls of two days ago: long over
    soon = land_recordings(
        account.recordings,
        tmp_path,
        account.downloader(),
        now=now,
        ready_within=__import__("datetime").timedelta(days=3),
    )
    assert soon["counts"]["not_ready"] == len(account.recordings)
    assert "not ready yet" in soon["missing"][0]["reason"]
    emu.clock.advance(2 * 86400)
    later = land_recordings(account.recordings, tmp_path, account.downloader())
    assert later["counts"]["landed"] == len(account.recordings) and later["missing"] == []


def test_slow_bodies_time_out_and_are_retried(tmp_path, comagic_emulator_factory, monkeypatch):
    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"], recording_seconds=30)
    account.emulator.faults.add("slow_body", method="media", calls={1, 2}, delay=0.5)
    manifest = land_recordings(account.recordings[:3], tmp_path, account.downloader(read_timeout=0.2, concurrency=1))
    assert manifest["counts"]["landed"] == 3
    assert account.emulator.stats.media["requests"] == 5  # two slow attempts timed out and were made again


def test_a_whole_file_deadline_stops_a_trickle_within_the_read_timeout(tmp_path, comagic_emulator_factory, monkeypatch):
    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"], recording_seconds=30)
    account.emulator.faults.add("slow_body", method="media", delay=0.1)
    manifest = land_recordings(
        account.recordings[:1], tmp_path, account.downloader(file_timeout=0.3, max_retries=1), fail_on_errors=False
    )
    (missing,) = manifest["missing"]
    assert missing["status"] == "failed" and missing["reason"] == "the body took over 0.3 s (after 2 attempts)"


def test_legs_and_the_session_id_path(tmp_path, comagic_emulator_factory, monkeypatch):
    from airflow_provider_comagic.comagic.recordings import LEGS_METHOD, recording_fields, recordings_of
    from tests.fixtures.recordings import _interval

    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"])
    hook = account.hook
    legs = list(hook.iter_rows(LEGS_METHOD, *_interval(), fields=recording_fields(LEGS_METHOD)))
    base, tz = hook.media_base_url(), get_timezone(TZ)
    from_legs = list(recordings_of(LEGS_METHOD, legs, media_base=base, tz=tz))
    by_session = recordings_of("get.calls_report", account.rows, media_base=base, tz=tz, path_id="call_session_id")
    recordings = [*from_legs, *by_session]
    manifest = land_recordings(recordings, tmp_path, account.downloader(), fail_on_errors=True)
    assert manifest["counts"]["landed"] == len({r.key for r in recordings}) and manifest["missing"] == []
    assert {r.call_id for r in from_legs} <= {str(row["id"]) for row in account.rows}


def test_mcn_recordings_and_a_rejected_token(lake, mcn_emulator, monkeypatch):  # noqa: F811
    import datetime as dt

    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(mcn_emulator))
    hook = McnTelecomHook()
    tz = get_timezone(TZ)
    start = dt.datetime(2024, 3, 1, tzinfo=tz)
    rows = [row for page in hook.iter_call_log(None, "7001", start, start + dt.timedelta(days=1)) for row in page]
    recordings = list(call_log_recordings(rows, vpbx_id="7001", tz=tz))
    assert 0 < len(recordings) < len(rows)
    manifest = land_recordings(recordings, lake.url, hook.record_downloader(), conn_id=lake.conn_id)
    assert manifest["counts"]["landed"] == len(recordings)
    for recording in recordings:
        assert lake.read(object_name(recording)).startswith(b"ID3")
    before = read_manifest(lake.url, lake.conn_id)
    mcn_emulator.revoke_token()
    partition = lake.sub("again")
    with pytest.raises(McnAuthError, match="HTTP 401"):
        land_recordings(recordings, partition.url, hook.record_downloader(), conn_id=lake.conn_id)
    assert partition.names() == [] and read_manifest(lake.url, lake.conn_id) == before


def test_recordings_never_land_over_a_partition_of_rows(tmp_path, comagic_emulator_factory, monkeypatch):
    from airflow_provider_comagic.exceptions import LandingError
    from airflow_provider_comagic.landing.writer import land_pages

    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"])
    land_pages([[{"id": 1}]], tmp_path, "jsonl")
    with pytest.raises(LandingError, match="holds a committed 'jsonl' partition, not recordings"):
        land_recordings(account.recordings, tmp_path, account.downloader())
    assert media_requests(account.emulator) == 0


class _Proxy(BaseHTTPRequestHandler):
    """A forward proxy for plain HTTP: GET with an absolute URL, relayed; counts what it relayed."""

    relayed: list[str] = []

    def do_GET(self) -> None:
        type(self).relayed.append(self.path)
        upstream = requests.get(self.path, stream=True, timeout=30)
        self.send_response(upstream.status_code)
        for name in ("Content-Type", "Content-Length"):
            if name in upstream.headers:
                self.send_header(name, upstream.headers[name])
        self.end_headers()
        for chunk in upstream.raw.stream(65536):
            self.wfile.write(chunk)

    def log_message(self, *args) -> None:
        pass


def test_every_download_goes_through_the_proxy_given(tmp_path, comagic_emulator_factory, monkeypatch):
    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    _Proxy.relayed = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proxy = f"http://127.0.0.1:{server.server_address[1]}"
        manifest = land_recordings(account.recordings, tmp_path, account.downloader(proxy=proxy))
    finally:
        server.shutdown()
    assert manifest["counts"]["landed"] == len(account.recordings)
    assert sorted(_Proxy.relayed) == sorted(r.source for r in account.recordings)


def log_everything(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record at DEBUG, urllib3's request lines included, as a deployment may log them (Airflow's logging
    config, loaded by an earlier test, disables the loggers it does not name)."""
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "disabled", False)
        monkeypatch.setattr(logger, "propagate", True)
        caplog.set_level(logging.DEBUG, logger=name)


def test_no_url_or_token_in_logs_manifests_or_errors(
    tmp_path, comagic_emulator_factory, mcn_emulator, monkeypatch, caplog, capfd
):
    import datetime as dt

    log_everything(caplog, monkeypatch)
    account = comagic_account(comagic_emulator_factory, monkeypatch)
    emu = account.emulator
    emu.faults.add("http_503", method="media", calls={1, 2, 3, 4})  # retries logged, one failure named
    emu.faults.add("truncate", method="media", calls={6})
    errors = []
    with pytest.raises(RecordingDownloadError) as failure:
        land_recordings(account.recordings, tmp_path / "comagic", account.downloader(concurrency=1))
    errors += [str(failure.value), repr(failure.value), "".join(traceback.format_exception(failure.value))]
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(mcn_emulator))
    hook = McnTelecomHook(retry_initial_wait=0.01, retry_max_wait=0.02)
    start = dt.datetime(2024, 3, 1, tzinfo=get_timezone(TZ))
    rows = [row for page in hook.iter_call_log(None, "7001", start, start + dt.timedelta(days=1)) for row in page]
    mcn_emulator.faults.add("http_502", method="media", calls={1})
    land_recordings(
        call_log_recordings(rows, vpbx_id="7001", tz=start.tzinfo), tmp_path / "mcn", hook.record_downloader()
    )
    mcn_emulator.revoke_token()
    with pytest.raises(McnAuthError) as rejected:
        land_recordings(
            call_log_recordings(rows, vpbx_id="7001", tz=start.tzinfo), tmp_path / "m2", hook.record_downloader()
        )
    errors += [str(rejected.value), "".join(traceback.format_exception(rejected.value))]

    urls = [r.source for r in account.recordings]
    secrets = [*urls, *(url.split("127.0.0.1", 1)[1].split("/", 1)[1] for url in urls), mcn_emulator.token]
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    out, err = capfd.readouterr()
    files = [p.read_text("utf-8", "replace") for p in tmp_path.rglob(MANIFEST_NAME)]
    assert "Transient CoMagic media API failure" in out + logged  # the retries were logged (structlog: stdout)
    assert any('"GET ' in r.getMessage() for r in caplog.records)  # urllib3's request lines were logged (redacted)
    for secret in secrets:
        for where, text in (("logs", logged), ("stdout", out), ("stderr", err), ("errors", "".join(errors))):
            assert secret not in text, f"a secret in the {where}"
        assert not any(secret in text for text in files), "a secret in a manifest"
    assert json.loads(files[0])["files"][0]["record"]  # manifests name the record id (as the calls report does)


def test_a_kill_mid_download_leaves_the_previous_manifest(lake, comagic_emulator_factory, monkeypatch):  # noqa: F811
    account = comagic_account(comagic_emulator_factory, monkeypatch, recording_seconds=120)
    mp3 = [r for r in account.recordings if r.kind == "mp3"]
    previous = land_recordings(mp3, lake.url, account.downloader(), conn_id=lake.conn_id)
    previous_names = lake.names()
    emu = account.emulator
    emu.faults.add("slow_body", method="media", delay=0.2)  # every new download trickles: the kill lands mid-body
    env = {name: value for name, value in os.environ.items() if name.startswith("AIRFLOW_CONN_")}
    ctx = landing_crash.context()
    token = f"killed-{os.getpid()}"
    child = ctx.Process(
        target=land_in_child,
        args=(lake.url, lake.conn_id, env, account.recordings, token, {**QUICK, "concurrency": 3}),
    )
    start = media_requests(emu)
    child.start()
    deadline = time.monotonic() + 60
    while media_requests(emu) - start < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # some bodies half written
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    assert child.exitcode == -signal.SIGKILL and media_requests(emu) - start >= 3
    assert read_manifest(lake.url, lake.conn_id) == previous
    assert [n for n in lake.names() if not n.startswith(f"_tmp-{token}-")] == previous_names
    emu.faults.clear()
    requests_before = media_requests(emu)
    manifest = land_recordings(account.recordings, lake.url, account.downloader(), conn_id=lake.conn_id)
    assert manifest["counts"]["kept"] == len(mp3) and manifest["counts"]["landed"] == len(account.recordings)
    assert media_requests(emu) - requests_before == len(account.recordings) - len(mp3)
    leftovers = [n for n in lake.names() if n not in {MANIFEST_NAME, *(f["path"] for f in manifest["files"])}]
    assert all(n.startswith(f"_tmp-{token}-") for n in leftovers)  # the killed run's, until the grace period
    repair_partition(store_for(to_storage_path(lake.url, lake.conn_id)), grace=0)
    assert lake.names() == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])


class _Redirecting(BaseHTTPRequestHandler):
    """``/start/<id>`` answers 302 to ``/final/<id>`` on another host name (localhost); ``/final/`` serves an MP3
    and records the Authorization header each path saw."""

    seen: dict[str, str | None] = {}
    port = 0

    def do_GET(self) -> None:
        from airflow_provider_comagic.testing.media import audio_file

        kind = self.path.split("/")[1]
        type(self).seen[kind] = self.headers.get("Authorization")
        if kind == "start":
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{type(self).port}/final/{self.path.split('/')[2]}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = audio_file("mp3", 5, "redirected").body()
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_redirects_keep_credentials_at_their_host_and_every_url_out_of_the_logs(tmp_path, caplog, monkeypatch):
    from airflow_provider_comagic.comagic.errors import ComagicTransportError
    from airflow_provider_comagic.hooks.media import MediaDownloader
    from airflow_provider_comagic.utils.recordings import Recording

    log_everything(caplog, monkeypatch)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    _Redirecting.port, _Redirecting.seen = server.server_address[1], {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = f"http://127.0.0.1:{_Redirecting.port}/start/capabilityA1B2"
        downloader = MediaDownloader(
            api_name="test media",
            request_for=lambda recording: (recording.source, None),
            transport_error=ComagicTransportError,
            headers={"Authorization": "Bearer SECRET-TOKEN"},
        )
        manifest = land_recordings([Recording("1", "r1", "mp3", "mp3", source)], tmp_path, downloader)
    finally:
        server.shutdown()
    assert manifest["counts"]["landed"] == 1
    assert _Redirecting.seen == {"start": "Bearer SECRET-TOKEN", "final": None}
    assert '"GET ' in caplog.text and "capabilityA1B2" not in caplog.text and "SECRET-TOKEN" not in caplog.text


def test_server_side_encryption_options_reach_every_object(s3_server, s3_bucket, comagic_emulator_factory, monkeypatch):
    account = comagic_account(comagic_emulator_factory, monkeypatch, kinds=["mp3"])
    url = f"s3://{s3_bucket}/recordings/date=2024-03-01"
    options = {"ServerSideEncryption": "AES256"}
    manifest = land_recordings(
        account.recordings, url, account.downloader(), conn_id="aws_test", storage_options=options
    )
    client = s3_server.client()
    for entry in manifest["files"]:
        head = client.head_object(Bucket=s3_bucket, Key=f"recordings/date=2024-03-01/{entry['path']}")
        assert head["ServerSideEncryption"] == "AES256", entry["path"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_landed_calls_partition_names_the_same_recordings(fmt, tmp_path, comagic_emulator_factory, monkeypatch):
    """The calls report landed first, its recordings read back from the partition: what the operator does."""
    from airflow_provider_comagic.comagic.catalogue import get_method
    from airflow_provider_comagic.comagic.recordings import CALLS_METHOD, recordings_of
    from airflow_provider_comagic.comagic.schemas import report_schema
    from airflow_provider_comagic.landing.reader import iter_landed_rows
    from airflow_provider_comagic.landing.writer import land_pages
    from tests.fixtures.recordings import _interval

    account = comagic_account(comagic_emulator_factory, monkeypatch)
    hook, tz = account.hook, get_timezone(TZ)
    # voice_mail_records is not a default field of the report: a partition landed with the defaults lacks it
    fields = [*get_method(CALLS_METHOD).default_fields, "voice_mail_records"]
    schema = report_schema(CALLS_METHOD, fields, timezone=TZ) if fmt == "parquet" else None
    land_pages(hook.iter_pages(CALLS_METHOD, *_interval(), fields=fields), tmp_path / "calls", fmt, schema)
    rows = list(iter_landed_rows(tmp_path / "calls"))
    found = list(recordings_of(CALLS_METHOD, rows, media_base=hook.media_base_url(), tz=tz))
    assert [(r.key, r.source, r.call_end) for r in found] == [(r.key, r.source, r.call_end) for r in account.recordings]
    manifest = land_recordings(found, tmp_path / "recordings", account.downloader())
    assert manifest["counts"]["landed"] == len(account.recordings) and manifest["missing"] == []
