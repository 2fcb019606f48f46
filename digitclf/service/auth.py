"""Optional API keys: every request but `GET /healthz` must carry `Authorization: Bearer KEY`.

The key file holds one key per line; blank lines and lines starting with `#` are ignored.
A key is 16 to 256 visible ASCII characters without spaces (e.g. `secrets.token_urlsafe(32)`).
A presented key is compared with every key in constant time (hmac.compare_digest), so the
answer's timing tells nothing about how much of a key was right, nor which key matched.
Keys never appear in an answer, an error message or the log.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from digitclf.errors import UsageError

MIN_KEY_LENGTH, MAX_KEY_LENGTH = 16, 256
OPEN_PATHS = frozenset({"/healthz"})  # load balancers' health checks carry no key


def load_api_keys(path: Path) -> tuple[bytes, ...]:
    """The keys in `path` (format above); UsageError naming the file and line, never a key."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = "it is not UTF-8 text" if isinstance(e, UnicodeDecodeError) else (e.strerror or str(e)).lower()
        raise UsageError(f"cannot read the API key file {path}: {reason}") from None
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        if not (key.isascii() and key.isprintable() and " " not in key and "\t" not in key):
            raise UsageError(f"{path}, line {number}: an API key is one word of visible ASCII characters")
        if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
            raise UsageError(f"{path}, line {number}: an API key must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} "
                             f"characters long (make one with: python -c \"import secrets; "
                             f"print(secrets.token_urlsafe(32))\")")
        keys.append(key.encode("ascii"))
    if not keys:
        raise UsageError(f"the API key file {path} holds no key: write one key per line ('#' starts a comment)")
    return tuple(keys)


def _presented_key(scope: Scope) -> bytes | None:
    """The token of an `Authorization: Bearer TOKEN` header, if there is one."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" and token.strip() else None
    return None


def _key_matches(presented: bytes, keys: tuple[bytes, ...]) -> bool:
    matched = False
    for key in keys:  # every key, whether or not one matched already
        matched |= hmac.compare_digest(presented, key)
    return matched


class ApiKeyMiddleware:
    """ASGI middleware answering 401 (JSON, `WWW-Authenticate: Bearer`) to requests without a valid key."""

    def __init__(self, app: ASGIApp, keys: tuple[bytes, ...]):
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = _presented_key(scope)
        if presented is not None and _key_matches(presented, self.keys):
            await self.app(scope, receive, send)
            return
        detail = ("this API needs a key: send the header 'Authorization: Bearer KEY'" if presented is None
                  else "the API key sent is not valid")
        response = JSONResponse({"error": "unauthorized", "detail": detail}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)
