"""Team-draft interleaving of two rankers' lists, click attribution and the preference test.

Each impression merges the champion's list A and a challenger's list B: the teams take turns
(a coin decides who picks first in each round) and each adds its best item not yet shown,
remembering which team contributed it. A click credits the team of the clicked item; an
impression where A's items drew more clicks is a win for A. Over many impressions, the share of
wins among decided ones tests "A and B are equally good" with a two-sided sign test: far fewer
impressions reach a verdict than an A/B test on the same truth, because every user compares
both rankers at once. ``replay`` runs the same comparison offline on logged clicks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

TEAM_A, TEAM_B = "A", "B"


def team_draft(a: Sequence[str], b: Sequence[str], k: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """The interleaved list of length at most ``k`` and each position's team."""
    lists = {TEAM_A: list(a), TEAM_B: list(b)}
    cursor = {TEAM_A: 0, TEAM_B: 0}
    picks = {TEAM_A: 0, TEAM_B: 0}
    shown: list[str] = []
    teams: list[str] = []

    def next_unseen(team: str) -> str | None:
        source = lists[team]
        while cursor[team] < len(source) and source[cursor[team]] in shown:
            cursor[team] += 1
        return source[cursor[team]] if cursor[team] < len(source) else None

    while len(shown) < k:
        # The team with fewer picks goes next; on a tie a coin decides; a team with nothing
        # left to add passes its turn.
        if picks[TEAM_A] != picks[TEAM_B]:
            first = TEAM_A if picks[TEAM_A] < picks[TEAM_B] else TEAM_B
        else:
            first = TEAM_A if rng.random() < 0.5 else TEAM_B
        second = TEAM_B if first == TEAM_A else TEAM_A
        team = first if next_unseen(first) is not None else second
        item = next_unseen(team)
        if item is None:
            break
        shown.append(item)
        teams.append(team)
        picks[team] += 1
    return shown, teams


def credit(teams: Sequence[str], clicked_positions: Iterable[int]) -> str | None:
    """The impression's winner: the team whose items drew more clicks, None on a tie."""
    counts = {TEAM_A: 0, TEAM_B: 0}
    for position in clicked_positions:
        counts[teams[position]] += 1
    if counts[TEAM_A] == counts[TEAM_B]:
        return None
    return TEAM_A if counts[TEAM_A] > counts[TEAM_B] else TEAM_B


@dataclass(frozen=True)
class Preference:
    wins_a: int
    wins_b: int
    ties: int
    delta: float  # (wins_a - wins_b) / impressions with any click
    p_value: float  # two-sided sign test on the decided impressions


def preference(winners: Iterable[str | None]) -> Preference:
    outcomes = list(winners)
    wins_a = sum(1 for winner in outcomes if winner == TEAM_A)
    wins_b = sum(1 for winner in outcomes if winner == TEAM_B)
    ties = len(outcomes) - wins_a - wins_b
    decided = wins_a + wins_b
    p_value = 1.0 if decided == 0 else float(stats.binomtest(wins_a, decided, 0.5).pvalue)
    delta = (wins_a - wins_b) / decided if decided else 0.0
    return Preference(wins_a, wins_b, ties, delta, p_value)


def replay(
    visits: Iterable[tuple[str, set[str]]],
    lists_a: Callable[[str], Sequence[str]],
    lists_b: Callable[[str], Sequence[str]],
    k: int,
    rng: np.random.Generator,
) -> Preference:
    """Offline interleaving from logged events, before anyone is exposed: for each logged visit
    (customer, products clicked), team-draft what A and B would show now and credit each logged
    click that lands in the interleaved list to the team that contributed it.

    A screen, not a verdict: clicks exist only on what the logging lists showed, so the ranker
    closer to the one that served the logs is favoured; an online test decides."""
    winners = []
    for customer, clicked in visits:
        shown, teams = team_draft(lists_a(customer), lists_b(customer), k, rng)
        winners.append(credit(teams, [position for position, item in enumerate(shown) if item in clicked]))
    return preference(winners)
