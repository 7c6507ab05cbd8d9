"""The HTTP API and the web page (FastAPI). :func:`create_app` builds the application;
``text2sign serve`` runs it with uvicorn.

Every request a client can send is answered with a 2xx or a 4xx whose JSON body ``{"error": ...}``
says what is wrong: 400 for text, languages, models or options the model refuses, 404 / 405 for
unknown routes, 413 for a body over the limit, 422 for a body that is not the documented JSON,
503 (with ``Retry-After``) when the workers and their queue are full. GIF and MP4 answers are
drawn by workers of their own (:mod:`.service`), so a pose never waits behind a drawing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from text2sign.errors import Text2SignError
from text2sign.pipelines.options import Option
from text2sign.server.service import (
    FORMATS,
    MAX_BODY_BYTES,
    MAX_SIZE,
    MAX_TEXT_CHARS,
    MIN_SIZE,
    Busy,
    Models,
    ServerSettings,
    Service,
    SignRequest,
)

STATIC = Path(__file__).resolve().parent / "static"
access_log = logging.getLogger("text2sign.server.access")
log = logging.getLogger("text2sign.server")

# The page may load only what this server serves; blob: is its own downloads and drawings.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class GenerateRequestBase(BaseModel):
    """What every request has; :func:`request_model` adds the served models' own options."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Text to sign.", examples=["Hello, world."])
    spoken: str = Field(min_length=1, max_length=32, description="Spoken language code of the text.", examples=["en"])
    signed: str = Field(min_length=1, max_length=32, description="Signed language code to produce.", examples=["ase"])
    model: str | None = Field(
        None, min_length=1, max_length=200, description="A model name from /api/v1/models (default: the server's)."
    )
    format: Literal["pose", "json", "gif", "mp4"] = Field(
        "pose", description="pose: a pose-format file; json: frames for a web page; gif / mp4: drawn video."
    )
    seed: int | None = Field(None, ge=0, le=2**63 - 1, strict=True, description="Sampling seed of a stochastic model.")
    size: int | None = Field(
        None, ge=MIN_SIZE, le=MAX_SIZE, strict=True, description="gif / mp4: width and height in pixels."
    )
    strict: bool = Field(
        False, strict=True, description="Fail on text the model cannot sign instead of skipping it with a warning."
    )


MAX_TEXT_OPTION = 200  # characters of a text-valued option (a signer's name)


def request_model(options: dict[str, list[tuple[str, Option]]]) -> type[GenerateRequestBase]:
    """The request body: the common fields and one field per option of a served model (see
    :meth:`Models.options`), whose description names the models that take it and their ranges;
    a number's schema range is the widest a model allows, capped by its ``serve_max``."""
    fields: dict[str, Any] = {}
    for name, takers in sorted(options.items()):
        first = takers[0][1]
        numeric = all(o.numeric for _, o in takers)
        kind = (float if any(o.type is float for _, o in takers) else int) if numeric else str
        caps = [_cap(o) for _, o in takers]
        lows = [o.low for _, o in takers]
        same = len({o.help for _, o in takers}) == 1  # else each model says what it means by it

        def told(o: Option, same: bool = same) -> str:
            said = [o.help] if not same else []
            return "; ".join([*said, *([o.range_text(_cap(o))] if o.numeric else [])])

        ranged = ", ".join(f"{model} ({told(o)})" if told(o) else model for model, o in takers)
        lead = f"{first.help[:1].upper()}{first.help[1:]}. " if same else ""
        description = f"{lead}Models: {ranged}."
        if numeric:
            bounds = {"ge": None if None in lows else min(lows), "le": None if None in caps else max(caps)}
            field = Field(
                None, strict=True, description=description, **{k: v for k, v in bounds.items() if v is not None}
            )
        else:
            field = Field(None, min_length=1, max_length=MAX_TEXT_OPTION, strict=True, description=description)
        fields[name] = (kind | None, field)
    return create_model("GenerateRequest", __base__=GenerateRequestBase, **fields)


def _cap(option: Option) -> float | None:
    limits = [v for v in (option.high, option.serve_max) if v is not None]
    return min(limits) if limits else None


class ErrorBody(BaseModel):
    error: str = Field(description="What is wrong, in one line.")


class Span(BaseModel):
    label: str
    start: int = Field(description="First frame.")
    end: int = Field(description="One past the last frame.")


class ComponentJSON(BaseModel):
    name: str
    kind: str
    start: int
    count: int


class LayoutJSON(BaseModel):
    name: str
    components: list[ComponentJSON]
    bones: list[list[int]]


class SigningJSON(BaseModel):
    """format=json: what the web page plays."""

    model: str
    warnings: list[str]
    words: list[Span] = Field(description="Frames of each word (an estimate within each clause).")
    pauses: list[Span] = Field(description='Pauses at punctuation, labelled "," or ".".')
    fps: float
    num_frames: int
    layout: LayoutJSON
    canvas: list[int] | None
    frames: list[list[float | None]] = Field(description="Per frame: x0, y0, x1, y1, ... (null: not observed).")


class LanguagePair(BaseModel):
    spoken: str = Field(description='"*": any spoken language.')
    signed: str
    borrows: str | None = Field(description="Signed language whose fingerspelling it borrows.")


