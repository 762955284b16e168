"""Attacks on the web page (issue 20), each on 127.0.0.1 with bounded loops and timeouts: an unauthenticated
large upload is refused before its body is read; a stalled body is dropped; a huge JSON with many unknown keys
is refused quickly with a small answer; impossible values (negative bilirubin, 0.5 for a 0/1 variable) are
refused naming the field; no page refers to another host; no error shows a server path; one slow scoring
request does not hold up the others."""

from __future__ import annotations

import json
import re
import socket
import tempfile
import threading
import time
import warnings

import anyio
import pytest

from hccrad.models.bundle import ModelBundle
from hccrad.serve import create_app
from hccrad.serve.guard import Limits, RequestGuard, header_timeout_protocol

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from .conftest import fit_bundle

PATIENT = {"TBIL": 18.5, "AFP": 2.7, "VP": 1}
TOKEN = "s3cret-token"


class CountingApp:
    """ASGI wrapper counting the body bytes the application received (what the server read for it)."""

    def __init__(self, app) -> None:
        self.app = app
        self.received = 0

    async def __call__(self, scope, receive, send):
        async def counted():
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


class LiveServer:
    """uvicorn (h11, as ``hccrad serve`` runs it) in a thread on 127.0.0.1:<free port>."""

    def __init__(self, app, http="h11") -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off", http=http))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


