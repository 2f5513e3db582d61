"""Unit specs of the prediction logger (run by test/contract/serving.contract.spec.ts in the serving venv)."""
import io
import threading
import time
import unittest

import pandas as pd
import pyarrow.parquet as pq

from mlops_server.prediction_log import ConfigError, PredictionLogConfig, PredictionLogger

ENV = {
    "MLOPS_PREDICTION_LOG_ENABLED": "true",
    "MLOPS_PREDICTION_LOG_BUCKET": "b",
    "MLSERVER_MODEL_NAME": "credit-risk",
    "MLSERVER_MODEL_VERSION": "3",
    "MLOPS_TRACK": "canary",
}


class Sink:
    def __init__(self, block: threading.Event | None = None, fail: bool = False):
        self.puts = []
        self.block = block
        self.fail = fail

    def put(self, key, body, content_type):
        if self.block is not None:
            self.block.wait(10)
        if self.fail:
            raise OSError("S3 down")
        self.puts.append((key, body, content_type))


class Counters:
    def __init__(self):
        self.drops = {}
        self.rows = 0

    def dropped(self, reason, n):
        self.drops[reason] = self.drops.get(reason, 0) + n

    def written(self, n):
        self.rows += n


def frames(sink):
    return pd.concat([pq.read_table(io.BytesIO(b)).to_pandas() for _, b, _ in sink.puts], ignore_index=True)


class ConfigSpec(unittest.TestCase):
    def test_disabled_by_default(self):
        self.assertFalse(PredictionLogConfig.from_env({}).enabled)

    def test_errors_name_the_variable(self):
        for var, value, word in [
            ("MLOPS_PREDICTION_LOG_SAMPLE_RATE", "0", "SAMPLE_RATE"),
            ("MLOPS_PREDICTION_LOG_PREFIX", "predictions", "PREFIX"),
            ("MLOPS_PREDICTION_LOG_FORMAT", "csv", "FORMAT"),
            ("MLOPS_TRACK", "shadow", "MLOPS_TRACK"),
            ("MLSERVER_MODEL_VERSION", "", "MLSERVER_MODEL_VERSION"),
        ]:
            with self.assertRaisesRegex(ConfigError, word):
                PredictionLogConfig.from_env({**ENV, var: value})


class LoggerSpec(unittest.TestCase):
    def config(self, **extra):
        return PredictionLogConfig.from_env({**ENV, **{f"MLOPS_PREDICTION_LOG_{k}": v for k, v in extra.items()}})

    def test_rows_layout_and_excluded_fields(self):
        sink = Sink()
        log = PredictionLogger(self.config(EXCLUDE_FIELDS="ssn, email"), sink)
        log.offer(pd.DataFrame({"age": [30, 40], "ssn": ["1", "2"], "email": ["a", "b"]}), [0, 1], "req-1")
        log.close()
        (key, _, ctype), = sink.puts
        self.assertRegex(key, r"^predictions/model=credit-risk/version=3/date=\d{4}-\d{2}-\d{2}/canary-.+-\d+-000001\.parquet$")
        self.assertEqual(ctype, "application/vnd.apache.parquet")
        df = frames(sink)
        self.assertEqual(list(df.age), [30, 40])
        self.assertNotIn("ssn", df.columns)
        self.assertNotIn("email", df.columns)
        self.assertEqual(list(df.mlops_prediction), [0, 1])
        self.assertEqual(set(df.mlops_request_id), {"req-1"})
        self.assertEqual(list(df.mlops_row), [0, 1])
        self.assertEqual(set(df.mlops_track), {"canary"})

    def test_sampling(self):
        sink = Sink()
        draws = iter([0.05, 0.5, 0.09, 0.95])
        log = PredictionLogger(self.config(SAMPLE_RATE="0.1"), sink, rng=lambda: next(draws))
        taken = [log.offer({"x": [i]}, [i], f"r{i}") for i in range(4)]
        log.close()
        self.assertEqual(taken, [True, False, True, False])
        self.assertEqual(sorted(frames(sink).mlops_request_id), ["r0", "r2"])

    def test_full_queue_drops_and_counts_without_blocking(self):
        gate = threading.Event()
        sink, counters = Sink(block=gate), Counters()
        log = PredictionLogger(self.config(QUEUE_SIZE="2", BATCH_SIZE="1"), sink, counters)
        start = time.perf_counter()
        results = [log.offer({"x": [i]}, [i]) for i in range(50)]
        elapsed = time.perf_counter() - start
        gate.set()
        log.close()
        self.assertLess(elapsed, 0.5, "offer() must not wait for the writer")
        self.assertGreater(counters.drops["queue_full"], 0)
        self.assertEqual(results.count(True) + counters.drops["queue_full"], 50)
        self.assertEqual(counters.rows, results.count(True), "every accepted record is written")

    def test_close_writes_everything_accepted_even_mid_batch(self):
        sink = Sink()
        log = PredictionLogger(self.config(FLUSH_SECONDS="3600", BATCH_SIZE="1000"), sink)
        for i in range(123):
            log.offer({"x": [i]}, [i], f"r{i}")
        time.sleep(0.3)  # the flusher holds them in its pending batch
        t = time.perf_counter()
        log.close()
        self.assertLess(time.perf_counter() - t, 2.0, "close is noticed quickly (parallel workers get 5 s)")
        self.assertEqual(len(frames(sink)), 123)
        self.assertFalse(log.offer({"x": [1]}, [1]), "nothing is accepted after close")

    def test_write_errors_are_counted(self):
        counters = Counters()
        log = PredictionLogger(self.config(), Sink(fail=True), counters)
        log.offer({"x": [1, 2]}, [0, 1], "a")
        log.close()
        self.assertEqual(counters.drops, {"write_error": 1})

    def test_jsonl(self):
        sink = Sink()
        log = PredictionLogger(self.config(FORMAT="jsonl"), sink)
        log.offer(pd.DataFrame({"a": [1.5]}), [1], "r")
        log.close()
        key, body, ctype = sink.puts[0]
        self.assertTrue(key.endswith(".jsonl"))
        self.assertIn('"mlops_request_id": "r"', body.decode())


if __name__ == "__main__":
    unittest.main()
