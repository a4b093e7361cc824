"""Stage 8, reviews: which orders get one, its dates, its score (by delivery outcome, mood and quality)
and its comment texts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog as cat
from .messy import MESSY_DUPLICATE_REVIEW_ID, messy_rows
from .sampling import DAY, hex_ids, sample_cdf, sample_rows
from .timeline import ST_DELIVERED, OrderStatus, Timeline

# Review-score distributions (1..5) by delivery outcome.
SCORE_P_ON_TIME = np.array([0.062, 0.024, 0.078, 0.206, 0.630])
SCORE_P_LATE = np.array([0.450, 0.080, 0.120, 0.120, 0.230])
SCORE_P_UNDELIVERED = np.array([0.750, 0.070, 0.070, 0.040, 0.070])
MESSAGE_P_BY_SCORE = np.array([0.75, 0.70, 0.55, 0.36, 0.30])

# The comment texts by sentiment (negative, neutral, positive), flattened: a text is the
# offset of its sentiment's pool plus its place in the pool.
_TITLE_POOLS = [cat.REVIEW_TITLES_NEGATIVE, cat.REVIEW_TITLES_NEUTRAL, cat.REVIEW_TITLES_POSITIVE]
_MESSAGE_POOLS = [cat.REVIEW_MESSAGES_NEGATIVE, cat.REVIEW_MESSAGES_NEUTRAL, cat.REVIEW_MESSAGES_POSITIVE]
TITLE_NAMES = [t for pool in _TITLE_POOLS for t in pool]
MESSAGE_NAMES = [t for pool in _MESSAGE_POOLS for t in pool]


@dataclass
class Reviews:
    """One row per review, in the (chronological) order of their orders."""

    order: np.ndarray
    id: np.ndarray  # 'S32' hex ids
    score: np.ndarray  # 1..5
    title: np.ndarray  # index into TITLE_NAMES, -1 = none
    message: np.ndarray  # index into MESSAGE_NAMES, -1 = none
    creation: np.ndarray  # epoch seconds
    answer: np.ndarray


def draw_reviews(
    rng: np.random.Generator,
    mrng: np.random.Generator,
    messy: float,
    timeline: Timeline,
    settled: OrderStatus,
    snapshot: int,
    mood: np.ndarray,
    quality: np.ndarray,
) -> Reviews:
    """The reviews answered by the snapshot. ``mood`` is each order's person's review mood, ``quality`` the
    quality of each order's first product."""
    n_orders = settled.status.size
    has_review = rng.random(n_orders) >= 0.006
    delivered_ok = settled.has_delivered & (settled.status == ST_DELIVERED)
    base_date = np.where(delivered_ok, timeline.delivered // DAY, timeline.estimated // DAY)
    creation = (base_date + 1 + sample_cdf(np.array([0.8, 0.95, 1.0]), rng.random(n_orders))) * DAY
    answer = creation + rng.integers(DAY, 3 * DAY, n_orders)
    has_review &= answer <= snapshot
    rev = np.flatnonzero(has_review)  # chronological (orders are sorted by purchase time)
    group = np.where(delivered_ok[rev], np.where(settled.is_late[rev], 1, 0), 2)
    probs = np.stack([SCORE_P_ON_TIME, SCORE_P_LATE, SCORE_P_UNDELIVERED])[group]
    tilt = 0.35 * (mood[rev] + 0.8 * quality[rev])
    probs = probs * np.exp(tilt[:, None] * (np.arange(5)[None, :] - 2.0) / 2.0)
    probs /= probs.sum(axis=1, keepdims=True)
    u_review = rng.random((5, n_orders))[:, rev]  # score, message, title, title text, message text
    score = 1 + sample_rows(probs, u_review[0])
    has_msg = u_review[1] < MESSAGE_P_BY_SCORE[score - 1]
    has_title = u_review[2] < np.where(has_msg, 0.28, 0.04)
    sentiment = np.where(score <= 2, 0, np.where(score == 3, 1, 2))
    title_off = np.cumsum([0] + [len(p) for p in _TITLE_POOLS])
    msg_off = np.cumsum([0] + [len(p) for p in _MESSAGE_POOLS])
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
    picked = messy_rows(mrng, rev.size // 2, 2 * MESSY_DUPLICATE_REVIEW_ID * messy)
    if picked.size:
        odd = 1 + 2 * picked
        src = odd - 1
        review_ids[odd] = review_ids[src]
        score[odd] = score[src]
        title_idx[odd] = title_idx[src]
        msg_idx[odd] = msg_idx[src]
        rev_creation[odd] = rev_creation[src]
        rev_answer[odd] = rev_answer[src]
    return Reviews(rev, review_ids, score, title_idx, msg_idx, rev_creation, rev_answer)
