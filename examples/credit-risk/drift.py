#!/usr/bin/env python3
"""Drift check for the credit-risk model: compares a batch of current data with the reference
statistics train.py logs (artifact reference/feature_stats.json) and reports, per feature:

  * the population stability index (PSI) on the reference's histogram bins,
    PSI = sum_i (q_i - p_i) * ln(q_i / p_i), p = reference share, q = current share per bin
    (the outer bins are open-ended, so values outside the training range still count);
  * a two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp) against the reference sample;
  * a verdict: drift when the configured decision rule holds (default: PSI above the threshold
    AND KS p-value below alpha, i.e. a shift that is both material and statistically significant).

Results are printed as a table and pushed to a Prometheus Pushgateway (text exposition format,
HTTP PUT to /metrics/job/<job>/model/<model>, which replaces the model's previous results):

  mlops_feature_psi{model,feature}            PSI
  mlops_feature_ks_pvalue{model,feature}      KS p-value (NaN when the reference has no sample)
  mlops_feature_drift{model,feature}          1 drift, 0 no drift
  mlops_feature_missing_ratio{model,feature}  share of missing/non-numeric values in the batch
  mlops_drift_batch_rows{model}               rows in the batch
  mlops_drift_check_timestamp_seconds{model}  when the check ran (Unix time)

Inputs (--reference and --current): a local path, an s3://bucket/key URI, or an s3://bucket/prefix/
URI (ending in "/": the newest matching object below it). The batch is CSV or Parquet; --synthetic N
generates N rows with train.py's generator instead (with --shift FEATURE=+X / *X to move features).

Thresholds: --psi-threshold (default 0.2: PSI < 0.1 stable, 0.1-0.25 moderate, > 0.25 major shift;
Siddiqi 2006, Yurdakul 2018) and --ks-alpha (default 0.01).

Exit codes: 0 no drift; --drift-exit-code (default 1) when a feature drifts; 2 configuration or data
problem (one line on stderr); 3 runtime error (S3, Pushgateway, anything unexpected).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

EXIT_OK, EXIT_CONFIG, EXIT_RUNTIME = 0, 2, 3
DECISIONS = ("both", "either", "psi", "ks")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LABEL_VALUE_ESCAPES = str.maketrans({"\\": r"\\", '"': r"\"", "\n": r"\n"})
# Floor of a bin share in the PSI sum: an empty bin would make ln(q/p) infinite.
PSI_EPSILON = 1e-4


class ConfigError(Exception):
    """A problem the operator must fix (arguments, inputs, data); printed as one line, exit 2."""


# --------------------------------------------------------------------------- arguments

def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Population stability index and KS drift check per feature.")
    p.add_argument("--reference", required=True, help="feature_stats.json: path, s3://bucket/key or s3://bucket/prefix/")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--current", help="current batch (CSV/Parquet): path, s3://bucket/key or s3://bucket/prefix/")
    src.add_argument("--synthetic", type=int, metavar="ROWS", help="generate ROWS rows with train.py's generator")
    p.add_argument("--current-objects", type=int, default=1, metavar="N",
                   help="with an s3:// prefix: read the newest N objects under it (recursively) as one batch, e.g. the "
                        "prediction logs predictions/model=<m>/version=<v>/ (default 1: the newest object)")
    p.add_argument("--seed", type=int, default=1234, help="seed of --synthetic (default 1234)")
    p.add_argument("--shift", action="append", default=[], metavar="FEATURE=+X|*X",
                   help="with --synthetic: add X to (+X, -X) or multiply (*X) a feature; repeatable")
    p.add_argument("--model", default=os.environ.get("MLOPS_MODEL_NAME") or "credit-risk", help="model label (default credit-risk)")
    p.add_argument("--features", help="comma-separated features to check (default: all reference features)")
    p.add_argument("--psi-threshold", type=float, default=0.2, help="PSI above which a feature has moved (default 0.2)")
    p.add_argument("--ks-alpha", type=float, default=0.01, help="KS p-value below which a feature has moved (default 0.01)")
    p.add_argument("--decision", choices=DECISIONS, default="both",
                   help="drift when: both tests agree (default), either does, or only psi / ks")
    p.add_argument("--min-rows", type=int, default=100, help="refuse batches with fewer rows (default 100)")
    p.add_argument("--pushgateway", help="Pushgateway base URL, e.g. http://pushgateway.monitoring:9091 (default: do not push)")
    p.add_argument("--push-job", default="mlops_drift", help="Pushgateway job of the group (default mlops_drift)")
    p.add_argument("--push-timeout", type=float, default=15.0, help="seconds for the push (default 15)")
    p.add_argument("--drift-exit-code", type=int, default=1, help="exit code when drift is found (default 1; 0 = report only)")
    p.add_argument("--json", dest="json_out", help="also write the result JSON to this file")
    a = p.parse_args(argv)
    if not MODEL_NAME.match(a.model):
        raise ConfigError(f"--model {a.model!r} must be letters, digits, '.', '_' or '-' (it is a Pushgateway path segment)")
    if not 0 < a.psi_threshold <= 10:
        raise ConfigError("--psi-threshold must be in (0, 10]")
    if not 0 < a.ks_alpha < 1:
        raise ConfigError("--ks-alpha must be in (0, 1)")
    if not 1 <= a.current_objects <= 100000:
        raise ConfigError("--current-objects must be in [1, 100000]")
    if a.current_objects > 1 and not (a.current or "").endswith("/"):
        raise ConfigError("--current-objects needs --current to be an s3://bucket/prefix/ ending in '/'")
    if a.min_rows < 1:
        raise ConfigError("--min-rows must be >= 1")
    if a.synthetic is not None and a.synthetic < 1:
        raise ConfigError("--synthetic must be >= 1")
    if a.shift and a.synthetic is None:
        raise ConfigError("--shift only applies with --synthetic")
    if not 0 <= a.drift_exit_code <= 255 or a.drift_exit_code in (EXIT_CONFIG, EXIT_RUNTIME):
        raise ConfigError("--drift-exit-code must be 0..255 and not 2 or 3 (reserved for errors)")
    if a.pushgateway and not re.match(r"^https?://[^/\s]+/?$", a.pushgateway):
        raise ConfigError(f"--pushgateway {a.pushgateway!r} must be http(s)://host[:port]")
    return a


def parse_shifts(specs: list[str]) -> dict[str, tuple[str, float]]:
    shifts: dict[str, tuple[str, float]] = {}
    for spec in specs:
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=([+*-])([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$", spec)
        if not m:
            raise ConfigError(f"--shift {spec!r} must look like credit_score=+40, age=-5 or debt_to_income=*1.5")
        name, op, value = m.group(1), m.group(2), float(m.group(3))
        shifts[name] = ("*", value) if op == "*" else ("+", value if op == "+" else -value)
    return shifts


# --------------------------------------------------------------------------- inputs

def s3_parts(uri: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"{uri!r} is not an s3://bucket/key URI")
    return parts.netloc, parts.path.lstrip("/")


def s3_client():
    try:
        import boto3
    except ImportError:
        raise ConfigError("s3:// inputs need boto3 in the image (pip install boto3)") from None
    return boto3.client("s3")


def read_bytes(uri: str, suffixes: tuple[str, ...], what: str) -> tuple[bytes, str]:
    """Contents of a local file, an S3 object, or the newest S3 object under a prefix ending in '/'."""
    if not uri.startswith("s3://"):
        try:
            with open(uri, "rb") as f:
                return f.read(), uri
        except OSError as e:
            raise ConfigError(f"cannot read {what} {uri}: {e.strerror}") from None
    bucket, key = s3_parts(uri)
    client = s3_client()
    from botocore.exceptions import ClientError
    try:
        if key == "" or key.endswith("/"):
            newest = None
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith(suffixes) and (newest is None or (obj["LastModified"], obj["Key"]) > (newest["LastModified"], newest["Key"])):
                        newest = obj
            if newest is None:
                raise ConfigError(f"no {what} ({'/'.join(suffixes)}) under {uri}")
            key = newest["Key"]
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body, f"s3://{bucket}/{key}"
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchBucket", "404", "AccessDenied", "403"):
            raise ConfigError(f"cannot read {what} s3://{bucket}/{key}: {code}") from None
        raise


def load_reference(uri: str) -> tuple[dict[str, Any], str]:
    data, source = read_bytes(uri, ("feature_stats.json",), "reference statistics")
    try:
        ref = json.loads(data)
    except ValueError as e:
        raise ConfigError(f"reference statistics {source} are not JSON: {e}") from None
    if not isinstance(ref, dict) or ref.get("schema_version") != 1 or not isinstance(ref.get("features"), dict):
        raise ConfigError(f"reference statistics {source} are not train.py's schema_version 1 format")
    for name, f in ref["features"].items():
        hist = f.get("histogram") if isinstance(f, dict) else None
        if not hist or len(hist.get("bin_edges", [])) != len(hist.get("counts", [])) + 1 or sum(hist["counts"]) <= 0:
            raise ConfigError(f"reference statistics {source}: feature {name!r} has no usable histogram")
    return ref, source


def newest_keys(uri: str, suffixes: tuple[str, ...], count: int) -> list[str]:
    """The newest `count` object URIs with one of `suffixes` under the s3:// prefix `uri`."""
    bucket, prefix = s3_parts(uri)
    found = []
    for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [o for o in page.get("Contents", []) if o["Key"].endswith(suffixes)]
    found.sort(key=lambda o: (o["LastModified"], o["Key"]), reverse=True)
    return [f"s3://{bucket}/{o['Key']}" for o in found[:count]]


