"""The HTTP API end to end: a real `python -m digitclf serve` with the default model, over HTTP."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import schemathesis
from conftest import DAMAGE, REPO, damage_store, run_cli
from hypothesis import HealthCheck, settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from digitclf.service.app import MAX_BODY_BYTES
from digitclf.training import synth
from digitclf.training.data import load_mnist

STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _drawing(index: int, fmt: str = "PNG") -> tuple[bytes, int]:
    """MNIST test digit `index` drawn on a 280x280 canvas: (encoded image, label)."""
    images, labels = load_mnist("test")
    paper = synth.ink_on_paper(synth.render(images[index]))
    buffer = io.BytesIO()
    Image.fromarray(paper).save(buffer, format=fmt)
    return buffer.getvalue(), int(labels[index])


BLANK = _png(np.full((100, 100), 255, dtype=np.uint8))


@contextlib.contextmanager
def _serving(log_path: Path, *options: str) -> Iterator[str]:
    """`digitclf serve --model default OPTIONS` on a free port, output to log_path: its base URL."""
    port = _free_port()
    log = log_path.open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "digitclf", "serve", "--port", str(port), "--model", "default", *options],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.seek(0)
            pytest.fail(f"the server did not start:\n{log.read()}")
        time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The base URL of a server started as a user starts it, stopped after the module."""
    with _serving(tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


@pytest.fixture(scope="module")
def client(server) -> httpx.Client:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


def _check_digit(body: dict, label: int) -> None:
    assert body["model"] == "default" and body["digit"] == label and body["is_digit"] is True
    assert 0 < body["confidence"] <= 1 and len(body["probabilities"]) == 10
    assert abs(sum(body["probabilities"]) - 1) < 1e-3


def _check_error(response: httpx.Response, status: int, kind: str, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == kind and words in body["detail"], body


@pytest.mark.parametrize("fmt, media", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_raw_image_body(client, fmt, media):
    image, label = _drawing(0, fmt)
    response = client.post("/v1/digits", content=image, headers={"Content-Type": media})
    assert response.status_code == 200, response.text
    _check_digit(response.json(), label)


def test_multipart_upload(client):
    image, label = _drawing(1)
    response = client.post("/v1/digits", files={"file": ("digit.png", image, "image/png")})
    assert response.status_code == 200, response.text
    _check_digit(response.json(), label)


def test_batch_gives_a_result_or_an_error_per_file(client):
    (first, label1), (second, label2) = _drawing(2), _drawing(3)
    files = [("files", ("a.png", first)), ("files", ("blank.png", BLANK)),
             ("files", ("junk.png", b"not an image")), ("files", ("b.png", second))]
    response = client.post("/v1/digits/batch", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["filename"] for r in results] == ["a.png", "blank.png", "junk.png", "b.png"]
    _check_digit(results[0]["result"], label1)
    _check_digit(results[3]["result"], label2)
    assert results[1]["result"] is None and results[1]["error"]["error"] == "no_digit"
    assert results[2]["result"] is None and results[2]["error"]["error"] == "bad_image"


def test_numbers(client):
    images, labels = load_mnist("test")
    indices = [4, 5, 6]
    ink = np.hstack([synth.render(images[i], canvas=(120, 100)) for i in indices])
    response = client.post("/v1/numbers", content=_png(synth.ink_on_paper(ink)),
                           headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "".join(str(labels[i]) for i in indices)
    assert [d["digit"] for d in body["digits"]] == [int(labels[i]) for i in indices]
    assert len(body["boxes"]) == 3 and all(len(box) == 4 for box in body["boxes"])
    assert [box[0] for box in body["boxes"]] == sorted(box[0] for box in body["boxes"])


def test_models_and_health(client):
    models = client.get("/v1/models").json()
    assert models["default"] == "default" and "default" in [m["name"] for m in models["models"]]
    assert client.get("/healthz").json() == {"status": "ok", "model": "default"}
    image, label = _drawing(7)
    response = client.post("/v1/digits?model=default", content=image, headers={"Content-Type": "image/png"})
    _check_digit(response.json(), label)


def test_openapi_document_and_docs_page(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/digits", "/v1/digits/batch", "/v1/numbers", "/v1/models", "/healthz"} <= set(paths)
    assert "multipart/form-data" in paths["/v1/digits"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("media", ["text/plain", "application/json", None])
def test_wrong_content_type_is_415(client, media):
    headers = {"Content-Type": media} if media else {}
    response = client.post("/v1/digits", content=_drawing(0)[0], headers=headers)
    _check_error(response, 415, "unsupported_media_type", "is not accepted")


def test_not_an_image_is_400(client):
    response = client.post("/v1/digits", content=b"GIF89a but not really", headers={"Content-Type": "image/png"})
    _check_error(response, 400, "bad_image", "not an image")
    response = client.post("/v1/digits", files={"other": ("x.png", BLANK)})
    _check_error(response, 400, "bad_request", "field 'file'")


def test_blank_image_is_422(client):
    response = client.post("/v1/digits", content=BLANK, headers={"Content-Type": "image/png"})
    _check_error(response, 422, "no_digit", "no digit found")


def test_too_large_body_is_413(client):
    too_big = b"\0" * (MAX_BODY_BYTES + 1)
    response = client.post("/v1/digits", content=too_big, headers={"Content-Type": "image/png"})
    _check_error(response, 413, "too_large", "larger than")
    # Without a Content-Length (chunked), the body is counted as it arrives.
    chunks = (too_big[i : i + 65536] for i in range(0, len(too_big), 65536))
    response = client.post("/v1/digits", content=chunks, headers={"Content-Type": "image/png"})
    _check_error(response, 413, "too_large", "larger than")


def test_decompression_bomb_is_refused(client):
    bomb = _png(np.zeros((8000, 8000), dtype=bool))  # 64 million pixels in a few kilobytes
    assert len(bomb) < 100_000
    response = client.post("/v1/digits", content=bomb, headers={"Content-Type": "image/png"})
    _check_error(response, 400, "bad_image", "more than the 40,000,000 allowed")


def _encoded(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("path", ["/v1/digits", "/v1/numbers"])
def test_each_kind_of_bad_image_gets_its_own_4xx(client, path):
    png, jpeg = _drawing(4)[0], _drawing(5, "JPEG")[0]
    cases = [
        (b"", 400, "bad_image", "is empty (0 bytes)"),
        (png[: len(png) // 2], 400, "bad_image", "cut short"),
        (jpeg[: len(jpeg) // 2], 400, "bad_image", "cut short"),
        (_encoded(Image.new("RGB", (2000, 2000), "white"), format="PDF"), 400, "bad_image", "PDF document"),
        (_encoded(Image.new("L", (8000, 6000), 255), format="TIFF", compression="tiff_deflate"),
         400, "bad_image", "more than the 40,000,000 allowed"),
        (_png(np.zeros((1, 1), np.uint8)), 422, "no_digit", "too small"),
    ]
    for body, status, kind, words in cases:
        _check_error(client.post(path, content=body, headers={"Content-Type": "image/png"}), status, kind, words)


def test_cmyk_palette_and_rotated_photos_are_read_and_a_batch_keeps_going_past_bad_ones(client):
    images, labels = load_mnist("test")
    paper = [Image.fromarray(synth.ink_on_paper(synth.render(images[i]))) for i in range(3)]
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: 'turn 90 degrees clockwise to view'
    files = [("files", ("cmyk.jpg", _encoded(paper[0].convert("RGB").convert("CMYK"), format="JPEG"))),
             ("files", ("empty.png", b"")),
             ("files", ("palette.png", _encoded(paper[1].convert("P", palette=Image.Palette.ADAPTIVE), format="PNG"))),
             ("files", ("cut.png", _drawing(3)[0][:100])),
             ("files", ("photo.jpg", _encoded(paper[2].transpose(Image.Transpose.ROTATE_90),
                                              format="JPEG", exif=exif)))]
    response = client.post("/v1/digits/batch", files=files)
    assert response.status_code == 200, response.text
    cmyk, empty, palette, cut, photo = response.json()["results"]
    assert [r["result"]["digit"] for r in (cmyk, palette, photo)] == labels[:3].tolist()
    assert "is empty" in empty["error"]["detail"] and "cut short" in cut["error"]["detail"]


def test_unknown_model_is_404(client):
    image = _drawing(0)[0]
    response = client.post("/v1/digits?model=no-such-model", content=image, headers={"Content-Type": "image/png"})
    _check_error(response, 404, "unknown_model", "no model named 'no-such-model'")
    response = client.post("/v1/digits?model=../etc", content=image, headers={"Content-Type": "image/png"})
    _check_error(response, 422, "invalid_request", "model")


def test_serve_refuses_an_unknown_model_at_once():
    result = run_cli("serve", "--model", "no-such-model", "--port", str(_free_port()), timeout=60)
    assert result.returncode == 1 and "no model named 'no-such-model'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_answers_every_generated_request_without_5xx(case):
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                   content_type_conformance, response_schema_conformance])


# ----- hardening: API keys, offline docs pages, slow and stalled clients -----------------------
KEYS = ("k3y-of-the-tests-0123456789", "second-key-of-the-tests-abcdef")
WRONG_KEY = "not-a-key-this-server-knows-42"
HEADER_TIMEOUT, BODY_TIMEOUT = 1, 2  # the guarded server's deadlines (s)
SLACK = 4.0  # extra seconds a loaded machine may take to act on a deadline
OPERATIONS = ["Read the digit in an image", "Read the digit in each of several images",
              "Read a number of several digits in an image", "The stored models", "Liveness: the model is loaded"]


@dataclass
class Guarded:
    url: str
    port: int
    log: Path


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[Guarded]:
    """A server requiring KEYS, with short header and body deadlines."""
    folder = tmp_path_factory.mktemp("guarded")
    keys = folder / "keys.txt"
    keys.write_text(f"# the tests' keys\n{KEYS[0]}\n\n   {KEYS[1]}  \n")
    options = ["--workers", "1", "--api-keys", str(keys),
               "--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT)]
    with _serving(folder / "serve.log", *options) as base:
        yield Guarded(base, httpx.URL(base).port, folder / "serve.log")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/digits"), ("POST", "/v1/digits/batch"), ("POST", "/v1/numbers"), ("GET", "/v1/models"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/redoc"), ("GET", "/static-offline-docs/swagger-ui.css"),
    ("GET", "/no-such-page"),
])
def test_every_endpoint_but_healthz_needs_a_key(guarded, method, path):
    image = _drawing(0)[0]
    with httpx.Client(base_url=guarded.url, timeout=60) as c:
        body = {"content": image, "headers": {"Content-Type": "image/png"}} if method == "POST" else {}
        missing = c.request(method, path, **body)
        _check_error(missing, 401, "unauthorized", "send the header 'Authorization: Bearer KEY'")
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        for wrong in (f"Bearer {WRONG_KEY}", f"Bearer {KEYS[0][:-1]}", f"Bearer {KEYS[0]}x", f"Basic {KEYS[0]}",
                      KEYS[0], f"Bearer {KEYS[0]} {KEYS[1]}"):
            headers = {**body.get("headers", {}), "Authorization": wrong}
            response = c.request(method, path, **{**body, "headers": headers})
            assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer", wrong
            assert response.json()["error"] == "unauthorized"
        assert c.get("/healthz").json() == {"status": "ok", "model": "default"}


def test_each_key_opens_the_api(guarded):
    image, label = _drawing(8)
    with httpx.Client(base_url=guarded.url, timeout=60) as c:
        for key in KEYS:
            response = c.post("/v1/digits", content=image, headers={**_auth(key), "Content-Type": "image/png"})
            assert response.status_code == 200, response.text
            _check_digit(response.json(), label)
            assert c.get("/v1/models", headers=_auth(key)).json()["default"] == "default"
            assert c.get("/docs", headers={"authorization": f"bearer {key}"}).status_code == 200


def test_the_openapi_document_says_what_the_guards_do(guarded, client):
    with httpx.Client(base_url=guarded.url, timeout=60) as c:
        document = c.get("/openapi.json", headers=_auth(KEYS[0])).json()
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": "one of the keys in `serve --api-keys FILE`"}
    assert document["security"] == [{"apiKey": []}]
    assert document["paths"]["/healthz"]["get"]["security"] == []
    digits = document["paths"]["/v1/digits"]["post"]["responses"]
    assert {"401", "408"} <= set(digits) and "401" in document["paths"]["/v1/models"]["get"]["responses"]
    # Without keys: no scheme, no 401; a body can still be too slow.
    plain = client.get("/openapi.json").json()
    assert "securitySchemes" not in plain.get("components", {}) and "security" not in plain
    assert "408" in plain["paths"]["/v1/numbers"]["post"]["responses"]
    assert "401" not in plain["paths"]["/v1/digits"]["post"]["responses"]


def test_keys_never_reach_the_log(guarded):
    with httpx.Client(base_url=guarded.url, timeout=60) as c:
        for key in (*KEYS, WRONG_KEY):
            c.get("/v1/models", headers=_auth(key))
            c.post("/v1/digits", content=b"not an image", headers={**_auth(key), "Content-Type": "image/png"})
    for key in (KEYS[0], WRONG_KEY):  # requests uvicorn refuses as malformed, which it logs
        with socket.create_connection(("127.0.0.1", guarded.port), timeout=30) as sock:
            sock.sendall(f"GET /v1/models HTTP/1.1\r\nAuthorization: Bearer {key}\r\nno colon\r\n\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 400")
    time.sleep(0.5)
    log = guarded.log.read_text()
    assert "Invalid HTTP request" in log, log  # the log saw them
    assert not [key for key in (*KEYS, WRONG_KEY) if key in log], log


@pytest.mark.parametrize("content, env, words", [
    (None, False, "cannot read the API key file"),
    ("# no key yet\n\n", False, "holds no key"),
    ("# no key yet\n\n", True, "holds no key"),  # the file named by DIGITCLF_API_KEYS
    (f"{KEYS[0]}\nshort-key\n", False, "line 2: an API key must be 16 to 256 characters"),
    (f"{KEYS[0]} {KEYS[1]}\n", False, "line 1: an API key is one word"),
    (b"\xff\xfe" + KEYS[0].encode("utf-16-le"), False, "not UTF-8"),
])
def test_a_bad_key_file_is_a_usage_error(tmp_path, content, env, words):
    path = tmp_path / "keys.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    options, variables = ([], {"DIGITCLF_API_KEYS": str(path)}) if env else (["--api-keys", str(path)], {})
    result = run_cli("serve", "--port", str(_free_port()), *options, env=variables, timeout=60)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "short-key" not in result.stderr and KEYS[0] not in result.stderr


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_work_without_internet(server, path, chromium):
    from playwright.sync_api import expect

    outside: list[tuple[str, str]] = []

    def local_only(route) -> None:
        if route.request.url.startswith(f"{server}/"):
            route.continue_()
        else:
            outside.append((route.request.resource_type, route.request.url))
            route.abort()

    page = chromium.new_page()
    try:
        page.route("**/*", local_only)
        page.goto(f"{server}{path}")
        for operation in OPERATIONS:
            expect(page.get_by_text(operation, exact=True).first).to_be_visible(timeout=60_000)
        if path == "/docs":
            expect(page.get_by_text("/v1/digits/batch", exact=True)).to_be_visible()
    finally:
        page.close()
    # Scripts, styles and fonts all come from the server; ReDoc's "by Redocly" logo alone is remote.
    assert [(kind, url) for kind, url in outside if kind != "image"] == []


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def _dribble(sock: socket.socket, data: bytes, interval: float, after_answer: bool = False,
             limit: float = 30) -> tuple[bytes, float]:
    """Send `data` a byte every `interval` seconds, listening meanwhile, until the server closes
    the connection; then what it sent and how many seconds that took. Sending stops at its first
    answer unless `after_answer`; a connection still open after `limit` seconds fails the test."""
    answer, start = b"", time.monotonic()
    sock.settimeout(interval)
    pending = iter(data)
    while time.monotonic() - start < limit:
        try:
            if after_answer or not answer:
                byte = next(pending, None)
                if byte is not None:
                    sock.sendall(bytes([byte]))
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset: closed by the server
            break
        if not chunk:
            break
        answer += chunk
    else:
        pytest.fail(f"the server kept the connection for {limit} s; it sent {answer[:200]!r}")
    return answer, time.monotonic() - start


def _check_408(answer: bytes, words: str) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert json.loads(body)["error"] == "timeout" and words in json.loads(body)["detail"], body


def test_stalled_headers_are_answered_408_and_closed(guarded):
    silent = [_connect(guarded.port) for _ in range(8)]
    partial = [_connect(guarded.port) for _ in range(8)]
    for sock in partial:
        sock.sendall(f"POST /v1/digits HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {KEYS[0]}\r\nCont".encode())
    # Meanwhile the server goes on serving others.
    image, label = _drawing(9)
    response = httpx.post(f"{guarded.url}/v1/digits", content=image, timeout=60,
                          headers={**_auth(KEYS[0]), "Content-Type": "image/png"})
    _check_digit(response.json(), label)
    for sock in silent + partial:
        with sock:
            answer, _ = _dribble(sock, b"", 0.5)
        _check_408(answer, f"headers did not arrive within {HEADER_TIMEOUT} s")


SLOW_HEAD = b"GET /v1/models HTTP/1.1\r\nHost: test\r\nAccept: */*\r\n" * 20


@pytest.mark.parametrize("kept_alive, dribble", [
    (False, SLOW_HEAD), (True, SLOW_HEAD),
    (True, b"\r\n" * 100),  # blank lines before a request: the parser skips them, the deadline does not
], ids=["new-connection", "kept-alive", "blank-lines"])
def test_headers_sent_a_byte_at_a_time_are_cut_off(guarded, kept_alive, dribble):
    with _connect(guarded.port) as sock:
        if kept_alive:  # a first request answered on this connection, then a slow second one
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            first = b""
            while not first.endswith(b"}"):
                first += sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200 ")
        answer, seconds = _dribble(sock, dribble, 0.25)
    _check_408(answer, "headers did not arrive")
    assert HEADER_TIMEOUT * 0.9 <= seconds <= HEADER_TIMEOUT + SLACK


def test_a_body_sent_a_byte_a_second_is_answered_408(guarded):
    with _connect(guarded.port) as sock:
        sock.sendall(f"POST /v1/digits HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {KEYS[0]}\r\n"
                     "Content-Type: image/png\r\nContent-Length: 10000\r\n\r\n".encode())
        answer, seconds = _dribble(sock, _drawing(0)[0], 1.0)
    _check_408(answer, f"body did not arrive within {BODY_TIMEOUT} s")
    assert BODY_TIMEOUT * 0.9 <= seconds <= BODY_TIMEOUT + SLACK


def test_a_body_nobody_reads_cannot_keep_the_connection(guarded):
    """Answered at once (no key: 401) while its body goes on arriving a byte at a time."""
    with _connect(guarded.port) as sock:
        sock.sendall(b"POST /v1/digits HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\n"
                     b"Content-Length: 10000\r\n\r\n")
        answer, seconds = _dribble(sock, b"\0" * 10000, 0.5, after_answer=True)
    assert answer.startswith(b"HTTP/1.1 401 "), answer
    assert BODY_TIMEOUT <= seconds <= BODY_TIMEOUT + 1 + SLACK


@pytest.mark.parametrize("option", ["--header-timeout", "--body-timeout"])
def test_serve_refuses_a_deadline_of_zero(option):
    result = run_cli("serve", "--port", str(_free_port()), option, "0", timeout=60)
    assert result.returncode == 2 and "must be more than 0 seconds" in result.stderr, result.stderr


def test_models_names_the_broken_ones_and_a_broken_model_is_a_clear_404(store_env):
    from fastapi.testclient import TestClient

    from digitclf.service.app import create_app

    damage_store(store_env)
    with TestClient(create_app("tiny")) as client:
        body = client.get("/v1/models").json()
        assert body["default"] == "tiny" and [m["name"] for m in body["models"]] == ["tiny"]
        broken = {b["name"]: b["reason"] for b in body["broken"]}
        assert set(broken) == set(DAMAGE) and all(DAMAGE[name] in broken[name] for name in DAMAGE)
        image = _drawing(0)[0]
        for name in ("cut-keras", "bad-json", "wide-onnx"):
            response = client.post(f"/v1/digits?model={name}", content=image, headers={"Content-Type": "image/png"})
            _check_error(response, 404, "broken_model", f"model {name!r} cannot be used: {DAMAGE[name]}")
            assert str(store_env) not in response.text
        assert client.post("/v1/digits?model=tiny", content=image,
                           headers={"Content-Type": "image/png"}).status_code == 200
