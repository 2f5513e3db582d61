#!/usr/bin/env python3
"""Reference trainer: credit-default classifier (scikit-learn) logged to an MLflow tracking server.

Everything is configured from the environment (as a Kubernetes Job renders it) and CLI flags:

  MLFLOW_TRACKING_URI        required; http(s)://... is checked for reachability before training
  MLFLOW_EXPERIMENT_NAME     default "credit-risk"
  MLFLOW_RUN_NAME            optional run name (e.g. the Job name)
  MLOPS_MODEL_NAME           registered model name, default "credit-risk"
  MLOPS_MODEL_ALIAS          optional alias to point at the new version (e.g. "candidate")
  MLOPS_DATA_URI             lineage: where the training data came from (default synthetic://credit-risk)
  MLOPS_DATA_VERSION         lineage: data version (DVC rev, S3 version id, date partition...);
                             `<label>@sha256:<digest>` (pinned by validate.py) makes the trainer read
                             the batch at MLOPS_DATA_URI, refuse it unless it is exactly that batch and
                             passes the data contract, and log the validation report with the run
  MLOPS_IMAGE_DIGEST         lineage: the trainer image (repo@sha256:...)
  GIT_SHA | GITHUB_SHA | CI_COMMIT_SHA   lineage: source commit, if present
  MLOPS_RUN_TAGS             JSON object of extra run tags
  MLOPS_RESULT_FILE          optional path to write the result JSON to (e.g. /dev/termination-log)
  MLOPS_TRACKING_CHECK_TIMEOUT  seconds for the connectivity check (default 10)
  MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN  optional auth (read by MLflow too)
  MLOPS_SWEEP_ID / MLOPS_SWEEP_TRIAL  sweep trial: the run is a child of the sweep's parent run
  MLOPS_REGISTER             "false": log the model without registering it (sweep trials; sweep.py
                             finalize registers the best one)

Hyperparameters are flags (--n-estimators 200); each flag's default comes from HP_<NAME>
(HP_N_ESTIMATORS) when set. Without a pinned data version the data set is synthetic and seeded:
nothing is downloaded, and no unvalidated data is ever read.

Exit codes: 0 success, 2 configuration or tracking-server problem, or data refused (one-line
message on stderr), 1 anything else (traceback).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from typing import Any

from validate import DataRefused

FEATURES = [
    "age",
    "annual_income",
    "employment_years",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "credit_utilization",
    "num_open_accounts",
    "delinquencies_2y",
    "home_ownership",
]
TARGET = "default"
QUANTILES = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
HISTOGRAM_BINS = 20
SAMPLE_ROWS = 200
KNOWN_SCHEMES = {"http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks"}


class ConfigError(Exception):
    """A problem the operator must fix in the Job's configuration; printed as one line."""


# --------------------------------------------------------------------------- configuration

# name -> (type, default, help). Flags are --name-with-dashes; env overrides are HP_NAME_UPPER.
HYPERPARAMETERS: dict[str, tuple[type, Any, str]] = {
    "n_estimators": (int, 200, "number of trees"),
    "max_depth": (int, 8, "maximum tree depth (0 = unlimited)"),
    "min_samples_leaf": (int, 5, "minimum samples per leaf"),
    "max_features": (str, "sqrt", "features per split: sqrt, log2 or a fraction"),
    "n_samples": (int, 5000, "rows in the synthetic data set"),
    "test_size": (float, 0.2, "held-out fraction"),
    "seed": (int, 42, "random seed for data, split and model"),
    "n_jobs": (int, 1, "parallel jobs for fitting (match the container CPU limit)"),
}


def hyperparameter_parser(description: str, hyperparameters: dict[str, tuple[Any, Any, str]], env: dict[str, str]) -> argparse.ArgumentParser:
    """One flag per hyperparameter (--n-estimators), its default from HP_<NAME> when set.

    Shared with train_torch.py, so both trainers read the TrainingJob's HP_* environment alike."""
    parser = argparse.ArgumentParser(description=description)
    for name, (kind, default, help_text) in hyperparameters.items():
        env_name = "HP_" + name.upper()
        raw = env.get(env_name)
        if raw is not None and raw != "":
            try:
                default = kind(raw)
            except ValueError:
                raise ConfigError(f"{env_name}={raw!r} is not a valid {kind.__name__}") from None
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=kind,
            default=default,
            help=f"{help_text} (env {env_name}, default {default})",
        )
    return parser


