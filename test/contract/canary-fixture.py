"""Registers the models the canary-analysis contract spec serves, in a real MLflow tracking server.

  python canary-fixture.py <model-name>

Versions (in this order, so their numbers are 1, 2, 3 in a fresh registry):
  1  stable: scikit-learn logistic regression on a synthetic 4-feature credit-like table
  2  healthy canary: the same pipeline retrained with another regularisation
  3  failing canary: a pyfunc around version 2's estimator that takes ~150 ms per request and
     raises on inputs whose feature f0 is above 0.6 (so a fraction of requests fail with 5xx)
Prints one JSON line with the versions. MLFLOW_TRACKING_URI selects the server.
"""
import json
import sys
import time

import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

name = sys.argv[1]
rng = np.random.default_rng(7)
X = pd.DataFrame(rng.random((400, 4)), columns=["f0", "f1", "f2", "f3"])
y = (X["f0"] + X["f1"] > 1.0).astype(int)
signature = infer_signature(X, y)
# Explicit requirements: inferring them starts a subprocess per model (minutes on a busy machine).
REQS = [f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}", f"numpy=={np.__version__}"]


class Flaky(mlflow.pyfunc.PythonModel):
    """Slow and failing on part of the input domain: what a bad candidate looks like from outside."""

    def __init__(self, estimator):
        self.estimator = estimator

    def predict(self, context, model_input, params=None):
        time.sleep(0.15)
        if (model_input["f0"] > 0.6).any():
            raise RuntimeError("candidate model failure on f0 > 0.6")
        return self.estimator.predict(model_input)


versions = []
for c in (1.0, 0.3):
    with mlflow.start_run():
        est = LogisticRegression(C=c).fit(X, y)
        info = mlflow.sklearn.log_model(est, name="model", signature=signature, registered_model_name=name, pip_requirements=REQS)
        versions.append(str(info.registered_model_version))
with mlflow.start_run():
    info = mlflow.pyfunc.log_model(name="model", python_model=Flaky(est), signature=signature, registered_model_name=name, pip_requirements=REQS)
    versions.append(str(info.registered_model_version))
print("CANARY_FIXTURE " + json.dumps({"model": name, "versions": versions}))
