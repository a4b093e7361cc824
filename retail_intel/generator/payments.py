"""Stage 7, payments: each order's payment type and vouchers, then its payment rows and installments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .sampling import sample_cdf

if TYPE_CHECKING:  # people.py imports PERSON_PAY_P from here
    from .people import People

PAYMENT_NAMES = ("credit_card", "boleto", "voucher", "debit_card")
PAY_CC, PAY_BOLETO, PAY_VOUCHER, PAY_DEBIT = range(4)
PERSON_PAY_P = np.array([0.780, 0.205, 0.0, 0.015])


@dataclass
class PaymentChoice:
    """Per order: how it is paid (drawn before the timeline, whose approval delay depends on it)."""

    type: np.ndarray  # the main payment's type (PAY_VOUCHER when paid only with vouchers)
    voucher_use: np.ndarray
    voucher_only: np.ndarray


def draw_payment_choice(rng: np.random.Generator, people: People, order_person: np.ndarray) -> PaymentChoice:
    """The person's habitual type (90%) or a random one, and whether vouchers pay part or all of the order."""
    n_orders = order_person.size
    pay_type = np.where(
        rng.random(n_orders) < 0.9, people.pay[order_person], sample_cdf(np.cumsum(PERSON_PAY_P), rng.random(n_orders))
    )
    voucher_use = rng.random(n_orders) < np.where(people.voucher[order_person], 0.45, 0.006)
    voucher_only = voucher_use & (rng.random(n_orders) < 0.5)
    pay_type = np.where(voucher_only, PAY_VOUCHER, pay_type)
    return PaymentChoice(pay_type, voucher_use, voucher_only)


@dataclass
class Payments:
    """One row per payment (grouped by order, in payment_sequential order)."""

    order: np.ndarray
    seq: np.ndarray  # payment_sequential, 1..n within the order
    type: np.ndarray
    installments: np.ndarray
    value: np.ndarray  # cents; an order's rows sum to its total

    @property
    def n(self) -> int:
        return self.order.size


def draw_payments(
    rng: np.random.Generator,
    choice: PaymentChoice,
    order_total: np.ndarray,
    order_person: np.ndarray,
    people: People,
) -> Payments:
    """Split each order's total over its payment rows (voucher rows plus the main payment) and draw installments."""
    n_orders = order_total.size
    voucher_only = choice.voucher_only
    n_vouchers = np.where(choice.voucher_use, np.minimum(rng.geometric(0.5, n_orders), 25), 0)
    n_pay = np.where(voucher_only, n_vouchers, n_vouchers + 1)
    n_pay_rows = int(n_pay.sum())
    pay_order = np.repeat(np.arange(n_orders), n_pay)
    pay_first = np.cumsum(n_pay) - n_pay
    pay_seq = np.arange(n_pay_rows) - pay_first[pay_order] + 1
    # Position of the non-voucher payment among a split order's rows: first or last.
    primary_pos = np.where(rng.random(n_orders) < 0.4, 1, n_pay)
    is_primary = ~voucher_only[pay_order] & (pay_seq == primary_pos[pay_order])
    p_type = np.where(is_primary, choice.type[pay_order], PAY_VOUCHER)
    share = rng.exponential(1.0, n_pay_rows) * np.where(is_primary, 3.0, 1.0)
    share /= np.bincount(pay_order, weights=share, minlength=n_orders)[pay_order]
    p_value = np.floor(share * order_total[pay_order]).astype(np.int64)
    rest = order_total - np.bincount(pay_order, weights=p_value, minlength=n_orders).astype(np.int64)
    last_row = pay_first + n_pay - 1
    p_value[last_row] += rest
    # Installments: credit card only, growing with the amount and the person's habit.
    log_value = np.log(np.maximum(p_value, 100) / 10_000.0)
    habit = people.installments[order_person[pay_order]]
    p_multi = 1.0 / (1.0 + np.exp(-(0.75 + 0.9 * log_value + 0.9 * habit)))
    lam = np.exp(np.log(2.4) + 0.35 * log_value + 0.25 * habit)
    inst = np.minimum(2 + rng.poisson(lam), 10)
    long_plan = rng.random(n_pay_rows) < 0.02 * (p_value > 30_000)
    inst = np.where(long_plan, np.array([12, 15, 18, 20, 24])[rng.integers(0, 5, n_pay_rows)], inst)
    inst = np.where(rng.random(n_pay_rows) < p_multi, inst, 1)
    inst = np.where(p_type == PAY_CC, np.maximum(1, np.minimum(inst, p_value // 500)), 1)
    return Payments(pay_order, pay_seq, p_type, inst, p_value)