def parse_args(argv: list[str], env: dict[str, str]) -> argparse.Namespace:
    parser = hyperparameter_parser("Train the credit-risk reference model.", HYPERPARAMETERS, env)
    args = parser.parse_args(argv)
    if args.n_estimators < 1:
        raise ConfigError("--n-estimators must be >= 1")
    if not 0.05 <= args.test_size <= 0.5:
        raise ConfigError("--test-size must be within [0.05, 0.5]")
    if args.n_samples < 200:
        raise ConfigError("--n-samples must be >= 200")
    return args


def read_settings(env: dict[str, str]) -> dict[str, Any]:
    uri = env.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        raise ConfigError(
            "MLFLOW_TRACKING_URI is not set; refusing to log to a local ./mlruns inside the container"
        )
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    if scheme not in KNOWN_SCHEMES:
        raise ConfigError(
            f"MLFLOW_TRACKING_URI={redact(uri)} has unsupported scheme {scheme or '(none)'!r}"
        )
    raw_tags = env.get("MLOPS_RUN_TAGS", "").strip()
    extra_tags: dict[str, str] = {}
    if raw_tags:
        try:
            parsed = json.loads(raw_tags)
        except json.JSONDecodeError as e:
            raise ConfigError(f"MLOPS_RUN_TAGS is not valid JSON: {e.msg} at char {e.pos}") from None
        if not isinstance(parsed, dict):
            raise ConfigError("MLOPS_RUN_TAGS must be a JSON object of tag -> value")
        extra_tags = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}
    try:
        timeout = float(env.get("MLOPS_TRACKING_CHECK_TIMEOUT", "10"))
    except ValueError:
        raise ConfigError("MLOPS_TRACKING_CHECK_TIMEOUT must be a number of seconds") from None
    return {
        "tracking_uri": uri,
        "experiment": env.get("MLFLOW_EXPERIMENT_NAME") or "credit-risk",
        "run_name": env.get("MLFLOW_RUN_NAME") or None,
        "model_name": env.get("MLOPS_MODEL_NAME") or "credit-risk",
        "model_alias": env.get("MLOPS_MODEL_ALIAS") or None,
        "data_uri": env.get("MLOPS_DATA_URI") or "synthetic://credit-risk",
        "data_version": env.get("MLOPS_DATA_VERSION") or "unversioned",
        "image_digest": env.get("MLOPS_IMAGE_DIGEST") or None,
        "git_sha": env.get("GIT_SHA") or env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA") or None,
        "extra_tags": extra_tags,
        "result_file": env.get("MLOPS_RESULT_FILE") or None,
        "check_timeout": timeout,
        "sweep_env": {k: env[k] for k in ("MLOPS_SWEEP_ID", "MLOPS_SWEEP_TRIAL", "MLOPS_REGISTER") if k in env},
    }


