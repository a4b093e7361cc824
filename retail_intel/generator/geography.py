"""Stage 3, geography: the zip-code pools of the synthetic Brazil, and zips drawn from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog as cat
from .sampling import sample_cdf


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
    """Each state's zip pool (sized with the orders), its cities' blocks of zips, locations and popularity."""
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


def haversine_km(lat1, lng1, lat2, lng2) -> np.ndarray:
    """Great-circle distance in km."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lng2) - np.radians(lng1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
