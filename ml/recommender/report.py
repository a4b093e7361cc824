"""The recommender's evaluation as people read it: a Markdown report and a bar chart."""

from __future__ import annotations

import io

import pandas as pd

from ml.recommender.evaluation import FULL, SAMPLED

HEADLINE = ["customers", "pairs", "hr_at_1", "hr_at_10", "ndcg_at_10", "mrr_at_10", "catalog_coverage"]


def _section(metrics: pd.DataFrame, protocol: str, segment: str) -> str:
    table = metrics.loc[(metrics["protocol"] == protocol) & (metrics["segment"] == segment)]
    columns = [column for column in HEADLINE if column in table.columns and table[column].notna().any()]
    return table.set_index("model")[columns].to_markdown(floatfmt=".4f")


def evaluation_report(result) -> str:
    """Every candidate on validation and test, which one was chosen and why, each figure labelled."""
    split = result.split
    candidates = result.candidates.drop(columns="family")
    lines = [
        "# Recommender: candidates, selection and evaluation",
        "",
        f"Time window: validation {split['validation_start']} to {split['cutoff']}, test {split['cutoff']} to "
        f"{split['end']} ({split['test_customers']} customers). Next purchase: each customer's last order "
        "held out for test and the one before it for validation. Every candidate learns from what precedes "
        f"each held-out window; the choice is made on the validation window of {split['selection_protocol']}; "
        "test figures are reported, never chosen on.",
        "",
        f"**Chosen: {result.chosen_name}**, {result.chosen_reason}.",
        "",
        candidates.to_markdown(index=False, floatfmt=".4f"),
        "",
    ]
    for protocol, reason in result.not_applicable.items():
        lines += [f"Protocol {protocol} not applicable: {reason}.", ""]
    for prefix, split in (("", "time window"), ("next_purchase_", "next purchase")):
        for protocol, title in (
            (FULL, "full catalogue (every product ranked, already-bought excluded)"),
            (SAMPLED, "sampled: the held-out item among 99 random items never bought (flatters every model)"),
        ):
            for segment in ("all", "repeat", "first_time"):
                rows = (result.metrics["protocol"] == prefix + protocol) & (result.metrics["segment"] == segment)
                if rows.any():
                    heading = f"## Test, {split}, {title}: {segment.replace('_', '-')} customers"
                    lines += [heading, "", _section(result.metrics, prefix + protocol, segment), ""]
    for protocol, split in (("time_window", "time window"), ("next_purchase", "next purchase")):
        for comparisons, window in ((result.comparisons, "test"), (result.validation_comparisons, "validation")):
            if len(comparisons):
                chosen = comparisons.loc[comparisons["protocol"] == protocol]
                lines += _comparison_section(chosen, result.chosen_name, f"{split}, {window}")
    lines += [
        "## Chosen on the validation window",
        "",
        ", ".join(f"{key} = {value}" for key, value in result.chosen.items()),
        "",
        "## Calibration of `probability` (test window, top-K per customer)",
        "",
        ", ".join(f"{key} = {value:.4g}" for key, value in result.calibration.items()),
        "",
    ]
    return "\n".join(lines)


def _comparison_section(comparisons: pd.DataFrame, chosen: str, window: str) -> list[str]:
    """The chosen candidate minus each other one, full catalogue, with the 95% paired bootstrap interval."""
    if comparisons.empty:
        return []
    table = comparisons.assign(
        lead=lambda frame: [
            f"{row.difference:+.4f} [{row.ci_low:+.4f}, {row.ci_high:+.4f}]"
            + (" *" if row.ci_low > 0 or row.ci_high < 0 else "")
            for row in frame.itertuples()
        ]
    ).pivot_table(index=["segment", "baseline"], columns="metric", values="lead", aggfunc="first", sort=False)
    return [
        f"## {chosen} minus each other candidate (full catalogue, {window})",
        "",
        "Mean per-customer difference and 95% paired bootstrap interval over that window's customers; "
        "`*` marks an interval that excludes zero. An interval across zero is a tie at this sample size.",
        "",
        table.to_markdown(),
        "",
    ]


def metrics_plot(metrics: pd.DataFrame, title: str = "") -> bytes:
    """PNG bytes: full-catalog HR@10 per model and customer segment."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = metrics.loc[metrics["protocol"] == FULL].pivot_table(
        index="model", columns="segment", values="hr_at_10", sort=False
    )
    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    table.plot.bar(ax=axes, rot=0)
    axes.set_ylabel("HR@10, full catalogue (test window)")
    axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
