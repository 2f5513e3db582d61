#!/usr/bin/env python3
"""Deep-learning reference trainer: the credit-default classifier as a small PyTorch MLP trained with
DistributedDataParallel, logged to MLflow exactly as train.py logs the scikit-learn model.

Launched by torchrun (the TrainingJob renders `torchrun /app/train_torch.py` with torchrun's options
as PET_* env: nodes, processes per node, node rank, rank 0's address), or alone as one process.
Every process builds the same seeded data set and split; DistributedSampler gives each rank its
shard of the training rows; DDP averages the gradients. Backend: NCCL on GPUs when CUDA is
available, gloo on CPU otherwise.

Only rank 0 talks to MLflow after training: one run with the same parameters-as-flags, metric names
(accuracy, f1, precision, recall, roc_auc, train_seconds, eval_samples), lineage tags, dataset
input, reference/feature_stats.json, registration and alias as train.py, so the gate, serving and
the drift check work unchanged. The trained network is logged as a scikit-learn Pipeline
(StandardScaler + MLPClassifier carrying the trained weights: the same ReLU network), so the
serving image needs no PyTorch. Extra metrics: world_size. Configuration (env, exit codes) as
train.py; see its docstring.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sweep  # noqa: E402
import train as base  # noqa: E402

HYPERPARAMETERS: dict[str, tuple[type, Any, str]] = {
    "hidden_units": (int, 64, "units in each of the two hidden layers"),
    "epochs": (int, 30, "passes over the training rows"),
    "batch_size": (int, 128, "rows per step and rank"),
    "learning_rate": (float, 0.003, "Adam learning rate"),
    "weight_decay": (float, 0.0001, "Adam weight decay"),
    "n_samples": (int, 5000, "rows in the synthetic data set"),
    "test_size": (float, 0.2, "held-out fraction"),
    "seed": (int, 42, "random seed for data, split and initial weights"),
}


def parse_args(argv: list[str], env: dict[str, str]) -> argparse.Namespace:
    parser = base.hyperparameter_parser("Train the credit-risk MLP with PyTorch DDP.", HYPERPARAMETERS, env)
    args = parser.parse_args(argv)
    if args.hidden_units < 1 or args.epochs < 1 or args.batch_size < 1:
        raise base.ConfigError("--hidden-units, --epochs and --batch-size must be >= 1")
    if not 0 < args.learning_rate < 1:
        raise base.ConfigError("--learning-rate must be within (0, 1)")
    if not 0.05 <= args.test_size <= 0.5:
        raise base.ConfigError("--test-size must be within [0.05, 0.5]")
    if args.n_samples < 200:
        raise base.ConfigError("--n-samples must be >= 200")
    return args


def distributed_env(env: dict[str, str]) -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them; (0, 1, 0) when run alone."""
    try:
        return int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1")), int(env.get("LOCAL_RANK", "0"))
    except ValueError:
        raise base.ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)") from None


def build_model(torch, n_features: int, hidden: int):
    nn = torch.nn
    return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def to_sklearn(net, scaler, hidden: int, x_fit, y_fit):
    """The trained network as a scikit-learn Pipeline computing the same function (for serving)."""
    import numpy as np
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline

    mlp = MLPClassifier(hidden_layer_sizes=(hidden, hidden), activation="relu", max_iter=1)
    # One partial_fit sets up classes, shapes and the logistic output layer; the weights are then replaced.
    mlp.partial_fit(scaler.transform(x_fit), y_fit, classes=np.array([0, 1]))
    linear = [m for m in net if hasattr(m, "weight")]
    mlp.coefs_ = [layer.weight.detach().cpu().numpy().T.astype("float64") for layer in linear]
    mlp.intercepts_ = [layer.bias.detach().cpu().numpy().astype("float64") for layer in linear]
    return Pipeline([("scaler", scaler), ("mlp", mlp)])


