"""The HTTP API end to end: a real `python -m digitclf serve` with the default model, over HTTP."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
import schemathesis
from conftest import REPO, run_cli
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


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    """The base URL of a server started as a user starts it, stopped after the module."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "digitclf", "serve", "--port", str(port), "--model", "default"],
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
