"""A customer's segment from the champion segmentation."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from apps.api.deps import ServiceDep
from apps.api.schemas import CustomerId, Segment

router = APIRouter()


@router.get("/v1/customers/{customer_unique_id}/segment", response_model=Segment)
def segment(request: Request, service: ServiceDep, customer_unique_id: CustomerId) -> Segment:
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