def redact(uri: str) -> str:
    """Hide credentials embedded in a URI (user:password@host)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None and parts.username is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


# --------------------------------------------------------------------------- connectivity

def check_tracking_server(uri: str, experiment: str, timeout: float, env: dict[str, str]) -> None:
    """Fail fast, with one clear line, when the tracking server cannot be used.

    MLflow's own client retries for minutes on connection errors; a Job should instead fail at
    once with a message that names the setting to fix. The experiments API (not /health) is used
    so that a wrong path prefix or rejected credentials are caught too.
    """
    if urllib.parse.urlsplit(uri).scheme.lower() not in ("http", "https"):
        return
    query = urllib.parse.urlencode({"experiment_name": experiment})
    url = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/get-by-name?{query}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if env.get("MLFLOW_TRACKING_TOKEN"):
        request.add_header("Authorization", f"Bearer {env['MLFLOW_TRACKING_TOKEN']}")
    elif env.get("MLFLOW_TRACKING_USERNAME"):
        pair = f"{env['MLFLOW_TRACKING_USERNAME']}:{env.get('MLFLOW_TRACKING_PASSWORD', '')}"
        request.add_header("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())
    context = None
    if url.startswith("https:"):
        if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true"):
            context = ssl._create_unverified_context()  # noqa: S323 - explicit operator opt-in
        else:
            context = ssl.create_default_context(cafile=env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"))
    where = f"MLFLOW_TRACKING_URI={redact(uri)}"
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body = response.read(65536)
    except urllib.error.HTTPError as e:
        if e.code == 404 and b"RESOURCE_DOES_NOT_EXIST" in e.read(65536):
            return  # server works; the experiment will be created
        if e.code in (401, 403):
            raise ConfigError(
                f"{where} rejected the credentials (HTTP {e.code}); "
                "check MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN"
            ) from None
        raise ConfigError(
            f"{where} is not an MLflow tracking server: GET /api/2.0/mlflow/experiments/get-by-name "
            f"returned HTTP {e.code}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise ConfigError(
            f"cannot reach the MLflow tracking server at {where} within {timeout:g}s: {reason}"
        ) from None
    try:
        json.loads(body or b"{}")
    except ValueError:
        raise ConfigError(
            f"{where} answered with non-JSON content; is it the MLflow server's base URL?"
        ) from None


# --------------------------------------------------------------------------- data

def make_dataset(n_samples: int, seed: int):
    """Synthetic applicants with a default label driven by plausible credit risk factors."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    age = rng.integers(21, 76, n_samples)
    income = rng.lognormal(mean=10.9, sigma=0.45, size=n_samples).round(-2)
    employment = np.minimum(age - 18, rng.gamma(2.0, 3.0, n_samples)).round(1)
    loan = np.minimum(rng.lognormal(mean=9.6, sigma=0.6, size=n_samples), income * 1.5).round(-1)
    term = rng.choice([12, 24, 36, 48, 60], size=n_samples, p=[0.1, 0.2, 0.35, 0.15, 0.2])
    score = np.clip(rng.normal(680, 70, n_samples), 300, 850).round()
    dti = np.clip(rng.beta(2.0, 5.0, n_samples) * 0.8 + loan / income / term * 6, 0, 1.2).round(3)
    utilization = rng.beta(2.0, 3.0, n_samples).round(3)
    accounts = rng.poisson(5, n_samples)
    delinquencies = rng.poisson(0.3 + (score < 600) * 0.7, n_samples)
    home = rng.choice([0, 1, 2], size=n_samples, p=[0.45, 0.4, 0.15])  # rent, mortgage, own

    logit = (
        -1.6
        - 0.013 * (score - 680)
        + 3.2 * (dti - 0.3)
        + 0.55 * delinquencies
        + 1.4 * (utilization - 0.4)
        - 0.05 * employment
        + 0.008 * (term - 36)
        - 0.25 * (home == 2)
        - 0.01 * (age - 45)
        + rng.normal(0, 0.6, n_samples)
    )
    label = (rng.random(n_samples) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "age": age,
            "annual_income": income,
            "employment_years": employment,
            "loan_amount": loan,
            "loan_term_months": term,
            "credit_score": score,
            "debt_to_income": dti,
            "credit_utilization": utilization,
            "num_open_accounts": accounts,
            "delinquencies_2y": delinquencies,
            "home_ownership": home,
        }
    ).astype("float64")
    return frame[FEATURES], pd.Series(label, name=TARGET)


def load_data(args: argparse.Namespace, settings: dict[str, Any]):
    """(features, target, validation report or None): the validated batch when the data version is pinned."""
    from validate import PINNED, load_for_training

    if not PINNED.match(settings["data_version"]):
        return (*make_dataset(args.n_samples, args.seed), None)
    return load_for_training(settings["data_uri"], settings["data_version"])


