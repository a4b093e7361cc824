"""The published revenue forecast, the next ``days`` days of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from apps.api.deps import ServiceDep
from apps.api.schemas import Forecast, ForecastDay

router = APIRouter()


@router.get("/v1/forecast", response_model=Forecast)
def forecast(request: Request, service: ServiceDep, days: Annotated[int, Query(ge=1, le=365)] = 30) -> Forecast:
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
