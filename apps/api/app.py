"""The recommendations HTTP service: `retail-intel serve` runs ``create_app`` under uvicorn.

Precomputed lists come from ``ml.recommendations``; real-time lists are scored in-process by
the champion two-tower model against the catalogue. Both pass through the same business
rules (``rules.apply_rules``) and honour the engine switch. Every answer names the model
version it came from and carries a request id (also in the ``X-Request-ID`` header).

``create_app`` wires the pieces: the ``Tenancy`` (tenancy.py) on ``app.state``, which gives each
request its tenant's ``Service`` (service.py), reached by the routes through
``deps.ServiceDep``; the request and response bodies (schemas.py); the middleware
(middleware.py); one router per resource (routes/).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from apps.api.metrics import Metrics
from apps.api.middleware import BodyLimit, Observe
from apps.api.routes import events, forecast, health, recommendations, segments
from apps.api.tenancy import RateLimit, Tenancy, default_multi_tenant
from apps.rules import RulesError
from retail_intel.events import EVENT_TYPES
from retail_intel.settings import Settings


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


async def rules_unavailable(_: Request, error: RulesError) -> JSONResponse:
    """A tenant's business rules file that does not load, when its service is built or after an
    edit, is that tenant's configuration and not a fault of the service: 503 with the file and
    the key at fault rather than a 500; the other tenants' services hold their own rules."""
    return JSONResponse(status_code=503, content={"detail": f"the tenant's business rules do not load: {error}"})


@asynccontextmanager
async def lifespan(app: FastAPI):
    tenancy: Tenancy = app.state.tenancy
    tenancy.start()  # single-tenant: its snapshot and rules load now; a malformed rules file stops the start
    yield
    tenancy.stop()


def create_app(
    settings: Settings,
    refresh_seconds: float = 10.0,
    *,
    multi_tenant: bool | None = None,
    rate_limit: RateLimit | None = None,
) -> FastAPI:
    """The app for every tenant (``multi_tenant``: by API key), or for ``settings``' tenant alone.
    By default keys are required when the registry holds more than one active tenant."""
    metrics = Metrics()
    tenancy = Tenancy(
        settings,
        multi_tenant=default_multi_tenant(settings) if multi_tenant is None else multi_tenant,
        refresh_seconds=refresh_seconds,
        metrics=metrics,
        rate_limit=rate_limit,
    )
    app = FastAPI(
        title="retail-intel recommendations",
        version="1",
        description="Precomputed and real-time recommendations, similar products, segments, forecast and events.",
        lifespan=lifespan,
    )
    app.state.tenancy = tenancy
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(RulesError, rules_unavailable)
    app.add_middleware(BodyLimit)
    app.add_middleware(Observe, metrics=metrics)
    for resource in (recommendations, segments, forecast, events, health):
        app.include_router(resource.router)
    return app


__all__ = ["EVENT_TYPES", "create_app"]
