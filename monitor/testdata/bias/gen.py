#!/usr/bin/python3
"""Fixtures of the bias metric tests (monitor/bias_test.go).

Writes, deterministically (seeded):
  leads.csv      4,000 evaluation leads: region (1..3, the facet), size_log
                 (the threshold facet, < 3; no effect on the outcome), industry (0..3, the CDDPL
                 group-by), engagement, fit, and the true outcome
                 `converted`, which does not depend on region.
  biased.json    an XGBoost model trained on leads whose region-1
                 conversions were mostly erased: it scores region 1 lower
                 by construction.
  fair.json      the same model trained on the true outcomes.
  expected.json  per model, the probabilities XGBoost predicts and, for
                 each facet group against the rest, SageMaker Clarify's
                 bias metrics computed here with numpy from Clarify's
                 definitions (independently of the Go code), plus the
                 pre-training metrics of the outcomes.

Run with Debian's python3-xgboost (1.7.4) and python3-numpy:
    /usr/bin/python3 monitor/testdata/bias/gen.py
"""
import json
import math
import os

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
CUTOFF = 0.3          # positive prediction: probability >= CUTOFF
FACETS = [("region", [[1.0], [2.0, 3.0]], None), ("size_log", None, 3.0)]
GROUP_BY = "industry"
NAMES = ["region", "size_log", "industry", "engagement", "fit"]


def leads(n, rng):
    region = rng.choice([1.0, 2.0, 3.0], size=n, p=[0.4, 0.35, 0.25])
    size = np.round(rng.gamma(3.0, 1.2, size=n), 4)
    industry = rng.integers(0, 4, size=n).astype(float)
    engagement = np.round(rng.normal(0, 1, size=n), 4)
    fit = np.round(rng.uniform(0, 1, size=n), 4)
    logit = -1.6 + 1.3 * engagement + 1.5 * fit + 0.3 * (industry == 2)
    p = 1 / (1 + np.exp(-logit))
    y = (rng.uniform(size=n) < p).astype(float)
    X = np.column_stack([region, size, industry, engagement, fit]).astype(np.float32)
    return X, y


def train(X, y):
    d = xgb.DMatrix(X, label=y, feature_names=NAMES)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 0,
              "tree_method": "exact", "nthread": 1}
    return xgb.train(params, d, num_boost_round=40)


def divide(a, b):
    """Clarify's division: 0/0 = 0, x/0 = +-inf."""
    if b == 0:
        if a == 0:
            return 0.0
        return math.inf if a > 0 else -math.inf
    return a / b


def diff(a, b):
    if a == math.inf and b == math.inf:
        return 0.0
    return a - b


def post_training(d, y, yhat, grp):
    """d: boolean facet-d index; a is the rest. y, yhat booleans."""
    a = ~d
    na, nd = a.sum(), d.sum()
    qa, qd = (yhat & a).sum() / na, (yhat & d).sum() / nd
    out = {"DPPL": qa - qd, "DI": divide(qd, qa)}
    # CDDPL, Clarify's CDD over the group-by strata.
    cdd, cnt = [], []
    for g in np.unique(grp):
        s = grp == g
        acc = (yhat & s).sum()
        rej = (~yhat & s).sum()
        A = (yhat & d & s).sum() / acc if acc else 0.0
        D = (~yhat & d & s).sum() / rej if rej else 0.0
        cdd.append(D - A)
        cnt.append(s.sum())
    out["CDDPL"] = float(np.sum(np.array(cnt) * np.array(cdd)) / np.sum(cnt))

    def conf(m):
        tp = (y & yhat & m).sum(); fp = (~y & yhat & m).sum()
        tn = (~y & ~yhat & m).sum(); fn = (y & ~yhat & m).sum()
        return tp, fp, tn, fn
    tpa, fpa, tna, fna = conf(a)
    tpd, fpd, tnd, fnd = conf(d)
    out["DCA"] = diff(divide(tpa + fna, tpa + fpa), divide(tpd + fnd, tpd + fpd))
    out["DCR"] = diff(divide(tnd + fpd, tnd + fnd), divide(tna + fpa, tna + fna))
    out["RD"] = diff(divide(tpa, tpa + fna), divide(tpd, tpd + fnd))
    out["DAR"] = diff(divide(tpa, tpa + fpa), divide(tpd, tpd + fpd))
    out["DRR"] = diff(divide(tnd, tnd + fnd), divide(tna, tna + fna))
    out["AD"] = diff(divide(tpa + tna, tpa + fpa + tna + fna), divide(tpd + tnd, tpd + fpd + tnd + fnd))
    out["TE"] = diff(divide(fnd, fpd), divide(fna, fpa))
    return {k: float(v) for k, v in out.items()}


def pre_training(d, y):
    a = ~d
    na, nd = a.sum(), d.sum()
    qa, qd = (y & a).sum() / na, (y & d).sum() / nd
    out = {"CI": (na - nd) / (na + nd), "DPL": qa - qd}
    Pa = np.array([1 - qa, qa]); Pd = np.array([1 - qd, qd])
    keep = (Pa > 0) & (Pd > 0)
    Pa, Pd = Pa[keep], Pd[keep]
    P = (Pa + Pd) / 2
    out["KL"] = np.sum(Pa * np.log(Pa / Pd))
    out["JS"] = 0.5 * (np.sum(Pa * np.log(Pa / P)) + np.sum(Pd * np.log(Pd / P)))
    out["KS"] = np.max(np.abs(Pa - Pd))
    return {k: float(v) for k, v in out.items()}


def groups(X):
    """(facet, facet_value, boolean index) of every facet group."""
    out = []
    for name, gs, thr in FACETS:
        col = X[:, NAMES.index(name)].astype(np.float64)
        if thr is not None:
            out.append((name, "<%g" % thr, col < thr))
            out.append((name, ">=%g" % thr, col >= thr))
        else:
            for g in gs:
                out.append((name, ",".join("%g" % v for v in g), np.isin(col, g)))
    return out


def main():
    rng = np.random.default_rng(17)
    Xt, yt = leads(8000, rng)
    X, y = leads(4000, rng)
    biased_y = yt.copy()
    erase = (Xt[:, 0] == 1) & (yt == 1) & (rng.uniform(size=len(yt)) < 0.6)
    biased_y[erase] = 0
    models = {"biased": train(Xt, biased_y), "fair": train(Xt, yt)}
    with open(os.path.join(HERE, "leads.csv"), "w") as f:
        f.write(",".join(NAMES + ["converted"]) + "\n")
        for row, label in zip(X, y):
            f.write(",".join("%g" % v for v in row) + ",%d\n" % label)
    yb = y.astype(bool)
    expected = {"cutoff": CUTOFF, "group_by": GROUP_BY, "models": {}}
    grp = X[:, NAMES.index(GROUP_BY)]
    for name, bst in models.items():
        bst.save_model(os.path.join(HERE, name + ".json"))
        p = bst.predict(xgb.DMatrix(X, feature_names=NAMES))
        gap = np.min(np.abs(p.astype(np.float64) - CUTOFF))
        assert gap > 1e-6, "a probability lies on the cut-off: %g" % gap
        yhat = p >= np.float32(CUTOFF)
        facets = []
        for facet, value, d in groups(X):
            facets.append({"facet": facet, "facet_value": value,
                           "post_training": post_training(d, yb, yhat, grp),
                           "pre_training": pre_training(d, yb)})
        expected["models"][name] = {"probabilities": [float(v) for v in p], "facets": facets}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
