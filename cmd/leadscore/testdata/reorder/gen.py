#!/usr/bin/python3
"""Two bundles of one model family whose features are the same eight
columns in two orders, for the reload-race test (issue 10, finding 5):

  a/  features in the lead-demo order      (version "a")
  b/  the same features, reversed          (version "b")

Each is trained by the real XGBoost on testdata/lead-demo/leads_10k.csv
and saved as XGBoost JSON with its feature_names; expected.json holds each
model's probabilities for the first rows of the data, keyed by feature name,
so the Go test can check that the server scores each model exactly.

Run from this directory: /usr/bin/python3 gen.py
"""
import csv
import json
import os

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "..", "testdata", "lead-demo", "leads_10k.csv")
FEATURES = [
    "company_size_log", "annual_revenue_log", "industry_code", "country_tier",
    "tech_stack_fit", "job_title_seniority", "web_sessions_30d", "intent_score_3p",
]
N_EXPECTED = 20


def load():
    with open(DATA, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(r[c]) if r[c] != "" else np.nan for c in FEATURES] for r in rows], dtype=np.float32)
    y = np.array([float(r["converted"]) for r in rows])
    return x, y


def build(name, order, x, y):
    cols = [FEATURES.index(c) for c in order]
    xs = x[:, cols]
    d = xgb.DMatrix(xs, label=y, feature_names=order, missing=np.nan)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 7, "tree_method": "hist"}
    booster = xgb.train(params, d, num_boost_round=20)
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    booster.save_model(os.path.join(out, "model.json"))
    manifest = {
        "name": "reorder",
        "version": name,
        "description": "reload-race fixture: 8 lead-demo features, order %s (gen.py)" % name,
        "model": "model.json",
        "features": [{"name": c} for c in order],
        "tiers": [0.05, 0.1, 0.2, 0.4],
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    # Re-load the saved file, as the server will, for the expected values.
    saved = xgb.Booster()
    saved.load_model(os.path.join(out, "model.json"))
    probs = saved.predict(xgb.DMatrix(xs[:N_EXPECTED], feature_names=order, missing=np.nan))
    return [float(p) for p in probs]


def main():
    x, y = load()
    expected = {
        "features": FEATURES,
        "rows": [[None if np.isnan(v) else float(v) for v in row] for row in x[:N_EXPECTED]],
        "a": build("a", FEATURES, x, y),
        "b": build("b", FEATURES[::-1], x, y),
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
