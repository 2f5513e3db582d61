"""mlops-platform model-server extensions for MLServer (see runtime.py and prediction_log.py)."""
