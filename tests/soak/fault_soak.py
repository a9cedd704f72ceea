"""One randomized fault-soak run: land a report through the hook and the landing module, as the report operator
does, against an emulator injecting random faults; then judge the outcome against the emulator's truth.

Used by ``tests/soak/test_fault_soak.py`` (a bounded number of seeds in every test run) and by
``benchmarks/soak.py`` (1 000 seeds and a tally).

Outcomes:

* ``ok``             the task committed a manifest and the landed rows equal the truth read at the end (rows added
                     while paging included): 0 lost, 0 duplicated;
* ``failed-cleanly`` the task raised a provider error (``ComagicError``) with a message, and the partition still
                     holds exactly what it held before (previous manifest intact or still absent, no new parts);
* ``wrong``          anything else: rows lost, duplicated or different, an unexpected exception type, a changed
                     manifest after a failure, or leftover parts.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pendulum

from airflow_provider_comagic.comagic.errors import ComagicError
from airflow_provider_comagic.comagic.schemas import report_schema
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.landing.writer import PartitionWriter, land_pages
from airflow_provider_comagic.testing import ComagicEmulator, EmulatorConfig
from airflow_provider_comagic.testing.faults import Fault

METHOD = "get.calls_report"
TZ = "Europe/Moscow"
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()  # emulated now: every generated row is visible
FIELDS = ["id", "start_time", "finish_time", "direction", "is_lost", "talk_duration", "tags", "call_records"]
CONN_ID = "comagic_soak"

# kind -> how likely a seed enables it, and the per-request probability range it then gets
FAULT_MENU: dict[str, tuple[float, tuple[float, float]]] = {
    "http_500": (0.4, (0.02, 0.15)),
    "http_502": (0.3, (0.02, 0.15)),
    "http_503": (0.3, (0.02, 0.15)),
    "http_429": (0.3, (0.02, 0.15)),
    "drop": (0.4, (0.02, 0.15)),
    "truncate": (0.4, (0.02, 0.15)),
    "internal_error": (0.3, (0.02, 0.15)),
    "limit_exceeded": (0.3, (0.02, 0.10)),
    "expire_session": (0.5, (0.05, 0.20)),  # only with a login/password connection
    "add_rows": (0.5, (0.05, 0.25)),
}


@dataclasses.dataclass
class SoakResult:
    """What one seed did and how it ended."""

    seed: int
    outcome: str  # "ok" | "failed-cleanly" | "wrong"
    detail: str
    fmt: str
    auth: str
    page_size: int
    max_offset: int
    rows: int
    faults: dict[str, int]
    api_calls: int

    def describe(self) -> str:
        return (
            f"seed {self.seed}: {self.outcome} ({self.detail}); {self.fmt}, {self.auth}, page_size {self.page_size}, "
            f"max_offset {self.max_offset}, {self.rows} rows, faults fired {self.faults}, {self.api_calls} API calls"
        )


def _previous_manifest(partition: Path, rng: random.Random) -> bytes | None:
    """Half the seeds start from an earlier committed copy of the partition, which a failed run must keep."""
    if rng.random() < 0.5:
        return None
    with PartitionWriter("file://" + str(partition), "jsonl", token="previous") as writer:
        writer.write([{"id": -1, "note": "an earlier run's copy"}])
        writer.commit({"previous": True})
    return (partition / MANIFEST_NAME).read_bytes()


def _landed_parts(partition: Path) -> set[str]:
    return (
        {p.name for p in partition.iterdir() if p.name.startswith(("part-", "_tmp-"))} if partition.exists() else set()
    )


def _canonical(rows: Any) -> collections.Counter[bytes]:
    return collections.Counter(orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str) for row in rows)


def _fresh_secrets_masker() -> None:
    """Forget the secrets masked by earlier seeds, as a new Airflow task process would: each masked secret grows
    one regex that every later log line and every ``mask_secret`` pays for, so 1 000 seeds in one process slow down
    quadratically otherwise."""
    try:
        from airflow.sdk._shared.secrets_masker import _secrets_masker
    except ImportError:  # another Airflow layout: nothing to reset, only slower
        return
    _secrets_masker().reset_masker()


def run_seed(seed: int, workdir: str | os.PathLike[str] | None = None) -> SoakResult:
    """Run one randomized landing against a fresh emulator and judge it (see the module docstring)."""
    _fresh_secrets_masker()
    rng = random.Random(seed)
    use_login = rng.random() < 0.5
    fmt = rng.choice(["jsonl", "parquet"])
    page_size = rng.choice([20, 50, 100, 250])
    # a small offset cap forces continuation windows (the real one is 100 000)
    max_offset = page_size * rng.choice([1, 2, 3, 5, 40])
    days = rng.choice([1, 1, 2])
    calls_per_day = rng.randint(50, 600)
    faults: list[Fault] = []
    for kind, (chance, (low, high)) in FAULT_MENU.items():
        if kind == "expire_session" and not use_login:
            continue
        if rng.random() < chance:
            options: dict[str, Any] = {"probability": rng.uniform(low, high), "method": METHOD}
            if kind == "add_rows":
                options["rows"] = rng.randint(1, 4)
            if kind == "http_429":
                options["retry_after"] = 1
            if kind in ("expire_session",):
                options.pop("method")  # sessions expire whatever is called
            faults.append(Fault(kind, **options))

    config = EmulatorConfig(
        seed=seed,
        calls_per_day=calls_per_day,
        timezone=TZ,
        start_time=NOW,
        frozen_clock=True,
        faults=faults,
        minute_limit=100_000,
    )
    tz = pendulum.timezone(TZ)
    start = dt.datetime(2024, 3, 1, tzinfo=tz) + dt.timedelta(days=rng.randint(0, 20))
    end = start + dt.timedelta(days=days)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, ComagicEmulator(config) as emu:
        conn: dict[str, Any] = {"conn_type": "comagic", "host": emu.base_url, "extra": {"timezone": TZ}}
        if use_login:
            conn.update(login=emu.login, password=emu.password)
        else:
            conn["password"] = emu.access_token
        previous_env = os.environ.get(f"AIRFLOW_CONN_{CONN_ID.upper()}")
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(conn)
        partition = Path(tmp) / "calls_report" / f"date={start:%Y-%m-%d}"
        partition.mkdir(parents=True)
        before = _previous_manifest(partition, rng)
        parts_before = _landed_parts(partition)
        # retries do not really sleep; the backoff schedule is the hook's business, not this test's
        hook = ComagicHook(CONN_ID, sleep=lambda seconds: None, max_retries=6, retry_initial_wait=0.0)
        error: BaseException | None = None
        manifest = None
        try:
            plan = hook.plan(METHOD, start, end, fields=FIELDS, page_size=page_size, max_offset=max_offset)
            schema = report_schema(METHOD, plan.fields, timezone=TZ)
            manifest = land_pages(
                # 3 seeds in 4 page as the report operators do (rows kept as JSON Lines), 1 in 4 as dicts
                hook.iter_pages(METHOD, plan=plan, as_json_lines=seed % 4 != 0),
                "file://" + str(partition),
                fmt,  # type: ignore[arg-type]
                schema,
                extra=lambda: {"api": hook.quota.summary(), "plan": plan.stats.as_dict()},
            )
        except BaseException as caught:  # judged below; KeyboardInterrupt must still stop the soak
            if isinstance(caught, KeyboardInterrupt):
                raise
            error = caught
        finally:
            hook.close()
            if previous_env is None:
                os.environ.pop(f"AIRFLOW_CONN_{CONN_ID.upper()}", None)
            else:
                os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = previous_env
        emu.faults.clear()
        fired = {f.kind: f.hits for f in faults if f.hits}
        api_calls = hook.quota.requests
        truth_from = start.strftime("%Y-%m-%d %H:%M:%S")
        truth_till = (end - dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
        truth = emu.truth(METHOD, truth_from, truth_till, fields=FIELDS)

        def result(outcome: str, detail: str, rows: int = 0) -> SoakResult:
            return SoakResult(seed, outcome, detail, fmt, "login" if use_login else "token", page_size, max_offset,
                              rows, fired, api_calls)  # fmt: skip

        if error is not None:
            after = (partition / MANIFEST_NAME).read_bytes() if (partition / MANIFEST_NAME).exists() else None
            if not isinstance(error, ComagicError) or not str(error).strip():
                return result("wrong", f"unexpected {type(error).__name__}: {error}")
            if after != before:
                return result("wrong", f"failed ({error}) but the manifest changed")
            if _landed_parts(partition) != parts_before:
                return result("wrong", f"failed ({error}) but left parts {_landed_parts(partition) - parts_before}")
            return result("failed-cleanly", f"{type(error).__name__}: {error}")

        assert manifest is not None
        landed = list(iter_landed_rows("file://" + str(partition)))
        if fmt == "jsonl":
            expected, got = _canonical(truth), _canonical(landed)
        else:  # typed values: compare the keys and the row count (the conversion has its own tests)
            expected = collections.Counter(row["id"] for row in truth)
            got = collections.Counter(row["id"] for row in landed)
        lost = sum((expected - got).values())
        extra = sum((got - expected).values())
        if lost or extra or len(landed) != len(truth) or manifest["rows"] != len(truth):
            return result("wrong", f"{lost} rows lost, {extra} extra/duplicated of {len(truth)}", len(landed))
        listed = {f["path"] for f in manifest["files"]}
        if _landed_parts(partition) != listed:
            return result("wrong", f"parts not in the manifest remain: {_landed_parts(partition) - listed}")
        return result("ok", f"plan {manifest['plan']}", len(landed))


def tally(results: list[SoakResult]) -> dict[str, Any]:
    """Outcome counts, fault counts (fired) and the seeds that went wrong."""
    outcomes = collections.Counter(r.outcome for r in results)
    fired: collections.Counter[str] = collections.Counter()
    for r in results:
        fired.update(r.faults)
    return {
        "seeds": len(results),
        "outcomes": {k: outcomes.get(k, 0) for k in ("ok", "failed-cleanly", "wrong")},
        "faults_fired": dict(fired.most_common()),
        "rows_landed": sum(r.rows for r in results if r.outcome == "ok"),
        "api_calls": sum(r.api_calls for r in results),
        "wrong": [r.describe() for r in results if r.outcome == "wrong"],
    }
