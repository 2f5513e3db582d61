#!/usr/bin/env python3
"""Hyperparameter sweeps in MLflow: one parent run, one child run per trial, the best one registered.

The platform renders a sweep as Kubernetes Jobs (components/sweep.ts):

  python /app/sweep.py start      creates the parent run (idempotent: found again by its sweep id)
  <trainer> (one Job per trial)   MLOPS_SWEEP_ID / MLOPS_SWEEP_TRIAL set, MLOPS_REGISTER=false: the
                                  trainer logs a child run of the parent (tag mlflow.parentRunId)
                                  and logs its model without registering it
  python /app/sweep.py finalize   picks the best finished child by the gate's metric and direction,
                                  registers its model, tags the version with lineage and the sweep,
                                  points the alias (e.g. "candidate") at it, and records the winner
                                  on the parent run

Environment: MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME, MLFLOW_RUN_NAME (parent run name),
MLOPS_SWEEP_ID, MLOPS_SWEEP_METRIC, MLOPS_SWEEP_DIRECTION (maximize|minimize), MLOPS_SWEEP_TRIALS
(expected number of trials), MLOPS_MODEL_NAME, MLOPS_MODEL_ALIAS, MLOPS_RESULT_FILE.
Exit codes: 0 success, 2 configuration problem or no usable trial, 1 anything else.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

PARENT_ROLE = "parent"
SWEEP_ID_TAG = "mlops.sweep.id"
SWEEP_ROLE_TAG = "mlops.sweep.role"
SWEEP_TRIAL_TAG = "mlops.sweep.trial"
LOGGED_MODEL_TAG = "mlops.logged_model_uri"
LINEAGE_TAGS = ("mlops.data_uri", "mlops.data_version", "mlops.image_digest", "mlops.git_sha")


class SweepError(Exception):
    """A problem printed as one line (exit 2)."""


def _experiment_id(client, name: str, create: bool) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    if not create:
        raise SweepError(f"experiment {name!r} does not exist (run `sweep.py start` first)")
    return client.create_experiment(name)


def find_parent(client, experiment_id: str, sweep_id: str):
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{SWEEP_ID_TAG}` = '{sweep_id}' and tags.`{SWEEP_ROLE_TAG}` = '{PARENT_ROLE}'",
        max_results=2,
    )
    if len(runs) > 1:
        raise SweepError(f"more than one parent run for sweep {sweep_id}")
    return runs[0] if runs else None


def child_tags(env: dict[str, str], client, experiment_id: str) -> dict[str, str]:
    """Tags that make a trainer's run a child of its sweep's parent run ({} outside a sweep)."""
    sweep_id = env.get("MLOPS_SWEEP_ID") or ""
    if not sweep_id:
        return {}
    parent = find_parent(client, experiment_id, sweep_id)
    if parent is None:
        raise SweepError(f"MLOPS_SWEEP_ID={sweep_id}: no parent run in the experiment (the sweep's start Job did not run)")
    return {
        "mlflow.parentRunId": parent.info.run_id,
        SWEEP_ID_TAG: sweep_id,
        SWEEP_ROLE_TAG: "trial",
        SWEEP_TRIAL_TAG: env.get("MLOPS_SWEEP_TRIAL", ""),
    }


def registers(env: dict[str, str]) -> bool:
    """Whether the trainer registers its model (not when it is a sweep trial)."""
    return env.get("MLOPS_REGISTER", "true").lower() not in ("false", "0", "no")


def _settings(env: dict[str, str]) -> dict[str, Any]:
    missing = [k for k in ("MLFLOW_TRACKING_URI", "MLOPS_SWEEP_ID") if not env.get(k)]
    if missing:
        raise SweepError(f"{', '.join(missing)} not set")
    direction = env.get("MLOPS_SWEEP_DIRECTION", "maximize")
    if direction not in ("maximize", "minimize"):
        raise SweepError(f"MLOPS_SWEEP_DIRECTION={direction!r} must be maximize or minimize")
    return {
        "sweep_id": env["MLOPS_SWEEP_ID"],
        "experiment": env.get("MLFLOW_EXPERIMENT_NAME") or "credit-risk",
        "run_name": env.get("MLFLOW_RUN_NAME") or f"sweep-{env['MLOPS_SWEEP_ID']}",
        "metric": env.get("MLOPS_SWEEP_METRIC") or "f1",
        "direction": direction,
        "trials": int(env.get("MLOPS_SWEEP_TRIALS") or "0"),
        "model_name": env.get("MLOPS_MODEL_NAME") or "credit-risk",
        "model_alias": env.get("MLOPS_MODEL_ALIAS") or None,
        "result_file": env.get("MLOPS_RESULT_FILE") or None,
    }


def start(env: dict[str, str]) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    s = _settings(env)
    client = MlflowClient()
    exp = _experiment_id(client, s["experiment"], create=True)
    parent = find_parent(client, exp, s["sweep_id"])
    if parent is None:
        extra = json.loads(env.get("MLOPS_RUN_TAGS") or "{}")
        tags = {str(k): str(v) for k, v in extra.items()}
        tags.update({SWEEP_ID_TAG: s["sweep_id"], SWEEP_ROLE_TAG: PARENT_ROLE, "mlops.sweep.metric": s["metric"], "mlops.sweep.direction": s["direction"]})
        for key, var in (("mlops.data_uri", "MLOPS_DATA_URI"), ("mlops.data_version", "MLOPS_DATA_VERSION"), ("mlops.image_digest", "MLOPS_IMAGE_DIGEST")):
            if env.get(var):
                tags[key] = env[var]
        run = client.create_run(exp, run_name=s["run_name"], tags=tags)
        client.log_param(run.info.run_id, "trials", s["trials"])
        run_id = run.info.run_id
    else:
        run_id = parent.info.run_id
    return {"parent_run_id": run_id, "experiment_id": exp, "sweep_id": s["sweep_id"]}


def finalize(env: dict[str, str]) -> dict[str, Any]:
    import mlflow
    from mlflow.tracking import MlflowClient

    s = _settings(env)
    client = MlflowClient()
    exp = _experiment_id(client, s["experiment"], create=False)
    parent = find_parent(client, exp, s["sweep_id"])
    if parent is None:
        raise SweepError(f"no parent run for sweep {s['sweep_id']}")
    children = client.search_runs(
        [exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", max_results=1000
    )
    finished = [r for r in children if r.info.status == "FINISHED" and s["metric"] in r.data.metrics and r.data.tags.get(LOGGED_MODEL_TAG)]
    scored = [r for r in finished if not math.isnan(r.data.metrics[s["metric"]])]
    if not scored:
        raise SweepError(f"sweep {s['sweep_id']}: no finished trial logged {s['metric']!r} and a model ({len(children)} child runs)")
    sign = 1 if s["direction"] == "maximize" else -1
    # Ties go to the lower trial number: the same sweep always picks the same winner.
    best = max(scored, key=lambda r: (sign * r.data.metrics[s["metric"]], -int(r.data.tags.get(SWEEP_TRIAL_TAG) or 0)))
    mv = mlflow.register_model(best.data.tags[LOGGED_MODEL_TAG], s["model_name"])
    version = str(mv.version)
    for key in LINEAGE_TAGS:
        if key in best.data.tags:
            client.set_model_version_tag(s["model_name"], version, key, best.data.tags[key])
    client.set_model_version_tag(s["model_name"], version, SWEEP_ID_TAG, s["sweep_id"])
    client.set_model_version_tag(s["model_name"], version, "mlops.sweep.parent_run_id", parent.info.run_id)
    if s["model_alias"]:
        client.set_registered_model_alias(s["model_name"], s["model_alias"], version)
    pid = parent.info.run_id
    client.set_tag(pid, "mlops.sweep.best_run_id", best.info.run_id)
    client.set_tag(pid, "mlops.sweep.best_trial", best.data.tags.get(SWEEP_TRIAL_TAG, ""))
    client.set_tag(pid, "mlops.sweep.model_version", version)
    client.log_metric(pid, f"best_{s['metric']}", best.data.metrics[s["metric"]])
    client.log_metric(pid, "trials_finished", float(len(scored)))
    if s["trials"] and len(children) < s["trials"]:
        print(f"warning: {len(children)} of {s['trials']} trials logged a run", file=sys.stderr)
    client.set_terminated(pid, "FINISHED")
    return {
        "parent_run_id": pid,
        "run_id": best.info.run_id,
        "trial": best.data.tags.get(SWEEP_TRIAL_TAG),
        "model_name": s["model_name"],
        "model_version": version,
        "model_uri": f"models:/{s['model_name']}/{version}",
        "metrics": {k: round(float(v), 6) for k, v in best.data.metrics.items() if not math.isnan(v)},
        "trials_finished": len(scored),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in ("start", "finalize"):
        print("usage: sweep.py start|finalize", file=sys.stderr)
        return 2
    env = dict(os.environ)
    try:
        result = start(env) if argv[0] == "start" else finalize(env)
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("MLOPS_RESULT " + json.dumps(result, sort_keys=True))
    if env.get("MLOPS_RESULT_FILE"):
        with open(env["MLOPS_RESULT_FILE"], "w", encoding="utf-8") as f:
            json.dump(result, f, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
