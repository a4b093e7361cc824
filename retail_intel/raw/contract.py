"""The nine Olist CSV files exactly as Kaggle publishes them.

This is the single description of the raw input: the loader validates against it,
the generator writes it, and the dbt sources read the tables it names. Column names
keep Olist's own spelling (``product_name_lenght``) so that a user's Kaggle download
loads unchanged.

Types are what a value must parse as. Empty strings are NULL. Zip-code prefixes stay
text because Olist wrote them as integers and so lost their leading zeros; staging
restores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "integer", "double", "money", "timestamp"]


@dataclass(frozen=True)
class RawFile:
    file_name: str
    columns: tuple[tuple[str, ColumnType], ...]
    # Real Olist folders sometimes ship these header-only; the pipeline must still build.
    may_be_empty: bool = False

    @property
    def table_name(self) -> str:
        return self.file_name.removesuffix(".csv")

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


RAW_FILES: tuple[RawFile, ...] = (
    RawFile(
        "olist_customers_dataset.csv",
        (
            ("customer_id", "text"),
            ("customer_unique_id", "text"),
            ("customer_zip_code_prefix", "text"),
            ("customer_city", "text"),
            ("customer_state", "text"),
        ),
    ),
    RawFile(
        "olist_orders_dataset.csv",
        (
            ("order_id", "text"),
            ("customer_id", "text"),
            ("order_status", "text"),
            ("order_purchase_timestamp", "timestamp"),
            ("order_approved_at", "timestamp"),
            ("order_delivered_carrier_date", "timestamp"),
            ("order_delivered_customer_date", "timestamp"),
            ("order_estimated_delivery_date", "timestamp"),
        ),
    ),
    RawFile(
        "olist_order_items_dataset.csv",
        (
            ("order_id", "text"),
            ("order_item_id", "integer"),
            ("product_id", "text"),
            ("seller_id", "text"),
            ("shipping_limit_date", "timestamp"),
            ("price", "money"),
            ("freight_value", "money"),
        ),
    ),
    RawFile(
        "olist_order_payments_dataset.csv",
        (
            ("order_id", "text"),
            ("payment_sequential", "integer"),
            ("payment_type", "text"),
            ("payment_installments", "integer"),
            ("payment_value", "money"),
        ),
    ),
    RawFile(
        "olist_order_reviews_dataset.csv",
        (
            ("review_id", "text"),
            ("order_id", "text"),
            ("review_score", "integer"),
            ("review_comment_title", "text"),
            ("review_comment_message", "text"),
            ("review_creation_date", "timestamp"),
            ("review_answer_timestamp", "timestamp"),
        ),
        may_be_empty=True,
    ),
    RawFile(
        "olist_products_dataset.csv",
        (
            ("product_id", "text"),
            ("product_category_name", "text"),
            ("product_name_lenght", "double"),
            ("product_description_lenght", "double"),
            ("product_photos_qty", "double"),
            ("product_weight_g", "double"),
            ("product_length_cm", "double"),
            ("product_height_cm", "double"),
            ("product_width_cm", "double"),
        ),
    ),
    RawFile(
        "olist_sellers_dataset.csv",
        (
            ("seller_id", "text"),
            ("seller_zip_code_prefix", "text"),
            ("seller_city", "text"),
            ("seller_state", "text"),
        ),
    ),
    RawFile(
        "product_category_name_translation.csv",
        (
            ("product_category_name", "text"),
            ("product_category_name_english", "text"),
        ),
    ),
    RawFile(
        "olist_geolocation_dataset.csv",
        (
            ("geolocation_zip_code_prefix", "text"),
            ("geolocation_lat", "double"),
            ("geolocation_lng", "double"),
            ("geolocation_city", "text"),
            ("geolocation_state", "text"),
        ),
        may_be_empty=True,
    ),
)

RAW_FILES_BY_NAME: dict[str, RawFile] = {raw.file_name: raw for raw in RAW_FILES}

# Olist order statuses. Revenue counts every status except these two: the goods never left.
ORDER_STATUSES = (
    "created",
    "approved",
    "invoiced",
    "processing",
    "shipped",
    "delivered",
    "canceled",
    "unavailable",
)
NON_REVENUE_STATUSES = ("canceled", "unavailable")
PAYMENT_TYPES = ("credit_card", "boleto", "voucher", "debit_card", "not_defined")