class Languages(BaseModel):
    model: str
    pairs: list[LanguagePair]


class ModelRow(BaseModel):
    name: str
    family: str
    output: str
    default: bool
    languages: list[list[str]]
    size_bytes: int | None
    about: str


class Health(BaseModel):
    status: str
    default_model: str
    loaded_models: list[str]
    in_flight: int
    capacity: int


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


ERRORS = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Text, language, model or option the model refuses"),
        (413, "Request body over the limit"),
        (422, "Body or query is not as documented"),
        (503, "Busy: every worker and the queue are taken; see Retry-After"),
    )
}


def create_app(settings: ServerSettings | None = None, models: Models | None = None) -> FastAPI:
    """The application. `models` serves pipelines built in Python (tests, embedding); by default
    the models are the named ones, with `settings.model` as the default."""
    settings = settings or ServerSettings()
    service = Service(settings, models)
    request_body = request_model(service.models.options())
    common = set(GenerateRequestBase.model_fields)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.warm_up and not service.warm:
            await service.pool.run(service.warm_up)
        yield
        service.close()

    app = FastAPIOffline(
        title="text2sign",
        version="1",
        description="Sign language production: text in, signing out as .pose, JSON frames, GIF or MP4.",
        lifespan=lifespan,
    )
    app.state.service = service

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _describe(exc.errors()))

    @app.exception_handler(Text2SignError)
    async def refused(request: Request, exc: Text2SignError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return _error(503, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, json.dumps(request.url.path))
        return _error(500, "internal error; the server log has the details")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(
            STATIC / "index.html", headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"}
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", response_model=Health, summary="Liveness and load")
    async def healthz() -> Health:
        return Health(
            status="ok",
            default_model=service.models.default,
            loaded_models=service.models.loaded,
            in_flight=service.in_flight,
            capacity=service.capacity,
        )

    @app.get(
        "/api/v1/models",
        response_model=list[ModelRow],
        responses={503: ERRORS[503]},
        summary="Models a request can name",
    )
    async def list_models() -> list[dict]:
        return await service.pool.run(service.model_list)

    @app.get(
        "/api/v1/languages",
        response_model=Languages,
        responses={code: ERRORS[code] for code in (400, 422, 503)},
        summary="Spoken -> signed language pairs of a model",
    )
    async def languages(
        model: str | None = Query(None, min_length=1, max_length=200, description="Default: the server's model."),
    ) -> dict:
        service.models.resolve(model)
        return await service.pool.run(service.languages, model)

    async def generate(body, request: Request) -> Response:
        given = body.model_dump()
        options = tuple(sorted((k, v) for k, v in given.items() if k not in common and v is not None))
        fixed = {k: v for k, v in given.items() if k in common}
        sign = SignRequest(**{**fixed, "model": service.models.resolve(body.model), "options": options})
        key = service.cache_key(sign)
        answer = service.cache.get(key)
        hit = answer is not None
        if answer is None:
            answer = await service.pool_for(sign).run(service.produce, sign)
            service.cache.put(key, answer)
        request.state.note = f"model={sign.model} format={sign.format} cache={'hit' if hit else 'miss'}"
        return Response(
            answer.body, media_type=answer.media_type, headers={**answer.headers, "X-Cache": "hit" if hit else "miss"}
        )

    # The body's schema is built above from the served models' options, so it is set here, not written.
    generate.__annotations__["body"] = request_body
    app.post(
        "/api/v1/generate",
        summary="Sign a text",
        response_class=Response,
        responses={
            200: {
                "description": "The signing in the asked format",
                "model": SigningJSON,
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media, _ in FORMATS.values()
                    if media != "application/json"
                },
                "headers": {
                    "X-Text2Sign-Warnings": {
                        "description": "JSON list of what was skipped or guessed",
                        "schema": {"type": "string"},
                    },
                },
            },
            **ERRORS,
        },
    )(generate)

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(AccessLog)
    return app


def _describe(errors) -> str:
    """Pydantic's errors as one line: "text: String should have at most 200 characters; ..."."""
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = error.get("msg", "invalid")
        if error.get("type") == "json_invalid":
            message = f"body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
            where = ""
        elif error.get("type") == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413 before the application reads them,
    whether their length is declared or they arrive chunked."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._too_large(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._too_large(scope, receive, send)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send):
        response = _error(413, f"request body over {self.max_bytes} bytes")
        await response(scope, receive, send)


class AccessLog:
    """One line per request: client, method, path, status ("-" when the client left before an
    answer started), bytes sent, milliseconds and, for generation, the model, format and whether
    the cache answered."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status, sent = 0, 0

        async def counting_send(message):
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            client = scope.get("client") or ("-", 0)
            note = scope.get("state", {}).get("note", "")
            # The path is the client's text: quoted, so it cannot forge a log line.
            access_log.info(
                "%s %s %s %s %dB %.1fms%s",
                client[0],
                scope["method"],
                json.dumps(scope["path"]),
                status or "-",
                sent,
                (time.perf_counter() - start) * 1000,
                f" {note}" if note else "",
            )
