"""Sampled prediction logging: a bounded in-memory queue drained by a background thread into S3.

A request only pays for a random draw and a non-blocking ``put_nowait``: turning inputs and
predictions into rows, Parquet encoding and the S3 upload happen on the flusher thread. When the
queue is full the record is dropped and counted (``mlops_prediction_log_dropped_total``), the
request is never delayed. ``close()`` (called on model unload, at interpreter exit and when a
parallel-inference worker process exits) drains the queue and writes everything accepted.

Layout (one object per flush and date)::

    s3://<bucket>/<prefix>model=<name>/version=<version>/date=<yyyy-mm-dd>/<track>-<host>-<pid>-<epoch_ms>-<seq>.parquet

One row per input row: the input columns under their own names (minus the excluded fields), then
``mlops_prediction``, ``mlops_model``, ``mlops_version``, ``mlops_track``, ``mlops_request_id``,
``mlops_row`` (row index within the request) and ``mlops_timestamp`` (UTC, milliseconds).
"""

from __future__ import annotations

import atexit
import datetime as dt
import io
import json
import logging
import math
import os
import queue
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

# A child of MLServer's logger, so it shares its handler and level.
log = logging.getLogger("mlserver.prediction_log")

#: Environment variables the ServingStack renders (see components/servingStack.ts, predictionLogEnv).
ENV = "MLOPS_PREDICTION_LOG_"
METADATA_COLUMNS = (
    "mlops_prediction",
    "mlops_model",
    "mlops_version",
    "mlops_track",
    "mlops_request_id",
    "mlops_row",
    "mlops_timestamp",
)
FORMATS = ("parquet", "jsonl")
TRACKS = ("stable", "canary", "blue", "green")
POLL_SECONDS = 0.2


class ConfigError(ValueError):
    """A bad MLOPS_PREDICTION_LOG_* / MLOPS_* value; the message names the variable."""


