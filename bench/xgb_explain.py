#!/usr/bin/env python3
"""Benchmark peer: XGBoost's own TreeSHAP (pred_contribs), one thread.

Loads a model with the real xgboost library (Debian's python3-xgboost 1.7.4;
run it with /usr/bin/python3), restricts it to one thread and explains
--rows rows of --input with Booster.predict(pred_contribs=True) on one
DMatrix built beforehand (XGBoost's most favourable case: one call for all
rows). Prints one JSON object with the wall time and the process CPU time
per row, in microseconds:

  {"explain_us_per_row": ..., "explain_cpu_us_per_row": ..., "rows": ..., "xgboost_version": ...}

Usage (from the repository root):
  /usr/bin/python3 bench/xgb_explain.py --model testdata/lead-demo/model.json \
      --input testdata/lead-demo/leads_10k.csv --rows 300
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402
from xgb_predict import load_rows  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True, help="JSON rows (null = NaN) or CSV with header")
    ap.add_argument("--rows", type=int, default=300, help="rows explained")
    a = ap.parse_args(argv)
    if a.rows <= 0:
        ap.error("--rows must be positive")
    booster = xgb.Booster(params={"nthread": 1}, model_file=a.model)
    booster.set_param({"nthread": 1})
    data = load_rows(a.input)
    reps = -(-a.rows // data.shape[0])
    X = np.ascontiguousarray(np.tile(data, (reps, 1))[:a.rows])
    names = booster.feature_names
    warm = xgb.DMatrix(X[:2], missing=np.nan, nthread=1, feature_names=names)
    booster.predict(warm, pred_contribs=True)
    d = xgb.DMatrix(X, missing=np.nan, nthread=1, feature_names=names)
    c0, w0 = time.process_time(), time.perf_counter()
    booster.predict(d, pred_contribs=True)
    c1, w1 = time.process_time(), time.perf_counter()
    print(json.dumps({
        "explain_us_per_row": round((w1 - w0) / a.rows * 1e6, 2),
        "explain_cpu_us_per_row": round((c1 - c0) / a.rows * 1e6, 2),
        "rows": a.rows,
        "xgboost_version": xgb.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
