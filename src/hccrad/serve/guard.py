"""The request guard of ``hccrad serve``: a pure ASGI middleware that decides about a request from its
headers *before* any byte of its body is read, then reads the body under a byte cap and a time limit.

Order of the checks for every HTTP request (each refusal is a small JSON answer, ``{"detail": ...}``):

1. **Token** (when the server has one; every path except ``/static/``): header ``X-Hccrad-Token``,
   ``Authorization: Bearer``, or the query parameter ``token``; compared in constant time
   (:func:`hmac.compare_digest`). Missing or wrong: 401, sent without receiving the body, with
   ``Connection: close`` so the server never reads what the client is still sending.
2. **Declared size**: a POST must declare ``Content-Length`` (411; chunked bodies are refused) and a content
   type the route takes (415); a declared length above the cap of its kind is refused at once (413):
   ``max_json_bytes`` for ``application/json``, ``max_upload_bytes`` for ``multipart/form-data`` on the
   upload routes, ``max_form_bytes`` for every other form. GET/HEAD/OPTIONS may not carry a body (400).
3. **Streaming**: the body is received chunk by chunk; more bytes than declared or than the cap: 413; no
   chunk for ``body_timeout_s`` seconds, or the whole body not received within ``body_deadline_s``: 408
   (a slow-loris client is dropped). Multipart files are spooled to disk by the form parser (at most 1 MiB
   of a part in memory), so an upload is never held whole in memory.
4. **JSON** (routes listed in ``json_keys``): the capped body is parsed here (``json.loads``, bounded by the
   size cap); it must be an object of at most ``max_json_keys`` keys without duplicates, and every key must be
   an input of the bundle. Unknown keys give 422 naming at most the first :data:`SHOWN_KEYS` of them and their
   count, so the answer stays small whatever the request holds.

Every answer gets ``Content-Security-Policy: default-src 'self'`` (no script, style or image from another
host), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``.
Nothing here logs a value, a path or a token.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import anyio
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

SHOWN_KEYS = 5
PUBLIC_PREFIXES = ("/static/",)
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
JSON, MULTIPART, URLENCODED = "application/json", "multipart/form-data", "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Limits:
    """Per-request limits (the ``hccrad serve`` options of the same names; defaults in docs/serve.md)."""

    max_upload_bytes: int = 200 * 2**20  # a three-phase CT case as .nii.gz is typically 30-150 MB
    max_json_bytes: int = 64 * 2**10  # a patient's variables fit in a few hundred bytes
    max_json_keys: int = 256
    max_form_bytes: int = 64 * 2**10  # the form of a bundle without image upload
    body_timeout_s: float = 15.0  # longest pause between two chunks of a body
    body_deadline_s: float = 600.0  # longest time to receive a whole body
    max_files: int = 2000

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_json_bytes", "max_json_keys", "max_form_bytes", "max_files"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("body_timeout_s", "body_deadline_s"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")


class BodyRefused(Exception):
    """Raised inside the app's ``receive`` when the body breaks a limit; the guard answers ``status``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class _Exchange:
    """What the guard knows about one request/response exchange."""

    started: bool = False  # a response has been started
    refused: BodyRefused | None = None
    body_done: bool = False
    received: int = 0


def token_matches(candidates: list[str | None], token: str) -> bool:
    """True when any candidate equals ``token`` (constant-time comparison of each)."""
    want = token.encode()
    return any(c is not None and hmac.compare_digest(c.encode(), want) for c in candidates)


def request_token_candidates(headers: dict[bytes, bytes], query_string: bytes) -> list[str | None]:
    """Where a client may put the token: X-Hccrad-Token, Authorization: Bearer, or ?token=."""
    auth = headers.get(b"authorization", b"").decode("latin-1")
    query = [v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if k == "token"]
    return [headers.get(b"x-hccrad-token", b"").decode("latin-1") or None,
            auth[7:] if auth.lower().startswith("bearer ") else None, *query]


def unknown_keys_detail(unknown: list[str], total: int) -> list[dict]:
    """A 422 detail naming at most :data:`SHOWN_KEYS` unknown keys (each cut to 60 characters) and their count."""
    shown = [k if len(k) <= 60 else k[:57] + "..." for k in unknown[:SHOWN_KEYS]]
    more = f" (and {total - len(shown)} more unknown key(s))" if total > len(shown) else ""
    return [{"loc": ["body", k], "msg": "unknown field: not an input of this model; extra keys are not allowed" + more,
             "type": "extra_forbidden"} for k in shown]


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise _DuplicateKey(dup)
    return dict(pairs)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def check_json_body(body: bytes, allowed: frozenset[str], max_keys: int) -> tuple[int, object] | None:
    """None when ``body`` is a JSON object of at most ``max_keys`` known keys; else (status, detail)."""
    try:
        doc = json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        key = exc.key if len(exc.key) <= 60 else exc.key[:57] + "..."
        return 422, [{"loc": ["body", key], "msg": "key given twice", "type": "duplicate_key"}]
    except (ValueError, RecursionError):
        return 422, [{"loc": ["body"], "msg": "the body is not valid JSON (UTF-8)", "type": "json_invalid"}]
    if not isinstance(doc, dict):
        return 422, [{"loc": ["body"], "msg": "the body must be a JSON object {\"variable\": value, ...}",
                      "type": "model_attributes_type"}]
    if len(doc) > max_keys:
        return 422, [{"loc": ["body"], "msg": f"{len(doc)} keys, more than the limit of {max_keys}",
                      "type": "too_many_keys"}]
    unknown = [k for k in doc if k not in allowed]
    if unknown:
        return 422, unknown_keys_detail(unknown, len(unknown))
    return None


