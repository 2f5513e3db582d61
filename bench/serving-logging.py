#!/usr/bin/env python3
"""Latency of the model server with and without prediction logging (issue 14).

Starts two MLServer processes from the serving venv (test/contract/serving-services.sh) on the same
scikit-learn MLflow model (saved locally, 11 features like credit-risk), one with
MLOPS_PREDICTION_LOG_ENABLED=true (sample rate 1, writes to a moto S3 emulator from the contract venv)
and one with it off, both with the settings ServingStack renders (1 parallel worker). Sends the same
requests to both, alternating, one at a time on loopback, and prints p50/p95/p99 per endpoint.

  .contract/serving-venv/bin/python bench/serving-logging.py [--requests 1000] [--rows 4] [--port-base 56170]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait(url, proc, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: process exited {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"{url} not ready after {timeout}s")


def post(url, body):
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    t = time.perf_counter()
    urllib.request.urlopen(req, timeout=10).read()
    return time.perf_counter() - t


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--requests", type=int, default=1000)
    a.add_argument("--rows", type=int, default=4)
    a.add_argument("--port-base", type=int, default=56170)
    a.add_argument("--moto", default=os.path.join(ROOT, ".contract", "venv", "bin", "moto_server"))
    args = a.parse_args()
    import numpy as np
    import pandas as pd
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier

    work = tempfile.mkdtemp(prefix="serving-bench-")
    procs = []
    try:
        rng = np.random.default_rng(1)
        cols = [f"f{i}" for i in range(11)]
        X = pd.DataFrame(rng.random((2000, 11)), columns=cols)
        y = (X.f0 + X.f1 > 1).astype(int)
        model = RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0).fit(X, y)
        mlflow.sklearn.save_model(model, os.path.join(work, "model"), signature=infer_signature(X, model.predict(X)), skops_trusted_types=["sklearn.tree._tree.Tree"])

        s3 = args.port_base + 9
        procs.append(subprocess.Popen([args.moto, "-H", "127.0.0.1", "-p", str(s3)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        aws = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{s3}"}
        time.sleep(3)
        import boto3

        boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL_S3"], region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench").create_bucket(Bucket="processed")
        servers = {}
        for i, logging_on in enumerate((False, True)):
            name = "logging" if logging_on else "no-logging"
            base = args.port_base + 3 * i
            tmp = os.path.join(work, name)
            os.makedirs(os.path.join(tmp, "repo"))
            env = {
                "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp,
                "MLSERVER_HOST": "127.0.0.1", "MLSERVER_HTTP_PORT": str(base), "MLSERVER_GRPC_PORT": str(base + 1),
                "MLSERVER_METRICS_PORT": str(base + 2), "MLSERVER_METRICS_DIR": os.path.join(tmp, "metrics"),
                "MLSERVER_PARALLEL_WORKERS": "1", "MLSERVER_DEBUG": "false", "MLSERVER_MODEL_NAME": "bench",
                "MLSERVER_MODEL_VERSION": "1", "MLSERVER_MODEL_URI": os.path.join(work, "model"),
                "MLSERVER_MODEL_IMPLEMENTATION": "mlops_server.runtime.PredictionLoggingRuntime", "MLOPS_TRACK": "stable",
                "MLOPS_PREDICTION_LOG_ENABLED": "true" if logging_on else "false", "MLOPS_PREDICTION_LOG_BUCKET": "processed",
                "MLOPS_PREDICTION_LOG_SAMPLE_RATE": "1", **aws,
            }
            p = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "mlserver"), "start", "."], cwd=os.path.join(tmp, "repo"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            servers[name] = (f"http://127.0.0.1:{base}", p)
        for url, p in servers.values():
            wait(f"{url}/v2/health/ready", p)

        rows = rng.random((args.requests + 10, 11))
        inv = [json.dumps({"dataframe_split": {"columns": cols, "data": rows[i:i + args.rows].tolist()}}).encode() for i in range(args.requests)]
        v2 = [json.dumps({"inputs": [{"name": c, "shape": [args.rows], "datatype": "FP64", "data": rows[i:i + args.rows, j].tolist()} for j, c in enumerate(cols)]}).encode() for i in range(args.requests)]
        lat = {(n, e): [] for n in servers for e in ("invocations", "v2")}
        for warm in range(20):
            for url, _ in servers.values():
                post(f"{url}/invocations", inv[warm])
        for i in range(args.requests):
            for name, (url, _) in (servers.items() if i % 2 == 0 else reversed(list(servers.items()))):
                lat[(name, "invocations")].append(post(f"{url}/invocations", inv[i]))
                lat[(name, "v2")].append(post(f"{url}/v2/models/bench/infer", v2[i]))
        print(f"serving-logging bench: {args.requests} requests x {args.rows} rows per endpoint, sequential, loopback, 1 MLServer worker, RandomForest(50 trees)")
        print(f"{'server':<11} {'endpoint':<12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
        for (name, ep), xs in sorted(lat.items()):
            print(f"{name:<11} {ep:<12} {pct(xs, 50):8.2f} {pct(xs, 95):8.2f} {pct(xs, 99):8.2f} {statistics.mean(xs) * 1000:8.2f}")
        # Drops: none expected (queue 10000, flushes of 500 rows).
        m = urllib.request.urlopen(f"http://127.0.0.1:{args.port_base + 5}/metrics").read().decode()
        print("\n".join(l for l in m.splitlines() if l.startswith("mlops_prediction_log_dropped_total")))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