def feature_statistics(frame, target, scores, settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """Reference statistics a drift monitor compares live traffic against (PSI/KS per feature)."""
    import numpy as np

    def numeric_summary(values) -> dict[str, Any]:
        values = np.asarray(values, dtype="float64")
        finite = values[np.isfinite(values)]
        counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
        return {
            "type": "numeric",
            "count": int(values.size),
            "missing": int(values.size - finite.size),
            "mean": float(finite.mean()),
            "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
            "min": float(finite.min()),
            "max": float(finite.max()),
            "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES))},
            "histogram": {"bin_edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
        }

    rng = np.random.default_rng(seed + 1)
    rows = rng.choice(len(frame), size=min(SAMPLE_ROWS, len(frame)), replace=False)
    return {
        "schema_version": 1,
        "dataset": {
            "uri": settings["data_uri"],
            "version": settings["data_version"],
            "split": "train",
            "rows": int(len(frame)),
        },
        "features": {name: numeric_summary(frame[name]) for name in frame.columns},
        "target": {
            "name": TARGET,
            "positive_rate": float(np.mean(target)),
            "count": int(len(target)),
        },
        "prediction": {"name": "default_probability", **numeric_summary(scores)},
        "sample": {
            "columns": list(frame.columns),
            "rows": frame.iloc[np.sort(rows)].to_numpy().tolist(),
        },
    }


# --------------------------------------------------------------------------- training

def dataset_for_lineage(x_train, y_train, settings: dict[str, Any]):
    """An MLflow dataset entity (schema, digest, source) so the run's inputs show the data URI."""
    import mlflow
    from mlflow.exceptions import MlflowException

    frame = x_train.assign(**{TARGET: y_train.to_numpy()})
    # The 0/1 label is an integer column on purpose; MLflow's schema hint about missing values
    # in integer columns does not apply to a label that is never missing.
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
    try:
        return mlflow.data.from_pandas(
            frame, source=settings["data_uri"], name="credit-risk-train", targets=TARGET
        )
    except MlflowException:
        # Schemes MLflow has no dataset-source resolver for (e.g. synthetic://): keep the
        # lineage in the run tags only.
        return mlflow.data.from_pandas(frame, name="credit-risk-train", targets=TARGET)


def train(args: argparse.Namespace, settings: dict[str, Any]) -> dict[str, Any]:
    import mlflow
    import numpy as np
    import scipy
    import sklearn
    import skops
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    mlflow.set_tracking_uri(settings["tracking_uri"])
    mlflow.set_experiment(settings["experiment"])

    features, target, validation = load_data(args, settings)
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=args.test_size, random_state=args.seed, stratify=target
    )
    max_features: Any = args.max_features
    try:
        max_features = float(max_features)
    except ValueError:
        pass
    model = RandomForestClassifier(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth or None,
        min_samples_leaf=args.min_samples_leaf,
        max_features=max_features,
        class_weight="balanced",
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )

    tags = {
        "mlops.data_uri": settings["data_uri"],
        "mlops.data_version": settings["data_version"],
        "mlops.trainer": "examples/credit-risk",
    }
    if settings["image_digest"]:
        tags["mlops.image_digest"] = settings["image_digest"]
    if settings["git_sha"]:
        tags["mlops.git_sha"] = settings["git_sha"]
        tags["mlflow.source.git.commit"] = settings["git_sha"]
    tags.update(settings["extra_tags"])
    if validation:
        tags.update({"mlops.data_validation": "passed", "mlops.data_digest": validation["data_digest"], "mlops.data_contract": f"{validation['contract']['name']}@{validation['contract']['version']}"})
    import sweep

    experiment_id = mlflow.get_experiment_by_name(settings["experiment"]).experiment_id
    tags.update(sweep.child_tags(settings["sweep_env"], MlflowClient(), experiment_id))
    register = sweep.registers(settings["sweep_env"])

    started = time.monotonic()
    with mlflow.start_run(run_name=settings["run_name"], tags=tags) as run:
        mlflow.log_params(vars(args))
        mlflow.log_params({"model_class": "RandomForestClassifier", "class_weight": "balanced"})
        mlflow.log_input(dataset_for_lineage(x_train, y_train, settings), context="training")
        if validation:
            mlflow.log_dict(validation, "validation/report.json")

        model.fit(x_train, y_train)
        scores = model.predict_proba(x_test)[:, 1]
        predicted = (scores >= 0.5).astype(int)
        metrics = {
            "accuracy": accuracy_score(y_test, predicted),
            "f1": f1_score(y_test, predicted),
            "precision": precision_score(y_test, predicted, zero_division=0),
            "recall": recall_score(y_test, predicted),
            "roc_auc": roc_auc_score(y_test, scores),
            "train_seconds": time.monotonic() - started,
            # Size of the evaluation set: the gate's significance test needs it.
            "eval_samples": float(len(y_test)),
        }
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})

        train_scores = model.predict_proba(x_train)[:, 1]
        mlflow.log_dict(
            feature_statistics(x_train, y_train, train_scores, settings, args.seed),
            "reference/feature_stats.json",
        )

        signature = infer_signature(x_train.head(50), model.predict_proba(x_train.head(50)))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            registered_model_name=settings["model_name"] if register else None,
            # skops (the safe default format) refuses tree node storage unless named: this
            # process built the forest itself, so it is trusted; loaders read this from MLmodel.
            skops_trusted_types=["sklearn.tree._tree.Tree"],
            # Pinned from this environment: no import-inference subprocess, reproducible serving.
            pip_requirements=[
                f"mlflow=={mlflow.__version__}",
                f"scikit-learn=={sklearn.__version__}",
                f"numpy=={np.__version__}",
                f"scipy=={scipy.__version__}",
                f"skops=={skops.__version__}",
            ],
        )
        mlflow.set_tag(sweep.LOGGED_MODEL_TAG, info.model_uri)
        version = str(info.registered_model_version) if register else None

    client = MlflowClient()
    if version is not None:
        for key in ("mlops.data_uri", "mlops.data_version", "mlops.image_digest", "mlops.git_sha"):
            if key in tags:
                client.set_model_version_tag(settings["model_name"], version, key, tags[key])
        if settings["model_alias"]:
            client.set_registered_model_alias(settings["model_name"], settings["model_alias"], version)

    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "model_name": settings["model_name"],
        "model_version": version,
        "model_uri": f"models:/{settings['model_name']}/{version}" if version else None,
        "logged_model_uri": info.model_uri,
        "metrics": {k: round(float(v), 6) for k, v in metrics.items() if not math.isnan(v)},
    }


