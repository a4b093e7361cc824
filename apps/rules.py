"""Business rules as data (``business_rules.yml``), applied by one function in batch and real time.

``apply_rules`` takes ranked candidates (``customer_unique_id``, ``product_id``, ``score``,
``probability``, ``category``, best first per customer) and returns the lists people see:
blocked and regionally restricted products removed, items under the minimum probability
dropped, at most ``max_per_category`` per category, re-ranked 1..k, each with its
activation band. Customers left with nothing are reported with the reason.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

HIGH_VISIBILITY, COUPON, STANDARD = "high_visibility", "coupon", "standard"
NO_ITEMS_LEFT = "every candidate was removed by the business rules"
BELOW_MINIMUM = "no candidate reaches the minimum probability {minimum}"


class RulesError(ValueError):
    """The rules file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Bands:
    high_visibility: float = 0.9
    coupon: float = 0.7

    def __post_init__(self) -> None:
        if not 0 <= self.coupon <= self.high_visibility <= 1:
            raise ValueError(f"bands need 0 <= coupon ({self.coupon}) <= high_visibility ({self.high_visibility}) <= 1")


@dataclass(frozen=True)
class BusinessRules:
    blocked_products: frozenset[str] = frozenset()
    blocked_categories: frozenset[str] = frozenset()
    customer_products: Mapping[str, frozenset[str]] = field(default_factory=dict)
    customer_categories: Mapping[str, frozenset[str]] = field(default_factory=dict)
    product_states: Mapping[str, frozenset[str]] = field(default_factory=dict)
    category_states: Mapping[str, frozenset[str]] = field(default_factory=dict)
    min_probability: float = 0.0
    max_per_category: int | None = None
    bands: Bands = field(default_factory=Bands)
    version: str = "defaults"


def _strings(value: object, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(item, str | int) for item in value):
        raise RulesError(f"{where} must be a list of ids")
    return frozenset(str(item) for item in value)


def _mapping(value: object, where: str) -> dict[str, frozenset[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RulesError(f"{where} must be a mapping of id to a list")
    return {str(key): _strings(items, f"{where}.{key}") for key, items in value.items()}


def parse_rules(document: Mapping, source: str = "rules") -> BusinessRules:
    known = {"version", "do_not_recommend", "not_sold_in", "min_probability", "max_per_category", "bands"}
    unknown = set(document) - known
    if unknown:
        raise RulesError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(known))}")
    blocked = document.get("do_not_recommend") or {}
    regional = document.get("not_sold_in") or {}
    customers = blocked.get("customers") or {}
    if not isinstance(customers, dict):
        raise RulesError(f"{source}: do_not_recommend.customers must map customer ids to products/categories")
    for customer, entry in customers.items():
        if not isinstance(entry, dict) or set(entry) - {"products", "categories"}:
            raise RulesError(f"{source}: do_not_recommend.customers.{customer} takes products and categories lists")
    minimum = document.get("min_probability", 0.0)
    cap = document.get("max_per_category")
    if not isinstance(minimum, int | float) or not 0 <= minimum <= 1:
        raise RulesError(f"{source}: min_probability must be a number in [0, 1], got {minimum!r}")
    if cap is not None and (not isinstance(cap, int) or cap < 1):
        raise RulesError(f"{source}: max_per_category must be a positive integer or null, got {cap!r}")
    bands = document.get("bands") or {}
    try:
        bands = Bands(**{key: float(value) for key, value in bands.items()})
    except (TypeError, ValueError) as error:
        raise RulesError(f"{source}: bands: {error}") from error
    return BusinessRules(
        blocked_products=_strings(blocked.get("products"), f"{source}: do_not_recommend.products"),
        blocked_categories=_strings(blocked.get("categories"), f"{source}: do_not_recommend.categories"),
        customer_products={
            str(c): _strings(e.get("products"), f"{source}: do_not_recommend.customers.{c}.products")
            for c, e in customers.items()
        },
        customer_categories={
            str(c): _strings(e.get("categories"), f"{source}: do_not_recommend.customers.{c}.categories")
            for c, e in customers.items()
        },
        product_states=_mapping(regional.get("products"), f"{source}: not_sold_in.products"),
        category_states=_mapping(regional.get("categories"), f"{source}: not_sold_in.categories"),
        min_probability=float(minimum),
        max_per_category=cap,
        bands=bands,
        version=hashlib.sha256(repr(sorted(document.items(), key=str)).encode()).hexdigest()[:12],
    )


