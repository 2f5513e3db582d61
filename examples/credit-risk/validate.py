#!/usr/bin/env python3
"""Validate one data batch against the credit-risk data contract (data_contract.py, pandera).

    python validate.py --data s3://<raw-bucket>/credit-risk/2026-12-01/ --data-version 2026-12-01 \
        --report-dir validation/

--data is a local file or folder, or an s3:// prefix (boto3, default credentials). Every *.csv
below it is one part of the batch; `_manifest.json` (written last by the ingestion job) is checked
against the parts' checksums and row counts when present. The report (report.json + report.md)
names each failure's column, rule and number of rows. On success the batch is pinned: the data
version becomes `<label>@sha256:<digest of the parts>`, which the training Job is given
(MLOPS_DATA_VERSION) and the trainer checks before it trains (load_for_training): data that changed
after validation, or that was never validated, is refused.

Exit codes: 0 valid, 1 contract violated (report written), 2 batch unreadable / bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import re
import sys
from typing import Any

import data_contract

MANIFEST = "_manifest.json"
PINNED = re.compile(r"^(?P<label>.+)@sha256:(?P<hex>[0-9a-f]{64})$")
DATE = re.compile(r"(?<![0-9])(\d{4}-\d{2}-\d{2})(?![0-9])")
MAX_EXAMPLES = 5


class BatchError(Exception):
    """The batch cannot be read (exit 2)."""


class DataRefused(Exception):
    """The trainer was handed data that is not the validated batch, or data that violates the contract."""

    def __init__(self, message: str, report: dict[str, Any] | None = None):
        super().__init__(message)
        self.report = report


# --------------------------------------------------------------------------- reading


def read_parts(uri: str) -> tuple[list[tuple[str, bytes]], dict[str, Any] | None]:
    """(relative key, bytes) of every CSV part below `uri`, sorted by key, and the manifest if any."""
    files: list[tuple[str, bytes]] = []
    if uri.startswith("s3://"):
        import boto3

        bucket, _, prefix = uri[5:].partition("/")
        s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)
        try:
            keys = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [o["Key"] for o in page.get("Contents", [])]
            for key in keys:
                rel = key[len(prefix):].lstrip("/") if prefix else key
                files.append((rel, s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        except Exception as e:  # botocore errors: one line for the report
            raise BatchError(f"cannot read {uri}: {e}") from None
    else:
        path = uri[7:] if uri.startswith("file://") else uri
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files.append((os.path.basename(path), f.read()))
        elif os.path.isdir(path):
            for root, _, names in os.walk(path):
                for n in names:
                    full = os.path.join(root, n)
                    with open(full, "rb") as f:
                        files.append((os.path.relpath(full, path).replace(os.sep, "/"), f.read()))
        else:
            raise BatchError(f"{uri} is neither a file, a folder nor an s3:// prefix")
    manifest = None
    parts = []
    for rel, body in sorted(files):
        if rel == MANIFEST:
            try:
                manifest = json.loads(body)
            except json.JSONDecodeError as e:
                raise BatchError(f"{MANIFEST} is not JSON: {e.msg}") from None
        elif rel.endswith(".csv"):
            parts.append((rel, body))
    if not parts:
        raise BatchError(f"no *.csv part below {uri}")
    return parts, manifest


def batch_digest(parts: list[tuple[str, bytes]]) -> str:
    """sha256 over `<key>\\t<sha256 of part>\\n` lines in key order (the same from S3 and from disk)."""
    h = hashlib.sha256()
    for rel, body in sorted(parts):
        h.update(f"{rel}\t{hashlib.sha256(body).hexdigest()}\n".encode())
    return h.hexdigest()


def frame_of(parts: list[tuple[str, bytes]]):
    import pandas as pd

    frames = [pd.read_csv(io.BytesIO(body)) for _, body in parts]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# --------------------------------------------------------------------------- rules


def contract_failures(frame) -> list[dict[str, Any]]:
    """Every contract violation of the frame: column, rule, failing row count, a few examples."""
    import pandera.errors as pe

    try:
        data_contract.schema().validate(frame, lazy=True)
        return []
    except pe.SchemaErrors as err:
        cases = err.failure_cases
    failures = []
    # A value that cannot be coerced to the column's type fails the type rule; the dtype check and
    # the range checks then fail for the whole (uncoerced) column too: report the type rule only.
    uncoercible = set(cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype("), "column"].dropna())
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=True):
        if column in uncoercible and not str(check).startswith("coerce_dtype("):
            continue
        column = None if column != column else column  # NaN -> None (frame-level checks)
        rows_idx = group["index"].dropna()
        if check == "column_in_dataframe":
            # A missing column: every row lacks it; the failure case is the column name.
            for missing in group["failure_case"]:
                failures.append({"column": str(missing), "rule": "required column", "rows": int(len(frame)), "examples": []})
            continue
        if check == "column_in_schema":
            for extra in group["failure_case"]:
                failures.append({"column": str(extra), "rule": "unexpected column (strict)", "rows": int(len(frame)), "examples": []})
            continue
        if check == "max_null_fraction" and column in frame:
            rows = int(frame[column].isna().sum())
        elif len(rows_idx) > 0:
            rows = int(rows_idx.nunique())
        else:
            rows = int(len(frame))
        rule = str(check)
        if rule.startswith("coerce_dtype("):
            rule = f"type {rule[len('coerce_dtype('):-1].strip(chr(39))} (values that are not)"
        if check == "max_null_fraction" and column in frame:
            limit = data_contract.COLUMNS[column]["max_null_fraction"]
            rule = f"max_null_fraction {limit:.0%} (found {frame[column].isna().mean():.1%})"
        if check == "row_count":
            rule = f"row_count {data_contract.MIN_ROWS}..{data_contract.MAX_ROWS} (found {len(frame)})"
        examples = [] if check in ("max_null_fraction", "row_count") else [None if v != v else (v if isinstance(v, (int, float, str)) else str(v)) for v in group["failure_case"].head(MAX_EXAMPLES).tolist()]
        failures.append({"column": column or "(batch)", "rule": rule, "rows": rows, "examples": examples})
    return failures


def manifest_failures(parts: list[tuple[str, bytes]], manifest: dict[str, Any] | None, frame_rows: dict[str, int]) -> list[dict[str, Any]]:
    if manifest is None:
        return []
    failures = []
    listed = {f.get("key"): f for f in manifest.get("files", [])}
    present = {rel for rel, _ in parts}
    for rel, body in parts:
        entry = listed.get(rel)
        if entry is None:
            failures.append({"column": "(batch)", "rule": f"manifest lists part {rel}", "rows": frame_rows.get(rel, 0), "examples": [rel]})
            continue
        if entry.get("sha256") != hashlib.sha256(body).hexdigest():
            failures.append({"column": "(batch)", "rule": f"manifest checksum of {rel}", "rows": frame_rows.get(rel, 0), "examples": [rel]})
        if "rows" in entry and entry["rows"] != frame_rows.get(rel):
            failures.append({"column": "(batch)", "rule": f"manifest row count of {rel} ({entry['rows']})", "rows": frame_rows.get(rel, 0), "examples": [rel]})
    for rel in sorted(k for k in listed if k not in present and str(k).endswith(".csv")):
        failures.append({"column": "(batch)", "rule": f"part {rel} listed in the manifest is missing", "rows": int(listed[rel].get("rows", 0)), "examples": [rel]})
    return failures


def freshness(label: str, uri: str, now: dt.date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The batch date comes from the data version label, else from the URI (raw/<dataset>/<date>/)."""
    m = DATE.search(label) or DATE.search(uri)
    limit = data_contract.MAX_AGE_DAYS
    if not m:
        return {"checked": False, "reason": "no YYYY-MM-DD in the data version or URI"}, []
    day = dt.date.fromisoformat(m.group(1))
    age = (now - day).days
    info = {"checked": True, "batch_date": day.isoformat(), "age_days": age, "max_age_days": limit}
    if age > limit:
        return info, [{"column": "(batch)", "rule": f"freshness (batch {day.isoformat()} is {age} days old, max {limit})", "rows": 0, "examples": []}]
    if age < -1:
        return info, [{"column": "(batch)", "rule": f"freshness (batch date {day.isoformat()} is in the future)", "rows": 0, "examples": []}]
    return info, []


