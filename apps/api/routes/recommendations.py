"""Recommendations: a customer's precomputed list, a real-time list from a context, and similar products."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Body, HTTPException, Request

from apps.api.deps import ServiceDep
from apps.api.schemas import Context, CustomerId, K, ProductId, Recommendations, Similar
from apps.api.service import listed

# Real-time candidates scored before the rules: enough that blocked items and category caps
# still leave k to show.
CANDIDATE_FACTOR, MIN_CANDIDATES = 5, 50

router = APIRouter()


@router.get("/v1/customers/{customer_unique_id}/recommendations", response_model=Recommendations)
def precomputed(request: Request, service: ServiceDep, customer_unique_id: CustomerId, k: K = 10) -> Recommendations:
    """The nightly list of a customer, after the business rules."""
    snapshot = service.snapshot_or_disabled(customer_unique_id, request.state.request_id)
    if isinstance(snapshot, Recommendations):
        return snapshot
    candidates = snapshot.lists.get(customer_unique_id)
    if candidates is None:
        raise HTTPException(404, f"unknown customer_unique_id {customer_unique_id!r}")

    def arm_rows(source) -> list[tuple]:
        if source.name == snapshot.lists_version:
            return candidates
        return listed(source, customer_unique_id, snapshot.categories)

    in_experiment = service.in_experiment(snapshot, customer_unique_id, arm_rows, k, request.state.request_id)
    if in_experiment is not None:
        return in_experiment
    # The table's own version: a champion promoted since the last run has not written it yet.
    return service.answer(
        snapshot, customer_unique_id, candidates, k, request.state.request_id, model_version=snapshot.lists_version
    )


@router.post("/v1/recommendations", response_model=Recommendations)
def real_time(request: Request, service: ServiceDep, context: Annotated[Context, Body()]) -> Recommendations:
    """Scored now by the champion from the customer's history and features plus the context
    (viewed and cart products, state). Unknown customers get a cold start from their features."""
    snapshot = service.snapshot_or_disabled(context.customer_unique_id, request.state.request_id)
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
    depth = max(MIN_CANDIDATES, CANDIDATE_FACTOR * context.k)
    cold = []

    def scored(scorer) -> list[tuple]:
        found, cold_start = scorer.recommend(context.customer_unique_id, state, context_items, depth)
        cold.append(cold_start)
        return _rows(found, snapshot.categories)

    def arm_rows(source) -> list[tuple]:
        if source.scorer is not None:
            return scored(source.scorer)
        return [
            row
            for row in listed(source, context.customer_unique_id, snapshot.categories)
            if row[0] not in context_items
        ]

    answer = service.in_experiment(
        snapshot, context.customer_unique_id, arm_rows, context.k, request.state.request_id, state=state
    )
    if answer is None:
        candidates = scored(snapshot.scorer)
        answer = service.answer(snapshot, customer, candidates, context.k, request.state.request_id, state=state)
    answer.cold_start = any(cold)
    if answer.cold_start:
        service.metrics.cold_starts.inc()
    answer.customer_unique_id = context.customer_unique_id
    return answer


def _rows(candidates, categories: dict[str, str]) -> list[tuple]:
    return [
        (product, score, probability, categories.get(product))
        for product, score, probability in zip(
            candidates["product_id"].tolist(),
            candidates["score"].tolist(),
            candidates["probability"].tolist(),
            strict=True,
        )
    ]


@router.get("/v1/products/{product_id}/similar", response_model=Similar)
def similar(request: Request, service: ServiceDep, product_id: ProductId, k: K = 10) -> Similar:
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
