#!/usr/bin/env python3
"""Benchmark peer: XGBoost's own prediction speed, to compare the Go evaluator with.

Loads a model with the real xgboost library (Debian's python3-xgboost 1.7.4;
run it with /usr/bin/python3), restricts it to one thread and measures

  * throughput: Booster.inplace_predict (predict_type "value") over batches of
    --batch rows of a float32 matrix tiled to --rows rows; each call gets a
    fresh numpy slice; the median over --repeats passes, in rows per second;
  * latency: inplace_predict on a single row, --single-calls calls (cycling
    through the rows), p50 and p99 in microseconds.

It prints one JSON object:
  {"rows_per_s": ..., "rows_per_cpu_s": ..., "single_p50_us": ..., "single_p99_us": ..., "xgboost_version": ...}

Usage (from the repository root):
  /usr/bin/python3 bench/xgb_predict.py --model testdata/xgboost/bench_1000x8/model.json \
      --input ../shared/models/lead-demo/leads_10k.csv
  /usr/bin/python3 bench/xgb_predict.py --model M --input rows.json --rows 20000 --batch 256 --repeats 5

--input is either a JSON array of rows (null = NaN), a JSON object with an
"inputs" or "rows" array (a testdata/xgboost/<case>/expected.json, the lead-demo
inputs.json), or a CSV file
with a header row (an empty field = NaN; a `converted` label column is dropped).
Runtime is bounded: the timed passes stop early once --budget seconds are spent
(default 15 s), so the defaults finish in well under 20 s.
"""
import argparse
import csv
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import xgboost as xgb


def load_rows(path):
    if path.lower().endswith(".json"):
        with open(path) as fh:
            data = json.load(fh)
        if isinstance(data, dict):  # expected.json ("inputs") or lead-demo inputs.json ("rows")
            for key in ("inputs", "rows"):
                if key in data:
                    data = data[key]
                    break
            else:
                raise SystemExit("%s: a JSON object needs an \"inputs\" or \"rows\" array" % path)
        return np.array([[np.nan if v is None else float(v) for v in row] for row in data], dtype=np.float32)
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        drop = {i for i, h in enumerate(header) if h.strip() == "converted"}
        rows = []
        for rec in reader:
            if not rec:
                continue
            rows.append([float(v) if v.strip() != "" else math.nan
                         for i, v in enumerate(rec) if i not in drop])
    return np.array(rows, dtype=np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model file (.json, .ubj or legacy binary)")
    ap.add_argument("--input", required=True, help="JSON rows (null = NaN) or CSV with header")
    ap.add_argument("--rows", type=int, default=10000, help="rows per throughput pass (input tiled)")
    ap.add_argument("--batch", type=int, default=1000, help="rows per inplace_predict call")
    ap.add_argument("--repeats", type=int, default=5, help="throughput passes; the median is reported")
    ap.add_argument("--single-calls", type=int, default=2000, help="single-row calls for the latency")
    ap.add_argument("--budget", type=float, default=15.0, help="soft cap in seconds on the timed work")
    a = ap.parse_args(argv)
    if a.rows <= 0 or a.batch <= 0 or a.repeats <= 0 or a.single_calls <= 0:
        ap.error("--rows, --batch, --repeats and --single-calls must be positive")

    booster = xgb.Booster(params={"nthread": 1}, model_file=a.model)
    booster.set_param({"nthread": 1})
    data = load_rows(a.input)
    if data.ndim != 2 or data.shape[0] == 0:
        raise SystemExit("no input rows in %s" % a.input)
    nf = booster.num_features()
    if data.shape[1] != nf:
        raise SystemExit("input has %d columns, the model %d features" % (data.shape[1], nf))
    reps = -(-a.rows // data.shape[0])
    X = np.ascontiguousarray(np.tile(data, (reps, 1))[:a.rows])

    def predict(block):
        return booster.inplace_predict(block, predict_type="value", missing=np.nan)

    # warm-up (first calls configure the booster and allocate buffers)
    for i in range(min(5, X.shape[0])):
        predict(X[i:i + 1].copy())
    predict(X[:a.batch].copy())

    deadline = time.perf_counter() + a.budget
    rates, cpu_rates = [], []
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for start in range(0, X.shape[0], a.batch):
            predict(X[start:start + a.batch].copy())
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        rates.append(X.shape[0] / dt)
        cpu_rates.append(X.shape[0] / max(dc, 1e-9))
        if time.perf_counter() > deadline:
            break

    lat = []
    n = X.shape[0]
    single_deadline = time.perf_counter() + max(2.0, a.budget / 3)
    for i in range(a.single_calls):
        row = X[i % n:i % n + 1].copy()
        t0 = time.perf_counter_ns()
        predict(row)
        lat.append((time.perf_counter_ns() - t0) / 1000.0)
        if time.perf_counter() > single_deadline and len(lat) >= 100:
            break
    lat.sort()

    def pct(p):
        k = min(len(lat) - 1, max(0, int(math.ceil(p / 100.0 * len(lat))) - 1))
        return lat[k]

    print(json.dumps({
        "rows_per_s": round(statistics.median(rates), 1),
        "rows_per_cpu_s": round(statistics.median(cpu_rates), 1),
        "single_p50_us": round(pct(50), 2),
        "single_p99_us": round(pct(99), 2),
        "xgboost_version": xgb.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