def load_current(uri: str, objects: int = 1):
    """The current batch: one file/object, or the newest `objects` objects under an S3 prefix (concatenated)."""
    import pandas as pd

    suffixes = (".csv", ".csv.gz", ".parquet")
    if objects > 1:
        keys = newest_keys(uri, suffixes, objects)
        if not keys:
            raise ConfigError(f"no current batch ({'/'.join(suffixes)}) under {uri}")
        frames = [load_current(k)[0] for k in keys]
        return pd.concat(frames, ignore_index=True), f"{uri} ({len(keys)} objects)"
    data, source = read_bytes(uri, suffixes, "current batch")
    try:
        if source.endswith(".parquet"):
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            frame = pd.read_csv(io.BytesIO(data), compression="gzip" if source.endswith(".gz") else None)
    except ImportError as e:
        raise ConfigError(f"cannot read {source}: {e}") from None
    except (ValueError, pd.errors.ParserError) as e:
        raise ConfigError(f"current batch {source} is not valid CSV/Parquet: {e}") from None
    return frame, source


def synthetic_batch(rows: int, seed: int, shifts: dict[str, tuple[str, float]]):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from train import make_dataset

    frame, _ = make_dataset(rows, seed)
    for name, (op, value) in shifts.items():
        if name not in frame.columns:
            raise ConfigError(f"--shift names unknown feature {name!r}")
        frame[name] = frame[name] * value if op == "*" else frame[name] + value
    return frame


