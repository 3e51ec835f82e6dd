"""The web's defences, small and separate so each can be read and tested on its own.

* :func:`read_multipart` — the size limit is enforced while the body arrives (Content-Length is
  checked first, then every chunk is counted), so an oversized upload is cut off, not buffered.
* :class:`Keys` — session cookies signed with itsdangerous, CSRF tokens as HMACs of the session
  (or of the agency's link) under the store's secret key, all compared in constant time.
* :class:`RateLimit` — a sliding window per key (agency token hash, client address).
* :func:`mask_path` — request paths as they are logged: the token in ``/a/<token>`` never is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

SESSION_COOKIE = "toolkit_office"
LOGIN_COOKIE = "toolkit_login"
SESSION_SECONDS = 12 * 3600


class TooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413)


async def read_multipart(request: Request, limit: int) -> FormData:
    """The multipart form of a request whose body is at most ``limit`` bytes (413 as soon as it is not)."""
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise HTTPException(415)
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400)
        if int(declared) > limit:
            raise TooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge()
    data = bytes(body)

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    try:
        return await Request(request.scope, replay).form(max_files=1, max_fields=20)
    except HTTPException:
        raise
    except Exception:                # a malformed multipart body is the sender's fault: 400
        raise HTTPException(400) from None


class Keys:
    """Signing and CSRF under one secret (kept in the store, shared by every server process)."""

    def __init__(self, secret: str):
        from itsdangerous import TimestampSigner

        self.secret = secret.encode()
        self.signer = TimestampSigner(self.secret, salt="toolkit-office-session")

    def mac(self, purpose: str, value: str) -> str:
        return hmac.new(self.secret, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    def check(self, purpose: str, value: str, given: Any) -> bool:
        return isinstance(given, str) and hmac.compare_digest(self.mac(purpose, value), given)

    def new_session(self) -> tuple[str, str]:
        """(cookie value, session id)."""
        sid = secrets.token_hex(16)
        return self.signer.sign(sid).decode(), sid

    def session(self, cookie: str | None, max_age: int = SESSION_SECONDS) -> str | None:
        """The session id of a valid, unexpired cookie."""
        if not cookie or len(cookie) > 200:
            return None
        from itsdangerous import BadSignature

        try:
            return self.signer.unsign(cookie, max_age=max_age).decode()
        except (BadSignature, UnicodeDecodeError):
            return None


class RateLimit:
    """At most ``count`` events per ``seconds`` per key (in this process)."""

    def __init__(self, count: int, seconds: float = 60.0):
        self.count, self.seconds = count, seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.seconds:
                q.popleft()
            if len(q) >= self.count:
                return False
            q.append(now)
            if len(self._hits) > 100_000:         # bounded memory: forget idle keys
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return True


_TOKEN_PATH = re.compile(r"^/a/[^/]+")


def mask_path(path: str) -> str:
    return _TOKEN_PATH.sub("/a/***", path)
