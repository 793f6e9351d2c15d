#!/usr/bin/python3
"""Writes cases.json: what SageMaker's built-in XGBoost container answers on
POST /invocations for the demo model (bundle/demo/model.ubj) and a few rows
of testdata/lead-demo/inputs.json, for each content type, Accept and
environment leadscore follows.

The predictions come from the real XGBoost (python3-xgboost, the same 1.7.4
that trained the model); the bodies are encoded by the rules read in
aws/sagemaker-xgboost-container at commit cb8df91 (algorithm_mode/serve.py,
serve_utils.py, handler_service.py, encoder.py) and sagemaker-containers
v2.8.6.post2 (_encoders.py). The rules are restated below in our own words;
no container code is copied.

Run from the repository root:  /usr/bin/python3 httpapi/testdata/sagemaker/gen.py
"""
import json
import math
import os

import numpy as np
import xgboost as xgb
from scipy.sparse import csr_matrix

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

booster = xgb.Booster()
booster.load_model(os.path.join(ROOT, "bundle", "demo", "model.ubj"))
objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
inputs = json.load(open(os.path.join(ROOT, "testdata", "lead-demo", "inputs.json")))
NF = len(inputs["feature_names"])

# Four rows: the first three and the first that scores above 0.5 (so
# predicted_label is 1 once); two values made missing so the encodings
# must carry them.
allrows = [[float("nan") if v is None else float(v) for v in r] for r in inputs["rows"]]
def predict_dense(rs):
    return booster.predict(xgb.DMatrix(np.array(rs, dtype=float), missing=np.nan), validate_features=False)


high = next(r for r, p in zip(allrows, predict_dense(allrows)) if p > 0.5)
rows = allrows[:3] + [high]
rows[1][3] = float("nan")
rows[2][0] = float("nan")


def fmt(v):
    # str() of a Python float is its repr: shortest round-trip digits.
    return repr(float(v)) if not math.isnan(v) else "nan"


def csv_body(rs):
    # One row per line, comma-separated, an empty field for missing.
    return "\n".join(",".join("" if math.isnan(v) else repr(float(v)) for v in r) for r in rs)


def libsvm_body(rs):
    # "label index:value ...", 1-based indices, missing values left out.
    out = []
    for r in rs:
        toks = ["0"] + ["%d:%s" % (j + 1, repr(float(v))) for j, v in enumerate(r) if not math.isnan(v)]
        out.append(" ".join(toks))
    return "\n".join(out) + "\n"


def predict_libsvm(rs):
    data, ri, ci = [], [], []
    for i, r in enumerate(rs):
        for j, v in enumerate(r):
            if not math.isnan(v):
                ri.append(i)
                ci.append(j)
                data.append(v)
    m = csr_matrix((np.array(data, dtype=float), (np.array(ri), np.array(ci))), shape=(len(rs), NF))
    return booster.predict(xgb.DMatrix(m), validate_features=False)


# Rules for the answer without selectable inference (serve.py invocations):
#   SAGEMAKER_BATCH set: every prediction str()-ed, one per line, final newline.
#   Accept application/json: json.dumps of {"predictions": [{"score": p}, ...]}.
#   Accept text/csv, real time: the predictions str()-ed and comma-joined on one
#     line, no newline (the container's model-server handler, kept "for backwards
#     compatibility"; SageMaker's documentation and notebooks rely on it).
#   Accept application/jsonlines: one {"score": p} object per line (the
#     container's json_to_jsonlines of the JSON answer).
def plain(preds, accept, batch):
    ps = preds.tolist()
    if batch:
        return "\n".join(map(str, ps)) + "\n"
    if accept == "application/json":
        return json.dumps({"predictions": [{"score": p} for p in ps]})
    if accept == "application/jsonlines":
        return "".join(json.dumps({"score": p}) + "\n" for p in ps)
    return ",".join(map(str, ps))


# Selectable inference (SAGEMAKER_INFERENCE_OUTPUT), for binary:logistic:
#   predicted_label: 1 if p > 0.5 else 0; labels: [0, 1]; probability: p;
#   probabilities: [1 - p, p]; raw_score: p; raw_scores: [1 - p, p];
#   any other key (predicted_score): NaN.
#   Each prediction is a dict: valid keys in the order predicted_label, labels,
#   probability, probabilities, raw_score, raw_scores; then invalid keys.
#   JSON: json.dumps({"predictions": [...]}); jsonlines: json.dumps(d)+"\n" each;
#   CSV: per prediction the values in the order the keys were given, str()-ed,
#   a list as "[a, b]" in double quotes, rows joined by "\n", and a final "\n"
#   only under SAGEMAKER_BATCH.
VALID = ["predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"]


