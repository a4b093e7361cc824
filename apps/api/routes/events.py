"""Feedback on what was shown, stored in the tenant's event store."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Request

from apps.api.deps import ServiceDep
from apps.api.schemas import Accepted, Events
from retail_intel.events import now

router = APIRouter()


@router.post("/v1/events", response_model=Accepted, status_code=202)
def events(request: Request, service: ServiceDep, batch: Annotated[Events, Body()]) -> Accepted:
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
    service.experiments.observed(rows)  # clicks reward the bandit's choices
    return Accepted(accepted=accepted, request_id=request.state.request_id)
