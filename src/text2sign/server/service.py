"""The server's work, without the web framework: models loaded once and shared, bounded pools of
worker threads that run every model call off the event loop, a small LRU cache of answers, and
:meth:`Service.produce`, which turns one request into the bytes of its answer.

Drawn answers (GIF, MP4) take seconds where a pose takes milliseconds, so they have a pool of
their own, whose threads also run at a lower CPU priority (Linux): a queue of drawings never
delays a pose, JSON, model list or language request.

Thread safety: a pipeline call keeps its warnings in its own result, so the worker threads share
one pipeline per model; the cache and the pool's counter are only touched on the event loop.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from text2sign.errors import Text2SignError, TextError
from text2sign.families.registry import MODELS
from text2sign.pipelines import resolve_model_name
from text2sign.pipelines.base import Pipeline, split_words
from text2sign.pipelines.options import Option, model_options
from text2sign.server.signing import Clause, join_clauses, pose_json, split_clauses, word_spans

# Limits a client cannot raise (the OpenAPI schema states them too).
MAX_TEXT_CHARS = 200
MAX_BODY_BYTES = 16 * 1024
MAX_FRAMES = 3000  # frames of one answer as pose or json: 2 minutes at 25 fps
MAX_RENDER_FRAMES = 750  # frames drawn into one GIF / MP4: 30 s at 25 fps
MIN_SIZE, MAX_SIZE = 64, 768
# A model's own options (steps, frames, ...) are bounded by their declarations (serve_max: what a request may ask).
CACHE_MAX_BYTES = 64 * 1024 * 1024
RETRY_AFTER_S = 1
DRAW_NICENESS = 5  # drawing threads get about a third of the CPU weight of the others when both want it

FORMATS = {
    "pose": ("application/octet-stream", "pose"),
    "json": ("application/json", None),
    "gif": ("image/gif", "gif"),
    "mp4": ("video/mp4", "mp4"),
}

T = TypeVar("T")


@dataclass(frozen=True)
class ServerSettings:
    """How `text2sign serve` runs: its default model, how many model calls run at once
    (`workers` for pose and JSON answers, `draw_workers` for GIF and MP4), how many more may wait
    in each pool (`queue`; past it: 503), and cached answers (0: none). `lexicon` and `load_options`
    go to the default model when it loads."""

    model: str = "default"
    lexicon: Path | None = None
    workers: int = 2
    queue: int = 32
    cache_size: int = 128
    warm_up: bool = True
    draw_workers: int = 2
    load_options: dict[str, Any] = field(default_factory=dict)  # the default model's (lexicon too), e.g. plan_model

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("workers", self.workers, 1, 64),
            ("draw workers", self.draw_workers, 1, 64),
            ("queue", self.queue, 0, 10_000),
            ("cache size", self.cache_size, 0, 100_000),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise Text2SignError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


@dataclass(frozen=True)
class SignRequest:
    text: str
    spoken: str
    signed: str
    model: str  # resolved: a served model's name
    format: str = "pose"
    seed: int | None = None
    size: int | None = None
    strict: bool = False
    options: tuple[tuple[str, Any], ...] = ()  # the model's own (steps, frames, ...), by name, sorted


@dataclass
class Answer:
    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)


class Busy(Exception):
    """Every worker is busy and the queue is full."""

    def __init__(self, retry_after: int = RETRY_AFTER_S):
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class Models:
    """The models a server answers with, each loaded once on first use and then shared.

    Requests may name the default model, any named model (``text2sign models``) or one of
    `pipelines`; never a path, so no client makes the server read its disk."""

    def __init__(
        self,
        default: str = "default",
        lexicon: Path | None = None,
        pipelines: dict[str, Pipeline] | None = None,
        load_options: dict[str, Any] | None = None,
    ):
        self._loaded: dict[str, Pipeline] = dict(pipelines or {})
        self.default = default if default in self._loaded else resolve_model_name(default)
        self._load_options = {"lexicon": lexicon, **(load_options or {})}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([self.default, *MODELS, *self._loaded]))

    @property
    def loaded(self) -> list[str]:
        return list(self._loaded)

    def resolve(self, name: str | None) -> str:
        if name is None or name == "default":
            return self.default
        if name in self._loaded or name in MODELS or name == self.default:
            return name
        raise Text2SignError(f"unknown model {name!r}; this server has: {', '.join(['default', *self.names])}")

    def get(self, name: str | None = None) -> Pipeline:
        """The pipeline of a served model, loading it the first time (call from a worker thread)."""
        name = self.resolve(name)
        pipeline = self._loaded.get(name)
        if pipeline is not None:
            return pipeline
        with self._lock:
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:
            if name not in self._loaded:
                from text2sign.pipelines import load_pipeline

                options = self._load_options if name == self.default else {}
                self._loaded[name] = load_pipeline(name, **options)
            return self._loaded[name]

    def options(self) -> dict[str, list[tuple[str, Option]]]:
        """Option name -> (model, declaration) for every served model that takes it and can be
        served over HTTP (no files), read without loading a model that is not loaded yet. A model
        whose family cannot load here is left out (asking for it says why)."""
        found: dict[str, list[tuple[str, Option]]] = {}
        for name in self.names:
            pipeline = self._loaded.get(name)
            try:
                declared = pipeline.call_options() if pipeline is not None else model_options(name).call
            except Text2SignError:
                continue
            for option in declared.values():
                if option.http:
                    found.setdefault(option.name, []).append((name, option))
        return found


class Pool:
    """Model calls in `workers` threads; at most `queue` more calls wait, the rest get :class:`Busy`.
    `niceness` is added to each thread's CPU niceness (Linux only; elsewhere it is ignored)."""

    def __init__(self, workers: int, queue: int, name: str = "worker", niceness: int = 0):
        self.workers = workers
        self.capacity = workers + queue
        self.in_flight = 0
        self.name = name
        self.niceness = niceness
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self.in_flight >= self.capacity:
            raise Busy()
        if self._executor is None:
            # Made on first use, and again after a shutdown: an app's lifespan may run more than once.
            self._executor = ThreadPoolExecutor(
                self.workers,
                thread_name_prefix=f"text2sign-{self.name}",
                initializer=_lower_priority,
                initargs=(self.niceness,),
            )
        self.in_flight += 1
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        # Counted until the thread finishes, not until the client leaves: the work still occupies a worker.
        future.add_done_callback(self._finished)
        return await asyncio.shield(future)

    def _finished(self, future: asyncio.Future) -> None:
        self.in_flight -= 1
        if not future.cancelled():
            future.exception()  # a caller that left never reads it; asyncio would log it as lost

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _lower_priority(niceness: int) -> None:
    # Linux schedules threads alone, so a thread id renices only that thread; on other systems
    # the same call would renice the whole process, or another one.
    if niceness and sys.platform == "linux":
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + niceness)
        except OSError:
            pass  # a container may forbid it; the separate pool still keeps the queues apart


