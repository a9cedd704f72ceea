"""The MCN Telecom error taxonomy: its own classes, sharing only the vendor-neutral ParameterError."""

from __future__ import annotations

from airflow_provider_comagic.comagic.errors import ComagicError
from airflow_provider_comagic.exceptions import ParameterError
from airflow_provider_comagic.mcn.errors import (
    McnApiError,
    McnAuthError,
    McnConnectionConfigError,
    McnError,
    McnParameterError,
    McnTransportError,
)


def test_mcn_errors_are_their_own_classes_not_comagic_ones():
    """An MCN failure is never caught by ``except ComagicError`` (the vendors have separate taxonomies)."""
    for cls in (McnError, McnApiError, McnAuthError, McnTransportError, McnParameterError, McnConnectionConfigError):
        assert not issubclass(cls, ComagicError), cls
    assert issubclass(McnParameterError, ParameterError)