# --------------------------------------------------------------------------- statistics

def psi(edges: list[float], counts: list[int], values) -> float:
    """PSI of `values` against the reference histogram (outer bins open-ended)."""
    import numpy as np

    ref = np.asarray(counts, dtype="float64")
    # Bin i is [edge_i, edge_i+1) like np.histogram, the last one closed; below/above range → outer bins.
    idx = np.searchsorted(np.asarray(edges[1:-1], dtype="float64"), values, side="right")
    cur = np.bincount(idx, minlength=len(ref)).astype("float64")
    p = np.clip(ref / ref.sum(), PSI_EPSILON, None)
    q = np.clip(cur / cur.sum(), PSI_EPSILON, None)
    return float(np.sum((q - p) * np.log(q / p)))


def check(ref: dict[str, Any], frame, features: list[str], a: argparse.Namespace) -> list[dict[str, Any]]:
    import numpy as np
    import pandas as pd
    from scipy.stats import ks_2samp

    sample = ref.get("sample") or {}
    columns = sample.get("columns") or []
    rows = np.asarray(sample.get("rows") or [], dtype="float64")
    results = []
    for name in features:
        raw = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")
        values = raw[np.isfinite(raw)]
        missing = 1.0 - values.size / raw.size if raw.size else 1.0
        if values.size == 0:
            raise ConfigError(f"feature {name!r} has no numeric values in the current batch")
        hist = ref["features"][name]["histogram"]
        value_psi = psi(hist["bin_edges"], hist["counts"], values)
        pvalue = float("nan")
        if name in columns and rows.size:
            reference_values = rows[:, columns.index(name)]
            reference_values = reference_values[np.isfinite(reference_values)]
            if reference_values.size:
                pvalue = float(ks_2samp(reference_values, values).pvalue)
        moved_psi = value_psi > a.psi_threshold
        moved_ks = not math.isnan(pvalue) and pvalue < a.ks_alpha
        if math.isnan(pvalue):
            # Without a reference sample only PSI can speak.
            drift = moved_psi if a.decision != "ks" else False
        else:
            drift = {"both": moved_psi and moved_ks, "either": moved_psi or moved_ks, "psi": moved_psi, "ks": moved_ks}[a.decision]
        results.append({"feature": name, "psi": value_psi, "ks_pvalue": pvalue, "missing_ratio": missing, "drift": bool(drift)})
    return results


