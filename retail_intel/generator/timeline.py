"""Stage 6, timeline and status: each order's approval, carrier, delivery and estimated dates, and its status
as seen at the snapshot (with the status quirks of real data)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .demand import Calendar, Purchases
from .items import Items
from .messy import (
    MESSY_CANCELED_DELIVERED,
    MESSY_DELIVERED_NO_APPROVAL,
    MESSY_DELIVERED_NO_CARRIER,
    MESSY_DELIVERED_NO_DELIVERY_DATE,
    MESSY_ITEMLESS_ORDERS,
    messy_rows,
)
from .payments import PAY_BOLETO
from .people import People
from .sampling import DAY, HOUR, sample_cdf
from .sellers import Sellers

# Logistics (days): transit median = base + 1 if interstate + km / 160, log-normal noise,
# plus rare incidents (lost parcels, strikes); the promised date is a padded multiple.
TRANSIT_BASE_DAYS = 3.0
TRANSIT_SIGMA = 0.55
INCIDENT_P = 0.06
INCIDENT_DAYS = 12.0
EST_BASE_DAYS = 8.5
EST_TRANSIT_FACTOR = 1.7

# Base order statuses of orders that keep their items (before the snapshot cut).
STATUS_NAMES = ("delivered", "shipped", "canceled", "unavailable", "invoiced", "processing", "created", "approved")
(ST_DELIVERED, ST_SHIPPED, ST_CANCELED, ST_UNAVAILABLE, ST_INVOICED, ST_PROCESSING, ST_CREATED, ST_APPROVED) = range(8)
STATUS_P = np.array([0.9770, 0.0060, 0.0048, 0.0015, 0.0032, 0.0030, 0.00006, 0.00004])
# Statuses of orders that lose their items (messy): mostly unavailable/canceled.
ITEMLESS_STATUS_P = np.array([0.0, 0.01, 0.22, 0.75, 0.01, 0.0, 0.01, 0.0])


@dataclass
class Timeline:
    """Per order: the dates it would have if nothing stopped it, its drawn status, and the uniforms that
    settle it (drawn here, from the world stream, whatever the status turns out to be)."""

    approved: np.ndarray  # epoch seconds
    carrier: np.ndarray
    delivered: np.ndarray
    estimated: np.ndarray
    status: np.ndarray  # base status, before the quirks and the snapshot cut
    u_cancel_approved: np.ndarray
    u_cancel_carrier: np.ndarray
    early_kind: np.ndarray  # invoiced or processing, for orders the snapshot catches early


def draw_timeline(
    rng: np.random.Generator,
    purchases: Purchases,
    cal: Calendar,
    pay_type: np.ndarray,
    items: Items,
    sellers: Sellers,
    people: People,
    order_person: np.ndarray,
) -> Timeline:
    """Approval (by payment type), carrier handover (by the first item's seller), transit (by distance,
    interstate, incidents and congestion), the promised date, and the base status."""
    purchase = purchases.time
    first_seller = items.seller[items.first]
    first_dist = items.dist[items.first]
    interstate = sellers.state[first_seller] != people.state[order_person]
    n_orders = purchase.size
    fast = rng.random(n_orders) < 0.85
    approve_delay = np.where(
        pay_type == PAY_BOLETO,
        DAY * (0.3 + rng.lognormal(np.log(1.0), 0.5, n_orders)),
        np.where(fast, rng.lognormal(np.log(15 * 60), 0.8, n_orders), rng.lognormal(np.log(20 * HOUR), 0.6, n_orders)),
    )
    carrier_delay = DAY * sellers.speed[first_seller] * rng.lognormal(np.log(2.0), 0.6, n_orders)
    transit_median = TRANSIT_BASE_DAYS + 1.0 * interstate + first_dist / 160.0
    incident = np.where(rng.random(n_orders) < INCIDENT_P, rng.lognormal(np.log(INCIDENT_DAYS), 0.5, n_orders), 0.0)
    transit = (
        DAY * (transit_median * rng.lognormal(0.0, TRANSIT_SIGMA, n_orders) + incident) * cal.congestion[purchases.day]
    )
    approved = purchase + approve_delay.astype(np.int64)
    carrier = approved + carrier_delay.astype(np.int64)
    delivered = carrier + transit.astype(np.int64)
    est_days = np.ceil(EST_BASE_DAYS + EST_TRANSIT_FACTOR * transit_median).astype(np.int64) + rng.integers(
        0, 4, n_orders
    )
    estimated = (purchase // DAY + est_days) * DAY

    status = sample_cdf(np.cumsum(STATUS_P), rng.random(n_orders))
    u_cancel_approved = rng.random(n_orders)
    u_cancel_carrier = rng.random(n_orders)
    early_kind = np.where(rng.random(n_orders) < 0.55, ST_INVOICED, ST_PROCESSING)
    return Timeline(approved, carrier, delivered, estimated, status, u_cancel_approved, u_cancel_carrier, early_kind)


@dataclass
class OrderStatus:
    """Per order: the status written, which timestamps are written, and the derived flags."""

    status: np.ndarray
    itemless: np.ndarray  # the order's items are not written (messy)
    has_approved: np.ndarray
    has_carrier: np.ndarray
    has_delivered: np.ndarray
    is_late: np.ndarray  # delivered after the estimated date


def settle_status(mrng: np.random.Generator, messy: float, timeline: Timeline, snapshot: int) -> OrderStatus:
    """The status and timestamps as extracted at ``snapshot``: the status quirks (itemless orders, canceled
    orders that were delivered), then the snapshot cut, then delivered orders missing a timestamp."""
    status = timeline.status.copy()
    approved, carrier, delivered = timeline.approved, timeline.carrier, timeline.delivered
    n_orders = status.size
    itemless = np.zeros(n_orders, dtype=bool)
    rows = messy_rows(mrng, n_orders, MESSY_ITEMLESS_ORDERS * messy)
    if rows.size:
        itemless[rows] = True
        status[rows] = sample_cdf(np.cumsum(ITEMLESS_STATUS_P), mrng.random(rows.size))
    has_appr = np.ones(n_orders, dtype=bool)
    has_carr = np.isin(status, [ST_DELIVERED, ST_SHIPPED])
    has_deliv = status == ST_DELIVERED
    has_appr[status == ST_CREATED] = False
    canceled = np.flatnonzero(status == ST_CANCELED)
    has_appr[canceled] = timeline.u_cancel_approved[canceled] < 0.85
    has_carr[canceled] = has_appr[canceled] & (timeline.u_cancel_carrier[canceled] < 0.08)
    rows = messy_rows(mrng, canceled, MESSY_CANCELED_DELIVERED * messy)
    if rows.size:
        has_appr[rows] = has_carr[rows] = has_deliv[rows] = True
    # Snapshot: nothing after the extraction time has happened yet.
    late_stage = has_deliv & (delivered > snapshot) & (status == ST_DELIVERED)
    to_shipped = late_stage & (carrier <= snapshot)
    to_early = (late_stage | ((status == ST_SHIPPED) & (carrier > snapshot))) & ~to_shipped
    status[to_shipped] = ST_SHIPPED
    status[to_early] = np.where(approved[to_early] <= snapshot, timeline.early_kind[to_early], ST_CREATED)
    pending = np.isin(status, [ST_INVOICED, ST_PROCESSING, ST_APPROVED]) & (approved > snapshot)
    status[pending] = ST_CREATED
    has_appr &= (approved <= snapshot) & (status != ST_CREATED)
    has_carr &= (carrier <= snapshot) & np.isin(status, [ST_DELIVERED, ST_SHIPPED, ST_CANCELED])
    has_deliv &= (delivered <= snapshot) & np.isin(status, [ST_DELIVERED, ST_CANCELED])
    # Messy: delivered orders missing a timestamp.
    delivered_rows = np.flatnonzero(status == ST_DELIVERED)
    for rate, flags in (
        (MESSY_DELIVERED_NO_DELIVERY_DATE, has_deliv),
        (MESSY_DELIVERED_NO_APPROVAL, has_appr),
        (MESSY_DELIVERED_NO_CARRIER, has_carr),
    ):
        flags[messy_rows(mrng, delivered_rows, rate * messy, at_least_one=delivered_rows.size >= 1000)] = False
    is_late = has_deliv & (status == ST_DELIVERED) & (delivered > timeline.estimated)
    return OrderStatus(status, itemless, has_appr, has_carr, has_deliv, is_late)
