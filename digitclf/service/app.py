"""The HTTP API: a stateless FastAPI app reading digits and numbers from uploaded images.

    POST /v1/digits        one image -> digit, confidence, probabilities, is_digit
    POST /v1/digits/batch  several images (multipart field `files`) -> one result or error each
    POST /v1/numbers       one image of a number -> text, per-digit results and boxes
    GET  /v1/models        the stored models;  GET /healthz;  GET /openapi.json;  GET /docs, /redoc

An image comes as the raw request body (Content-Type image/png or image/jpeg) or as a
multipart upload in the field `file`. `?model=NAME` picks a stored model (loaded once, kept).
Bad input gets a 4xx and {"error": kind, "detail": sentence}, never a 500.
With API keys, every request but /healthz needs `Authorization: Bearer KEY` (service.auth).
The docs pages' scripts and styles are served by the app itself (fastapi-offline's copies).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from digitclf import __version__
from digitclf.errors import BrokenModelError, DigitclfError, ImageError, ModelStoreError, NoDigitError
from digitclf.reading.predictor import Predictor
from digitclf.reading.results import DigitResult
from digitclf.service.auth import OPEN_PATHS, ApiKeyMiddleware
from digitclf.service.batching import ImageBatcher
from digitclf.service.deadlines import BODY_TIMEOUT, BodyDeadlineMiddleware
from digitclf.service.limits import BodyLimitMiddleware
from digitclf.service.predictor_cache import PredictorCache
from digitclf.service.schemas import (
    BatchItem,
    BatchResponse,
    BrokenModel,
    DigitResponse,
    ErrorResponse,
    HealthResponse,
    ModelInfo,
    ModelsResponse,
    NumberResponse,
)
from digitclf.store.model_store import NAME_PATTERN

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BATCH_FILES = 64
RAW_IMAGE_TYPES = ("image/png", "image/jpeg")

ModelParam = Annotated[str | None, Query(
    pattern=f"^{NAME_PATTERN.pattern}$", description="a stored model's name (default: the server's model)",
)]

_BINARY = {"type": "string", "format": "binary"}
_IMAGE_BODY = {"requestBody": {"required": True, "content": {
    **{media: {"schema": _BINARY} for media in RAW_IMAGE_TYPES},
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {"file": _BINARY}}},
}}}
_BATCH_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "items": _BINARY, "maxItems": MAX_BATCH_FILES}}}},
}}}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text} for status, text in (
        (400, "not an image, or a malformed request"), (404, "unknown or broken model"),
        (413, f"request body over {MAX_BODY_BYTES:,} bytes"), (415, "unsupported Content-Type"),
        (422, "no digit in the image, or invalid parameters"),
    )
}
_KINDS = ((NoDigitError, 422, "no_digit"), (ImageError, 400, "bad_image"),
          (BrokenModelError, 404, "broken_model"), (ModelStoreError, 404, "unknown_model"),
          (DigitclfError, 400, "bad_request"))
_HTTP_KINDS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "timeout", 413: "too_large",
               415: "unsupported_media_type"}


def _classify(error: DigitclfError) -> tuple[int, str]:
    return next((status, kind) for cls, status, kind in _KINDS if isinstance(error, cls))


def _error(status: int, kind: str, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": kind, "detail": detail}, status_code=status, headers=headers)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _unsupported(media: str, accepted: str) -> HTTPException:
    return HTTPException(415, f"Content-Type {media or '(none)'!r} is not accepted: send {accepted}")


async def _read_image(request: Request) -> bytes:
    """The image bytes of a raw image body or of the multipart field `file`."""
    media = _media_type(request)
    if media in RAW_IMAGE_TYPES:
        return await request.body()
    if media == "multipart/form-data":
        async with request.form(max_files=1) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(400, "the multipart upload has no file in the field 'file'")
            return await upload.read()
    raise _unsupported(media, "an image/png or image/jpeg body, or multipart/form-data with a field 'file'")


async def _read_batch(request: Request) -> list[tuple[str | None, bytes]]:
    """(filename, bytes) of each file in the multipart field `files`."""
    media = _media_type(request)
    if media != "multipart/form-data":
        raise _unsupported(media, "multipart/form-data with one or more files in the field 'files'")
    async with request.form(max_files=MAX_BATCH_FILES) as form:
        uploads = [u for u in form.getlist("files") if isinstance(u, UploadFile)]
        if not uploads:
            raise HTTPException(400, "the multipart upload has no files in the field 'files'")
        return [(upload.filename, await upload.read()) for upload in uploads]


def _batch_item(filename: str | None, outcome: DigitResult | DigitclfError, model: str) -> BatchItem:
    if isinstance(outcome, DigitclfError):
        return BatchItem(filename=filename, error=ErrorResponse(error=_classify(outcome)[1], detail=str(outcome)))
    return BatchItem(filename=filename, result=DigitResponse(model=model, **outcome.to_dict()))


def create_app(model_name: str | None = None, threads: int | None = None,
               api_keys: tuple[bytes, ...] | None = None, body_timeout: float = BODY_TIMEOUT) -> FastAPI:
    """The API serving `model_name` (default: the store's active model), loaded now.

    threads: how many images of a batch are preprocessed at once (default: CPU count). All
    image work runs on a thread pool of that size + 1, never on the event loop.
    api_keys: the keys a caller must present (None: no key needed). body_timeout: seconds a
    request's body may take to arrive in full before the answer is 408.
    """
    threads = threads or os.cpu_count() or 1
    predictors = PredictorCache(model_name)
    pool = ThreadPoolExecutor(threads + 1, thread_name_prefix="digitclf")
    batchers: dict[str, ImageBatcher] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown(cancel_futures=True)

    app = FastAPIOffline(title="digitclf", version=__version__, lifespan=lifespan,
                         description="Handwritten-digit recognition: read digits and numbers from images.")
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(BodyDeadlineMiddleware, seconds=body_timeout)
    if api_keys:
        app.add_middleware(ApiKeyMiddleware, keys=api_keys)  # outermost: nothing runs for a caller without a key

    async def run(fn: Callable, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def predictor_for(name: str | None) -> Predictor:
        return predictors.default if name is None else await run(predictors.get, name)

    def batcher_for(predictor: Predictor) -> ImageBatcher:
        if predictor.name not in batchers:
            batchers[predictor.name] = ImageBatcher(predictor, pool, threads=threads)
        return batchers[predictor.name]

    @app.exception_handler(DigitclfError)
    async def digitclf_error(request: Request, exc: DigitclfError) -> JSONResponse:
        return _error(*_classify(exc), str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, _HTTP_KINDS.get(exc.status_code, "error"), str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internal_error", "the server failed unexpectedly (the failure is in its log)")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{' '.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(422, "invalid_request", problems)

    @app.post("/v1/digits", response_model=DigitResponse, responses=_ERROR_RESPONSES,
              openapi_extra=_IMAGE_BODY, summary="Read the digit in an image")
    async def read_digit(request: Request, model: ModelParam = None) -> dict:
        image = await _read_image(request)
        predictor = await predictor_for(model)
        result = await batcher_for(predictor).read(image)
        return {"model": predictor.name, **result.to_dict()}

    @app.post("/v1/digits/batch", response_model=BatchResponse, responses=_ERROR_RESPONSES,
              openapi_extra=_BATCH_BODY, summary="Read the digit in each of several images")
    async def read_digits(request: Request, model: ModelParam = None) -> BatchResponse:
        uploads = await _read_batch(request)
        predictor = await predictor_for(model)
        images = [image for _, image in uploads]
        outcomes = await run(lambda: list(predictor.predict_images(images, workers=threads)))
        return BatchResponse(results=[
            _batch_item(filename, outcome, predictor.name) for (filename, _), outcome in zip(uploads, outcomes)
        ])

    @app.post("/v1/numbers", response_model=NumberResponse, responses=_ERROR_RESPONSES,
              openapi_extra=_IMAGE_BODY, summary="Read a number of several digits in an image")
    async def read_number(request: Request, model: ModelParam = None) -> dict:
        image = await _read_image(request)
        predictor = await predictor_for(model)
        result = await run(predictor.read_number, image)
        return {"model": predictor.name, **result.to_dict()}

    @app.get("/v1/models", response_model=ModelsResponse, summary="The stored models")
    async def list_models() -> ModelsResponse:
        entries = await run(predictors.store.entries)
        infos = [ModelInfo(**{k: getattr(e.card, k) for k in ModelInfo.model_fields})
                 for e in entries if e.card is not None]
        broken = [BrokenModel(name=e.name, reason=e.problem) for e in entries if e.problem is not None]
        return ModelsResponse(default=predictors.default.name, models=infos, broken=broken)

    @app.get("/healthz", response_model=HealthResponse, summary="Liveness: the model is loaded")
    async def health() -> HealthResponse:
        return HealthResponse(status="ok", model=predictors.default.name)

    _document_guards(app, keys=bool(api_keys))
    return app


def _document_guards(app: FastAPI, keys: bool) -> None:
    """Say in the OpenAPI document what the middlewares do, which FastAPI cannot see: every
    request body may be answered 408 (too slow), and with keys every path but OPEN_PATHS needs
    a bearer key (401 without one)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        if keys:
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = {
                "type": "http", "scheme": "bearer", "description": "one of the keys in `serve --api-keys FILE`"}
            schema["security"] = [{"apiKey": []}]
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    responses["408"] = {"description": "the request body arrived too slowly", "content": error}
                if keys and path in OPEN_PATHS:
                    operation["security"] = []
                elif keys:
                    responses["401"] = {"description": "no API key, or a wrong one", "content": error}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
