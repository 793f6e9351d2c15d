#!/usr/bin/env python3
"""Trains the models bench/cost_tables.sh measures, with the real XGBoost.

Models of the lead-demo data (testdata/lead-demo/leads_10k.csv, label
`converted`), binary:logistic, hist, eta 0.1, one thread, seed 0:
  t{T}_d6   for T in 10, 100, 300, 1000 trees of depth 6
  t100_d{D} for D in 3, 8, 10, 12 (and 6 above)
written as JSON to --out. Deep trees are grown with min_child_weight 0 and
lambda 0.1 so they reach their depth on 10,000 rows.

Usage: /usr/bin/python3 bench/gen_cost_models.py --out DIR
"""
import argparse
import csv
import math
import os
import sys

import numpy as np
import xgboost as xgb

GRID = [(10, 6), (100, 6), (300, 6), (1000, 6), (100, 3), (100, 8), (100, 10), (100, 12)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default="testdata/lead-demo/leads_10k.csv")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    with open(a.data, newline="") as fh:
        r = csv.reader(fh)
        head = next(r)
        yi = head.index("converted")
        X, y = [], []
        for rec in r:
            X.append([float(v) if v != "" else math.nan for i, v in enumerate(rec) if i != yi])
            y.append(float(rec[yi]))
    names = [h for i, h in enumerate(head) if i != yi]
    d = xgb.DMatrix(np.array(X, dtype=np.float32), label=np.array(y), missing=np.nan, feature_names=names)
    for trees, depth in GRID:
        path = os.path.join(a.out, "t%d_d%d.json" % (trees, depth))
        if os.path.exists(path):
            continue
        params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": depth, "eta": 0.1,
                  "nthread": 1, "seed": 0, "min_child_weight": 0, "lambda": 0.1}
        b = xgb.train(params, d, trees)
        b.save_model(path)
        print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