def _read_response(sock: socket.socket, limit: int = 1 << 16) -> bytes:
    """Read until the server closes the connection or ``limit`` bytes (bounded by the socket timeout)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def _status(response: bytes) -> int:
    m = re.match(rb"HTTP/1\.1 (\d{3})", response)
    assert m, f"no HTTP status line in {response[:200]!r}"
    return int(m.group(1))


@pytest.fixture(scope="module")
def plain_bundle_dir(tmp_path_factory, cohort):
    """A bundle as ``hccrad run`` writes it: no units and no allowed values (VP is 0/1 only by its data)."""
    X, y = cohort
    bundle = fit_bundle(X, y, "synthetic_plain", covariance=False, units={})
    spec = {k: v for k, v in bundle.spec.items() if k != "allowed_values"}
    return ModelBundle(spec).save(tmp_path_factory.mktemp("b") / "plain")


def test_unauthenticated_upload_refused_before_its_body_is_read(imaging_bundle):
    counting = CountingApp(create_app(imaging_bundle, token=TOKEN))
    declared = 150 * 2**20
    head = (f"POST /api/predict-imaging HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {declared}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n\r\n").encode()
    with LiveServer(counting) as srv, srv.connect() as sock:
        sock.sendall(head + b"--xyz\r\n" + b"A" * (64 * 2**10))  # the client goes on sending...
        t0 = time.monotonic()
        response = _read_response(sock)
        elapsed = time.monotonic() - t0
    assert _status(response) == 401, response[:300]
    assert b"connection: close" in response.lower()
    assert counting.received == 0, f"the server read {counting.received} body bytes before refusing"
    assert elapsed < 3.0 and len(response) < 2048


def test_authenticated_upload_over_the_cap_refused_from_its_declared_length(imaging_bundle):
    counting = CountingApp(create_app(imaging_bundle, token=TOKEN, max_upload_mb=1))
    head = (f"POST /api/predict-imaging HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {2 * 2**20}\r\n"
            f"X-Hccrad-Token: {TOKEN}\r\nContent-Type: multipart/form-data; boundary=xyz\r\n\r\n").encode()
    with LiveServer(counting) as srv, srv.connect() as sock:
        sock.sendall(head)
        response = _read_response(sock)
    assert _status(response) == 413 and counting.received == 0


def test_body_longer_than_declared_or_cap_refused_while_streaming():
    """ASGI level: the guard counts what it receives and stops at the cap (413), whatever was declared."""
    seen = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = RequestGuard(app, Limits(max_form_bytes=1000))
    chunks = iter([{"type": "http.request", "body": b"x" * 600, "more_body": True}] * 5)
    sent = []

    async def receive():
        return next(chunks)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict", "query_string": b"",
             "headers": [(b"content-length", b"900"), (b"content-type", b"application/x-www-form-urlencoded")]}
    anyio.run(guard, scope, receive, send)
    assert sent[0]["status"] == 413 and len(seen) == 1, (sent, seen)


@pytest.mark.parametrize("ctype, path", [("application/json", "/api/predict"),
                                         ("multipart/form-data; boundary=xyz", "/predict")])
def test_stalled_body_is_dropped(bundle_dir, ctype, path):
    app = create_app(bundle_dir, limits=Limits(body_timeout_s=1.0))
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n"
            f"Content-Type: {ctype}\r\n\r\n").encode()
    with LiveServer(app) as srv, srv.connect(timeout=8) as sock:
        sock.sendall(head + (b'{"TBIL": 1' if "json" in ctype else b"--xyz\r\nContent-Disposition: form-"))
        t0 = time.monotonic()
        response = _read_response(sock)
        elapsed = time.monotonic() - t0
    assert _status(response) == 408, response[:300]
    assert 0.8 < elapsed < 4.0, f"dropped after {elapsed:.2f} s (timeout 1 s)"


def test_stalled_headers_close_the_connection(bundle_dir):
    import httpx

    with LiveServer(create_app(bundle_dir), http=header_timeout_protocol(1.0)) as srv:
        r = httpx.post(f"http://127.0.0.1:{srv.port}/api/predict", json=PATIENT, timeout=5)
        assert r.status_code == 200  # a normal request is untouched
        with srv.connect(timeout=8) as sock:
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # ...and nothing more
            t0 = time.monotonic()
            response = _read_response(sock)
            elapsed = time.monotonic() - t0
    assert response == b"" and 0.8 < elapsed < 4.0, f"closed after {elapsed:.2f} s with {response[:100]!r}"


def test_huge_json_with_unknown_keys_refused_quickly_and_briefly(bundle_dir):
    c = TestClient(create_app(bundle_dir, token=TOKEN))
    auth = {"X-Hccrad-Token": TOKEN, "Content-Type": "application/json"}
    huge = json.dumps({**PATIENT, **{f"junk_key_{i:06d}": 1 for i in range(200_000)}}).encode()
    assert len(huge) > 2 * 2**20
    t0 = time.monotonic()
    r = c.post("/api/predict", content=huge, headers=auth)
    assert r.status_code == 413 and len(r.content) < 1024 and time.monotonic() - t0 < 2.0
    # under the size cap but over the key cap, and under both with unknown keys: 422, a short answer
    many = json.dumps({**PATIENT, **{f"k{i}": 1 for i in range(3000)}}).encode()
    r = c.post("/api/predict", content=many, headers=auth)
    assert r.status_code == 422 and len(r.content) < 1024 and "limit of 256" in r.text
    few = json.dumps({**PATIENT, **{f"unknown{i}": 1 for i in range(200)}}).encode()
    r = c.post("/api/predict", content=few, headers=auth)
    detail = r.json()["detail"]
    assert r.status_code == 422 and len(r.content) < 2048 and len(detail) == 5
    assert detail[0]["loc"] == ["body", "unknown0"] and "195 more" in detail[0]["msg"]
    r = c.post("/api/predict", content=b'{"TBIL": 1, "TBIL": 2, "AFP": 2, "VP": 1}', headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "duplicate_key"
    assert c.post("/api/predict", content=b"[" * 50_000, headers=auth).status_code == 422  # deep nesting


@pytest.mark.parametrize("body, field, words", [
    ({**PATIENT, "TBIL": -3.0}, "TBIL", "negative value -3"),
    ({**PATIENT, "VP": 0.5}, "VP", "0/1 variable"),
])
@pytest.mark.parametrize("which", ["bundle_dir", "plain_bundle_dir"])
def test_impossible_values_refused_naming_the_field(request, which, body, field, words):
    c = TestClient(create_app(request.getfixturevalue(which)))
    r = c.post("/api/predict", json=body)
    assert r.status_code == 422, r.text
    hit = [d for d in r.json()["detail"] if d["loc"][-1] == field]
    assert hit and words in hit[0]["msg"], r.json()
    page = c.post("/predict", data={k: str(v) for k, v in body.items()})
    assert page.status_code == 422 and words in page.text
    info = {f["name"]: f for f in c.get("/api/model").json()["fields"]}
    assert info["VP"]["type"] == "binary" and info["TBIL"]["hard_bounds"] == [0.0, None]
    assert info["AFP"]["hard_bounds"] is None  # log10 AFP may be negative
    assert c.post("/api/predict", json={**PATIENT, "AFP": -0.5}).status_code == 200


def test_no_page_refers_to_another_host(tmp_path, cohort, imaging_bundle):
    X, y = cohort
    spec = dict(fit_bundle(X, y, "cited", covariance=True).spec)
    spec["source"] = {"citation": "Doe et al. https://doi.org/10.1000/xyz (2024)"}
    spec["warnings"] = ["see http://example.org/erratum"]
    c = TestClient(create_app(ModelBundle(spec).save(tmp_path / "cited")))
    assert c.get("/docs").status_code == 404 and c.get("/redoc").status_code == 404
    assert c.get("/openapi.json").status_code == 200
    form = {k: str(v) for k, v in PATIENT.items()}
    pages = [c.get("/"), c.post("/predict", data=form), c.post("/predict", data={**form, "TBIL": "-1"}),
             TestClient(create_app(imaging_bundle)).get("/")]
    assert [p.status_code for p in pages] == [200, 200, 422, 200]
    for page in pages:
        assert "text/html" in page.headers["content-type"]
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}", page.text, re.I), "reference to another host"
        assert "doi.org/10.1000/xyz" in page.text or "Predict" in page.text
        assert "script-src 'none'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("route", ["/api/predict-imaging", "/predict"])
def test_errors_never_show_a_server_path(imaging_bundle, route):
    c = TestClient(create_app(imaging_bundle))
    garbage = b"this is not a NIfTI volume\x00\x01" * 100
    files = {f"file_{r}": (f"{r}.nii.gz", garbage) for r in ("pre", "arterial", "portal", "tumor")}
    r = c.post(route, data={"TBIL": "20"}, files=files)
    assert r.status_code == 422, r.text
    assert "could not read the pre upload" in r.text
    for needle in ("/tmp", tempfile.gettempdir(), "hccrad-serve-"):
        assert needle not in r.text, f"{needle!r} in the answer"
    messages = (" ".join(re.findall(r'data-error-for="[^"]*">([^<]*)<', r.text)) if route == "/predict"
                else r.text)  # a page links its own /static/ files: check its error messages
    assert "could not read" in messages
    assert not re.search(r"(?<![\w.])/[\w.-]+/", messages), f"an absolute path in {messages!r}"
    r = c.post(route, data={"TBIL": "20"}, files={"archive": ("case.zip", garbage)})
    assert r.status_code == 422 and "not a valid zip" in r.text and "/tmp" not in r.text


def test_slow_scoring_does_not_hold_up_other_requests(bundle_dir, monkeypatch):
    import hccrad.serve.app as app_module

    real = app_module.predict_one

    def slow_for_42(bundle, values, **kw):
        if values.get("TBIL") == 42.0:
            time.sleep(2.0)  # CPU-bound work holding its thread
        return real(bundle, values, **kw)

    monkeypatch.setattr(app_module, "predict_one", slow_for_42)
    import httpx

    with LiveServer(create_app(bundle_dir, workers=2)) as srv:
        url = f"http://127.0.0.1:{srv.port}"
        slow = threading.Thread(target=lambda: httpx.post(url + "/api/predict", json={**PATIENT, "TBIL": 42.0},
                                                          timeout=10))
        slow.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        r = httpx.post(url + "/api/predict", json=PATIENT, timeout=10)
        fast = time.monotonic() - t0
        slow.join(timeout=10)
    assert r.status_code == 200 and fast < 1.0, f"a normal request waited {fast:.2f} s behind a slow one"
