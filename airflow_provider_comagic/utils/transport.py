"""Why a request never got an answer, in words a user can act on (both vendors' hooks, sync and async).

A failed connection surfaces as a library's wrapper (requests' ``ConnectionError`` around urllib3's
``MaxRetryError`` around ``NewConnectionError`` around ``ConnectionRefusedError``; aiohttp's
``ClientConnectorError``...). :func:`describe_failure` walks that chain down to its cause and names it: the
connection was refused, the host name did not resolve, the TLS handshake failed (an ``http://`` server asked for
``https://``: the case of a local emulator given without a scheme), or the server did not answer in time.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

__all__ = ["describe_failure"]

_DNS_TEXTS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "name resolution",
    "no address associated",
    "getaddrinfo failed",
)
_TLS_TEXTS = ("certificate_verify_failed", "wrong_version_number", "[ssl", "ssl:", "sslerror", "handshake", "tlsv1")
_LOCAL = ("127.", "localhost", "0.0.0.0", "[::1]")


def _chain(error: BaseException, depth: int = 0) -> Iterator[BaseException]:
    """``error``, then every exception it wraps (``reason``, arguments, cause, context), depth first."""
    yield error
    if depth > 8:
        return
    inner = [getattr(error, "reason", None), *(a for a in getattr(error, "args", ()) if isinstance(a, BaseException))]
    inner += [error.__cause__, error.__context__, getattr(error, "os_error", None)]
    for item in inner:
        if isinstance(item, BaseException) and item is not error:
            yield from _chain(item, depth + 1)


def _kind(error: BaseException) -> str | None:
    names = {type(e).__name__ for e in _chain(error)}
    texts = " ".join(str(e) for e in _chain(error)).lower()
    if (
        any(isinstance(e, ssl.SSLError) for e in _chain(error))
        or names & {"SSLError", "ClientSSLError"}
        or ("Certificate" in " ".join(names))
    ):
        return "tls"
    if any(isinstance(e, socket.gaierror) for e in _chain(error)) or "NameResolutionError" in names:
        return "dns"
    if any(isinstance(e, ConnectionRefusedError) for e in _chain(error)) or "connection refused" in texts:
        return "refused"
    if any(isinstance(e, TimeoutError | socket.timeout) for e in _chain(error)) or names & {
        "Timeout",
        "ConnectTimeout",
        "ReadTimeout",
        "ServerTimeoutError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
    }:
        return "timeout"
    if any(text in texts for text in _DNS_TEXTS):
        return "dns"
    if any(text in texts for text in _TLS_TEXTS):
        return "tls"
    return None


def describe_failure(error: BaseException, *, host: str, scheme: str, timeout: float | None = None) -> str:
    """What went wrong talking to ``host`` (as the URL was built: ``scheme``) and what to check, in one sentence
    (no square brackets: the Airflow CLI drops text in them)."""
    kind = _kind(error)
    if kind == "refused":
        return f"the connection to {host} was refused: is the server running, and are the host and port right?"
    if kind == "dns":
        return f"the host name {host.rsplit(':', 1)[0]} does not resolve: check the host of the connection"
    if kind == "tls":
        text = f"the TLS (HTTPS) handshake with {host} failed: check the server's certificate"
        if scheme == "https" and host.startswith(_LOCAL):
            text += f"; a local server such as the bundled emulator speaks plain HTTP: write the host as http://{host}"
        return text
    if kind == "timeout":
        after = f" within {timeout:g} s" if timeout else ""
        return f"{host} did not answer{after}: check that it is reachable from here, or raise the extra 'timeout'"
    return f"talking to {host} failed ({type(error).__name__}): check the host and the network between here and it"