def selected(p, keys):
    p = float(p)
    vals = {
        "predicted_label": int(p > 0.5),
        "labels": [0, 1],
        "probability": p,
        "probabilities": [1.0 - p, p],
        "raw_score": p,
        "raw_scores": [1.0 - p, p],
    }
    d = {k: vals[k] for k in VALID if k in keys}
    for k in keys:
        if k not in VALID:
            d[k] = float("nan")
    return d


def select(preds, keys, accept, batch):
    ds = [selected(p, keys) for p in preds]
    if accept == "application/json":
        return json.dumps({"predictions": ds})
    if accept == "application/jsonlines":
        return "".join(json.dumps(d) + "\n" for d in ds)
    lines = []
    for d in ds:
        lines.append(",".join('"%s"' % (d[k],) if isinstance(d[k], list) else str(d[k]) for k in keys))
    return "\n".join(lines) + ("\n" if batch else "")


preds = predict_dense(rows)
lib_preds = predict_libsvm(rows)
assert objective == "binary:logistic", objective

cases = []


def add(name, env, ctype, accept, body, status, want, want_type):
    cases.append({"name": name, "env": env, "content_type": ctype, "accept": accept, "body": body,
                  "status": status, "want_body": want, "want_content_type": want_type})


CSV = csv_body(rows)
LIB = libsvm_body(rows)
for accept in ["", "*/*", "text/csv", "application/json", "application/jsonlines", "application/json; verbose=True"]:
    want_type = accept.split(";")[0].strip() if accept not in ("", "*/*") else "text/csv"
    add("csv accept=%r" % accept, {}, "text/csv", accept, CSV, 200, plain(preds, want_type, False), want_type)
    add("libsvm accept=%r" % accept, {}, "text/libsvm", accept, LIB, 200, plain(lib_preds, want_type, False), want_type)
add("x-libsvm", {}, "text/x-libsvm", "", LIB, 200, plain(lib_preds, "text/csv", False), "text/csv")
add("no content type reads libsvm", {}, "", "", LIB, 200, plain(lib_preds, "text/csv", False), "text/csv")
add("csv label_size=1", {}, "text/csv; label_size=1", "text/csv", CSV, 200, plain(preds, "text/csv", False), "text/csv")
add("one row", {}, "text/csv", "text/csv", csv_body(rows[:1]), 200, plain(preds[:1], "text/csv", False), "text/csv")
add("nan field is missing", {}, "text/csv", "text/csv", CSV.replace(",,", ",nan,", 1), 200, plain(preds, "text/csv", False), "text/csv")
add("default accept from env", {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json"}, "text/csv", "", CSV, 200,
    plain(preds, "application/json", False), "application/json")
for accept in ["text/csv", "application/json"]:
    add("batch accept=%s" % accept, {"SAGEMAKER_BATCH": "true"}, "text/csv", accept, CSV, 200, plain(preds, accept, True), accept)
for keys in ["predicted_label,probability", "probabilities,predicted_label", "raw_score, raw_scores,labels", "predicted_label,predicted_score"]:
    ks = keys.replace(" ", "").lower().split(",")
    for accept in ["text/csv", "application/json", "application/jsonlines"]:
        add("select %s accept=%s" % (keys, accept), {"SAGEMAKER_INFERENCE_OUTPUT": keys}, "text/csv", accept, CSV, 200,
            select(preds, ks, accept, False), accept)
    add("select %s batch csv" % keys, {"SAGEMAKER_INFERENCE_OUTPUT": keys, "SAGEMAKER_BATCH": "true"}, "text/csv", "text/csv",
        CSV, 200, select(preds, ks, "text/csv", True), "text/csv")
# Refusals: the container's status codes (its bodies are Flask text; ours are
# leadscore's JSON errors, so only the status is compared).
add("empty body", {}, "text/csv", "", "", 204, "", "")
add("accept text/libsvm", {}, "text/csv", "text/libsvm", CSV, 406, None, "application/json")
add("accept two types", {}, "text/csv", "text/csv, application/json", CSV, 406, None, "application/json")
add("content type npy", {}, "application/x-npy", "", CSV, 415, None, "application/json")
add("csv label_size=2", {}, "text/csv; label_size=2", "", CSV, 415, None, "application/json")

doc = {
    "note": "Expected bodies written from the rules of SageMaker's built-in XGBoost container "
            "(aws/sagemaker-xgboost-container cb8df91: algorithm_mode/serve.py, serve_utils.py, handler_service.py; "
            "sagemaker-containers v2.8.6.post2 _encoders.py), restated in gen.py, with predictions from XGBoost "
            + xgb.__version__ + " on bundle/demo/model.ubj. Regenerate: /usr/bin/python3 httpapi/testdata/sagemaker/gen.py",
    "cases": cases,
}
with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print("wrote", len(cases), "cases")