# --------------------------------------------------------------------------- API


def validate_batch(uri: str, data_version: str, now: dt.date | None = None) -> tuple[dict[str, Any], Any]:
    """(report, frame). report["status"] is "passed" or "failed"; frame is None when unreadable columns."""
    import pandas as pd

    parts, manifest = read_parts(uri)
    label = PINNED.match(data_version).group("label") if PINNED.match(data_version) else data_version
    digest = batch_digest(parts)
    per_part = {}
    frames = []
    for rel, body in parts:
        try:
            f = pd.read_csv(io.BytesIO(body))
        except Exception as e:
            raise BatchError(f"part {rel} is not CSV: {e}") from None
        per_part[rel] = int(len(f))
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    fresh, fresh_failures = freshness(label, uri, now or dt.datetime.now(dt.timezone.utc).date())
    failures = contract_failures(frame) + manifest_failures(parts, manifest, per_part) + fresh_failures
    report = {
        "status": "failed" if failures else "passed",
        "contract": data_contract.describe(),
        "data_uri": uri,
        "data_version": label,
        "data_digest": f"sha256:{digest}",
        "pinned_version": f"{label}@sha256:{digest}",
        "rows": int(len(frame)),
        "parts": [{"key": rel, "rows": per_part[rel], "sha256": hashlib.sha256(body).hexdigest()} for rel, body in parts],
        "manifest": manifest is not None,
        "freshness": fresh,
        "failures": failures,
    }
    return report, frame


