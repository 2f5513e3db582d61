"""MLServer runtime of the platform: MLServer's MLflow runtime plus sampled prediction logging.

Set ``MLSERVER_MODEL_IMPLEMENTATION=mlops_server.runtime.PredictionLoggingRuntime``. Everything of
``mlserver_mlflow.MLflowRuntime`` is kept: the V2 / Open Inference Protocol endpoints and MLflow's
scoring-server routes (``/invocations``, ``/ping``, ``/health``, ``/version``), which MLServer
registers as custom handlers of the runtime. Both paths call ``self._model.predict``; after loading,
that model is wrapped so each prediction is offered to the :class:`PredictionLogger` (a non-blocking
queue put) after it was computed.

Metrics (Prometheus, MLServer's metrics port): ``mlops_prediction_log_dropped_total{reason}`` and
``mlops_prediction_log_rows_total`` with MLServer's ``model_name`` / ``model_version`` labels. They
are created in ``load`` (lazily, as MLServer needs for its multi-process metrics with parallel
workers).
"""

from __future__ import annotations

import contextvars
import logging
import os
import uuid
from typing import Any, Optional

from mlserver.types import InferenceRequest, InferenceResponse
from mlserver_mlflow import MLflowRuntime

from .prediction_log import ConfigError, PredictionLogConfig, PredictionLogger, S3Sink, register_shutdown

log = logging.getLogger("mlserver.prediction_log")

#: V2 request id of the request being predicted (``/invocations`` has none: a UUID is generated).
REQUEST_ID: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("mlops_request_id", default=None)


class PrometheusCounters:
    """The logger's counters, labelled like MLServer's own model metrics."""

    def __init__(self, model: str, version: str):
        from prometheus_client import Counter

        labels = {"model_name": model, "model_version": version}
        self._dropped = _counter(Counter, "mlops_prediction_log_dropped", "Prediction log records dropped (queue_full, write_error, encode_error)", ["model_name", "model_version", "reason"])
        self._rows = _counter(Counter, "mlops_prediction_log_rows", "Prediction log rows written to the data lake", ["model_name", "model_version"])
        self._labels = labels
        # Export zeros from the start, so `increase()` and absent-checks see the series.
        for reason in ("queue_full", "write_error", "encode_error"):
            self._dropped.labels(**labels, reason=reason)
        self._rows.labels(**labels)

    def dropped(self, reason: str, n: int) -> None:
        self._dropped.labels(**self._labels, reason=reason).inc(n)

    def written(self, n: int) -> None:
        self._rows.labels(**self._labels).inc(n)


def _counter(cls: Any, name: str, doc: str, labels: list[str]) -> Any:
    """One Counter per process in prometheus_client's default registry (a model reload reuses it).

    MLServer's metrics endpoint serves that registry without parallel workers, and with them the
    multiprocess files every process writes (MLServer sets PROMETHEUS_MULTIPROC_DIR before it starts
    the workers, and the Counter is created lazily in load(), inside the worker).
    """
    from prometheus_client import REGISTRY

    existing = REGISTRY._names_to_collectors.get(name)  # noqa: SLF001 - no public lookup exists
    return existing if existing is not None else cls(name, doc, labels, registry=REGISTRY)


class _LoggedModel:
    """A pyfunc model whose predict() also offers (inputs, outputs) to the prediction logger."""

    def __init__(self, inner: Any, logger: PredictionLogger):
        self._inner = inner
        self._logger = logger

    def predict(self, data: Any, params: Any = None) -> Any:
        out = self._inner.predict(data, params=params)
        self._logger.offer(data, out, REQUEST_ID.get() or str(uuid.uuid4()))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class PredictionLoggingRuntime(MLflowRuntime):
    """MLflowRuntime + prediction logging configured by MLOPS_PREDICTION_LOG_* (off unless ENABLED=true)."""

    prediction_log: Optional[PredictionLogger] = None

    async def load(self) -> bool:
        ok = await super().load()
        try:
            config = PredictionLogConfig.from_env(
                {**os.environ, "MLSERVER_MODEL_NAME": self.name, "MLSERVER_MODEL_VERSION": self.version or os.environ.get("MLSERVER_MODEL_VERSION", "")}
            )
        except ConfigError as e:
            # A misconfigured log must stop the rollout (readiness never passes), not serve unlogged.
            log.error("prediction log configuration: %s", e)
            raise
        if config.enabled:
            self.prediction_log = PredictionLogger(config, S3Sink(config.bucket), PrometheusCounters(config.model, config.version))
            register_shutdown(self.prediction_log)
            self._model = _LoggedModel(self._model, self.prediction_log)
            log.info(
                "prediction log on: s3://%s/%smodel=%s/version=%s/ sample rate %s, batch %d rows or %ss, queue %d, excluded fields %s",
                config.bucket, config.prefix, config.model, config.version, config.sample_rate, config.batch_size,
                config.flush_seconds, config.queue_size, ",".join(config.exclude_fields) or "none",
            )
        return ok

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        token = REQUEST_ID.set(payload.id)
        try:
            return await super().predict(payload)
        finally:
            REQUEST_ID.reset(token)

    async def unload(self) -> bool:
        if self.prediction_log is not None:
            self.prediction_log.close()
        return await super().unload()
