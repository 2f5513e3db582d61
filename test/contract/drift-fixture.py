#!/usr/bin/env python3
"""Fixtures for test/contract/drift.contract.spec.ts, built with the trainer's own code:

  drift-fixture.py reference OUT.json [--rows N] [--seed S]   train.py's feature_statistics() on its
                                                              synthetic training data
  drift-fixture.py batch OUT.csv|OUT.parquet [--rows N] [--seed S] [--shift F=+X ...]
                                                              a current batch (drift.py's generator)
  drift-fixture.py upload FILE s3://bucket/key                put FILE into S3 (AWS_ENDPOINT_URL_S3
                                                              points boto3 at the emulator)
"""

from __future__ import annotations

import argparse
import json
import os
import sys

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "credit-risk")
sys.path.insert(0, os.path.abspath(EXAMPLE))

import drift  # noqa: E402
import train  # noqa: E402


def reference(out: str, rows: int, seed: int) -> None:
    import numpy as np

    frame, target = train.make_dataset(rows, seed)
    # The prediction-score block is not used by the drift check; any scores in [0, 1] do.
    scores = np.random.default_rng(seed).random(len(frame))
    settings = {"data_uri": "synthetic://credit-risk", "data_version": f"seed-{seed}"}
    stats = train.feature_statistics(frame, target, scores, settings, seed)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(stats, f)


def batch(out: str, rows: int, seed: int, shifts: list[str]) -> None:
    frame = drift.synthetic_batch(rows, seed, drift.parse_shifts(shifts))
    if out.endswith(".parquet"):
        frame.to_parquet(out, index=False)  # pyarrow comes with mlflow, so the trainer image has it
    else:
        frame.to_csv(out, index=False)


def upload(path: str, uri: str) -> None:
    import boto3

    bucket, key = drift.s3_parts(uri)
    boto3.client("s3").upload_file(path, bucket, key)


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reference")
    r.add_argument("out")
    r.add_argument("--rows", type=int, default=4000)
    r.add_argument("--seed", type=int, default=42)
    b = sub.add_parser("batch")
    b.add_argument("out")
    b.add_argument("--rows", type=int, default=2000)
    b.add_argument("--seed", type=int, default=7)
    b.add_argument("--shift", action="append", default=[])
    u = sub.add_parser("upload")
    u.add_argument("path")
    u.add_argument("uri")
    a = p.parse_args()
    if a.cmd == "reference":
        reference(a.out, a.rows, a.seed)
    elif a.cmd == "batch":
        batch(a.out, a.rows, a.seed, a.shift)
    else:
        upload(a.path, a.uri)


if __name__ == "__main__":
    main()
