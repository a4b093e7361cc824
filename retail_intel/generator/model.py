"""The generative model: latent customers, products, sellers and calendar -> nine tables.

Everything is vectorised with numpy; the only Python loops run over days of the
calendar, years, states, categories or the few messy-record kinds, plus a few passes
for the shape options (batches of people, re-purchase chains). All randomness comes
from one ``numpy.random.default_rng(seed)``, drawn in a fixed order, so one
configuration always yields the same tables.

Units: timestamps are int64 seconds since the Unix epoch (naive local time, as in
Olist), money is int64 cents. See docs/generator.md for the model itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ml.retail_calendar import black_friday

from . import catalog as cat
from .config import GeneratorConfig

DAY = 86_400
HOUR = 3_600

# ---- calibration constants (see docs/generator.md) ----------------------------------
ITEMS_PER_ORDER_P = np.array([0.900, 0.072, 0.016, 0.006, 0.003, 0.003])  # 1..6 items
ORDERS_PER_REPEATER_P = np.array([0.86, 0.10, 0.025, 0.008, 0.004, 0.003])  # 2..7 orders
# With config.orders_per_repeater, a repeater's extra orders (beyond 2) are negative
# binomial with this shape: 1 is geometric-like, so a few people order far more than the
# mean, as loyal customers do.
REPEAT_ORDERS_SHAPE = 1.0
# People-driven timelines: log-normal spread of the people's mean intervals between orders.
PERIOD_SIGMA = 0.4
# ... and the half-width (days) of the moving average that turns the people's planned
# purchase days into the calendar's trend (wide enough to hide any one person's cadence).
PEOPLE_TREND_HALF_WIDTH = 14
PRODUCTS_PER_ORDER = 0.33  # products with at least one sale, per order
SELLERS_PER_ORDER = 0.031  # sellers with at least one sale, per order
# The latent catalogue is larger; like Olist's files, the output lists only products and
# sellers that sold something (topped up with unsold ones to the minimum sizes).
PRODUCT_OVERSAMPLE = 1.75
SELLER_OVERSAMPLE = 1.25
MIN_PRODUCTS = 300
MIN_SELLERS = 50
N_FAVOURITES = 3
EXPLORE_P = 0.12  # share of a person's category draws outside their favourites
SAME_CATEGORY_P = 0.75  # extra item of an order stays in the first item's category
SAME_PRODUCT_P = 0.55  # extra item repeats the first item's product
PRICE_SIGMA = 1.05  # log-price spread within a category
PRICE_SCALE = 1.08  # on the catalogue's category medians
MAX_PRICE = 6_999.0  # Olist's dearest item is about R$6,700
N_BANDS = 7  # discretisation of the person's price preference
BAND_CENTERS = np.linspace(-1.5, 1.5, N_BANDS)
PRICE_FIT_SD = 1.0
ZIPF_EXPONENT = 0.6
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

PAYMENT_NAMES = ("credit_card", "boleto", "voucher", "debit_card")
PAY_CC, PAY_BOLETO, PAY_VOUCHER, PAY_DEBIT = range(4)
PERSON_PAY_P = np.array([0.780, 0.205, 0.0, 0.015])

# Review-score distributions (1..5) by delivery outcome.
SCORE_P_ON_TIME = np.array([0.062, 0.024, 0.078, 0.206, 0.630])
SCORE_P_LATE = np.array([0.450, 0.080, 0.120, 0.120, 0.230])
SCORE_P_UNDELIVERED = np.array([0.750, 0.070, 0.070, 0.040, 0.070])
MESSAGE_P_BY_SCORE = np.array([0.75, 0.70, 0.55, 0.36, 0.30])

# Messy-record base rates (multiplied by config.messy_rate).
MESSY_ITEMLESS_ORDERS = 0.008
MESSY_NULL_CATEGORY = 0.0185
MESSY_NULL_DIMENSIONS = 0.0004
MESSY_DUPLICATE_REVIEW_ID = 0.008
MESSY_DELIVERED_NO_DELIVERY_DATE = 0.0002
MESSY_DELIVERED_NO_APPROVAL = 0.00015
MESSY_DELIVERED_NO_CARRIER = 0.00005
MESSY_CANCELED_DELIVERED = 0.01  # of canceled orders
MESSY_CITY_VARIANT = 0.01
MESSY_GEO_CITY_VARIANT = 0.03
MESSY_GEO_DUPLICATE = 0.25
MESSY_GEO_MISSING_ZIP = 0.005

_HEX = np.array([f"{i:02x}" for i in range(256)], dtype="S2")


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------


def hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 32-character lowercase hex ids (numpy 'S32')."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16)
    ids = _HEX[raw].view("S32").ravel()
    while True:  # 128 random bits: a collision is astronomically rare, but never emit one
        _, first = np.unique(ids, return_index=True)
        if first.size == n:
            return ids
        dup = np.setdiff1d(np.arange(n), first)
        raw = np.frombuffer(rng.bytes(16 * dup.size), dtype=np.uint8).reshape(dup.size, 16)
        ids[dup] = _HEX[raw].view("S32").ravel()


def ids_to_arrow(ids: np.ndarray) -> pa.Array:
    arr = pa.Array.from_buffers(pa.binary(32), len(ids), [None, pa.py_buffer(ids.tobytes())])
    return arr.cast(pa.binary()).cast(pa.string())


def lookup(names: list[str] | tuple[str, ...], idx: np.ndarray) -> pa.Array:
    """names[idx] as an arrow string array; idx < 0 gives NULL."""
    idx = np.asarray(idx, dtype=np.int64)
    mask = idx < 0
    indices = pa.array(np.where(mask, 0, idx), type=pa.int64(), mask=mask if mask.any() else None)
    return pa.array(list(names), type=pa.string()).take(indices)


def ts_array(seconds: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    mask = None if present is None else ~present
    return pa.array(np.asarray(seconds, dtype=np.int64), type=pa.timestamp("s"), mask=mask)


def int_array(values: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    mask = None if present is None else ~present
    return pa.array(np.asarray(values, dtype=np.int64), type=pa.int64(), mask=mask)


def sample_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index drawn from a cumulative distribution (normalised here) for each uniform u."""
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), cdf.size - 1)


