"""The recommendations HTTP service: `retail-intel serve` runs ``create_app`` under uvicorn.

Precomputed lists come from ``ml.recommendations``; real-time lists are scored in-process by
the champion two-tower model against the catalogue. Both pass through the same business
rules (``rules.apply_rules``) and honour the engine switch. Every answer names the model
version it came from and carries a request id (also in the ``X-Request-ID`` header).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Literal

import numpy as np
from fastapi import Body, FastAPI, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PromCounter
from pydantic import BaseModel, ConfigDict, Field

from apps.api.snapshot import Snapshot, Snapshots
from apps.rules import BusinessRules, load_rules, rules_for_one
from ml.registry import ModelRegistry
from retail_intel.events import EVENT_TYPES, EventStore, now
from retail_intel.settings import Settings
from retail_intel.switch import OFF, EngineSwitch

# Olist ids are 32 hex characters; anything of letters, digits, '-' and '_' up to 64 is accepted.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
STATE_PATTERN = r"^[A-Z]{2}$"
MAX_K = 100
MAX_CONTEXT = 50
MAX_BODY_BYTES = 64 * 1024
# Real-time candidates scored before the rules: enough that blocked items and category caps
# still leave k to show.
CANDIDATE_FACTOR, MIN_CANDIDATES = 5, 50

CustomerId = Annotated[str, Path(pattern=ID_PATTERN, description="customer_unique_id")]
ProductId = Annotated[str, Path(pattern=ID_PATTERN, description="product_id")]
K = Annotated[int, Query(ge=1, le=MAX_K, description="number of items")]


class Item(BaseModel):
    product_id: str
    rank: int
    score: float
    probability: float | None = Field(description="calibrated probability of purchase in the next 30 days")
    band: Literal["high_visibility", "coupon", "standard"]
    category: str | None = None


class Recommendations(BaseModel):
    customer_unique_id: str | None
    status: Literal["ok", "empty", "disabled"]
    reason: str | None = None
    items: list[Item]
    cold_start: bool = False
    model_version: str | None
    rules_version: str
    engine: Literal["on", "frozen", "off"]
    request_id: str


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_unique_id: str | None = Field(default=None, pattern=ID_PATTERN)
    customer_state: str | None = Field(default=None, pattern=STATE_PATTERN, description="two-letter state code")
    viewed: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list, max_length=MAX_CONTEXT)
    cart: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list, max_length=MAX_CONTEXT)
    k: int = Field(default=10, ge=1, le=MAX_K)


class Similar(BaseModel):
    product_id: str
    items: list[dict[str, float | str | int]]
    model_version: str
    request_id: str


class Segment(BaseModel):
    customer_unique_id: str
    segment: str
    cluster: int
    recency_days: int
    frequency: int
    monetary: float
    model_version: str
    request_id: str


class ForecastDay(BaseModel):
    date: str
    yhat: float
    yhat_lower: float
    yhat_upper: float


class Forecast(BaseModel):
    days: list[ForecastDay]
    model_name: str
    model_version: str
    request_id: str


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: Literal["impression", "click", "add_to_cart", "purchase"]
    customer_unique_id: str | None = Field(default=None, pattern=ID_PATTERN)
    product_id: str | None = Field(default=None, pattern=ID_PATTERN)
    model_version: str | None = Field(default=None, max_length=200)
    request_id: str | None = Field(default=None, max_length=64)
    occurred_at: datetime | None = None


class Events(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, max_length=500)


class Accepted(BaseModel):
    accepted: int
    request_id: str


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = PromCounter(
            "retail_intel_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "retail_intel_request_seconds",
            "request latency",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.model_version = Gauge(
            "retail_intel_model_info", "model version being served (1 = current)", ["model_version"],
            registry=self.registry,
        )  # fmt: skip
        self.rule_hits = PromCounter(
            "retail_intel_rule_hits", "candidates removed per rule", ["rule"], registry=self.registry
        )
        self.cold_starts = PromCounter(
            "retail_intel_cold_starts", "real-time cold-start answers", registry=self.registry
        )


class Service:
    """What the endpoints share: snapshots, rules, switch, events, metrics."""

    def __init__(self, settings: Settings, snapshots: Snapshots) -> None:
        self.settings = settings
        self.snapshots = snapshots
        self.switch = EngineSwitch(settings.engine_switch_path)
        self.metrics = Metrics()
        self.events: EventStore | None = None
        self._rules: tuple[float, BusinessRules] | None = None
        self._reported_version: str | None = None

    def rules(self) -> BusinessRules:
        path = self.settings.rules_path
        modified = path.stat().st_mtime_ns
        if self._rules is None or self._rules[0] != modified:
            self._rules = (modified, load_rules(path))
        return self._rules[1]

    def snapshot(self) -> Snapshot:
        snapshot = self.snapshots.current()
        if snapshot is None:
            raise HTTPException(503, f"not ready: {self.snapshots.last_error or 'loading'}")
        if snapshot.model_version != self._reported_version:  # only when a new champion arrived
            self.metrics.model_version.clear()
            self.metrics.model_version.labels(snapshot.model_version).set(1)
            self._reported_version = snapshot.model_version
        return snapshot

    def answer(
        self, snapshot: Snapshot, customer: str | None, candidates: list[tuple], k: int, request_id: str, **extra
    ) -> Recommendations:
        """``candidates``: (product_id, score, probability, category) tuples, best first."""
        rules = self.rules()
        state = extra.get("state") or (snapshot.states.get(customer) if customer else None)
        state = None if state is None or state != state else str(state)
        hits: Counter = Counter()
        kept, reason = rules_for_one(customer or "", state, candidates, rules, k, hits)
        for rule, count in hits.items():
            self.metrics.rule_hits.labels(rule).inc(count)
        items = [
            Item(
                product_id=product,
                rank=rank,
                score=score,
                probability=probability,
                band=band,
                category=None if category is None or category != category else str(category),
            )  # fmt: skip
            for product, rank, score, probability, category, band in kept
        ]
        return Recommendations(
            customer_unique_id=customer,
            status="ok" if items else "empty",
            reason=reason,
            items=items,
            cold_start=extra.get("cold_start", False),
            model_version=extra.get("model_version") or snapshot.model_version,
            rules_version=rules.version,
            engine=self.switch.state,
            request_id=request_id,
        )

    def disabled(self, customer: str | None, request_id: str) -> Recommendations:
        record = self.switch.current()
        return Recommendations(
            customer_unique_id=customer,
            status="disabled",
            reason=f"the recommendation engine is off (set by {record.changed_by} at {record.changed_at})",
            items=[],
            model_version=None,
            rules_version=self.rules().version,
            engine=OFF,
            request_id=request_id,
        )


def _finite(value):
    """``value`` with every non-finite float written as text: JSON has no infinity."""
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, except that the echoed input may hold 1e309 (read as infinity), which its
    own handler cannot serialise: it answered 500 to ``{"k": 1e309}``."""
    return JSONResponse(status_code=422, content={"detail": _finite(jsonable_encoder(error.errors()))})


