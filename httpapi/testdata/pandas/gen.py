#!/usr/bin/python3
"""Writes the bodies Python clients send to /score, made by the real tools,
with XGBoost's own predictions for them (expected.json):

  records.json  pandas DataFrame.to_json(orient="records")
  split.json    pandas DataFrame.to_json(orient="split") (the index holds lead ids)
  dumps.json    json.dumps({"instances": rows}) with float("nan") for missing (bare NaN)

Run from the repository root:  /usr/bin/python3 httpapi/testdata/pandas/gen.py
"""
import json
import os

import numpy as np
import pandas as pd
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
inputs = json.load(open(os.path.join(ROOT, "testdata", "lead-demo", "inputs.json")))
names = inputs["feature_names"]
rows = [[np.nan if v is None else v for v in r] for r in inputs["rows"][:5]]
rows[0][1] = np.nan
rows[3][7] = np.nan
df = pd.DataFrame(rows, columns=names, index=["lead-%d" % i for i in range(len(rows))])

booster = xgb.Booster()
booster.load_model(os.path.join(ROOT, "bundle", "demo", "model.ubj"))
preds = booster.predict(xgb.DMatrix(df.to_numpy(dtype=float), missing=np.nan), validate_features=False).tolist()

# records: drop the index (to_json(orient="records") never writes it); one
# column left out of the last record's frame would be absent, so reorder the
# columns instead to show order does not matter.
with open(os.path.join(HERE, "records.json"), "w") as f:
    f.write(df[list(reversed(names))].to_json(orient="records"))
with open(os.path.join(HERE, "split.json"), "w") as f:
    f.write(df.to_json(orient="split"))
with open(os.path.join(HERE, "dumps.json"), "w") as f:
    f.write(json.dumps({"instances": [[float(v) for v in r] for r in rows]}))
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump({"ids": list(df.index), "probabilities": preds, "pandas": pd.__version__, "xgboost": xgb.__version__}, f, indent=1)
print("wrote", len(rows), "rows")
