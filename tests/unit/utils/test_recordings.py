"""Recordings as plain data: keys, filters, kinds (utils/recordings.py)."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.exceptions import ParameterError
from airflow_provider_comagic.utils.recordings import Recording, RecordingFilter, check_kinds, dedupe


def test_equal_keys_are_one_recording_whatever_the_source():
    first = Recording("1", "r", "mp3", "mp3", "https://a/secret1")
    again = Recording("1", "r", "mp3", "mp3", "https://b/secret2")
    other = Recording("1", "r", "wav", "wav", "https://a/secret3")
    assert first == again and dedupe([first, again, other]) == [first, other]
    assert "secret" not in repr(first) and first.describe() == "call 1 (mp3)"


def test_a_recording_needs_ids_and_a_known_format():
    with pytest.raises(ValueError, match="audio format"):
        Recording("1", "r", "mp3", "ogg", None)
    with pytest.raises(ValueError, match="call id and a record id"):
        Recording("1", "", "mp3", "mp3", None)


def test_filters():
    anything = RecordingFilter.build()
    assert anything.accepts(None, None) and anything.accepts("internal", 0)
    inbound = RecordingFilter.build("in", 10)
    assert inbound.accepts("in", 10) and not inbound.accepts("in", 9)
    assert not inbound.accepts(None, 60) and not inbound.accepts("out", 60)
    with pytest.raises(ParameterError, match="min_talk_seconds"):
        RecordingFilter.build(None, True)


def test_kinds_keep_the_known_order():
    assert check_kinds(["wav", "mp3"], ("mp3", "wav", "full")) == ("mp3", "wav")
    assert check_kinds(None, ("mp3", "wav")) == ("mp3", "wav")
    with pytest.raises(ParameterError, match="kinds: ogg not allowed"):
        check_kinds("ogg", ("mp3",))
