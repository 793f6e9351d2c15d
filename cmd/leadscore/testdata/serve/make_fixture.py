#!/usr/bin/env python3
"""Writes scoring.json for serve_test.go: a subset of the demo model's
reference rows and the predictions XGBoost 1.7.4 made for them.

Source: the shared lead-demo reference (inputs.json, expected.json), which
XGBoost itself produced. Usage:
    python3 make_fixture.py /path/to/models/lead-demo > scoring.json
"""
import json
import math
import sys

src = sys.argv[1]
inputs = json.load(open(f"{src}/inputs.json"))
expected = json.load(open(f"{src}/expected.json"))
picked = list(range(0, 40)) + [e["row"] for e in inputs["edge_rows"]]


def clean(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


out = {
    "feature_names": inputs["feature_names"],
    "rows": [[clean(v) for v in inputs["rows"][i]] for i in picked],
    "prediction": [expected["prediction"][i] for i in picked],
    "source_rows": picked,
}
json.dump(out, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