def create_app(settings: Settings, refresh_seconds: float = 10.0) -> FastAPI:
    """The app for one tenant. The first snapshot loads at start-up; later ones in the background."""
    registry = ModelRegistry(settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root)
    service = Service(settings, Snapshots(settings, registry, refresh_seconds))

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        service.rules()  # a malformed rules file stops the start with its message
        service.events = EventStore(settings)
        service.snapshots.start()
        yield
        service.snapshots.stop()
        service.events.close()

    app = FastAPI(
        title="retail-intel recommendations",
        version="1",
        description="Precomputed and real-time recommendations, similar products, segments, forecast and events.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_middleware(BodyLimit)
    app.add_middleware(Observe, metrics=service.metrics)

    def snapshot_or_disabled(request: Request, customer: str | None) -> Snapshot | Recommendations:
        if service.switch.state == OFF:
            return service.disabled(customer, request.state.request_id)
        return service.snapshot()

    @app.get("/v1/customers/{customer_unique_id}/recommendations", response_model=Recommendations)
    def precomputed(request: Request, customer_unique_id: CustomerId, k: K = 10) -> Recommendations:
        """The nightly list of a customer, after the business rules."""
        snapshot = snapshot_or_disabled(request, customer_unique_id)
        if isinstance(snapshot, Recommendations):
            return snapshot
        candidates = snapshot.lists.get(customer_unique_id)
        if candidates is None:
            raise HTTPException(404, f"unknown customer_unique_id {customer_unique_id!r}")
        # The table's own version: a champion promoted since the last run has not written it yet.
        return service.answer(
            snapshot, customer_unique_id, candidates, k, request.state.request_id, model_version=snapshot.lists_version
        )

    @app.post("/v1/recommendations", response_model=Recommendations)
    def real_time(request: Request, context: Annotated[Context, Body()]) -> Recommendations:
        """Scored now by the champion from the customer's history and features plus the context
        (viewed and cart products, state). Unknown customers get a cold start from their features."""
        snapshot = snapshot_or_disabled(request, context.customer_unique_id)
        if isinstance(snapshot, Recommendations):
            return snapshot
        context_items = [*context.viewed, *context.cart]
        unknown = [item for item in context_items if item not in snapshot.categories]
        if unknown:
            raise HTTPException(422, f"unknown product_id(s) in the context: {', '.join(sorted(set(unknown))[:10])}")
        customer = context.customer_unique_id or f"anonymous-{request.state.request_id}"
        state = context.customer_state or (
            snapshot.states.get(context.customer_unique_id) if context.customer_unique_id else None
        )
        candidates, cold_start = snapshot.scorer.recommend(
            context.customer_unique_id, state, context_items, max(MIN_CANDIDATES, CANDIDATE_FACTOR * context.k)
        )
        if cold_start:
            service.metrics.cold_starts.inc()
        categories = snapshot.categories
        candidates = [
            (product, score, probability, categories.get(product))
            for product, score, probability in zip(
                candidates["product_id"].tolist(),
                candidates["score"].tolist(),
                candidates["probability"].tolist(),
                strict=True,
            )
        ]
        answer = service.answer(
            snapshot, customer, candidates, context.k, request.state.request_id, cold_start=cold_start, state=state
        )
        answer.customer_unique_id = context.customer_unique_id
        return answer

    @app.get("/v1/products/{product_id}/similar", response_model=Similar)
    def similar(request: Request, product_id: ProductId, k: K = 10) -> Similar:
        """Nearest products by the champion: cosine similarity of its item vectors, or its item-to-item scores."""
        snapshot = service.snapshot()
        position = snapshot.item_ids.get_indexer([product_id])[0]
        if position < 0:
            raise HTTPException(404, f"unknown product_id {product_id!r}")
        similarity = snapshot.scorer.similarity(position).astype("float64")
        similarity[position] = -np.inf
        top = np.argsort(-similarity, kind="stable")[:k]
        items = [
            {"product_id": str(snapshot.item_ids[i]), "rank": rank, "similarity": float(similarity[i])}
            for rank, i in enumerate(top, start=1)
        ]
        return Similar(
            product_id=product_id, items=items, model_version=snapshot.model_version,
            request_id=request.state.request_id,
        )  # fmt: skip

    @app.get("/v1/customers/{customer_unique_id}/segment", response_model=Segment)
    def segment(request: Request, customer_unique_id: CustomerId) -> Segment:
        snapshot = service.snapshot()
        if customer_unique_id not in snapshot.segments.index:
            raise HTTPException(404, f"unknown customer_unique_id {customer_unique_id!r}")
        row = snapshot.segments.loc[customer_unique_id]
        return Segment(
            customer_unique_id=customer_unique_id,
            segment=str(row["segment"]),
            cluster=int(row["cluster"]),
            recency_days=int(row["recency_days"]),
            frequency=int(row["frequency"]),
            monetary=float(row["monetary"]),
            model_version=str(row["model_version"]),
            request_id=request.state.request_id,
        )

    @app.get("/v1/forecast", response_model=Forecast)
    def forecast(request: Request, days: Annotated[int, Query(ge=1, le=365)] = 30) -> Forecast:
        snapshot = service.snapshot()
        table = snapshot.forecast
        if days > len(table):
            raise HTTPException(422, f"days={days} exceeds the published forecast's horizon of {len(table)} days")
        rows = table.head(days)
        return Forecast(
            days=[
                ForecastDay(
                    date=str(row.date)[:10],
                    yhat=float(row.yhat),
                    yhat_lower=float(row.yhat_lower),
                    yhat_upper=float(row.yhat_upper),
                )  # fmt: skip
                for row in rows.itertuples(index=False)
            ],
            model_name=str(rows["model_name"].iloc[0]),
            model_version=str(rows["model_version"].iloc[0]),
            request_id=request.state.request_id,
        )

    @app.post("/v1/events", response_model=Accepted, status_code=202)
    def events(request: Request, batch: Annotated[Events, Body()]) -> Accepted:
        """Impressions, clicks, add-to-carts and purchases, with the model version and request id they follow."""
        received = now()
        rows = [
            {
                **event.model_dump(exclude={"occurred_at"}),
                "event_id": uuid.uuid4().hex,
                "occurred_at": (event.occurred_at or received).replace(tzinfo=None),
                "received_at": received,
            }
            for event in batch.events
        ]
        accepted = service.events.add(rows)
        return Accepted(accepted=accepted, request_id=request.state.request_id)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        snapshot = service.snapshots.current()
        body = {
            "ready": snapshot is not None,
            "model_version": snapshot.model_version if snapshot else None,
            "engine": service.switch.state,
            "last_error": service.snapshots.last_error,
        }
        return JSONResponse(body, status_code=200 if snapshot is not None else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> Response:
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


class Observe:
    """Request id (``request.state.request_id`` and the X-Request-ID header), request counts and
    latency per route. Plain ASGI: Starlette's BaseHTTPMiddleware costs about a millisecond a request."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}
        started = time.perf_counter()

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            self.metrics.requests.labels(endpoint, str(status["code"])).inc()


class BodyLimit:
    """Refuses bodies over ``limit`` bytes with 413, declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)(
                scope, receive, send
            )
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


__all__ = ["EVENT_TYPES", "create_app"]
