#!/usr/bin/env python3
"""Helpers of test/contract/data-loop.contract.spec.ts against moto (S3 + EventBridge + SQS).

    data-loop-fixture.py <command> '<json args>'   -> prints one JSON document

Commands:
  batch      write a CSV batch of the credit-risk contract (train.py's synthetic applicants) to a
             local folder, optionally broken: {"dir", "rows", "seed", "defect": null|missing|type|nulls|range}
  setup      source bucket with the day's parts, versioned raw bucket with EventBridge notifications,
             the rendered rule (pattern) with an SQS target, and a second SQS target that carries the
             rendered input transformer: {"source": {"bucket", "prefix", "parts": {name: text}},
             "raw": bucket, "rule": {"name", "pattern", "inputPaths", "inputTemplate"}, "tag"}
  drain      messages on a queue: {"queue"}
  versions   every object version of a bucket: {"bucket"}
  put-events send events through PutEvents (moto matches the rule's pattern and renders the
             transformer on delivery): {"events": [...]}
  put-object {"bucket", "key", "body"}
  delete-object {"bucket", "key"}

Endpoint and credentials come from AWS_ENDPOINT_URL / AWS_* in the environment.
"""

from __future__ import annotations

import json
import os
import sys

import boto3


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))


def batch(a: dict) -> dict:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "credit-risk"))
    from train import make_dataset

    x, y = make_dataset(a.get("rows", 1000), a.get("seed", 7))
    df = x.assign(default=y.to_numpy())
    for c in ["age", "loan_term_months", "credit_score", "num_open_accounts", "delinquencies_2y", "home_ownership"]:
        df[c] = df[c].astype("int64")
    defect = a.get("defect")
    if defect == "missing":
        df = df.drop(columns=["credit_score"])
    elif defect == "type":
        df["age"] = df["age"].astype(object)
        df.loc[[3, 10, 11], "age"] = "unknown"
    elif defect == "nulls":
        df.loc[: len(df) // 10 - 1, "employment_years"] = None  # 10 % nulls, contract allows 5 %
    elif defect == "range":
        df.loc[[0, 1], "credit_score"] = 900
    os.makedirs(a["dir"], exist_ok=True)
    half = len(df) // 2
    df.iloc[:half].to_csv(os.path.join(a["dir"], "part-0000.csv"), index=False)
    df.iloc[half:].to_csv(os.path.join(a["dir"], "part-0001.csv"), index=False)
    return {"rows": len(df), "parts": ["part-0000.csv", "part-0001.csv"]}


def setup(a: dict) -> dict:
    s3, sqs, events = client("s3"), client("sqs"), client("events")
    src = a["source"]
    s3.create_bucket(Bucket=src["bucket"])
    for name, body in src["parts"].items():
        s3.put_object(Bucket=src["bucket"], Key=src["prefix"] + name, Body=body.encode())
    s3.create_bucket(Bucket=a["raw"])
    s3.put_bucket_versioning(Bucket=a["raw"], VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=a["raw"], NotificationConfiguration={"EventBridgeConfiguration": {}})
    tag = a["tag"]
    capture = sqs.create_queue(QueueName=f"{tag}-capture")["QueueUrl"]
    rendered = sqs.create_queue(QueueName=f"{tag}-rendered")["QueueUrl"]
    arn = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    r = a["rule"]
    events.put_rule(Name=r["name"], EventPattern=r["pattern"], State="ENABLED")
    events.put_targets(
        Rule=r["name"],
        Targets=[
            {"Id": "capture", "Arn": arn(capture)},
            # The API destination's body, rendered by the same transformer (moto delivers to SQS, not HTTP bodies).
            {"Id": "rendered", "Arn": arn(rendered), "InputTransformer": {"InputPathsMap": r["inputPaths"], "InputTemplate": r["inputTemplate"]}},
        ],
    )
    return {"capture": capture, "rendered": rendered}


def drain(a: dict) -> dict:
    sqs = client("sqs")
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=a["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            break
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=a["queue"], ReceiptHandle=m["ReceiptHandle"])
    return {"messages": out}


def versions(a: dict) -> dict:
    s3 = client("s3")
    res = s3.list_object_versions(Bucket=a["bucket"])
    return {"versions": sorted(f"{v['Key']}@{v['VersionId']}" for v in res.get("Versions", []))}


def put_events(a: dict) -> dict:
    ev = client("events")
    entries = [
        {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]), "Resources": e.get("resources", [])}
        for e in a["events"]
    ]
    res = ev.put_events(Entries=entries)
    return {"failed": res.get("FailedEntryCount", 0)}


def delete_object(a: dict) -> dict:
    client("s3").delete_object(Bucket=a["bucket"], Key=a["key"])
    return {}


def put_object(a: dict) -> dict:
    client("s3").put_object(Bucket=a["bucket"], Key=a["key"], Body=a["body"].encode())
    return {}


if __name__ == "__main__":
    cmd, args = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    fn = {"batch": batch, "setup": setup, "drain": drain, "versions": versions, "put-events": put_events, "put-object": put_object, "delete-object": delete_object}[cmd]
    print(json.dumps(fn(args)))
