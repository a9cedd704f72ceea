"""Access tokens of the emulated account: permanent tokens, login sessions, expiry and revocation."""

from __future__ import annotations

import dataclasses
import secrets
import threading

from airflow_provider_comagic.testing.clock import EmulatorClock
from airflow_provider_comagic.testing.comagic.rpc import RpcError


@dataclasses.dataclass
class Token:
    """One access token; ``expire_at`` is None for permanent tokens without an end date."""

    value: str
    permanent: bool
    expire_at: float | None = None
    revoked: str | None = None  # mnemonic answered once revoked (access_token_invalid / _blocked)


class TokenStore:
    """Issues and checks tokens against the emulator clock."""

    def __init__(self, clock: EmulatorClock, *, login: str, password: str, session_lifetime: float):
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self.login = login
        self.password = password
        self.session_lifetime = session_lifetime

    def add_permanent(self, value: str | None = None, *, expire_at: float | None = None) -> str:
        """Register a permanent token (optionally with an end date, like the API's temporary keys)."""
        value = value or "perm-" + secrets.token_hex(16)
        with self._lock:
            self._tokens[value] = Token(value, permanent=True, expire_at=expire_at)
        return value

    def login_user(self, login: str, password: str) -> Token:
        """Open a session; ``auth_error`` on wrong credentials."""
        if login != self.login or password != self.password:
            raise RpcError("auth_error")
        token = Token(
            "sess-" + secrets.token_hex(16), permanent=False, expire_at=int(self._clock.now() + self.session_lifetime)
        )
        with self._lock:
            self._tokens[token.value] = token
        return token

    def logout(self, value: str) -> None:
        with self._lock:
            self._tokens.pop(value, None)

    def check(self, value: str) -> Token:
        """Return the token or raise the error the API gives for it."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            raise RpcError("access_token_invalid")
        if token.revoked:
            raise RpcError(token.revoked)
        if token.expire_at is not None and self._clock.now() >= token.expire_at:
            raise RpcError("access_token_expired")
        return token

    def revoke(self, value: str, mnemonic: str = "access_token_invalid") -> None:
        """Make a token fail from now on with ``mnemonic`` (``access_token_invalid`` or ``access_token_blocked``)."""
        with self._lock:
            token = self._tokens.get(value)
            if token is not None:
                token.revoked = mnemonic

    def restore(self, value: str) -> None:
        """Undo :meth:`revoke`."""
        with self._lock:
            token = self._tokens.get(value)
            if token is not None:
                token.revoked = None

    def expire_sessions(self) -> int:
        """Expire every login session now (permanent tokens keep working); return how many."""
        now = self._clock.now()
        count = 0
        with self._lock:
            for token in self._tokens.values():
                if not token.permanent and (token.expire_at is None or token.expire_at > now):
                    token.expire_at = now
                    count += 1
        return count

    def sessions(self) -> list[Token]:
        with self._lock:
            return [t for t in self._tokens.values() if not t.permanent]
