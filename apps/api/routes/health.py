"""Liveness, readiness and the Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.api.deps import TenancyDep

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(tenancy: TenancyDep) -> JSONResponse:
    if tenancy.multi_tenant:
        # Each tenant's readiness shows on its own requests (503 until its snapshot loads).
        loaded = tenancy.loaded()
        ready = sum(1 for service in loaded if service.snapshots.current() is not None)
        return JSONResponse(
            {"ready": True, "mode": "multi-tenant", "tenants_loaded": len(loaded), "tenants_ready": ready}
        )
    service = tenancy.service_for(tenancy.settings.tenant_id)
    snapshot = service.snapshots.current()
    body = {
        "ready": snapshot is not None,
        "model_version": snapshot.model_version if snapshot else None,
        "engine": service.switch.state,
        "last_error": service.snapshots.last_error,
        "experiment_error": service.experiment_error,
    }
    return JSONResponse(body, status_code=200 if snapshot is not None else 503)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(tenancy: TenancyDep) -> Response:
    return Response(generate_latest(tenancy.metrics.registry), media_type=CONTENT_TYPE_LATEST)