@dataclass
class RequestGuard:
    """Pure ASGI middleware (see the module docstring). ``upload_paths``: routes taking files (upload cap);
    ``json_keys``: route -> the keys its JSON body may hold."""

    app: object
    limits: Limits
    token: str | None = None
    upload_paths: frozenset[str] = frozenset()
    json_keys: dict[str, frozenset[str]] = field(default_factory=dict)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ex = _Exchange()
        raw_send, send = send, self._sending(send, ex)
        headers = dict(scope.get("headers") or [])
        refusal = self._refuse_from_headers(scope, headers)
        if refusal is not None:
            return await _answer(raw_send, *refusal, close=True)
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            ex.body_done = True
            return await self.app(scope, receive, send)
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        cap = self._cap(scope["path"], ctype)
        receive = self._receiving(receive, ex, cap, int(headers[b"content-length"]))
        try:
            if ctype == JSON and scope["path"] in self.json_keys:
                body = await _read_all(receive)
                problem = check_json_body(body, self.json_keys[scope["path"]], self.limits.max_json_keys)
                if problem is not None:
                    return await _answer(raw_send, *problem)
                receive = _replay(body, receive)
            await self.app(scope, receive, send)
        except BodyRefused as exc:
            ex.refused = exc
        if ex.refused is not None:
            logger.info("request body refused (%d)", ex.refused.status)
            if not ex.started:
                await _answer(raw_send, ex.refused.status, ex.refused.detail, close=True)

    def _refuse_from_headers(self, scope, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        """(status, detail) when the headers alone decide a refusal, else None."""
        path, method = scope["path"], scope["method"]
        if self.token is not None and not path.startswith(PUBLIC_PREFIXES):
            if not token_matches(request_token_candidates(headers, scope.get("query_string", b"")), self.token):
                return 401, "a valid token is required (header X-Hccrad-Token or Authorization: Bearer)"
        length = headers.get(b"content-length")
        if method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            if (length not in (None, b"0")) or b"transfer-encoding" in headers:
                return 400, f"a {method} request may not carry a body"
            return None
        if b"transfer-encoding" in headers or length is None:
            return 411, "a Content-Length header is required (chunked bodies are not accepted)"
        if not length.isdigit():
            return 400, "invalid Content-Length"
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        if ctype not in (JSON, MULTIPART, URLENCODED):
            return 415, "send application/json, multipart/form-data or application/x-www-form-urlencoded"
        cap = self._cap(path, ctype)
        if int(length) > cap:
            return 413, f"request body larger than the limit of {_size(cap)} for this kind of request"
        return None

    def _cap(self, path: str, ctype: str) -> int:
        if ctype == JSON:
            return self.limits.max_json_bytes
        if ctype == MULTIPART and path in self.upload_paths:
            return self.limits.max_upload_bytes
        return self.limits.max_form_bytes

    def _sending(self, send, ex: _Exchange):
        async def guarded_send(message):
            if message["type"] == "http.response.start":
                if ex.refused is not None:  # the app answered a refused body itself: ours replaces it
                    raise ex.refused
                ex.started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                if not ex.body_done:  # the client may still be sending: do not keep this connection
                    extra.append((b"connection", b"close"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif ex.refused is not None and not ex.started:
                return  # the body of a response that was replaced
            await send(message)

        return guarded_send

    def _receiving(self, receive, ex: _Exchange, cap: int, declared: int):
        limits = self.limits
        deadline = anyio.current_time() + limits.body_deadline_s

        async def guarded_receive():
            if ex.body_done:
                return await receive()
            wait = min(limits.body_timeout_s, deadline - anyio.current_time())
            message = None
            with anyio.move_on_after(max(wait, 0.0)):
                message = await receive()
            if message is None:
                ex.refused = BodyRefused(408, f"the request body did not arrive in time (no data for "
                                              f"{limits.body_timeout_s:g} s, or not complete within "
                                              f"{limits.body_deadline_s:g} s)")
                raise ex.refused
            if message["type"] == "http.request":
                ex.received += len(message.get("body", b""))
                if ex.received > min(cap, declared):
                    ex.refused = BodyRefused(413, f"request body larger than its declared length or the limit of "
                                                  f"{_size(cap)}")
                    raise ex.refused
                ex.body_done = not message.get("more_body", False)
            else:
                ex.body_done = True
            return message

        return guarded_receive


async def _read_all(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise BodyRefused(400, "the client disconnected before sending the whole body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive):
    """A receive that gives ``body`` once, then the server's own messages (http.disconnect)."""
    sent = False

    async def replay_receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive


async def _answer(send, status: int, detail, *, close: bool = False) -> None:
    """Send a small JSON answer with the security headers (``send``: the server's own)."""
    body = json.dumps({"detail": detail}, ensure_ascii=True).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *SECURITY_HEADERS]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 2**10:g} KiB"


def header_timeout_protocol(seconds: float):
    """uvicorn's h11 protocol with a deadline for the request *headers*: a connection that has not completed
    a request's headers ``seconds`` after it opened (or after the previous response) is closed. uvicorn has no
    such timeout of its own (its keep-alive timer stops at the first byte), so without it a client sending
    headers a byte at a time would hold a connection for ever."""
    class HeaderTimeoutH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            self.loop.call_later(seconds, self._headers_too_slow, self.cycle)

        def _headers_too_slow(self, cycle) -> None:
            waiting = self.cycle is cycle and (cycle is None or cycle.response_complete)
            if waiting and not self.transport.is_closing():
                logger.info("connection closed: request headers not complete within %g s", seconds)
                self.transport.close()

    return HeaderTimeoutH11Protocol
