#!/usr/bin/python3
"""Writes datatypes.json: for each numeric datatype of the Open Inference
Protocol, three demo rows as a client holding a NumPy array of that dtype
sends them (array.tolist()), and the probabilities XGBoost predicts from
that very array (DMatrix converts it to float32 itself).

Run from the repository root:  /usr/bin/python3 httpapi/testdata/v2/gen.py
"""
import json
import os

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
inputs = json.load(open(os.path.join(ROOT, "testdata", "lead-demo", "inputs.json")))
rows = np.array([[0.0 if v is None else v for v in r] for r in inputs["rows"][:3]], dtype=np.float64)
booster = xgb.Booster()
booster.load_model(os.path.join(ROOT, "bundle", "demo", "model.ubj"))

types = {
    "BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
}
out = []
for name, t in types.items():
    if np.issubdtype(t, np.integer):
        info = np.iinfo(t)
        arr = np.clip(np.rint(rows * 7), info.min, info.max).astype(t)  # *7: larger ints, still in range
    elif t is np.bool_:
        arr = rows > 0.5
    else:
        arr = (rows * 1.37).astype(t)  # values that do not fit FP16 exactly
    preds = booster.predict(xgb.DMatrix(arr, missing=np.nan), validate_features=False)
    out.append({"datatype": name, "shape": list(arr.shape), "data": arr.tolist(),
                "probabilities": [float(p) for p in preds]})
# FP16 data sent with more digits than half precision holds: the server
# must round each value to half precision, as NumPy's astype(float16) does.
wide = rows * 1.37
preds = booster.predict(xgb.DMatrix(wide.astype(np.float16), missing=np.nan), validate_features=False)
out.append({"datatype": "FP16", "shape": list(wide.shape), "data": wide.tolist(),
            "probabilities": [float(p) for p in preds]})
with open(os.path.join(HERE, "datatypes.json"), "w") as f:
    json.dump({"xgboost": xgb.__version__, "numpy": np.__version__, "cases": out}, f)
    f.write("\n")
print("wrote", len(out), "datatypes")