# --------------------------------------------------------------------------- output

def fmt(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x))


def exposition(model: str, results: list[dict[str, Any]], rows: int, timestamp: float) -> str:
    """The results in the Prometheus text exposition format (version 0.0.4)."""
    m = model.translate(LABEL_VALUE_ESCAPES)
    families = [
        ("mlops_feature_psi", "Population stability index of the feature: reference bins vs current batch.", "psi"),
        ("mlops_feature_ks_pvalue", "Two-sample Kolmogorov-Smirnov p-value, reference sample vs current batch.", "ks_pvalue"),
        ("mlops_feature_drift", "1 when the feature drifted by the configured decision rule, else 0.", "drift"),
        ("mlops_feature_missing_ratio", "Share of missing or non-numeric values of the feature in the batch.", "missing_ratio"),
    ]
    lines: list[str] = []
    for metric, help_text, key in families:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        for r in results:
            value = float(r[key]) if key != "drift" else (1.0 if r["drift"] else 0.0)
            feature = r["feature"].translate(LABEL_VALUE_ESCAPES)
            lines.append(f'{metric}{{model="{m}",feature="{feature}"}} {fmt(value)}')
    lines += [
        "# HELP mlops_drift_batch_rows Rows in the checked batch.",
        "# TYPE mlops_drift_batch_rows gauge",
        f'mlops_drift_batch_rows{{model="{m}"}} {fmt(float(rows))}',
        "# HELP mlops_drift_check_timestamp_seconds Unix time of the last completed drift check.",
        "# TYPE mlops_drift_check_timestamp_seconds gauge",
        f'mlops_drift_check_timestamp_seconds{{model="{m}"}} {fmt(timestamp)}',
    ]
    return "\n".join(lines) + "\n"