def train(args: argparse.Namespace, settings: dict[str, Any], env: dict[str, str]) -> dict[str, Any] | None:
    import torch
    import torch.distributed as dist
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.data.distributed import DistributedSampler

    rank, world, local_rank = distributed_env(env)
    cuda = torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group(backend=backend)
    torch.manual_seed(args.seed)
    # Deterministic CPU math; one thread per process so N local ranks do not oversubscribe cores.
    torch.set_num_threads(max(1, int(env.get("OMP_NUM_THREADS", "1"))))

    # The same data path as train.py: a pinned version is validated against the data contract (every
    # rank validates the same batch, so all refuse it together); unpinned runs use the seeded data.
    features, target, validation = base.load_data(args, settings)
    x_train, x_test, y_train, y_test = train_test_split(features, target, test_size=args.test_size, random_state=args.seed, stratify=target)
    scaler = StandardScaler().fit(x_train)
    xt = torch.tensor(scaler.transform(x_train), dtype=torch.float32)
    yt = torch.tensor(y_train.to_numpy(), dtype=torch.float32)
    data = TensorDataset(xt, yt)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed) if world > 1 else None
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler, shuffle=sampler is None, generator=torch.Generator().manual_seed(args.seed))

    net = build_model(torch, xt.shape[1], args.hidden_units).to(device)
    model = DDP(net, device_ids=[local_rank] if cuda else None) if world > 1 else net
    positives = float(yt.sum())
    # Balanced classes, as train.py's class_weight="balanced".
    pos_weight = torch.tensor([(len(yt) - positives) / max(positives, 1.0)], device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)

    started = time.monotonic()
    for epoch in range(args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()
            optimizer.step()
    train_seconds = time.monotonic() - started

    if world > 1:
        dist.barrier()
    result = None
    if rank == 0:
        result = log_run(args, settings, env, net, scaler, x_train, y_train, x_test, y_test, train_seconds, world, backend, validation)
    if world > 1:
        # Ranks leave together: a rank that exits first would look like a failed worker.
        dist.barrier()
        dist.destroy_process_group()
    return result


def log_run(args, settings, env, net, scaler, x_train, y_train, x_test, y_test, train_seconds, world, backend, validation=None) -> dict[str, Any]:
    import mlflow
    import numpy as np
    import scipy
    import sklearn
    import skops
    import torch
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    mlflow.set_tracking_uri(settings["tracking_uri"])
    mlflow.set_experiment(settings["experiment"])
    pipeline = to_sklearn(net, scaler, args.hidden_units, x_train.head(20), y_train.head(20).to_numpy())
    with torch.no_grad():
        logits = net(torch.tensor(scaler.transform(x_test), dtype=torch.float32).to(next(net.parameters()).device)).squeeze(1).cpu().numpy()
    scores = 1.0 / (1.0 + np.exp(-logits))
    # The logged Pipeline must compute what the network computed.
    drift = float(np.max(np.abs(pipeline.predict_proba(x_test)[:, 1] - scores)))
    if drift > 1e-4:
        raise RuntimeError(f"sklearn export differs from the network by {drift}")
    predicted = (scores >= 0.5).astype(int)

    tags = {"mlops.data_uri": settings["data_uri"], "mlops.data_version": settings["data_version"], "mlops.trainer": "examples/credit-risk/train_torch.py"}
    if settings["image_digest"]:
        tags["mlops.image_digest"] = settings["image_digest"]
    if settings["git_sha"]:
        tags["mlops.git_sha"] = settings["git_sha"]
        tags["mlflow.source.git.commit"] = settings["git_sha"]
    tags.update(settings["extra_tags"])
    if validation:
        tags.update({"mlops.data_validation": "passed", "mlops.data_digest": validation["data_digest"], "mlops.data_contract": f"{validation['contract']['name']}@{validation['contract']['version']}"})
    client = MlflowClient()
    experiment_id = mlflow.get_experiment_by_name(settings["experiment"]).experiment_id
    tags.update(sweep.child_tags(settings["sweep_env"], client, experiment_id))
    register = sweep.registers(settings["sweep_env"])

    with mlflow.start_run(run_name=settings["run_name"], tags=tags) as run:
        mlflow.log_params(vars(args))
        mlflow.log_params({"model_class": "TorchMLP(DDP)->MLPClassifier", "class_weight": "balanced", "world_size": world, "backend": backend})
        mlflow.log_input(base.dataset_for_lineage(x_train, y_train, settings), context="training")
        if validation:
            mlflow.log_dict(validation, "validation/report.json")
        metrics = {
            "accuracy": accuracy_score(y_test, predicted),
            "f1": f1_score(y_test, predicted),
            "precision": precision_score(y_test, predicted, zero_division=0),
            "recall": recall_score(y_test, predicted),
            "roc_auc": roc_auc_score(y_test, scores),
            "train_seconds": train_seconds,
            "eval_samples": float(len(y_test)),
            "world_size": float(world),
        }
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        train_scores = pipeline.predict_proba(x_train)[:, 1]
        mlflow.log_dict(base.feature_statistics(x_train, y_train, train_scores, settings, args.seed), "reference/feature_stats.json")
        signature = infer_signature(x_train.head(50), pipeline.predict_proba(x_train.head(50)))
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=signature,
            registered_model_name=settings["model_name"] if register else None,
            skops_trusted_types=skops_trusted(pipeline),
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

    if version is not None:
        for key in sweep.LINEAGE_TAGS:
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
        "world_size": world,
        "metrics": {k: round(float(v), 6) for k, v in metrics.items() if not math.isnan(v)},
    }


def skops_trusted(pipeline) -> list[str]:
    """Types skops would refuse to load by default: this process built them, so they are trusted."""
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))


def main(argv: list[str] | None = None) -> int:
    env = dict(os.environ)
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv, env)
        settings = base.read_settings(env)
        distributed_env(env)
        base.check_tracking_server(settings["tracking_uri"], settings["experiment"], settings["check_timeout"], env)
    except base.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        result = train(args, settings, env)
    except base.DataRefused as e:
        if int(env.get("RANK", "0")) == 0:
            base.log_refusal(settings, e)
        print(f"error: data refused: {e}", file=sys.stderr)
        return 2
    except sweep.SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result is None:
        print(f"rank {env.get('RANK')} done (rank 0 logs the run)")
        return 0
    print(f"run_id={result['run_id']}")
    print(f"model_version={result['model_name']}/{result['model_version']}")
    print("MLOPS_RESULT " + json.dumps(result, sort_keys=True))
    if settings["result_file"]:
        with open(settings["result_file"], "w", encoding="utf-8") as f:
            json.dump(result, f, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
