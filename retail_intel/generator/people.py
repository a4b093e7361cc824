"""Stage 2, the people (``customer_unique_id``): who places each order, and each person's latent tastes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog as cat
from .config import GeneratorConfig
from .geography import Geo, draw_zips
from .payments import PERSON_PAY_P
from .sampling import sample_cdf

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
N_FAVOURITES = 3
EXPLORE_P = 0.12  # share of a person's category draws outside their favourites
N_BANDS = 7  # discretisation of the person's price preference
BAND_CENTERS = np.linspace(-1.5, 1.5, N_BANDS)


def repeater_orders(rng: np.random.Generator, n: int, mean: float | None) -> np.ndarray:
    """Number of orders (>= 2) of each of n repeaters: Olist's mix, or a negative binomial with this mean."""
    if mean is None:
        return 2 + sample_cdf(np.cumsum(ORDERS_PER_REPEATER_P), rng.random(n))
    extra = float(mean) - 2.0
    return 2 + rng.negative_binomial(REPEAT_ORDERS_SHAPE, REPEAT_ORDERS_SHAPE / (REPEAT_ORDERS_SHAPE + extra), n)


def olist_orders_per_repeater() -> float:
    """The mean of Olist's orders-per-repeater mix."""
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


def assign_people(
    rng: np.random.Generator, cfg: GeneratorConfig, plan_person: np.ndarray | None
) -> tuple[np.ndarray, int]:
    """The person of each (chronological) order, and the number of people.

    ``plan_person`` is the people-driven plan (``people_timelines``), None for the
    default, calendar-driven timeline, where repeaters' order slots are permuted over
    the orders.
    """
    if plan_person is not None:
        # Rank matching: the i-th planned purchase in time becomes the i-th order of the
        # calendar, so each person's cadence survives up to a shift of a day or two, and
        # the weekday and holiday shape of the calendar is exact.
        return plan_person, int(plan_person.max()) + 1
    n_orders = int(cfg.orders)
    mean_k = olist_orders_per_repeater() if cfg.orders_per_repeater is None else float(cfg.orders_per_repeater)
    r = float(cfg.repeat_rate)
    n_rep = int(round(r * n_orders / (1.0 + r * (mean_k - 1.0))))
    k_rep = repeater_orders(rng, n_rep, cfg.orders_per_repeater)
    k_rep = k_rep[np.cumsum(k_rep) <= n_orders]
    n_single = n_orders - int(k_rep.sum())
    orders_per_person = np.concatenate([k_rep, np.ones(n_single, dtype=np.int64)])
    n_people = orders_per_person.size
    return rng.permutation(np.repeat(np.arange(n_people), orders_per_person)), n_people


@dataclass
class People:
    """Each person's latent attributes (one row per person)."""

    state: np.ndarray
    zip: np.ndarray  # row of Geo
    state_mix_cdf: np.ndarray  # (states, categories): each state's category mix, cumulative
    fav: np.ndarray  # (people, N_FAVOURITES) favourite categories
    fav_cdf: np.ndarray  # (people, N_FAVOURITES) cumulative weights of the favourites
    band: np.ndarray  # price band, 0..N_BANDS-1
    pay: np.ndarray  # habitual payment type
    voucher: np.ndarray  # a "voucher person"
    installments: np.ndarray  # installment habit
    mood: np.ndarray  # review tendency


def draw_people(rng: np.random.Generator, geo: Geo, cat_w: np.ndarray, n_people: int) -> People:
    """Each person's state, zip, favourite categories, price band, payment habits and review mood.

    ``cat_w`` is the national category mix (the categories in use, summing to 1).
    """
    n_states = len(cat.STATES)
    n_cat = cat_w.size
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
    person_mood = rng.normal(0.0, 1.0, n_people)
    return People(
        state=person_state,
        zip=person_zip,
        state_mix_cdf=state_mix_cdf,
        fav=fav,
        fav_cdf=fav_cdf,
        band=person_band,
        pay=person_pay,
        voucher=person_voucher,
        installments=person_installments,
        mood=person_mood,
    )


def draw_category(rng: np.random.Generator, people: People, person: np.ndarray) -> np.ndarray:
    """A category for each draw by ``person``: one of their favourites, or (exploring) one of their state's mix."""
    u_slot = rng.random(person.size)
    slot = (u_slot[:, None] > people.fav_cdf[person]).sum(axis=1)
    slot = np.minimum(slot, N_FAVOURITES - 1)
    out = people.fav[person, slot]
    explore = np.flatnonzero(rng.random(person.size) < EXPLORE_P)
    if explore.size:
        st = people.state[person[explore]]
        ue = rng.random(explore.size)
        for s in np.unique(st):
            sel = st == s
            out[explore[sel]] = sample_cdf(people.state_mix_cdf[s], ue[sel])
    return out