def load_rules(path: Path) -> BusinessRules:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise RulesError(f"{path}: cannot read the rules file ({error})") from error
    except yaml.YAMLError as error:
        raise RulesError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(document, dict):
        raise RulesError(f"{path}: the rules file must be a mapping")
    return parse_rules(document, str(path))


@dataclass
class RulesOutcome:
    items: pd.DataFrame  # customer_unique_id, product_id, rank, score, probability, category, band
    empty_reasons: dict[str, str]  # customers left with no item -> why
    hits: Counter  # rule name -> candidates it removed


def _band(probability: float | None, bands: Bands) -> str:
    value = 0.0 if probability is None or probability != probability else probability  # NaN -> 0
    return HIGH_VISIBILITY if value >= bands.high_visibility else COUPON if value >= bands.coupon else STANDARD


def rules_for_one(
    customer: str, state: str | None, candidates: list[tuple], rules: BusinessRules, k: int, hits: Counter
) -> tuple[list[tuple], str | None]:
    """The core both paths share: ``candidates`` are (product_id, score, probability, category)
    tuples, best first. Returns the kept (product_id, rank, score, probability, category, band)
    and, when nothing is kept, why. Plain Python: a request's few dozen candidates cost
    microseconds, where DataFrame operations would cost milliseconds."""
    own_products = rules.customer_products.get(customer, frozenset())
    own_categories = rules.customer_categories.get(customer, frozenset())
    kept: list[tuple] = []
    per_category: Counter = Counter()
    survived_rules = False
    for product, score, probability, category in candidates:
        if product in rules.blocked_products:
            hits["do_not_recommend_product"] += 1
        elif category in rules.blocked_categories:
            hits["do_not_recommend_category"] += 1
        elif product in own_products:
            hits["do_not_recommend_customer_product"] += 1
        elif category in own_categories:
            hits["do_not_recommend_customer_category"] += 1
        elif state is not None and (
            state in rules.product_states.get(product, ()) or state in rules.category_states.get(category, ())
        ):
            hits["not_sold_in_state"] += 1
        else:
            survived_rules = True
            value = None if probability is None or probability != probability else float(probability)
            if rules.min_probability > 0 and (value or 0.0) < rules.min_probability:
                hits["min_probability"] += 1
            elif rules.max_per_category is not None and per_category[category] >= rules.max_per_category:
                hits["max_per_category"] += 1
            else:
                per_category[category] += 1
                kept.append((product, len(kept) + 1, score, value, category, _band(value, rules.bands)))
                if len(kept) == k:
                    break
    if kept:
        return kept, None
    if survived_rules and rules.min_probability > 0:
        return kept, BELOW_MINIMUM.format(minimum=rules.min_probability)
    return kept, NO_ITEMS_LEFT


def apply_rules(
    candidates: pd.DataFrame, rules: BusinessRules, k: int, states: Mapping[str, str] | pd.Series | None = None
) -> RulesOutcome:
    """The first ``k`` candidates per customer that pass every rule, re-ranked, with bands.

    ``states`` maps customer ids to their state (for ``not_sold_in``); a customer without a
    known state is not restricted. Candidates keep their order within a customer. Each
    customer goes through ``rules_for_one``, as a real-time request does.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    states = states if states is not None else {}
    hits: Counter = Counter()
    rows, empty = [], {}
    columns = ["product_id", "score", "probability", "category"]
    frame = candidates.reset_index(drop=True)
    for customer, group in frame.groupby("customer_unique_id", sort=False):
        state = states.get(customer)
        state = None if state is None or state != state else str(state)
        tuples = list(zip(*(group[column].tolist() for column in columns), strict=True))
        kept, reason = rules_for_one(str(customer), state, tuples, rules, k, hits)
        rows.extend((customer, *item) for item in kept)
        if reason:
            empty[str(customer)] = reason
    items = pd.DataFrame(
        rows, columns=["customer_unique_id", "product_id", "rank", "score", "probability", "category", "band"]
    )
    items = items.astype({"rank": "int64", "score": "float64", "probability": "float64"})
    return RulesOutcome(items[["customer_unique_id", "product_id", "rank", "score", "probability", "category", "band"]],
                        empty, hits)  # fmt: skip
