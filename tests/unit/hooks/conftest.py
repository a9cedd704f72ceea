"""Fixtures of the hook tests: ``api``, the fake CoMagic Data API of tests/fixtures/jsonrpc.py."""

from tests.fixtures.jsonrpc import api  # noqa: F401 - a fixture