def sample_rows(prob: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw: prob is (n, k) with rows summing to 1."""
    cum = np.cumsum(prob, axis=1)
    return np.minimum((cum < u[:, None] * cum[:, -1:]).sum(axis=1), prob.shape[1] - 1)


def haversine_km(lat1, lng1, lat2, lng2) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lng2) - np.radians(lng1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def messy_count(rng: np.random.Generator, n: int, rate: float, at_least_one: bool = False) -> int:
    """How many of n records get a quirk at this rate (0 when rate is 0)."""
    if rate <= 0 or n == 0:
        return 0
    k = int(rng.binomial(n, min(rate, 1.0)))
    return max(k, 1) if at_least_one else k


def easter(year: int) -> np.datetime64:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D")


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------


@dataclass
class Calendar:
    days: np.ndarray  # datetime64[D]
    day0_seconds: int  # epoch seconds of days[0]
    trend: np.ndarray
    intensity: np.ndarray  # expected relative order volume per day
    congestion: np.ndarray  # >= 1: slower logistics on peak days


def build_calendar(rng: np.random.Generator, cfg: GeneratorConfig, trend: np.ndarray | None = None) -> Calendar:
    """The daily order intensity. ``trend`` (one value per day) replaces the configured one."""
    start = np.datetime64(cfg.start_date, "D")
    end = np.datetime64(cfg.end_date, "D")
    days = np.arange(start, end + 1)
    day_num = days.astype(np.int64)

    if trend is None and cfg.growth is not None:
        trend = float(cfg.growth) ** (np.arange(days.size) / (days.size - 1))
    if trend is None:
        anchor_x = np.array([np.datetime64(d, "D").astype(np.int64) for d, _ in cat.TREND_ANCHORS])
        anchor_y = np.log([v for _, v in cat.TREND_ANCHORS])
        trend = np.exp(np.interp(day_num, anchor_x, anchor_y))

    weekday = (day_num + 3) % 7
    weekly = cat.WEEKDAY_FACTORS[weekday]

    events = np.ones(days.size)
    for year in range(cfg.start_date.year, cfg.end_date.year + 1):
        marks = [(np.datetime64(f"{year:04d}-{mo:02d}-{d:02d}", "D"), f) for mo, d, f in cat.FIXED_HOLIDAYS]
        e = easter(year)
        marks += [(e + off, f) for off, f in cat.EASTER_HOLIDAYS]
        bf = np.datetime64(black_friday(year), "D")
        marks += [(bf + off, f) for off, f in cat.BLACK_FRIDAY_EFFECTS]
        for day, factor in marks:
            i = int((day - start).astype(np.int64))
            if 0 <= i < days.size:
                events[i] *= factor

    noise = np.exp(rng.normal(0.0, 0.08, days.size))
    intensity = trend * weekly * events * noise
    congestion = np.maximum(1.0, events) ** 0.4
    day0 = int(start.astype(np.int64)) * DAY
    return Calendar(days, day0, trend, intensity, congestion)


@dataclass
class Geo:
    """Zip-code pools: one row per zip prefix that exists in the synthetic Brazil."""

    zip_code: np.ndarray
    zip_state: np.ndarray
    zip_city: np.ndarray  # global city index
    zip_lat: np.ndarray
    zip_lng: np.ndarray
    state_start: np.ndarray  # zips of state s are rows state_start[s]:state_start[s+1]
    state_cum_weight: list[np.ndarray]  # per state: cdf over its zips (popularity)
    city_names: list[str]  # 5 spellings per city: plain, UPPER, Title, accented, Accented
    city_state: np.ndarray


def build_geo(rng: np.random.Generator, n_orders: int) -> Geo:
    shares = np.array([s.customer_share for s in cat.STATES])
    shares = shares / shares.sum()
    zips, states, cities, lats, lngs, starts, cdfs = [], [], [], [], [], [0], []
    city_names: list[str] = []
    city_state: list[int] = []
    city_lat: list[float] = []
    city_lng: list[float] = []
    for s, st in enumerate(cat.STATES):
        first_city = len(city_state)
        for c in st.cities:
            city_names += [c.name, c.name.upper(), c.name.title(), c.accented, c.accented.title()]
            city_state.append(s)
            city_lat.append(c.lat)
            city_lng.append(c.lng)
        span = st.zip_high - st.zip_low + 1
        size = int(min(span, max(4, np.ceil(0.2 * n_orders * shares[s]) + 3)))
        code = np.sort(st.zip_low + rng.choice(span, size=size, replace=False))
        w = np.array([c.weight for c in st.cities])
        cdf = np.cumsum(w / w.sum())
        city = first_city + sample_cdf(cdf, (np.arange(size) + 0.5) / size)
        zips.append(code)
        states.append(np.full(size, s))
        cities.append(city)
        lats.append(np.array(city_lat)[city] + rng.normal(0, 0.05, size))
        lngs.append(np.array(city_lng)[city] + rng.normal(0, 0.05, size))
        pop = rng.lognormal(0.0, 1.0, size)
        cdfs.append(np.cumsum(pop) / pop.sum())
        starts.append(starts[-1] + size)
    return Geo(
        np.concatenate(zips),
        np.concatenate(states),
        np.concatenate(cities),
        np.concatenate(lats),
        np.concatenate(lngs),
        np.array(starts),
        cdfs,
        city_names,
        np.array(city_state),
    )


def draw_zips(rng: np.random.Generator, geo: Geo, state: np.ndarray) -> np.ndarray:
    """A zip row (index into geo) for each entity, in its state, by zip popularity."""
    out = np.empty(state.size, dtype=np.int64)
    u = rng.random(state.size)
    for s in range(len(cat.STATES)):
        sel = np.flatnonzero(state == s)
        if sel.size:
            out[sel] = geo.state_start[s] + sample_cdf(geo.state_cum_weight[s], u[sel])
    return out


def listed_subset(key: np.ndarray, sold: np.ndarray, minimum: int) -> np.ndarray:
    """Indices written to a file: every entity that sold, topped up with unsold ones
    (in the random order of ``key``) until there are ``minimum`` of them (or none are left)."""
    listed = np.flatnonzero(sold)
    unsold = np.flatnonzero(~sold)
    need = min(max(0, minimum - listed.size), unsold.size)
    if need:
        extra = unsold[np.argsort(key[unsold], kind="stable")[:need]]
        listed = np.sort(np.concatenate([listed, extra]))
    return listed


def repeater_orders(rng: np.random.Generator, n: int, mean: float | None) -> np.ndarray:
    """Number of orders (>= 2) of each of n repeaters: Olist's mix, or a negative binomial with this mean."""
    if mean is None:
        return 2 + sample_cdf(np.cumsum(ORDERS_PER_REPEATER_P), rng.random(n))
    extra = float(mean) - 2.0
    return 2 + rng.negative_binomial(REPEAT_ORDERS_SHAPE, REPEAT_ORDERS_SHAPE / (REPEAT_ORDERS_SHAPE + extra), n)


def olist_orders_per_repeater() -> float:
    return float(np.dot(np.arange(2, 2 + ORDERS_PER_REPEATER_P.size), ORDERS_PER_REPEATER_P))


def people_timelines(rng: np.random.Generator, cfg: GeneratorConfig, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """People-driven purchase plans: (person, day) of each of ``cfg.orders`` orders, sorted by day.

    A person is acquired on a day drawn from the acquisition curve and plans a number of
    orders (1 for one-time buyers, ``repeater_orders`` otherwise), spaced by gamma
    intervals around a personal mean interval. Orders planned after the window are not
    observed (right-censoring, as in any real extract). People are drawn in batches until
    their observed orders cover ``cfg.orders``; they are then taken in random order until
    exactly that many orders are reached (the last one taken keeps only their earliest).
    ``day`` is fractional days since start_date.
    """
    n_orders = int(cfg.orders)
    window = float(n_days)
    r = float(cfg.repeat_rate)
    mean_k = olist_orders_per_repeater() if cfg.orders_per_repeater is None else float(cfg.orders_per_repeater)
    interval = float(cfg.order_interval_days)
    gap_shape = 1.0 / float(cfg.interval_cv) ** 2
    expected = (1 - r) + r * min(mean_k, 1 + window / (2 * interval))  # observed orders per person, roughly
    batch = int(np.ceil(1.25 * n_orders / max(1.0, expected))) + 16
    owners, days, counts = [], [], []
    n_pool = observed_total = 0
    while observed_total < n_orders:
        repeater = rng.random(batch) < r
        period = interval * rng.lognormal(0.0, PERIOD_SIGMA, batch)
        # Cap the plan where it is censored for sure anyway (bounds the memory).
        cap = 2 + np.ceil(4 * window / period).astype(np.int64)
        planned = np.where(repeater, np.minimum(repeater_orders(rng, batch, cfg.orders_per_repeater), cap), 1)
        u = rng.random(batch)
        if cfg.acquisition_mean_days is None:
            acquired = u * window
        else:
            tau = float(cfg.acquisition_mean_days)
            acquired = -tau * np.log1p(u * np.expm1(-window / tau))  # truncated exponential
        owner = np.repeat(np.arange(batch), planned)
        first = np.cumsum(planned) - planned
        step = np.zeros(owner.size)
        later = np.arange(owner.size) != first[owner]
        step[later] = rng.gamma(gap_shape, period[owner[later]] / gap_shape)
        elapsed = np.cumsum(step)
        day = acquired[owner] + elapsed - elapsed[first[owner]]
        seen = day < window
        owners.append(n_pool + owner[seen])
        days.append(day[seen])
        counts.append(np.bincount(owner[seen], minlength=batch))
        n_pool += batch
        observed_total += int(seen.sum())
    owner = np.concatenate(owners)
    day = np.concatenate(days)
    count = np.concatenate(counts)
    taken_order = rng.permutation(n_pool)
    covered = np.cumsum(count[taken_order])
    n_full = int(np.searchsorted(covered, n_orders, side="right"))  # people kept whole
    rank = np.empty(n_pool, dtype=np.int64)
    rank[taken_order] = np.arange(n_pool)
    remainder = n_orders - (int(covered[n_full - 1]) if n_full else 0)
    position = np.arange(owner.size) - (np.cumsum(count) - count)[owner]  # orders are grouped by owner, in time
    keep = (rank[owner] < n_full) | ((rank[owner] == n_full) & (position < remainder))
    person, day = rank[owner[keep]], day[keep]
    chrono = np.argsort(day, kind="stable")
    return person[chrono], day[chrono]


def people_trend(plan_day: np.ndarray, n_days: int) -> np.ndarray:
    """Daily trend implied by the planned purchase days: a centred moving average."""
    per_day = np.bincount(np.minimum(plan_day.astype(np.int64), n_days - 1), minlength=n_days).astype(float)
    running = np.concatenate([[0.0], np.cumsum(per_day)])
    day = np.arange(n_days)
    lo = np.maximum(day - PEOPLE_TREND_HALF_WIDTH, 0)
    hi = np.minimum(day + PEOPLE_TREND_HALF_WIDTH + 1, n_days)  # windows are cut at the edges
    smooth = (running[hi] - running[lo]) / (hi - lo)
    return np.maximum(smooth, 1e-3 * smooth.max())


def rebuy_sources(rng: np.random.Generator, order_person: np.ndarray, n_people: int, rate: float) -> np.ndarray:
    """For each (chronological) order, the order whose first product it re-buys (itself if none).

    With probability ``rate`` a person's non-first order copies a uniformly chosen earlier
    order of theirs; chains of copies are followed to the order that drew the product.
    """
    n_orders = order_person.size
    by_person = np.argsort(order_person, kind="stable")  # chronological within each person
    person_start = np.searchsorted(order_person[by_person], np.arange(n_people))
    position = np.empty(n_orders, dtype=np.int64)
    position[by_person] = np.arange(n_orders) - person_start[order_person[by_person]]
    rebuy = (position > 0) & (rng.random(n_orders) < rate)
    earlier = by_person[person_start[order_person] + (rng.random(n_orders) * position).astype(np.int64)]
    source = np.where(rebuy, earlier, np.arange(n_orders))
    while True:  # pointer jumping: each pass halves the longest chain
        nxt = source[source]
        if np.array_equal(nxt, source):
            return source
        source = nxt


def city_variants(rng: np.random.Generator, city: np.ndarray, rate: float) -> np.ndarray:
    """Index into Geo.city_names: the plain spelling, or a messy variant at ``rate``."""
    variant = np.zeros(city.size, dtype=np.int64)
    k = messy_count(rng, city.size, rate)
    if k:
        rows = rng.choice(city.size, size=k, replace=False)
        variant[rows] = rng.integers(1, 5, size=k)
    return city * 5 + variant


def simulate(cfg: GeneratorConfig) -> dict[str, pa.Table]:
    """Run the generative model; returns one arrow table per Olist file name.

    Column order and names follow the raw contract; money columns hold int64 cents
    (the writer formats them with two decimals).
    """
    # Two streams: ``rng`` draws the world, ``mrng`` only the messy quirks. Every draw
    # from ``rng`` has a size that does not depend on the quirks, so the same seed with
    # another messy_rate gives the same orders, people and products, only more or less
    # quirky.
    # A third stream, ``srng``, draws only what the shape options add (a category subset,
    # people-driven timelines, re-purchases); at the defaults it is never used, which is
    # what keeps the default output byte-identical to the generator before the options.
    rng, mrng, srng = np.random.default_rng(cfg.seed).spawn(3)
    messy = float(cfg.messy_rate)
    n_orders = int(cfg.orders)
    if cfg.categories is None:
        categories = cat.CATEGORIES
    else:
        sizes = np.array([c.items for c in cat.CATEGORIES], dtype=float)
        chosen = srng.choice(sizes.size, size=int(cfg.categories), replace=False, p=sizes / sizes.sum())
        categories = tuple(cat.CATEGORIES[i] for i in np.sort(chosen))
    n_cat = len(categories)
    n_states = len(cat.STATES)
    cat_w = np.array([c.items for c in categories], dtype=float)
    cat_w /= cat_w.sum()

    # ---------------------------------------------------------------- calendar
    n_days = int((np.datetime64(cfg.end_date, "D") - np.datetime64(cfg.start_date, "D")).astype(np.int64)) + 1
    if cfg.people_driven:
        # The people plan their purchases first; the calendar's trend is their smoothed
        # volume, and the weekday, holiday and noise factors apply on top as usual.
        plan_person, plan_day = people_timelines(srng, cfg, n_days)
        cal = build_calendar(rng, cfg, trend=people_trend(plan_day, n_days))
    else:
        cal = build_calendar(rng, cfg)
    per_day = rng.multinomial(n_orders, cal.intensity / cal.intensity.sum())
    order_day = np.repeat(np.arange(n_days), per_day)
    hour_cdf = np.cumsum(cat.HOUR_WEIGHTS) / cat.HOUR_WEIGHTS.sum()
    hour = sample_cdf(hour_cdf, rng.random(n_orders))
    purchase = cal.day0_seconds + order_day * DAY + hour * HOUR + rng.integers(0, HOUR, n_orders)
    chrono = np.argsort(purchase, kind="stable")
    purchase = purchase[chrono]
    order_day = order_day[chrono]
    snapshot = cal.day0_seconds + n_days * DAY  # the data is "extracted" at midnight after end_date

    # ---------------------------------------------------------------- people
    if cfg.people_driven:
        # Rank matching: the i-th planned purchase in time becomes the i-th order of the
        # calendar, so each person's cadence survives up to a shift of a day or two, and
        # the weekday and holiday shape of the calendar is exact.
        person_of_order = plan_person
        n_people = int(plan_person.max()) + 1
    else:
        mean_k = olist_orders_per_repeater() if cfg.orders_per_repeater is None else float(cfg.orders_per_repeater)
        r = float(cfg.repeat_rate)
        n_rep = int(round(r * n_orders / (1.0 + r * (mean_k - 1.0))))
        k_rep = repeater_orders(rng, n_rep, cfg.orders_per_repeater)
        k_rep = k_rep[np.cumsum(k_rep) <= n_orders]
        n_single = n_orders - int(k_rep.sum())
        orders_per_person = np.concatenate([k_rep, np.ones(n_single, dtype=np.int64)])
        n_people = orders_per_person.size
        person_of_order = rng.permutation(np.repeat(np.arange(n_people), orders_per_person))

    geo = build_geo(rng, n_orders)
    state_p = np.array([s.customer_share for s in cat.STATES])
    person_state = sample_cdf(np.cumsum(state_p / state_p.sum()), rng.random(n_people))
    person_zip = draw_zips(rng, geo, person_state)
    # Category mix of each state: the national mix tilted per state, then raked so the
    # population-weighted average of the state mixes is the national mix again.
    state_w = state_p / state_p.sum()
    state_mix = cat_w[None, :] * np.exp(rng.normal(0.0, 0.35, (n_states, n_cat)))
    for _ in range(20):
        state_mix /= state_mix.sum(axis=1, keepdims=True)
        state_mix *= (cat_w / (state_w @ state_mix))[None, :]
    state_mix /= state_mix.sum(axis=1, keepdims=True)
    state_mix_cdf = np.cumsum(state_mix, axis=1)
    # Favourite categories (drawn from the state mix) and their weights.
    fav = np.empty((n_people, N_FAVOURITES), dtype=np.int64)
    u = rng.random((n_people, N_FAVOURITES))
    for s in range(n_states):
        sel = np.flatnonzero(person_state == s)
        if sel.size:
            fav[sel] = sample_cdf(state_mix_cdf[s], u[sel])
    fav_w = rng.gamma(0.6, 1.0, (n_people, N_FAVOURITES)) + 1e-9
    fav_cdf = np.cumsum(fav_w, axis=1) / fav_w.sum(axis=1, keepdims=True)
    state_price = rng.normal(0.0, 0.15, n_states)
    person_price = rng.normal(state_price[person_state], 0.9)
    person_band = np.clip(
        np.rint((person_price - BAND_CENTERS[0]) / (BAND_CENTERS[1] - BAND_CENTERS[0])), 0, N_BANDS - 1
    ).astype(np.int64)
    person_pay = sample_cdf(np.cumsum(PERSON_PAY_P), rng.random(n_people))
    person_voucher = rng.random(n_people) < 0.05
    person_installments = rng.normal(0.0, 1.0, n_people)
    person_mood = rng.normal(0.0, 1.0, n_people)  # review tendency

    def draw_category(person: np.ndarray) -> np.ndarray:
        u_slot = rng.random(person.size)
        slot = (u_slot[:, None] > fav_cdf[person]).sum(axis=1)
        slot = np.minimum(slot, N_FAVOURITES - 1)
        out = fav[person, slot]
        explore = np.flatnonzero(rng.random(person.size) < EXPLORE_P)
        if explore.size:
            st = person_state[person[explore]]
            ue = rng.random(explore.size)
            for s in np.unique(st):
                sel = st == s
                out[explore[sel]] = sample_cdf(state_mix_cdf[s], ue[sel])
        return out

    # ---------------------------------------------------------------- sellers
    if cfg.sellers is None:
        n_sellers = max(MIN_SELLERS, int(round(SELLERS_PER_ORDER * SELLER_OVERSAMPLE * n_orders)))
    else:
        n_sellers = int(cfg.sellers)
    seller_share = np.array([s.seller_share for s in cat.STATES])
    seller_state = sample_cdf(np.cumsum(seller_share / seller_share.sum()), rng.random(n_sellers))
    seller_zip = draw_zips(rng, geo, seller_state)
    seller_size = rng.lognormal(0.0, 1.4, n_sellers)
    seller_main_cat = sample_cdf(np.cumsum(cat_w), rng.random(n_sellers))
    seller_speed = rng.lognormal(0.0, 0.3, n_sellers)  # handling-time multiplier
    seller_all_cdf = np.cumsum(seller_size) / seller_size.sum()

    # ---------------------------------------------------------------- products
    if cfg.products is None:
        n_products = max(MIN_PRODUCTS, int(round(PRODUCTS_PER_ORDER * PRODUCT_OVERSAMPLE * n_orders)))
    else:
        n_products = int(cfg.products)
    raw = cat_w * (n_products - n_cat)
    per_cat = 1 + np.floor(raw).astype(np.int64)
    short = n_products - per_cat.sum()
    per_cat[np.argsort(-(raw - np.floor(raw)), kind="stable")[:short]] += 1
    prod_cat = np.repeat(np.arange(n_cat), per_cat)  # products stored sorted by category
    cat_start = np.concatenate([[0], np.cumsum(per_cat)])
    shuffled = np.argsort(prod_cat + rng.random(n_products), kind="stable")
    rank = np.empty(n_products, dtype=np.int64)  # 0-based random rank inside the category
    rank[shuffled] = np.arange(n_products) - cat_start[prod_cat[shuffled]]
    pop = (1.0 + rank) ** -ZIPF_EXPONENT * rng.lognormal(0.0, 0.6, n_products)
    price_med = np.array([c.price_median for c in categories])
    weight_med = np.array([c.weight_median for c in categories])
    prod_z = rng.normal(0.0, 1.0, n_products)
    price = np.minimum(PRICE_SCALE * price_med[prod_cat] * np.exp(PRICE_SIGMA * prod_z), MAX_PRICE)
    ending = rng.random(n_products)
    price_cents = np.where(
        price < 10,
        np.rint(price * 100),
        np.where(
            ending < 0.5,
            np.floor(price) * 100 + 90,
            np.where(ending < 0.8, np.floor(price) * 100 + 99, np.rint(price * 100)),
        ),
    ).astype(np.int64)
    price_cents = np.maximum(price_cents, 85)
    # Launches follow the marketplace's growth: a product appears some weeks before the
    # demand that it serves (launch day drawn from the order-intensity curve, shifted back).
    day_cdf = np.cumsum(cal.intensity) / cal.intensity.sum()
    launch = sample_cdf(day_cdf, rng.random(n_products)) - rng.uniform(0, 90, n_products)
    tau = np.where(rng.random(n_products) < 0.3, 1e5, rng.lognormal(np.log(250.0), 0.7, n_products))
    quality = rng.normal(0.0, 1.0, n_products)
    weight_g = weight_med[prod_cat] * np.exp(0.5 * prod_z + rng.normal(0.0, 0.85, n_products))
    weight_g = np.clip(np.rint(weight_g), 50, 40_000)
    volume = weight_g * rng.lognormal(np.log(8.0), 0.5, n_products)
    side = np.cbrt(volume)
    length = np.clip(np.rint(side * rng.lognormal(0.25, 0.25, n_products)), 7, 105)
    height = np.clip(np.rint(side * rng.lognormal(-0.35, 0.3, n_products)), 2, 105)
    width = np.clip(np.rint(volume / (length * height)), 6, 118)
    name_len = np.clip(np.rint(rng.normal(48, 10, n_products)), 5, 76)
    desc_len = np.clip(np.rint(rng.lognormal(np.log(600), 0.7, n_products)), 4, 3992)
    photos = rng.geometric(0.55, n_products) + (rng.random(n_products) < 0.1) * rng.integers(1, 6, n_products)
    photos = np.minimum(photos, 20)
    # Main seller: a seller specialised in the category when there is one.
    prod_seller = np.empty(n_products, dtype=np.int64)
    u_main = rng.random(n_products)
    u_pick = rng.random(n_products)
    for c in range(n_cat):
        lo, hi = cat_start[c], cat_start[c + 1]
        spec = np.flatnonzero(seller_main_cat == c)
        choice = seller_all_cdf.searchsorted(u_pick[lo:hi], side="right")
        if spec.size:
            spec_cdf = np.cumsum(seller_size[spec]) / seller_size[spec].sum()
            use_spec = u_main[lo:hi] < 0.8
            choice = np.where(use_spec, spec[sample_cdf(spec_cdf, u_pick[lo:hi])], choice)
        prod_seller[lo:hi] = np.minimum(choice, n_sellers - 1)
    prod_seller2 = sample_cdf(seller_all_cdf, rng.random(n_products))
    # ---------------------------------------------------------------- items
    order_person = person_of_order
    items_p = ITEMS_PER_ORDER_P[: cfg.max_items_per_order]
    n_items_order = 1 + sample_cdf(np.cumsum(items_p), rng.random(n_orders))
    n_items = int(n_items_order.sum())
    it_order = np.repeat(np.arange(n_orders), n_items_order)
    first_item = np.cumsum(n_items_order) - n_items_order
    it_no = np.arange(n_items) - first_item[it_order] + 1
    it_person = order_person[it_order]
    it_cat = draw_category(it_person)
    first_cat = it_cat[first_item]
    same_cat = (it_no > 1) & (rng.random(n_items) < SAME_CATEGORY_P)
    it_cat = np.where(same_cat, first_cat[it_order], it_cat)

    n_buckets = int(min(40, max(1, round(n_days / 30))))
    bucket_of_day = (np.arange(n_days) * n_buckets) // n_days
    bucket_mid = (np.arange(n_buckets) + 0.5) * n_days / n_buckets
    it_row = bucket_of_day[order_day[it_order]] * N_BANDS + person_band[it_person]
    it_product = np.empty(n_items, dtype=np.int64)
    u_prod = rng.random(n_items)
    by_cat = np.argsort(it_cat, kind="stable")
    bounds = np.searchsorted(it_cat[by_cat], np.arange(n_cat + 1))
    fit = np.exp(-((prod_z[None, :] - BAND_CENTERS[:, None]) ** 2) / (2 * PRICE_FIT_SD**2))
    for c in range(n_cat):
        idx = by_cat[bounds[c] : bounds[c + 1]]
        if idx.size == 0:
            continue
        lo, hi = cat_start[c], cat_start[c + 1]
        n_c = hi - lo
        age = bucket_mid[:, None] - launch[None, lo:hi]
        life = np.where(
            age >= 0, -np.expm1(-np.maximum(age, 0) / 20.0) * np.exp(-np.maximum(age, 0) / tau[None, lo:hi]), 0.0
        )
        base = pop[None, lo:hi] * fit[:, lo:hi]  # (bands, n_c)
        w = (life[:, None, :] * base[None, :, :]).reshape(n_buckets * N_BANDS, n_c)
        row_sum = w.sum(axis=1)
        empty = row_sum <= 0
        if empty.any():  # nothing launched yet: fall back to static popularity
            w[empty] = base[np.flatnonzero(empty) % N_BANDS]
        cum = np.cumsum(w, axis=1)
        cum /= cum[:, -1:]
        cum += np.arange(n_buckets * N_BANDS)[:, None]
        rows = it_row[idx]
        pos = np.searchsorted(cum.ravel(), rows + u_prod[idx], side="right") - rows * n_c
        it_product[idx] = lo + np.clip(pos, 0, n_c - 1)
    if cfg.repurchase_rate > 0:
        source = rebuy_sources(srng, order_person, n_people, float(cfg.repurchase_rate))
        it_product[first_item] = it_product[first_item[source]]
    same_prod = (it_no > 1) & (rng.random(n_items) < SAME_PRODUCT_P)
    it_product = np.where(same_prod, it_product[first_item[it_order]], it_product)
    it_seller = np.where(rng.random(n_items) < 0.04, prod_seller2[it_product], prod_seller[it_product])
    discount = np.where(rng.random(n_items) < 0.12, rng.uniform(0.8, 0.97, n_items), 1.0)
    it_price = np.maximum(np.rint(price_cents[it_product] * discount), 85).astype(np.int64)
    cust_zip = person_zip[it_person]
    sell_zip = seller_zip[it_seller]
    dist = haversine_km(geo.zip_lat[cust_zip], geo.zip_lng[cust_zip], geo.zip_lat[sell_zip], geo.zip_lng[sell_zip])
    w_kg = weight_g[it_product] / 1000.0
    freight = (9.5 + 3.2 * w_kg**0.75 + dist / 140.0 * (1.0 + 0.3 * np.sqrt(w_kg))) * rng.lognormal(0.0, 0.25, n_items)
    freight = np.where(rng.random(n_items) < 0.003, 0.0, freight)
    it_freight = np.rint(freight * 100).astype(np.int64)
    order_total = np.bincount(it_order, weights=it_price + it_freight, minlength=n_orders)
    order_total = np.rint(order_total).astype(np.int64)

    # ---------------------------------------------------------------- payments (types)
    pay_type = np.where(
        rng.random(n_orders) < 0.9, person_pay[order_person], sample_cdf(np.cumsum(PERSON_PAY_P), rng.random(n_orders))
    )
    voucher_use = rng.random(n_orders) < np.where(person_voucher[order_person], 0.45, 0.006)
    voucher_only = voucher_use & (rng.random(n_orders) < 0.5)
    pay_type = np.where(voucher_only, PAY_VOUCHER, pay_type)

    # ---------------------------------------------------------------- order timeline
    first_seller = it_seller[first_item]
    first_dist = dist[first_item]
    interstate = seller_state[first_seller] != person_state[order_person]
    fast = rng.random(n_orders) < 0.85
    approve_delay = np.where(
        pay_type == PAY_BOLETO,
        DAY * (0.3 + rng.lognormal(np.log(1.0), 0.5, n_orders)),
        np.where(fast, rng.lognormal(np.log(15 * 60), 0.8, n_orders), rng.lognormal(np.log(20 * HOUR), 0.6, n_orders)),
    )
    carrier_delay = DAY * seller_speed[first_seller] * rng.lognormal(np.log(2.0), 0.6, n_orders)
    transit_median = TRANSIT_BASE_DAYS + 1.0 * interstate + first_dist / 160.0
    incident = np.where(rng.random(n_orders) < INCIDENT_P, rng.lognormal(np.log(INCIDENT_DAYS), 0.5, n_orders), 0.0)
    transit = (
        DAY * (transit_median * rng.lognormal(0.0, TRANSIT_SIGMA, n_orders) + incident) * cal.congestion[order_day]
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
    itemless = np.zeros(n_orders, dtype=bool)
    k = messy_count(mrng, n_orders, MESSY_ITEMLESS_ORDERS * messy)
    if k:
        rows = mrng.choice(n_orders, size=k, replace=False)
        itemless[rows] = True
        status[rows] = sample_cdf(np.cumsum(ITEMLESS_STATUS_P), mrng.random(k))
    has_appr = np.ones(n_orders, dtype=bool)
    has_carr = np.isin(status, [ST_DELIVERED, ST_SHIPPED])
    has_deliv = status == ST_DELIVERED
    has_appr[status == ST_CREATED] = False
    canceled = np.flatnonzero(status == ST_CANCELED)
    has_appr[canceled] = u_cancel_approved[canceled] < 0.85
    has_carr[canceled] = has_appr[canceled] & (u_cancel_carrier[canceled] < 0.08)
    k = messy_count(mrng, canceled.size, MESSY_CANCELED_DELIVERED * messy)
    if k:
        rows = mrng.choice(canceled, size=k, replace=False)
        has_appr[rows] = has_carr[rows] = has_deliv[rows] = True
    # Snapshot: nothing after the extraction time has happened yet.
    late_stage = has_deliv & (delivered > snapshot) & (status == ST_DELIVERED)
    to_shipped = late_stage & (carrier <= snapshot)
    to_early = (late_stage | ((status == ST_SHIPPED) & (carrier > snapshot))) & ~to_shipped
    status[to_shipped] = ST_SHIPPED
    status[to_early] = np.where(approved[to_early] <= snapshot, early_kind[to_early], ST_CREATED)
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
        k = messy_count(mrng, delivered_rows.size, rate * messy, at_least_one=delivered_rows.size >= 1000)
        if k:
            flags[mrng.choice(delivered_rows, size=k, replace=False)] = False
    is_late = has_deliv & (status == ST_DELIVERED) & (delivered > estimated)

    # ---------------------------------------------------------------- payments (rows)
    n_vouchers = np.where(voucher_use, np.minimum(rng.geometric(0.5, n_orders), 25), 0)
    n_pay = np.where(voucher_only, n_vouchers, n_vouchers + 1)
    n_pay_rows = int(n_pay.sum())
    pay_order = np.repeat(np.arange(n_orders), n_pay)
    pay_first = np.cumsum(n_pay) - n_pay
    pay_seq = np.arange(n_pay_rows) - pay_first[pay_order] + 1
    # Position of the non-voucher payment among a split order's rows: first or last.
    primary_pos = np.where(rng.random(n_orders) < 0.4, 1, n_pay)
    is_primary = ~voucher_only[pay_order] & (pay_seq == primary_pos[pay_order])
    p_type = np.where(is_primary, pay_type[pay_order], PAY_VOUCHER)
    share = rng.exponential(1.0, n_pay_rows) * np.where(is_primary, 3.0, 1.0)
    share /= np.bincount(pay_order, weights=share, minlength=n_orders)[pay_order]
    p_value = np.floor(share * order_total[pay_order]).astype(np.int64)
    rest = order_total - np.bincount(pay_order, weights=p_value, minlength=n_orders).astype(np.int64)
    last_row = pay_first + n_pay - 1
    p_value[last_row] += rest
    # Installments: credit card only, growing with the amount and the person's habit.
    log_value = np.log(np.maximum(p_value, 100) / 10_000.0)
    habit = person_installments[order_person[pay_order]]
    p_multi = 1.0 / (1.0 + np.exp(-(0.75 + 0.9 * log_value + 0.9 * habit)))
    lam = np.exp(np.log(2.4) + 0.35 * log_value + 0.25 * habit)
    inst = np.minimum(2 + rng.poisson(lam), 10)
    long_plan = rng.random(n_pay_rows) < 0.02 * (p_value > 30_000)
    inst = np.where(long_plan, np.array([12, 15, 18, 20, 24])[rng.integers(0, 5, n_pay_rows)], inst)
    inst = np.where(rng.random(n_pay_rows) < p_multi, inst, 1)
    inst = np.where(p_type == PAY_CC, np.maximum(1, np.minimum(inst, p_value // 500)), 1)

    # ---------------------------------------------------------------- reviews
    has_review = rng.random(n_orders) >= 0.006
    delivered_ok = has_deliv & (status == ST_DELIVERED)
    base_date = np.where(delivered_ok, delivered // DAY, estimated // DAY)
    creation = (base_date + 1 + sample_cdf(np.array([0.8, 0.95, 1.0]), rng.random(n_orders))) * DAY
    answer = creation + rng.integers(DAY, 3 * DAY, n_orders)
    has_review &= answer <= snapshot
    rev = np.flatnonzero(has_review)  # chronological (orders are sorted by purchase time)
    group = np.where(delivered_ok[rev], np.where(is_late[rev], 1, 0), 2)
    probs = np.stack([SCORE_P_ON_TIME, SCORE_P_LATE, SCORE_P_UNDELIVERED])[group]
    tilt = 0.35 * (person_mood[order_person[rev]] + 0.8 * quality[it_product[first_item[rev]]])
    probs = probs * np.exp(tilt[:, None] * (np.arange(5)[None, :] - 2.0) / 2.0)
    probs /= probs.sum(axis=1, keepdims=True)
    u_review = rng.random((5, n_orders))[:, rev]  # score, message, title, title text, message text
    score = 1 + sample_rows(probs, u_review[0])
    has_msg = u_review[1] < MESSAGE_P_BY_SCORE[score - 1]
    has_title = u_review[2] < np.where(has_msg, 0.28, 0.04)
    sentiment = np.where(score <= 2, 0, np.where(score == 3, 1, 2))
    titles = [cat.REVIEW_TITLES_NEGATIVE, cat.REVIEW_TITLES_NEUTRAL, cat.REVIEW_TITLES_POSITIVE]
    messages = [cat.REVIEW_MESSAGES_NEGATIVE, cat.REVIEW_MESSAGES_NEUTRAL, cat.REVIEW_MESSAGES_POSITIVE]
    title_names = [t for pool in titles for t in pool]
    msg_names = [t for pool in messages for t in pool]
    title_off = np.cumsum([0] + [len(p) for p in titles])
    msg_off = np.cumsum([0] + [len(p) for p in messages])
    title_len = np.diff(title_off)
    msg_len = np.diff(msg_off)
    title_idx = title_off[sentiment] + (u_review[3] * title_len[sentiment]).astype(np.int64)
    msg_idx = msg_off[sentiment] + (u_review[4] * msg_len[sentiment]).astype(np.int64)
    title_idx = np.where(has_title, title_idx, -1)
    msg_idx = np.where(has_msg, msg_idx, -1)
    review_ids = hex_ids(rng, n_orders)[rev]
    rev_creation = creation[rev]
    rev_answer = answer[rev]
    # Messy: a review id reused on the neighbouring (previous) order, with its content.
    k = messy_count(mrng, rev.size // 2, 2 * MESSY_DUPLICATE_REVIEW_ID * messy)
    if k:
        odd = 1 + 2 * mrng.choice(rev.size // 2, size=k, replace=False)
        src = odd - 1
        review_ids[odd] = review_ids[src]
        score[odd] = score[src]
        title_idx[odd] = title_idx[src]
        msg_idx[odd] = msg_idx[src]
        rev_creation[odd] = rev_creation[src]
        rev_answer[odd] = rev_answer[src]

    # ---------------------------------------------------------------- ids
    order_ids = hex_ids(rng, n_orders)
    customer_ids = hex_ids(rng, n_orders)
    person_ids = hex_ids(rng, n_people)
    product_ids = hex_ids(rng, n_products)
    seller_ids = hex_ids(rng, n_sellers)

    # ---------------------------------------------------------------- tables
    tables: dict[str, pa.Table] = {}
    perm = rng.permutation(n_orders)
    cust_zip_o = person_zip[order_person]
    cust_city = city_variants(mrng, geo.zip_city[cust_zip_o], MESSY_CITY_VARIANT * messy)
    state_codes = [s.code for s in cat.STATES]
    tables["olist_customers_dataset.csv"] = pa.table(
        {
            "customer_id": ids_to_arrow(customer_ids[perm]),
            "customer_unique_id": ids_to_arrow(person_ids[order_person[perm]]),
            "customer_zip_code_prefix": pa.array(geo.zip_code[cust_zip_o[perm]].astype(str)),
            "customer_city": lookup(geo.city_names, cust_city[perm]),
            "customer_state": lookup(state_codes, person_state[order_person[perm]]),
        }
    )

    perm = rng.permutation(n_orders)
    tables["olist_orders_dataset.csv"] = pa.table(
        {
            "order_id": ids_to_arrow(order_ids[perm]),
            "customer_id": ids_to_arrow(customer_ids[perm]),
            "order_status": lookup(STATUS_NAMES, status[perm]),
            "order_purchase_timestamp": ts_array(purchase[perm]),
            "order_approved_at": ts_array(approved[perm], has_appr[perm]),
            "order_delivered_carrier_date": ts_array(carrier[perm], has_carr[perm]),
            "order_delivered_customer_date": ts_array(delivered[perm], has_deliv[perm]),
            "order_estimated_delivery_date": ts_array(estimated[perm]),
        }
    )

    keep = ~itemless[it_order]
    shipping_limit = approved[it_order] + DAY * rng.integers(2, 8, n_items)  # a deadline: may lie ahead
    shipping_limit = (shipping_limit // HOUR) * HOUR + purchase[it_order] % HOUR
    item_sort = np.lexsort((it_no, order_ids[it_order]))
    item_sort = item_sort[keep[item_sort]]
    tables["olist_order_items_dataset.csv"] = pa.table(
        {
            "order_id": ids_to_arrow(order_ids[it_order[item_sort]]),
            "order_item_id": int_array(it_no[item_sort]),
            "product_id": ids_to_arrow(product_ids[it_product[item_sort]]),
            "seller_id": ids_to_arrow(seller_ids[it_seller[item_sort]]),
            "shipping_limit_date": ts_array(shipping_limit[item_sort]),
            "price": int_array(it_price[item_sort]),
            "freight_value": int_array(it_freight[item_sort]),
        }
    )

    perm = rng.permutation(n_pay_rows)
    tables["olist_order_payments_dataset.csv"] = pa.table(
        {
            "order_id": ids_to_arrow(order_ids[pay_order[perm]]),
            "payment_sequential": int_array(pay_seq[perm]),
            "payment_type": lookup(PAYMENT_NAMES, p_type[perm]),
            "payment_installments": int_array(inst[perm]),
            "payment_value": int_array(p_value[perm]),
        }
    )

    perm = np.argsort(rng.random(n_orders)[rev], kind="stable")
    tables["olist_order_reviews_dataset.csv"] = pa.table(
        {
            "review_id": ids_to_arrow(review_ids[perm]),
            "order_id": ids_to_arrow(order_ids[rev[perm]]),
            "review_score": int_array(score[perm]),
            "review_comment_title": lookup(title_names, title_idx[perm]),
            "review_comment_message": lookup(msg_names, msg_idx[perm]),
            "review_creation_date": ts_array(rev_creation[perm]),
            "review_answer_timestamp": ts_array(rev_answer[perm]),
        }
    )

    sold_items = item_sort  # item rows that are written
    product_key = rng.random(n_products)
    # A configured catalogue (or seller count) is listed whole, like a shop's catalogue export.
    listed_products = listed_subset(
        product_key,
        np.bincount(it_product[sold_items], minlength=n_products) > 0,
        MIN_PRODUCTS if cfg.products is None else n_products,
    )
    listed_sellers = listed_subset(
        rng.random(n_sellers),
        np.bincount(it_seller[sold_items], minlength=n_sellers) > 0,
        MIN_SELLERS if cfg.sellers is None else n_sellers,
    )
    null_cat = np.zeros(n_products, dtype=bool)
    k = messy_count(mrng, listed_products.size, MESSY_NULL_CATEGORY * messy)
    if k:
        null_cat[mrng.choice(listed_products, size=k, replace=False)] = True
    null_dim = np.zeros(n_products, dtype=bool)
    k = messy_count(mrng, listed_products.size, MESSY_NULL_DIMENSIONS * messy, at_least_one=True)
    if k:
        null_dim[mrng.choice(listed_products, size=k, replace=False)] = True
    perm = listed_products[np.argsort(product_key[listed_products], kind="stable")]
    cat_names = [c.name for c in categories]
    tables["olist_products_dataset.csv"] = pa.table(
        {
            "product_id": ids_to_arrow(product_ids[perm]),
            "product_category_name": lookup(cat_names, np.where(null_cat, -1, prod_cat)[perm]),
            "product_name_lenght": int_array(name_len[perm], ~null_cat[perm]),
            "product_description_lenght": int_array(desc_len[perm], ~null_cat[perm]),
            "product_photos_qty": int_array(photos[perm], ~null_cat[perm]),
            "product_weight_g": int_array(weight_g[perm], ~null_dim[perm]),
            "product_length_cm": int_array(length[perm], ~null_dim[perm]),
            "product_height_cm": int_array(height[perm], ~null_dim[perm]),
            "product_width_cm": int_array(width[perm], ~null_dim[perm]),
        }
    )

    ls = listed_sellers
    seller_city = city_variants(mrng, geo.zip_city[seller_zip[ls]], MESSY_CITY_VARIANT * messy)
    tables["olist_sellers_dataset.csv"] = pa.table(
        {
            "seller_id": ids_to_arrow(seller_ids[ls]),
            "seller_zip_code_prefix": pa.array(geo.zip_code[seller_zip[ls]].astype(str)),
            "seller_city": lookup(geo.city_names, seller_city),
            "seller_state": lookup(state_codes, seller_state[ls]),
        }
    )

    translated = [c for c in cat.CATEGORIES if c.english is not None]
    tables["product_category_name_translation.csv"] = pa.table(
        {
            "product_category_name": pa.array([c.name for c in translated]),
            "product_category_name_english": pa.array([c.english for c in translated]),
        }
    )

    # Geolocation: every zip prefix in use plus some unused ones, 3-10 jittered points each.
    used = np.zeros(geo.zip_code.size, dtype=bool)
    used[cust_zip_o] = True
    used[seller_zip[ls]] = True
    used_rows = np.flatnonzero(used)
    n_pool = geo.zip_code.size
    extra = rng.random(n_pool) < 0.15
    reps_all = rng.integers(3, 11, n_pool)
    jitter = rng.normal(0.0, 0.01, (2, n_pool, 10))
    k = messy_count(mrng, used_rows.size, MESSY_GEO_MISSING_ZIP * messy)
    missing = mrng.choice(used_rows, size=k, replace=False) if k else np.array([], dtype=np.int64)
    listed = used | extra
    listed[missing] = False
    geo_zip = np.flatnonzero(listed)
    geo_zip = geo_zip[np.argsort(geo.zip_code[geo_zip], kind="stable")]
    reps = reps_all[geo_zip]
    g_zip = np.repeat(geo_zip, reps)
    n_geo = g_zip.size
    g_first = np.repeat(np.cumsum(reps) - reps, reps)
    g_rep = np.arange(n_geo) - g_first
    g_lat = geo.zip_lat[g_zip] + jitter[0, g_zip, g_rep]
    g_lng = geo.zip_lng[g_zip] + jitter[1, g_zip, g_rep]
    # Messy: exact duplicate points within a zip (Olist repeats many rows verbatim).
    dup = (g_rep > 0) & (mrng.random(n_geo) < min(0.9, MESSY_GEO_DUPLICATE * messy))
    src = np.where(dup, np.maximum.accumulate(np.where(dup, 0, np.arange(n_geo))), np.arange(n_geo))
    g_lat = np.round(g_lat[src], 14)
    g_lng = np.round(g_lng[src], 14)
    g_city = city_variants(mrng, geo.zip_city[g_zip], MESSY_GEO_CITY_VARIANT * messy)
    tables["olist_geolocation_dataset.csv"] = pa.table(
        {
            "geolocation_zip_code_prefix": pa.array(geo.zip_code[g_zip].astype(str)),
            "geolocation_lat": pa.array(g_lat),
            "geolocation_lng": pa.array(g_lng),
            "geolocation_city": lookup(geo.city_names, g_city),
            "geolocation_state": lookup(state_codes, geo.zip_state[g_zip]),
        }
    )
    return tables