def markdown(report: dict[str, Any]) -> str:
    c = report["contract"]
    lines = [
        f"## Data validation: {report['status'].upper()}",
        "",
        f"- contract: `{c['name']}@{c['version']}`",
        f"- data: `{report['data_uri']}` ({report['rows']} rows in {len(report['parts'])} part(s))",
        f"- data version: `{report['pinned_version']}`",
        "",
    ]
    if report["failures"]:
        lines += ["| column | rule | rows | examples |", "|---|---|---|---|"]
        for f in report["failures"]:
            ex = ", ".join(json.dumps(e) for e in f["examples"])
            lines.append(f"| {f['column']} | {f['rule']} | {f['rows']} | {ex} |")
    else:
        lines.append("Every rule of the contract holds.")
    return "\n".join(lines) + "\n"


def load_for_training(uri: str, data_version: str):
    """
    The validated batch as (features, target, report). Refuses (DataRefused) a data version that is
    not pinned to a digest (the batch was never validated), a batch whose content differs from the
    pinned digest (changed after validation), and a batch that violates the contract.
    """
    m = PINNED.match(data_version or "")
    if not m:
        raise DataRefused(
            f"MLOPS_DATA_VERSION={data_version!r} is not pinned to a validated batch "
            "('<label>@sha256:<digest>' from validate.py); refusing to train on unvalidated data"
        )
    report, frame = validate_batch(uri, data_version)
    if report["data_digest"] != f"sha256:{m.group('hex')}":
        raise DataRefused(
            f"the batch at {uri} is {report['data_digest']}, not the validated sha256:{m.group('hex')}; "
            "refusing data this run was not given",
            report,
        )
    if report["status"] != "passed":
        raise DataRefused(f"the batch at {uri} violates the data contract ({len(report['failures'])} failure(s))", report)
    schema = data_contract.schema()
    frame = schema.validate(frame)[list(data_contract.COLUMNS)]
    target = frame[data_contract.TARGET].astype("int64")
    features = frame.drop(columns=[data_contract.TARGET]).astype("float64")
    return features, target, report


def write_report(report: dict[str, Any], folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    with open(os.path.join(folder, "report.md"), "w", encoding="utf-8") as f:
        f.write(markdown(report))


def latest_batch(uri: str) -> str:
    """Key prefix (`<dataset>/<date>/`) of the newest batch below an s3:// dataset prefix that has a manifest."""
    import boto3

    bucket, _, prefix = uri[5:].partition("/")
    s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)
    markers = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        markers += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith("/" + MANIFEST)]
    if not markers:
        raise BatchError(f"no ingested batch (no {MANIFEST}) below {uri}")
    return max(markers)[: -len(MANIFEST)]


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--latest"] and len(argv) == 2:
        try:
            print(latest_batch(argv[1]))
            return 0
        except BatchError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    p = argparse.ArgumentParser(description="Validate a data batch against the credit-risk data contract (or: --latest s3://bucket/<dataset>/).")
    p.add_argument("--data", required=True, help="local file/folder or s3://bucket/prefix/")
    p.add_argument("--data-version", required=True, help="label of the batch, e.g. its date partition")
    p.add_argument("--report-dir", default="validation", help="where report.json and report.md go")
    p.add_argument("--now", help="today's date (YYYY-MM-DD) for the freshness rule; default: UTC today")
    p.add_argument("--output", help="append `data_version=<pinned>` and `status=` lines (e.g. $GITHUB_OUTPUT)")
    a = p.parse_args(argv)
    try:
        now = dt.date.fromisoformat(a.now) if a.now else None
        report, _ = validate_batch(a.data, a.data_version, now)
    except (BatchError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_report(report, a.report_dir)
    sys.stdout.write(markdown(report))
    if a.output:
        with open(a.output, "a", encoding="utf-8") as f:
            f.write(f"status={report['status']}\n")
            if report["status"] == "passed":
                f.write(f"data_version={report['pinned_version']}\n")
    return 0 if report["status"] == "passed" else 1


if __name__ == "__main__":
    sys.exit(main())
