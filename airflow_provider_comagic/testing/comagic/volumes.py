"""How many rows a day each emulated method has, relative to the emulator's ``calls_per_day``."""

from __future__ import annotations

__all__ = ["ONE_ROW_A_DAY", "ROW_RATIOS"]

# rows per day relative to calls_per_day (EmulatorConfig.rows_per_day overrides per method)
ROW_RATIOS: dict[str, float] = {
    "get.calls_report": 1.0,
    "get.communications_report": 1.3,
    "get.call_legs_report": 1.8,
    "get.goals_report": 0.2,
    "get.chats_report": 0.15,
    "get.chat_messages_report": 1.0,
    "get.offline_messages_report": 0.1,
    "get.visitor_sessions_report": 2.0,
    "get.financial_call_legs_report": 1.5,
    "get.campaign_daily_stat": 0.02,
    "get.financial_summary_report": 0.0,  # one row a day whatever the traffic (ONE_ROW_A_DAY)
    # the report builder's lists
    "get.communications": 1.3,
    "get.calls": 1.0,
    "get.chats": 0.15,
    "get.deals": 0.05,
    "get.leads": 0.1,
    "get.visits": 2.0,
    "get.sms": 0.05,
    "get.notifications": 0.1,
    "get.mgf_calls": 0.2,
    "get.api_requests": 0.2,
}
# methods with exactly one row per day (a daily total)
ONE_ROW_A_DAY = frozenset({"get.financial_summary_report"})