class Cache:
    """Least recently used answers, bounded in count and in bytes."""

    def __init__(self, max_items: int, max_bytes: int = CACHE_MAX_BYTES):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[Any, Answer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Any) -> Answer | None:
        answer = self._items.get(key)
        if answer is not None:
            self._items.move_to_end(key)
        return answer

    def put(self, key: Any, answer: Answer) -> None:
        size = len(answer.body)
        if self.max_items == 0 or size > self.max_bytes // 4:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= len(old.body)
        self._items[key] = answer
        self.bytes += size
        while len(self._items) > self.max_items or self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped.body)


class Service:
    def __init__(self, settings: ServerSettings, models: Models | None = None):
        self.settings = settings
        self.models = models or Models(settings.model, settings.lexicon, load_options=settings.load_options)
        self.pool = Pool(settings.workers, settings.queue)
        self.draw_pool = Pool(settings.draw_workers, settings.queue, "drawing", DRAW_NICENESS)
        self.cache = Cache(settings.cache_size)
        self._model_list: list[dict] | None = None
        self.warm = False

    @property
    def in_flight(self) -> int:
        return self.pool.in_flight + self.draw_pool.in_flight

    @property
    def capacity(self) -> int:
        return self.pool.capacity + self.draw_pool.capacity

    def pool_for(self, request: SignRequest) -> Pool:
        return self.draw_pool if request.format in ("gif", "mp4") else self.pool

    def warm_up(self) -> None:
        """Load the default model and sign one letter, so the first request pays no start-up cost
        (once: ``serve`` does it before binding its port, the app's start-up otherwise)."""
        if self.warm:
            return
        pipeline = self.models.get()
        pairs = pipeline.language_pairs()
        if not pairs:
            return
        spoken, signed = ("en", "ase") if ("en", "ase") in pairs else pairs[0]
        try:
            pipeline(["a"], spoken="en" if spoken == "*" else spoken, signed=signed)
        except Text2SignError:
            pass  # an alphabet without "a": the model is loaded, which is most of the cost
        self.warm = True

    def model_list(self) -> list[dict]:
        """Every model a request can name, as ``text2sign models --json`` lists them; `default`
        marks this server's default. Computed once, from the server's own pipelines."""
        if self._model_list is None:
            from text2sign.checkpoints import directory_size
            from text2sign.families.registry import MODELS
            from text2sign.pipelines import ModelInfo, list_models

            rows = [m.to_dict() for m in list_models(load=self.models.get)]
            # Named models are list_models' to describe (from their config.json, never loaded here:
            # one whose extra is missing is still listed); what else this server serves is loaded.
            listed = {row["name"] for row in rows} | set(MODELS)
            for name in self.models.names:
                if name not in listed:
                    pipeline = self.models.get(name)
                    size = directory_size(Path(name)) if Path(name).is_dir() else None
                    rows.append(
                        ModelInfo(
                            name,
                            pipeline.name,
                            pipeline.output,
                            pipeline.language_pairs(),
                            size,
                            "served by this server",
                        ).to_dict()
                    )
            for row in rows:
                row["default"] = row["name"] == self.models.default
            self._model_list = rows
        return self._model_list

    def languages(self, model: str | None) -> dict:
        from text2sign.data.lexicon import borrowed_alphabets

        name = self.models.resolve(model)
        borrowed = borrowed_alphabets()
        pairs = self.models.get(name).language_pairs()
        return {"model": name, "pairs": [{"spoken": sp, "signed": si, "borrows": borrowed.get(si)} for sp, si in pairs]}

    @staticmethod
    def cache_key(request: SignRequest) -> tuple:
        return tuple(getattr(request, f) for f in SignRequest.__dataclass_fields__)

    def produce(self, request: SignRequest) -> Answer:
        """Sign `request.text` and encode it as `request.format` (runs in a worker thread)."""
        pipeline = self.models.get(request.model)
        if request.format in ("pose", "json") and pipeline.output != "pose":
            raise Text2SignError(f"model {request.model} makes {pipeline.output}; ask for format gif or mp4")
        options = dict(request.options)
        if pipeline.output == "pose":
            clauses = split_clauses(request.text)
        else:
            clauses = [Clause(request.text, tuple(split_words(request.text)), 0.0)]
        drawn = request.format in ("gif", "mp4")
        limit = MAX_RENDER_FRAMES if drawn else MAX_FRAMES
        # The limit is checked before the work as far as the model can tell the length, and again after.
        _check_length(self._planned_frames(pipeline, clauses, request, options), limit, request, at_least=True)
        clauses, outputs, warnings = self._sign(pipeline, clauses, request, options)
        if pipeline.output == "pose":
            signing, words, pauses = join_clauses(clauses, outputs)
        else:
            (signing,) = outputs
            words, pauses = word_spans(clauses[0].words, 0, signing.num_frames), []
        _check_length(signing.num_frames, limit, request)
        headers = {"X-Text2Sign-Model": request.model, "X-Text2Sign-Warnings": _ascii_json(warnings)}
        media_type, suffix = FORMATS[request.format]
        if suffix is not None:
            headers["Content-Disposition"] = f'attachment; filename="signing.{suffix}"'
        if request.format == "json":
            body = pose_json(
                signing,
                model=request.model,
                warnings=warnings,
                words=[s.to_dict() for s in words],
                pauses=[s.to_dict() for s in pauses],
            )
        elif request.format == "pose":
            from text2sign.pose.io import to_pose_format

            buffer = io.BytesIO()
            to_pose_format(signing).write(buffer)
            body = buffer.getvalue()
        else:
            body = _drawn(signing, suffix, request.size)
        return Answer(body, media_type, headers)

    @staticmethod
    def _planned_frames(pipeline: Pipeline, clauses: list[Clause], request: SignRequest, options: dict) -> int:
        """At least how many frames the answer will have (pauses left out: a bound, not a forecast)."""
        return sum(pipeline.frames_at_least(clause.text, request.signed, **options) for clause in clauses)

    @staticmethod
    def _sign(
        pipeline: Pipeline, clauses: list[Clause], request: SignRequest, options: dict
    ) -> tuple[list[Clause], list, list[str]]:
        """All clauses in one pipeline call. If one of them has nothing signable the call fails as a
        whole; then (unless strict) each is signed alone and the unsignable ones are skipped."""
        call = dict(spoken=request.spoken, signed=request.signed, seed=request.seed, strict=request.strict, **options)
        try:
            result = pipeline([c.text for c in clauses], **call)
            return clauses, result.outputs, result.warnings
        except TextError:
            if len(clauses) == 1 or request.strict:
                raise
        kept, outputs, warnings = [], [], []
        for clause in clauses:
            try:
                result = pipeline([clause.text], **call)
            except TextError as exc:
                warnings.append(f"skipped {clause.text!r}: {exc}")
                continue
            kept.append(clause)
            outputs.append(result.outputs[0])
            warnings.extend(w for w in result.warnings if w not in warnings)
        if not kept:
            raise TextError(f"nothing in {request.text!r} can be signed in {request.signed}")
        kept[-1] = Clause(kept[-1].text, kept[-1].words, 0.0)
        return kept, outputs, warnings

    def close(self) -> None:
        self.pool.shutdown()
        self.draw_pool.shutdown()


def _check_length(frames: int, limit: int, request: SignRequest, at_least: bool = False) -> None:
    if frames <= limit:
        return
    remedies = ["ask for format pose or json"] if request.format in ("gif", "mp4") else []
    remedies += ["sign a shorter text", *(["ask for fewer frames"] if "frames" in dict(request.options) else [])]
    more = ", ".join(remedies[:-1]) + (" or " if len(remedies) > 1 else "") + remedies[-1]
    count = f"at least {frames}" if at_least else f"{frames}"
    raise TextError(f"the signing has {count} frames and format {request.format} is limited to {limit}; {more}")


def _drawn(signing: Any, suffix: str, size: int | None) -> bytes:
    from text2sign.rendering import write_signing

    with tempfile.TemporaryDirectory(prefix="text2sign-serve-") as tmp:
        return write_signing(signing, Path(tmp) / f"signing.{suffix}", size).read_bytes()


def _ascii_json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
