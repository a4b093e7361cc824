"""ml.coupon_targets: written by `retail-intel score` (apps/activation.py), not by a run of the
graph. Declared so that the lineage shows it where the dashboard and Tableau read it."""

import dagster as dg

coupon_targets = dg.AssetSpec(
    ["ml", "coupon_targets"],
    group_name="ml",
    deps=[["ml", "recommendations"], ["marts", "customer_rfm"], ["marts", "products"]],
    description=(
        "One row per customer of the last campaign: the recommended product, its calibrated purchase "
        "probability, the band (high_visibility, coupon, standard) and the action. Written by "
        "`retail-intel score`, outside the nightly graph."
    ),
    kinds={"python"},
)
