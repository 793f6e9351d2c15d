#!/usr/bin/env python3
"""Makes the weaker challenger bundle the variants tests serve beside the
demo model (the champion): the same 50 features, XGBoost binary:logistic
with 12 trees of depth 2 trained on the first 3,000 held-out leads of
testdata/lead-demo/leads_10k.csv, so it ranks leads clearly worse than
the demo's 300 trees of depth 6. Writes challenger/ (manifest.json,
model.json) and challenger_expected.json (XGBoost's own predictions for
rows 5000..5019, for a parity check). Run from the repository root with
the Debian python (python3-xgboost):

    /usr/bin/python3 testdata/variants/make_challenger.py
"""
import json
import os

import numpy as np
import pandas as pd
import xgboost as xgb

root = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(root))
leads = pd.read_csv(os.path.join(repo, "testdata/lead-demo/leads_10k.csv"))
features = [c for c in leads.columns if c != "converted"]
train = leads.iloc[:3000]
dtrain = xgb.DMatrix(train[features].to_numpy(dtype=np.float32), label=train["converted"], feature_names=features,
                     missing=np.nan)
params = {"objective": "binary:logistic", "max_depth": 2, "eta": 0.3, "tree_method": "hist", "seed": 3,
          "nthread": 1}
booster = xgb.train(params, dtrain, num_boost_round=12)

out = os.path.join(root, "challenger")
os.makedirs(out, exist_ok=True)
booster.save_model(os.path.join(out, "model.json"))

manifest = json.load(open(os.path.join(repo, "bundle/demo/manifest.json")))
manifest.update({
    "version": "0.1.0-weak",
    "description": "Weak challenger for the variants tests: XGBoost %s binary:logistic, 12 trees of depth 2, "
                   "trained on 3,000 leads (testdata/variants/make_challenger.py)." % xgb.__version__,
    "model": "model.json",
})
manifest.pop("baseline", None)
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")

rows = leads.iloc[5000:5020][features].to_numpy(dtype=np.float32)
pred = booster.predict(xgb.DMatrix(rows, feature_names=features, missing=np.nan))
rows_json = [[None if np.isnan(v) else float(v) for v in r] for r in rows]
with open(os.path.join(root, "challenger_expected.json"), "w") as f:
    json.dump({"source_rows": list(range(5000, 5020)), "rows": rows_json, "prediction": [float(p) for p in pred]}, f)
    f.write("\n")