@dataclass(frozen=True)
class PredictionLogConfig:
    enabled: bool
    bucket: str = ""
    prefix: str = "predictions/"
    sample_rate: float = 1.0
    batch_size: int = 500
    flush_seconds: float = 30.0
    queue_size: int = 10000
    exclude_fields: tuple[str, ...] = ()
    format: str = "parquet"
    model: str = ""
    version: str = ""
    track: str = ""

    @staticmethod
    def from_env(env: Mapping[str, str]) -> "PredictionLogConfig":
        def get(name: str, default: Optional[str] = None) -> Optional[str]:
            v = env.get(ENV + name)
            return default if v is None or v == "" else v

        enabled = (get("ENABLED", "false") or "").lower()
        if enabled not in ("true", "false"):
            raise ConfigError(f"{ENV}ENABLED must be true or false, got {enabled!r}")
        if enabled == "false":
            return PredictionLogConfig(enabled=False)

        def number(name: str, default: str, cast: Callable[[str], Any], ok: Callable[[Any], bool], allowed: str) -> Any:
            raw = get(name, default)
            try:
                v = cast(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ConfigError(f"{ENV}{name} must be {allowed}, got {raw!r}") from None
            if not ok(v):
                raise ConfigError(f"{ENV}{name} must be {allowed}, got {raw!r}")
            return v

        bucket = get("BUCKET") or ""
        if not bucket:
            raise ConfigError(f"{ENV}BUCKET is required when {ENV}ENABLED=true")
        prefix = get("PREFIX", "predictions/") or ""
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ConfigError(f"{ENV}PREFIX must be a key prefix ending in '/' (not starting with '/'), got {prefix!r}")
        fmt = get("FORMAT", "parquet")
        if fmt not in FORMATS:
            raise ConfigError(f"{ENV}FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
        model = env.get("MLSERVER_MODEL_NAME", "")
        version = env.get("MLSERVER_MODEL_VERSION", "")
        track = env.get("MLOPS_TRACK", "")
        for var, v in (("MLSERVER_MODEL_NAME", model), ("MLSERVER_MODEL_VERSION", version)):
            if not v or "/" in v or "=" in v:
                raise ConfigError(f"{var} must be set without '/' or '=' (it is a partition of the log layout), got {v!r}")
        if track not in TRACKS:
            raise ConfigError(f"MLOPS_TRACK must be one of {', '.join(TRACKS)}, got {track!r}")
        exclude = tuple(f.strip() for f in (get("EXCLUDE_FIELDS", "") or "").split(",") if f.strip())
        return PredictionLogConfig(
            enabled=True,
            bucket=bucket,
            prefix=prefix,
            sample_rate=number("SAMPLE_RATE", "1", float, lambda x: 0 < x <= 1, "a fraction in (0, 1]"),
            batch_size=number("BATCH_SIZE", "500", int, lambda x: 1 <= x <= 100000, "an integer in [1, 100000]"),
            flush_seconds=number("FLUSH_SECONDS", "30", float, lambda x: 0 < x <= 3600, "seconds in (0, 3600]"),
            queue_size=number("QUEUE_SIZE", "10000", int, lambda x: 1 <= x <= 1000000, "an integer in [1, 1000000]"),
            exclude_fields=exclude,
            format=fmt or "parquet",
            model=model,
            version=version,
            track=track,
        )


class Sink(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...


class S3Sink:
    """PutObject into the data-lake bucket (default SSE-KMS of the bucket; the identity may only write the prefix)."""

    def __init__(self, bucket: str):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        # Standard retry mode: throttling and 5xx are retried with backoff before a batch counts as lost.
        self._client = boto3.client("s3", config=Config(retries={"max_attempts": 5, "mode": "standard"}))

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)


class Counters(Protocol):
    def dropped(self, reason: str, n: int) -> None: ...
    def written(self, n: int) -> None: ...


class NoCounters:
    def dropped(self, reason: str, n: int) -> None:
        pass

    def written(self, n: int) -> None:
        pass


@dataclass
class _Entry:
    inputs: Any
    predictions: Any
    request_id: str
    timestamp: float


def _rows(inputs: Any) -> list[dict[str, Any]]:
    """Input rows as dicts (DataFrame, dict of columns, ndarray, list of dicts, or one opaque value)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas ships with mlflow
        pd = None
    if pd is not None and isinstance(inputs, pd.DataFrame):
        return inputs.to_dict(orient="records")
    if pd is not None and isinstance(inputs, pd.Series):
        return [{str(inputs.name or "input"): v} for v in inputs.tolist()]
    if isinstance(inputs, dict):
        cols = {str(k): (v.tolist() if hasattr(v, "tolist") else v) for k, v in inputs.items()}
        lens = {len(v) for v in cols.values() if isinstance(v, list)}
        if len(lens) == 1 and all(isinstance(v, list) for v in cols.values()):
            n = lens.pop()
            return [{k: v[i] for k, v in cols.items()} for i in range(n)]
        return [cols]
    if hasattr(inputs, "tolist"):
        inputs = inputs.tolist()
    if isinstance(inputs, list):
        if all(isinstance(r, dict) for r in inputs):
            return [dict(r) for r in inputs]
        if all(isinstance(r, list) for r in inputs):
            return [{f"input_{j}": v for j, v in enumerate(r)} for r in inputs]
        return [{"input": v} for v in inputs]
    return [{"input": inputs}]


def _predictions(pred: Any, n: int) -> list[Any]:
    """One prediction per input row when the shapes agree, else the whole output on every row."""
    try:
        import pandas as pd

        if isinstance(pred, pd.DataFrame):
            pred = pred.to_dict(orient="records") if pred.shape[1] > 1 else pred.iloc[:, 0].tolist()
        elif isinstance(pred, pd.Series):
            pred = pred.tolist()
    except ImportError:  # pragma: no cover
        pass
    if hasattr(pred, "tolist"):
        pred = pred.tolist()
    if isinstance(pred, dict) and n != 1:
        pred = [pred]
    if isinstance(pred, list) and len(pred) == n:
        return pred
    return [pred] * n


def _scalar(v: Any) -> Any:
    """Parquet-friendly cell: numbers, strings, booleans and None as is; anything else as JSON."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if hasattr(v, "item"):
        try:
            return _scalar(v.item())
        except (ValueError, AttributeError):
            pass
    return json.dumps(v, default=str, sort_keys=True)


class PredictionLogger:
    """Bounded queue + flusher thread. ``offer`` never blocks; ``close`` writes everything accepted."""

    def __init__(
        self,
        config: PredictionLogConfig,
        sink: Sink,
        counters: Counters | None = None,
        rng: Callable[[], float] = random.random,
        start: bool = True,
    ):
        if not config.enabled:
            raise ValueError("PredictionLogger needs an enabled config")
        self.config = config
        self._sink = sink
        self._counters = counters or NoCounters()
        self._rng = rng
        self._queue: "queue.Queue[_Entry]" = queue.Queue(maxsize=config.queue_size)
        self._stop = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._seq = 0
        self._origin = f"{config.track}-{socket.gethostname()}-{os.getpid()}"
        self.accepted = 0
        self.dropped = 0
        self.written_rows = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log-flusher", daemon=True)
        if start:
            self._thread.start()

    # ------------------------------------------------------------------ request path

    def offer(self, inputs: Any, predictions: Any, request_id: Optional[str] = None) -> bool:
        """Queue one request's record if sampled; False when not sampled or dropped (never raises)."""
        try:
            if self._closed or self._rng() >= self.config.sample_rate:
                return False
            entry = _Entry(inputs, predictions, request_id or str(uuid.uuid4()), time.time())
            try:
                self._queue.put_nowait(entry)
            except queue.Full:
                self.dropped += 1
                self._counters.dropped("queue_full", 1)
                return False
            self.accepted += 1
            return True
        except Exception:  # logging must never fail a prediction
            log.exception("prediction log: could not queue a record")
            return False

    # ------------------------------------------------------------------ flusher

    def _run(self) -> None:
        pending: list[_Entry] = []
        rows = 0
        first = 0.0
        while not self._stop.is_set():
            # Short waits: a stop request (close) is noticed within POLL_SECONDS.
            timeout = self.config.flush_seconds - (time.monotonic() - first) if pending else self.config.flush_seconds
            try:
                e = self._queue.get(timeout=min(POLL_SECONDS, max(0.01, timeout)))
                if not pending:
                    first = time.monotonic()
                pending.append(e)
                rows += 1
            except queue.Empty:
                pass
            if pending and (rows >= self.config.batch_size or time.monotonic() - first >= self.config.flush_seconds):
                self._write(pending)
                pending, rows = [], 0
        # Stopping: the caller drains the queue after join(); hand over what this thread holds.
        if pending:
            self._write(pending)

    def flush_now(self) -> int:
        """Write everything queued (from the calling thread). Returns the rows written."""
        batch: list[_Entry] = []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
            if len(batch) >= self.config.batch_size:
                self._write(batch)
                batch = []
        if batch:
            self._write(batch)
        return self.written_rows

    def close(self, timeout: float = 20.0) -> None:
        """Stop accepting, stop the thread, write every accepted record. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.flush_now()
        log.info("prediction log closed: %d accepted, %d dropped, %d rows written", self.accepted, self.dropped, self.written_rows)

    # ------------------------------------------------------------------ encoding

    def records(self, batch: Sequence[_Entry]) -> list[dict[str, Any]]:
        c = self.config
        out: list[dict[str, Any]] = []
        excluded = set(c.exclude_fields)
        for e in batch:
            rows = _rows(e.inputs)
            preds = _predictions(e.predictions, len(rows))
            ts = dt.datetime.fromtimestamp(e.timestamp, tz=dt.timezone.utc)
            for i, (row, pred) in enumerate(zip(rows, preds)):
                rec = {str(k): _scalar(v) for k, v in row.items() if str(k) not in excluded and str(k) not in METADATA_COLUMNS}
                rec.update(
                    mlops_prediction=_scalar(pred),
                    mlops_model=c.model,
                    mlops_version=c.version,
                    mlops_track=c.track,
                    mlops_request_id=e.request_id,
                    mlops_row=i,
                    mlops_timestamp=ts,
                )
                out.append(rec)
        return out

    def encode(self, records: list[dict[str, Any]]) -> tuple[bytes, str, str]:
        if self.config.format == "jsonl":
            lines = [json.dumps({**r, "mlops_timestamp": r["mlops_timestamp"].isoformat(timespec="milliseconds")}, default=str) for r in records]
            return ("\n".join(lines) + "\n").encode(), "application/x-ndjson", "jsonl"
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pa.Table.from_pylist(records)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed types in a column (e.g. int and str across requests): store the inputs as text.
            table = pa.Table.from_pylist(
                [{k: (v if k in ("mlops_timestamp", "mlops_row") or v is None else str(v)) for k, v in r.items()} for r in records]
            )
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="snappy")
        return buf.getvalue(), "application/vnd.apache.parquet", "parquet"

    def _write(self, batch: Sequence[_Entry]) -> None:
        c = self.config
        try:
            records = self.records(batch)
        except Exception:
            log.exception("prediction log: could not turn %d requests into rows; dropped", len(batch))
            self.dropped += len(batch)
            self._counters.dropped("encode_error", len(batch))
            return
        by_date: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            by_date.setdefault(r["mlops_timestamp"].strftime("%Y-%m-%d"), []).append(r)
        for date, recs in sorted(by_date.items()):
            with self._lock:
                self._seq += 1
                seq = self._seq
            try:
                body, content_type, ext = self.encode(recs)
                key = f"{c.prefix}model={c.model}/version={c.version}/date={date}/{self._origin}-{int(time.time() * 1000)}-{seq:06d}.{ext}"
                self._sink.put(key, body, content_type)
            except Exception:
                log.exception("prediction log: write of %d rows failed; dropped", len(recs))
                requests = len({r["mlops_request_id"] for r in recs})
                self.dropped += requests
                self._counters.dropped("write_error", requests)
                continue
            self.written_rows += len(recs)
            self._counters.written(len(recs))


def register_shutdown(logger: PredictionLogger) -> None:
    """Flush at interpreter exit and when a multiprocessing worker (MLServer parallel inference) exits."""
    atexit.register(logger.close)
    try:
        from multiprocessing import util

        # Process._bootstrap runs these finalizers before os._exit (atexit does not run in workers).
        util.Finalize(logger, logger.close, exitpriority=100)
    except Exception:  # pragma: no cover
        pass
