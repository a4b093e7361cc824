"""Request and response bodies of the HTTP service, and the constrained path and query parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

# Olist ids are 32 hex characters; anything of letters, digits, '-' and '_' up to 64 is accepted.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
STATE_PATTERN = r"^[A-Z]{2}$"
MAX_K = 100
MAX_CONTEXT = 50

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
    # What a purchase was worth (revenue per impression); other events leave it out.
    value: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class Events(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, max_length=500)


class Accepted(BaseModel):
    accepted: int
    request_id: str
