"""Seeded MCN Telecom call logs for the emulator: deterministic per (vPBX, day), built lazily and cached.

Every day of every vPBX holds every ``type``, ``status``, ``src_type`` and ``dst_type`` value the seed lists
(given at least 5 calls a day), one call at exactly 00:00:00 and one at 23:59:59 of the account's zone (the
edges of daily intervals), and coherent numbers: an ``ANSWERED`` call has talk time (and billable seconds
when outbound), any other status has none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import random
from typing import Any

from airflow_provider_comagic.mcn.call_log import CALL_TYPES, STATUSES
from airflow_provider_comagic.utils.time import API_TIME_FORMAT, get_timezone, localize

__all__ = ["McnEmulatorConfig", "day_rows"]

# (src_type pool, dst_type pool) per call type: inbound calls come from the PSTN or a callback number and
# reach a queue or a phone; outbound ones leave a phone for the PSTN or a callback; internal ones stay inside
_ENDPOINTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Inb": (("PSTN", "callback"), ("queue", "phone")),
    "Out": (("Phone",), ("PSNT", "callback")),
    "Int": (("Phone",), ("phone",)),
}
_STATUS_WEIGHTS = (0.6, 0.1, 0.12, 0.06, 0.12)  # ANSWERED, BUSY, LOST, FAILED, NO ANSWER
_NAMES = ("Иванов", "Петрова", "Сидоров", "Reception", "Sales", "Support", "WebCall", "CallBack")


@dataclasses.dataclass(frozen=True)
class McnEmulatorConfig:
    """Settings of :class:`~airflow_provider_comagic.testing.mcn.emulator.McnEmulator`.

    :param envelope: ``"data"`` answers ``{"data": [...]}``, ``"list"`` a bare JSON list (both are accepted by
        the hook, since the real envelope is undocumented).
    :param max_days: longest ``date_from..date_to`` range a request may ask for (HTTP 400 beyond it).
    :param media_ready_after: seconds after a call ended before its recording is served (404 before).
    :param recording_seconds: seconds of audio of every recording (None: the call's talk time).
    """

    seed: int = 1
    account_id: str = "100500"
    vpbx_ids: tuple[str, ...] = ("7001", "7002")
    calls_per_day: int = 40
    timezone: str = "Europe/Moscow"
    token: str | None = None
    envelope: str = "data"
    max_days: int = 31
    media_ready_after: float = 120.0
    recording_seconds: float | None = None
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "vpbx_ids", tuple(str(v) for v in self.vpbx_ids))  # hashable, compared as text
        if self.envelope not in ("data", "list"):
            raise ValueError("envelope is 'data' or 'list'")
        if self.calls_per_day < 0:
            raise ValueError("calls_per_day must not be negative")

    @property
    def permanent_token(self) -> str:
        if self.token:
            return self.token
        return "mcn-" + hashlib.blake2b(f"mcn-token|{self.seed}".encode(), digest_size=16).hexdigest()


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _number(rng: random.Random, kind: str, extension: int) -> str:
    if kind in ("phone", "Phone"):
        return str(100 + extension % 60)  # an internal extension of the vPBX
    return "7" + str(rng.choice((495, 499, 812, 903, 916, 925))) + f"{rng.randrange(10**7):07d}"


@functools.lru_cache(maxsize=512)
def day_rows(config: McnEmulatorConfig, vpbx_id: str, day: dt.date) -> tuple[dict[str, Any], ...]:
    """The calls of ``vpbx_id`` that started on ``day`` (account zone), in time order; never mutate them."""
    rng = _rng(config.seed, config.account_id, vpbx_id, day.isoformat())
    n = config.calls_per_day
    tz = get_timezone(config.timezone)
    seconds = sorted(rng.randrange(1, 86_399) for _ in range(max(0, n - 2)))
    if n >= 1:
        seconds.insert(0, 0)  # 00:00:00: belongs to this day, not to the previous one
    if n >= 2:
        seconds.append(86_399)  # 23:59:59: the last second of the day
    midnight = dt.datetime.combine(day, dt.time())
    vpbx_index = config.vpbx_ids.index(vpbx_id) if vpbx_id in config.vpbx_ids else 0
    did = "7495" + f"{_rng(config.seed, 'did', vpbx_id).randrange(10**7):07d}"
    per_type = dict.fromkeys(CALL_TYPES, 0)
    rows = []
    for i, offset in enumerate(seconds):
        call_type = CALL_TYPES[i % len(CALL_TYPES)]
        k = per_type[call_type]
        per_type[call_type] += 1
        src_pool, dst_pool = _ENDPOINTS[call_type]
        src_type, dst_type = src_pool[k % len(src_pool)], dst_pool[k % len(dst_pool)]
        # the first five calls take each status once, so every day shows all of them
        status = STATUSES[i] if i < len(STATUSES) else rng.choices(STATUSES, _STATUS_WEIGHTS)[0]
        answered = status == "ANSWERED"
        wait = rng.randrange(0, 45) if status != "FAILED" else 0
        talk = int(rng.expovariate(1 / 120.0)) + 1 if answered else 0
        wall = midnight + dt.timedelta(seconds=offset)
        local = localize(wall, tz)
        rows.append(
            {
                "callid": f"{int(local.timestamp())}.{vpbx_index * 100_000 + i}",
                "date": wall.strftime(API_TIME_FORMAT),
                "type": call_type,
                "src_num": _number(rng, src_type, i),
                "src_name": rng.choice(_NAMES) if src_type != "PSTN" else None,
                "src_type": src_type,
                "dst_num": _number(rng, dst_type, i + 7),
                "dst_name": (f"queue-{vpbx_id}" if dst_type == "queue" else rng.choice((*_NAMES, None))),
                "dst_type": dst_type,
                "did": did if call_type != "Int" else None,
                "waittime": wait,
                "talktime": talk,
                "billsec": talk if call_type == "Out" else 0,
                "status": status,
                "has_record": int(answered and rng.random() < 0.7),
            }
        )
    return tuple(rows)