def push(base_url: str, job: str, model: str, body: str, timeout: float) -> str:
    """PUT the group {job, model}: replaces the model's previous results on the Pushgateway."""
    url = f"{base_url.rstrip('/')}/metrics/job/{urllib.parse.quote(job, safe='')}/model/{urllib.parse.quote(model, safe='')}"
    request = urllib.request.Request(url, data=body.encode("utf-8"), method="PUT",
                                     headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status not in (200, 202):
            raise RuntimeError(f"Pushgateway answered HTTP {response.status}")
    return url


def table(results: list[dict[str, Any]]) -> str:
    width = max([len("feature")] + [len(r["feature"]) for r in results])
    out = [f"{'feature':<{width}}  {'psi':>8}  {'ks_pvalue':>10}  {'missing':>7}  drift"]
    for r in results:
        out.append(f"{r['feature']:<{width}}  {r['psi']:>8.4f}  {r['ks_pvalue']:>10.3g}  {r['missing_ratio']:>7.2%}  {'YES' if r['drift'] else 'no'}")
    return "\n".join(out)


# --------------------------------------------------------------------------- main

def run(a: argparse.Namespace) -> int:
    ref, ref_source = load_reference(a.reference)
    if a.synthetic is not None:
        frame = synthetic_batch(a.synthetic, a.seed, parse_shifts(a.shift))
        cur_source = f"synthetic://credit-risk?rows={a.synthetic}&seed={a.seed}"
    else:
        frame, cur_source = load_current(a.current, a.current_objects)
    features = [f.strip() for f in a.features.split(",") if f.strip()] if a.features else list(ref["features"])
    unknown = [f for f in features if f not in ref["features"]]
    if unknown:
        raise ConfigError(f"features not in the reference statistics: {', '.join(unknown)}")
    absent = [f for f in features if f not in frame.columns]
    if absent:
        raise ConfigError(f"current batch {cur_source} lacks columns: {', '.join(absent)}")
    if len(frame) < a.min_rows:
        raise ConfigError(f"current batch {cur_source} has {len(frame)} rows, fewer than --min-rows {a.min_rows}")

    results = check(ref, frame, features, a)
    now = time.time()
    drifted = [r["feature"] for r in results if r["drift"]]
    print(f"model={a.model} reference={ref_source} current={cur_source} rows={len(frame)} "
          f"decision={a.decision} psi>{a.psi_threshold:g} ks_p<{a.ks_alpha:g}")
    print(table(results))
    pushed = None
    if a.pushgateway:
        pushed = push(a.pushgateway, a.push_job, a.model, exposition(a.model, results, len(frame), now), a.push_timeout)
        print(f"pushed {len(results)} features to {pushed}")
    summary = {
        "model": a.model,
        "reference": ref_source,
        "current": cur_source,
        "rows": len(frame),
        "drifted": drifted,
        "features": {r["feature"]: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items() if k != "feature"} for r in results},
        "pushed_to": pushed,
        "timestamp": now,
    }
    print("MLOPS_DRIFT " + json.dumps({k: summary[k] for k in ("model", "rows", "drifted", "pushed_to")}, sort_keys=True))
    for path in filter(None, [a.json_out, os.environ.get("MLOPS_RESULT_FILE")]):
        # The termination message is limited to 4 KiB: write the short form there.
        short = path == os.environ.get("MLOPS_RESULT_FILE") and path != a.json_out
        with open(path, "w", encoding="utf-8") as f:
            json.dump({k: summary[k] for k in ("model", "rows", "drifted", "pushed_to")} if short else summary, f, sort_keys=True)
    return a.drift_exit_code if drifted else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        return run(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except SystemExit as e:  # argparse: usage errors exit 2 already
        return int(e.code) if isinstance(e.code, int) else EXIT_CONFIG
    except (urllib.error.URLError, OSError) as e:
        print(f"error: {type(e).__name__}: {getattr(e, 'reason', e)}", file=sys.stderr)
        return EXIT_RUNTIME
    except Exception:  # noqa: BLE001 - anything else is a runtime failure, never mistaken for "drift"
        import traceback

        traceback.print_exc()
        return EXIT_RUNTIME


if __name__ == "__main__":
    sys.exit(main())