def log_refusal(settings: dict[str, Any], e: "DataRefused") -> None:
    """A refused batch still leaves a FAILED run carrying the validation report, next to the others."""
    import mlflow

    tags = {"mlops.data_uri": settings["data_uri"], "mlops.data_version": settings["data_version"], "mlops.data_validation": "refused"}
    with mlflow.start_run(run_name=settings["run_name"], tags=tags) as run:
        mlflow.set_tag("mlops.refusal", str(e)[:5000])
        if e.report:
            mlflow.log_dict(e.report, "validation/report.json")
        mlflow.end_run(status="FAILED")
    print(f"run_id={run.info.run_id}")


def main(argv: list[str] | None = None) -> int:
    env = dict(os.environ)
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv, env)
        settings = read_settings(env)
        check_tracking_server(
            settings["tracking_uri"], settings["experiment"], settings["check_timeout"], env
        )
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import sweep

    try:
        result = train(args, settings)
    except DataRefused as e:
        log_refusal(settings, e)
        print(f"error: data refused: {e}", file=sys.stderr)
        return 2
    except sweep.SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"run_id={result['run_id']}")
    print(f"model_version={result['model_name']}/{result['model_version']}")
    print("MLOPS_RESULT " + json.dumps(result, sort_keys=True))
    if settings["result_file"]:
        with open(settings["result_file"], "w", encoding="utf-8") as f:
            json.dump(result, f, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
