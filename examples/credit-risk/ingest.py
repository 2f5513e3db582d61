#!/usr/bin/env python3
"""Scheduled ingestion: copy one dated batch from a source into the raw bucket, manifest last.

Configured from the environment, as the IngestionJob CronJob renders it:

  MLOPS_INGEST_SOURCE   s3://bucket/prefix/ (every object below it) or an https:// URL of one file;
                        `{date}` in it is replaced by the batch date
  MLOPS_INGEST_DEST     s3://<raw bucket>/<dataset>/ ; the batch goes to <dest><date>/
  MLOPS_INGEST_DATE     batch date YYYY-MM-DD (default: today, UTC)
  MLOPS_INGEST_SUFFIXES comma-separated key suffixes copied from an S3 source (default .csv)
  MLOPS_RESULT_FILE     optional path for the result JSON (e.g. /dev/termination-log)

The manifest (`_manifest.json`: object list, row counts, sha256 checksums) is written after every
part, so a reader (the pipeline trigger's rule, validate.py) never sees half a batch. Idempotent:
when the manifest of the date exists, nothing is written. The destination identity needs only
s3:ListBucket and s3:PutObject (write-only); the source identity only reads.

Exit codes: 0 copied or already there, 2 configuration problem or empty source, 3 runtime error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sys
import urllib.parse
import urllib.request

MANIFEST = "_manifest.json"


class ConfigError(Exception):
    pass


def s3_client():
    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ConfigError(f"{uri!r} is not an s3://bucket/prefix/ URI")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix


def settings(env: dict[str, str]) -> dict[str, str]:
    source = env.get("MLOPS_INGEST_SOURCE", "").strip()
    dest = env.get("MLOPS_INGEST_DEST", "").strip()
    if not source:
        raise ConfigError("MLOPS_INGEST_SOURCE is not set")
    if not dest.startswith("s3://") or not dest.endswith("/"):
        raise ConfigError(f"MLOPS_INGEST_DEST must be s3://<bucket>/<dataset>/ (ending in /), got {dest!r}")
    date = env.get("MLOPS_INGEST_DATE", "").strip() or dt.datetime.now(dt.timezone.utc).date().isoformat()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise ConfigError(f"MLOPS_INGEST_DATE must be YYYY-MM-DD, got {date!r}")
    dt.date.fromisoformat(date)
    source = source.replace("{date}", date)
    if not (source.startswith("s3://") or source.startswith("https://")):
        raise ConfigError(f"MLOPS_INGEST_SOURCE must be s3://... or https://..., got {source!r}")
    suffixes = [s.strip() for s in env.get("MLOPS_INGEST_SUFFIXES", ".csv").split(",") if s.strip()]
    return {"source": source, "dest": dest, "date": date, "suffixes": suffixes}


def fetch_parts(cfg: dict) -> list[tuple[str, bytes]]:
    """(relative key, bytes) of the batch at the source."""
    src = cfg["source"]
    if src.startswith("https://"):
        name = os.path.basename(urllib.parse.urlsplit(src).path) or "data.csv"
        with urllib.request.urlopen(src, timeout=60) as r:  # noqa: S310 - https only (checked above)
            return [(name, r.read())]
    bucket, prefix = split_s3(src)
    s3 = s3_client()
    parts = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            key = o["Key"]
            rel = key[len(prefix):].lstrip("/")
            if rel and any(rel.endswith(s) for s in cfg["suffixes"]) and rel != MANIFEST:
                parts.append((rel, s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    return sorted(parts)


def rows_of(body: bytes) -> int:
    """Data rows of a CSV part (lines after the header; a trailing newline is not a row)."""
    lines = body.decode("utf-8", errors="replace").splitlines()
    return max(0, len([line for line in lines if line.strip()]) - 1)


def ingest(cfg: dict) -> dict:
    bucket, prefix = split_s3(cfg["dest"])
    batch = f"{prefix}{cfg['date']}/"
    s3 = s3_client()
    # ListBucket, not GetObject: the destination identity cannot read data.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=batch + MANIFEST).get("Contents", [])
    if any(o["Key"] == batch + MANIFEST for o in listed):
        return {"status": "exists", "batch": f"s3://{bucket}/{batch}", "written": 0}
    parts = fetch_parts(cfg)
    if not parts:
        raise ConfigError(f"nothing to ingest at {cfg['source']} (suffixes {','.join(cfg['suffixes'])})")
    files = []
    for rel, body in parts:
        digest = hashlib.sha256(body).hexdigest()
        s3.put_object(Bucket=bucket, Key=batch + rel, Body=body, Metadata={"sha256": digest})
        files.append({"key": rel, "sha256": digest, "rows": rows_of(body), "bytes": len(body)})
    manifest = {
        "date": cfg["date"],
        "source": cfg["source"],
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": files,
        "rows": sum(f["rows"] for f in files),
    }
    # Last: the marker the pipeline trigger matches and readers wait for.
    s3.put_object(Bucket=bucket, Key=batch + MANIFEST, Body=json.dumps(manifest, indent=2, sort_keys=True).encode(), ContentType="application/json")
    return {"status": "copied", "batch": f"s3://{bucket}/{batch}", "written": len(files) + 1, "rows": manifest["rows"]}


def main() -> int:
    env = dict(os.environ)
    try:
        cfg = settings(env)
        result = ingest(cfg)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # S3/HTTP failures: retried by the Job's backoffLimit
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 3
    print("MLOPS_RESULT " + json.dumps(result, sort_keys=True))
    if env.get("MLOPS_RESULT_FILE"):
        with open(env["MLOPS_RESULT_FILE"], "w", encoding="utf-8") as f:
            json.dump(result, f, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
