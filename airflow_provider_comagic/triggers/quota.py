"""``ComagicQuotaResetTrigger``: waits in the triggerer until a spent CoMagic point quota resets."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow_provider_comagic.version_compat import BaseTrigger, TriggerEvent

__all__ = ["ComagicQuotaResetTrigger"]


class ComagicQuotaResetTrigger(BaseTrigger):
    """
    Sleeps until ``resume_at`` (the moment the minute or day quota resets), then fires once.

    It makes no call and reads no connection: the operator that deferred resumes on a worker and finds out
    from the API's own ``metadata.limits`` whether the quota is back (if not, it defers again). The wait is
    kept as an absolute time, so a trigger re-created after a triggerer restart waits only what is left.

    Yields one event, then returns: ``{"status": "success", "limit_type", "resume_at", "method"}``.

    :param resume_at: ISO 8601 aware datetime at which the quota has reset.
    :param limit_type: ``"minute"`` or ``"day"`` (for the logs and the event).
    :param method: the API method that waits (for the logs and the event).
    """

    def __init__(self, *, resume_at: str, limit_type: str = "minute", method: str | None = None) -> None:
        super().__init__()
        self.resume_at = resume_at
        self.limit_type = limit_type
        self.method = method

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"resume_at": self.resume_at, "limit_type": self.limit_type, "method": self.method},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        wait = (dt.datetime.fromisoformat(self.resume_at) - dt.datetime.now(dt.timezone.utc)).total_seconds()
        if wait > 0:
            self.log.info(
                "CoMagic %s quota spent by %s; waiting %.0f s until %s",
                self.limit_type,
                self.method,
                wait,
                self.resume_at,
            )
            await asyncio.sleep(wait)
        yield TriggerEvent(
            {"status": "success", "limit_type": self.limit_type, "resume_at": self.resume_at, "method": self.method}
        )
        return
