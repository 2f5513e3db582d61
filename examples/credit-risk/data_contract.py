"""The credit-risk dataset's data contract, checked with pandera.

Why pandera (and not Great Expectations): the contract is a pandas DataFrameSchema in plain Python
next to the trainer, versioned with it and importable by the trainer image and the CI stage alike;
typed per-column checks (dtype with coercion, nullability, ranges, allowed values) and lazy
validation return *every* failure as a table of (column, check, row index, value), which is what the
report needs (which column, which rule, how many rows). Great Expectations brings a project layout,
a data context, stores and its own runtime to the image for the same checks.

Bump CONTRACT_VERSION whenever a rule changes: reports and MLflow runs record it.
"""

from __future__ import annotations

from typing import Any

CONTRACT_NAME = "credit-risk"
CONTRACT_VERSION = "1"

TARGET = "default"

# column -> rule set. Types are what the CSV columns are coerced to; `max_null_fraction` applies to
# columns that may be missing now and then (a spike above it fails the batch); every other column
# is non-nullable.
COLUMNS: dict[str, dict[str, Any]] = {
    "age": {"dtype": "int64", "min": 18, "max": 100},
    "annual_income": {"dtype": "float64", "min": 0, "max": 10_000_000, "min_exclusive": True},
    "employment_years": {"dtype": "float64", "min": 0, "max": 80, "max_null_fraction": 0.05},
    "loan_amount": {"dtype": "float64", "min": 0, "max": 5_000_000, "min_exclusive": True},
    "loan_term_months": {"dtype": "int64", "allowed": [12, 24, 36, 48, 60]},
    "credit_score": {"dtype": "int64", "min": 300, "max": 850},
    "debt_to_income": {"dtype": "float64", "min": 0, "max": 5},
    "credit_utilization": {"dtype": "float64", "min": 0, "max": 1.5},
    "num_open_accounts": {"dtype": "int64", "min": 0, "max": 100},
    "delinquencies_2y": {"dtype": "int64", "min": 0, "max": 50},
    # 0 rent, 1 mortgage, 2 own
    "home_ownership": {"dtype": "int64", "allowed": [0, 1, 2]},
    TARGET: {"dtype": "int64", "allowed": [0, 1]},
}

# Whole-batch rules.
MIN_ROWS = 200
MAX_ROWS = 5_000_000
# A dated batch (raw/<dataset>/<YYYY-MM-DD>/) older than this many days is stale.
MAX_AGE_DAYS = 7


def schema():
    """The pandera DataFrameSchema of one batch (columns in any order; extra columns are refused)."""
    import pandera.pandas as pa

    columns = {}
    for name, rule in COLUMNS.items():
        checks = []
        if "min" in rule:
            if rule.get("min_exclusive"):
                checks.append(pa.Check.gt(rule["min"]))
            else:
                checks.append(pa.Check.ge(rule["min"]))
        if "max" in rule:
            checks.append(pa.Check.le(rule["max"]))
        if "allowed" in rule:
            checks.append(pa.Check.isin(rule["allowed"]))
        nullable = "max_null_fraction" in rule
        if nullable:
            limit = rule["max_null_fraction"]
            checks.append(
                pa.Check(
                    lambda s, limit=limit: s.isna().mean() <= limit,
                    ignore_na=False,
                    name="max_null_fraction",
                )
            )
        # Nullable int columns hold NaN as float; only employment_years is nullable and it is float.
        columns[name] = pa.Column(rule["dtype"], checks=checks, nullable=nullable, coerce=True, required=True)
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(
                lambda df: MIN_ROWS <= len(df) <= MAX_ROWS,
                name="row_count",
            )
        ],
        strict=True,
        name=f"{CONTRACT_NAME}@{CONTRACT_VERSION}",
    )


def describe() -> dict[str, Any]:
    """The contract as data (logged with every report)."""
    return {
        "name": CONTRACT_NAME,
        "version": CONTRACT_VERSION,
        "columns": COLUMNS,
        "rows": {"min": MIN_ROWS, "max": MAX_ROWS},
        "freshness": {"max_age_days": MAX_AGE_DAYS},
    }
