#!/usr/bin/python3
"""Train the next lead-scoring model from `leadscore dataset` output.

Uses Debian's python3-xgboost (1.7) and python3-pandas only (no scikit-learn):

    /usr/bin/python3 examples/python/train.py --data dataset.csv --out work/

reads the training set (CSV or Parquet), keeps the feature columns (all but
the metadata columns leadscore dataset adds), splits it by scoring time into
the older 80% for training and the newest 20% held out, trains a
binary:logistic booster and writes:

    work/model.json     the model, with its feature names
    work/holdout.csv    the held-out leads (features + converted), for
                        `leadscore bundle init` and `leadscore model evaluate`
"""
import argparse
import json
import os
import sys

import pandas as pd
import xgboost as xgb

META = ["converted", "lead_id", "inference_id", "event_time", "model_name", "model_version", "probability"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="leadscore dataset output (.csv or .parquet)")
    ap.add_argument("--out", required=True, help="directory for model.json and holdout.csv")
    ap.add_argument("--label", default="converted")
    ap.add_argument("--holdout", type=float, default=0.2, help="newest share of leads held out")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--max-depth", type=int, default=4)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    df = pd.read_parquet(a.data) if a.data.endswith(".parquet") else pd.read_csv(a.data)
    if a.label not in df.columns:
        sys.exit(f"train.py: {a.data} has no {a.label} column")
    if "event_time" in df.columns:
        df = df.sort_values("event_time", kind="stable")
    features = [c for c in df.columns if c not in META]
    n_hold = max(1, int(len(df) * a.holdout))
    train, hold = df.iloc[:-n_hold], df.iloc[-n_hold:]
    if train[a.label].nunique() < 2:
        sys.exit("train.py: the training part needs converted and unconverted leads")

    dtrain = xgb.DMatrix(train[features].astype("float32"), label=train[a.label], feature_names=features)
    dhold = xgb.DMatrix(hold[features].astype("float32"), label=hold[a.label], feature_names=features)
    params = {"objective": "binary:logistic", "eval_metric": ["auc", "logloss"], "max_depth": a.max_depth,
              "eta": a.eta, "subsample": 0.9, "colsample_bytree": 0.9, "tree_method": "hist", "seed": a.seed}
    evals = {}
    booster = xgb.train(params, dtrain, num_boost_round=a.rounds, evals=[(dtrain, "train"), (dhold, "holdout")],
                        evals_result=evals, verbose_eval=False)
    os.makedirs(a.out, exist_ok=True)
    booster.save_model(os.path.join(a.out, "model.json"))
    hold[features + [a.label]].to_csv(os.path.join(a.out, "holdout.csv"), index=False)
    print(json.dumps({"rows": len(df), "train_rows": len(train), "holdout_rows": len(hold), "features": len(features),
                      "holdout_auc": evals["holdout"]["auc"][-1], "holdout_logloss": evals["holdout"]["logloss"][-1],
                      "xgboost": xgb.__version__}))


if __name__ == "__main__":
    main()
