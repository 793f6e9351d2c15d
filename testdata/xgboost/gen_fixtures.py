#!/usr/bin/env python3
"""Generate the XGBoost conformance fixtures under testdata/xgboost/.

WHAT
    Trains small XGBoost models with the REAL xgboost library (Debian's
    python3-xgboost 1.7.4), saves them in every format 1.7.4 writes, and records
    what 1.7.4 predicts for a set of input rows (ordinary rows plus edge rows).
    The Go evaluator must reproduce these numbers exactly (margins bit for bit;
    allow ~1 ulp on transformed predictions such as sigmoid/softmax/exp).

HOW TO RUN (from the repository root)
    /usr/bin/python3 testdata/xgboost/gen_fixtures.py            # all cases
    /usr/bin/python3 testdata/xgboost/gen_fixtures.py depth6_hist obj_multi_softprob   # some

    Needs /usr/bin/python3 with xgboost==1.7.4, numpy and pandas (Debian's
    python3-xgboost; NOT the python3 that may come first on PATH).  Lead-like
    data comes from shared/tools/leads.py (found next to the repository, or via
    the LEADS_PY_DIR environment variable).  Everything is seeded, and every
    model is trained with nthread=1, so a rerun rewrites identical files.
    Runtime: a few minutes on 2 cores (the 1000-tree benchmark model dominates).

OUTPUT LAYOUT
    testdata/xgboost/cases.json              every case: name, description, files
    testdata/xgboost/<case>/model.json       Booster.save_model("model.json")  (1.7.4 JSON)
    testdata/xgboost/<case>/model.ubj        Booster.save_model("model.ubj")   (1.7.4 UBJSON)
    testdata/xgboost/<case>/model.model      Booster.save_model("model.model") (legacy binary;
                                             only some cases, see LEGACY_BINARY)
    testdata/xgboost/<case>/expected.json    inputs and 1.7.4 outputs, layout below
    testdata/xgboost/<case>/model.v3.json    3.x-style rewrites (only V3_CASES), see below
    testdata/xgboost/<case>/model.v3.ubj
    testdata/xgboost/<case>/model.legacykeys.json  (only LEGACYKEYS_CASES), see below
    testdata/xgboost/<case>/model.boolleft.json    (only LEGACYKEYS_CASES), see below

expected.json (exactly these keys):
    {"case", "objective", "booster", "num_group", "num_feature",
     "missing": null (NaN only) or the DMatrix `missing` number used,
     "inputs":     rows x num_feature, null = NaN, float32-exact numbers,
     "margin":     rows x num_group   from predict(DMatrix, output_margin=True),
     "prediction": rows x P           from predict(DMatrix); P = num_group for
                                      multi:softprob, else 1 (multi:softmax gives the
                                      class index, binary:hinge 0/1, rank:* the margin),
     "contribs":   rows x num_group*(num_feature+1) from predict(pred_contribs=True),
                   flattened group-major per row; the last column of each group is
                   the bias,
     "feature_types": null, or the booster's feature_types (e.g. ["c","c","float","float"])
                      for categorical cases}
    All numbers are float32 values written as exact float64 decimals.  The
    predictions come from a DMatrix built from the float32 inputs with the case's
    `missing` (and feature_types + enable_categorical=True for categorical cases).
    Outputs that are not finite (gblinear fed +-float32 max overflows to
    +-Inf, and Inf + -Inf gives NaN) are kept, written as the JSON strings
    "Infinity", "-Infinity" and "NaN", since JSON numbers cannot hold them.

NEWER-FORMAT VARIANTS (expected outputs are the same as the 1.7.4 model's)
    model.v3.json / model.v3.ubj emulate what XGBoost 3.1 writes for the same
    model (written by this script's own JSON/UBJSON writers, which are checked
    byte for byte against 1.7.4's own model.json/model.ubj for every case).
    Read from dmlc/xgboost (public source, via a code search tool):
      * src/learner.cc (2025, LearnerModelParamLegacy::ToJson): base_score is a
        common::ParamArray<float> streamed with `ss << base_score`, and
        src/common/param_array.cc writes that as a JSON F32Array text, so 3.1
        writes "base_score": "[5E-1]" - one entry per output (num_class entries
        for multi:softprob, e.g. "[5E-1,5E-1,5E-1]"); the comment there says
        "before 3.1, the intercept was always a scalar".  So these files claim
        "version": [3,1,0] (3.0.x still wrote a scalar "5E-1").  The value stays
        in the objective's probability space (ProbToMargin is applied on load),
        multi-class has no ProbToMargin override (identity), so the entries are
        the 1.7.4 base_score repeated.  learner_model_param keeps num_target and
        boost_from_average (written since 1.7/2.0).
      * src/gbm/gbtree_model.cc (2.x/3.x): gbtree model gains
        "iteration_indptr": [0, k, 2k, ...] (k = trees per boosting round) and,
        since 3.1, "cats": {"enc": [...], "feature_segments": [...],
        "sorted_idx": [...]} (src/data/cat_container.cc CatContainer::Save;
        third-party readers find it at learner.gradient_booster.model.cats).
        For the categorical case enc holds, per feature, {"type": 15 (I64Array),
        "values": [0..K-1]} for category columns and {"offsets": [], "values": []}
        for numeric ones (as xgboost's own tests write an empty column);
        feature_segments is the running total of categories.  Treat "cats" as an
        opaque unknown key: the model's split codes are the pandas category codes.
        gbtree_model_param loses size_leaf_vector (GBTreeModelParam has only
        num_trees and num_parallel_tree since 2.0).
      * src/tree/tree_model.cc (3.x RegTree::SaveModel): the tree arrays are the
        same typed arrays as 1.7.4 (F32 loss_changes/sum_hessian/base_weights/
        split_conditions, I32 children/parents/split_indices, U8 default_left and
        split_type, I32 categories/categories_nodes, I64 categories_segments/
        categories_sizes).  default_left is a U8Array, and JsonWriter writes
        U8Array elements as integers (src/common/json.cc) - 3.x does NOT write
        booleans for default_left (only 1.0-1.2 did; see model.boolleft.json).
        tree_param.size_leaf_vector is "1" since 2.0 (was "0").
      * Categorical nodes' split_conditions are bare NaN tokens in the JSON text
        (1.7.4 already writes them that way; json.cc writes NaN as `NaN`).
    Checked here: with base_score turned back into a scalar (and the 3.x-only
    `$i` int8 typed array of the empty string-category column widened to `$l`),
    1.7.4 itself loads model.v3.json and model.v3.ubj and reproduces the margins
    bit for bit, so the rewrite keeps the trees intact.
    UBJSON is encoded like src/common/json.cc UBJWriter: objects with keys in
    sorted order, key/string lengths as 'L' int64, untyped arrays as
    `[#L<n>` + items, typed arrays as `[$d#L<n>` (float32), `[$U#L` (uint8),
    `[$l#L` (int32), `[$L#L` (int64), big-endian, integers in the smallest of
    i/I/l/L that strictly contains them, float scalars as 'd'.

    model.legacykeys.json: the 1.7.4 JSON with split_type, categories,
    categories_nodes, categories_segments and categories_sizes removed from every
    tree, as numerical-only models were written before categorical support
    (1.0-1.3).  1.7.4 loads it and predicts identically (checked here).

    model.boolleft.json: legacykeys plus the 1.0-1.2 tree encoding read from
    src/tree/tree_model.cc of that era (std::vector<Json> default_left filled with
    bools): default_left as JSON true/false and an extra "leaf_child_counts"
    array of zeros.  1.7.4 loads it and predicts identically (checked here).

XGBoost 1.7.4 behaviour the fixtures pin down (every case's margins were
reproduced bit for bit by an independent float32 re-evaluation of model.json
following exactly these rules):
    * gbtree: acc = base_margin (float32); for each tree in order:
      acc[tree_info[i]] += leaf (float32 add).  A split goes left iff
      value < split_condition (float32); NaN (or == `missing`) follows
      default_left.  num_parallel_tree trees are just more trees in the list.
    * base_margin = ProbToMargin(base_score), computed in float32:
      -log(1/bs - 1) for binary:logistic and reg:logistic; log(bs) for
      count:poisson, reg:gamma, reg:tweedie; identity for everything else,
      INCLUDING binary:logitraw (see obj_binary_logitraw: base_score 0.3 gives a
      base margin of 0.3), binary:hinge, reg:squarederror, reg:pseudohubererror,
      reg:absoluteerror (whose base_score 1.7.4 estimates from the labels),
      multi:* (every class starts at base_score) and rank:*.
    * dart: acc += float32(leaf * weight_drop[i]) per tree (DMatrix predict).
      inplace_predict rounds differently for dart (26 of 95 rows of dart_reg
      differ by up to 4.8e-7); expected.json uses DMatrix predict.
    * gblinear: weights has (num_feature+1)*num_group entries laid out
      [feature][group], the last row is the bias; margin[g] =
      float32(bias[g] + base_margin), then += float32(x_j * w[j][g]) for each
      non-missing j in ascending order.  1.7.4 has no inplace_predict for gblinear.
    * categorical split (split_type 1): the node's categories list is the set
      that goes RIGHT.  NaN (or == `missing`) -> default_left.  Otherwise:
      value < 0 (even -0.5) or value >= 2^24 -> LEFT; else int(value) (C
      truncation) in the set -> RIGHT, not in it -> LEFT.  Unseen and
      out-of-range categories therefore go LEFT, NOT default_left (cat_* cases
      have rows that tell these apart).  One-hot splits (max_cat_to_onehot) are
      stored the same way with a single category.  split_conditions of
      categorical nodes are NaN.  Legacy binary save refuses categorical models.
    * Transforms (checked against every fixture with glibc expf):
      binary:logistic / reg:logistic: x = min(-margin, 88.7f);
      p = 1.0f / (expf(x) + 1.0f + 1e-16f)  (all float32; the clamp matters:
      margin -1e30 gives 3.0066358e-39, not 0).  count:poisson, reg:gamma,
      reg:tweedie: expf(margin).  multi:softprob: m = max; e_k = expf(x_k - m);
      sum the e_k in DOUBLE; p_k = e_k / (float)sum.  multi:softmax: index of the
      first maximum.  binary:hinge: margin > 0 ? 1 : 0.  Others: identity.
    * DMatrix refuses +-Inf ("Input data contains `inf` or `nan`") while
      inplace_predict accepts it and compares normally (+Inf goes right, -Inf
      left), so fixtures carry no Inf inputs.
"""
import json
import math
import re
import os
import struct
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = HERE
F32MAX = float(np.finfo(np.float32).max)
NTHREAD = 1

LEGACY_BINARY = {"depth6_hist", "obj_multi_softprob", "dart_binary", "gblinear_logistic",
                 "gblinear_softprob", "bs_poisson_2", "rf_5rounds"}
V3_CASES = {"depth6_hist", "obj_multi_softprob", "cat_partition", "dart_binary"}
LEGACYKEYS_CASES = {"depth6_hist", "obj_multi_softprob", "dart_binary"}


def _import_leads():
    cands = [os.environ.get("LEADS_PY_DIR", ""),
             os.path.join(os.path.dirname(REPO), "shared", "tools"),
             os.path.join(REPO, "shared", "tools"),
             "/work/shared/tools"]
    for c in cands:
        if c and os.path.exists(os.path.join(c, "leads.py")):
            sys.path.insert(0, c)
            import leads  # noqa: E402
            return leads
    raise SystemExit("cannot find shared/tools/leads.py; set LEADS_PY_DIR")


leads = _import_leads()
assert xgb.__version__ == "1.7.4", "need xgboost 1.7.4 (run with /usr/bin/python3)"


# --------------------------------------------------------------------------
# A typed JSON value model, a UBJSON decoder/encoder and a JSON text writer
# that mimic xgboost's src/common/json.cc.
# --------------------------------------------------------------------------
class Typed:
    """A typed array: code is the UBJSON type marker ('d','U','l','L','i')."""
    __slots__ = ("code", "values")

    def __init__(self, code, values):
        self.code = code
        self.values = list(values)


class F32:
    """A float scalar (xgboost Number is float32)."""
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = float(np.float32(v))


_PRIM = {"i": ">b", "U": ">B", "I": ">h", "l": ">i", "L": ">q", "d": ">f", "D": ">d"}


def ubj_decode(buf):
    pos = 0

    def rd(n):
        nonlocal pos
        b = buf[pos:pos + n]
        pos += n
        return b

    def prim(t):
        fmt = _PRIM[t]
        return struct.unpack(fmt, rd(struct.calcsize(fmt)))[0]

    def length():
        return prim(rd(1).decode())

    def val(t):
        nonlocal pos
        if t == "{":
            o = {}
            while buf[pos:pos + 1] != b"}":
                n = length()
                k = rd(n).decode()
                o[k] = val(rd(1).decode())
            rd(1)
            return o
        if t == "[":
            if buf[pos:pos + 1] == b"$":
                rd(1)
                code = rd(1).decode()
                assert rd(1) == b"#"
                n = length()
                fmt = _PRIM[code]
                size = struct.calcsize(fmt)
                arr = np.frombuffer(rd(n * size), dtype=np.dtype(fmt))
                if code == "d":
                    vals = arr.astype(np.float32).astype(np.float64).tolist()
                else:
                    vals = arr.astype(np.int64).tolist()
                return Typed(code, vals)
            if buf[pos:pos + 1] == b"#":
                rd(1)
                n = length()
                return [val(rd(1).decode()) for _ in range(n)]
            out = []
            while buf[pos:pos + 1] != b"]":
                out.append(val(rd(1).decode()))
            rd(1)
            return out
        if t == "S":
            return rd(length()).decode()
        if t == "T":
            return True
        if t == "F":
            return False
        if t == "Z":
            return None
        if t == "d":
            return F32(prim("d"))
        return prim(t)

    v = val(rd(1).decode())
    assert pos == len(buf), "trailing bytes"
    return v


def _ubj_int(i):
    for code, lo, hi in (("i", -128, 127), ("I", -32768, 32767), ("l", -2**31, 2**31 - 1)):
        if lo < i < hi:  # json.cc uses strict comparisons
            return code.encode() + struct.pack(_PRIM[code], i)
    return b"L" + struct.pack(">q", i)


def _ubj_str(s):
    b = s.encode()
    return b"L" + struct.pack(">q", len(b)) + b


def ubj_encode(v):
    out = []

    def enc(v):
        if isinstance(v, dict):
            out.append(b"{")
            for k in sorted(v):
                out.append(_ubj_str(k))
                enc(v[k])
            out.append(b"}")
        elif isinstance(v, Typed):
            fmt = _PRIM[v.code]
            out.append(b"[$" + v.code.encode() + b"#L" + struct.pack(">q", len(v.values)))
            out.append(np.asarray(v.values, dtype=np.dtype(fmt)).tobytes())
        elif isinstance(v, list):
            out.append(b"[#L" + struct.pack(">q", len(v)))
            for x in v:
                enc(x)
        elif isinstance(v, bool):
            out.append(b"T" if v else b"F")
        elif isinstance(v, int):
            out.append(_ubj_int(v))
        elif isinstance(v, (F32, float)):
            f = v.v if isinstance(v, F32) else v
            out.append(b"d" + struct.pack(">f", f))
        elif isinstance(v, str):
            out.append(b"S" + _ubj_str(v))
        elif v is None:
            out.append(b"Z")
        else:
            raise TypeError(type(v))

    enc(v)
    return b"".join(out)


def fmt_f32(f):
    """xgboost's to_chars(float): shortest round-trip digits, d.dddE<exp>."""
    f = float(f)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    s = np.format_float_scientific(np.float32(f), unique=True, trim="-")
    mant, exp = s.split("e")
    return "%sE%d" % (mant, int(exp))


def _json_str(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_text(v):
    out = []

    def w(v):
        if isinstance(v, dict):
            out.append("{")
            for i, k in enumerate(sorted(v)):
                if i:
                    out.append(",")
                out.append(_json_str(k) + ":")
                w(v[k])
            out.append("}")
        elif isinstance(v, Typed):
            if v.code == "d":
                out.append("[" + ",".join(fmt_f32(x) for x in v.values) + "]")
            else:
                out.append("[" + ",".join(str(int(x)) for x in v.values) + "]")
        elif isinstance(v, list):
            out.append("[")
            for i, x in enumerate(v):
                if i:
                    out.append(",")
                w(x)
            out.append("]")
        elif isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, int):
            out.append(str(v))
        elif isinstance(v, (F32, float)):
            out.append(fmt_f32(v.v if isinstance(v, F32) else v))
        elif isinstance(v, str):
            out.append(_json_str(v))
        elif v is None:
            out.append("null")
        else:
            raise TypeError(type(v))

    w(v)
    return "".join(out)


def plain(v):
    """Typed model -> plain Python (for reading)."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, Typed):
        return list(v.values)
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, F32):
        return v.v
    return v


def gbtree_of(model):
    gb = model["learner"]["gradient_booster"]
    if gb["name"] == "dart":
        return gb["gbtree"]["model"]
    if gb["name"] == "gbtree":
        return gb["model"]
    return None


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def lead_data(n, seed):
    df = leads.generate(n, seed=seed)
    y = df.pop("converted").to_numpy(dtype=np.float64)
    return df.to_numpy(dtype=np.float32), y


def synth_x(n, nf, seed, nan_rate=0.05):
    """nf features: gaussian, uniform, small integers, a skewed one; some NaN."""
    rng = np.random.default_rng([seed, 777])
    cols = []
    for j in range(nf):
        kind = j % 4
        if kind == 0:
            c = rng.normal(0, 1, n)
        elif kind == 1:
            c = rng.uniform(-3, 3, n)
        elif kind == 2:
            c = rng.integers(0, 8, n).astype(np.float64)
        else:
            c = rng.lognormal(0, 1, n)
        cols.append(c)
    X = np.stack(cols, 1).astype(np.float32)
    if nan_rate:
        X[rng.random(X.shape) < nan_rate] = np.nan
    return X


def synth_signal(X, seed):
    rng = np.random.default_rng([seed, 778])
    Z = np.nan_to_num(X.astype(np.float64), nan=0.0)
    nf = Z.shape[1]
    s = 0.8 * Z[:, 0] - 0.5 * Z[:, 1 % nf] + 0.3 * (Z[:, 2 % nf] > 3) \
        + 0.6 * np.sin(Z[:, 3 % nf]) + 0.4 * Z[:, 0] * Z[:, 1 % nf] / 3
    return s + rng.normal(0, 0.3, len(s))


def cat_frame(n, seed, nan_rate=0.08):
    """2 categorical (40 and 6 categories) + 2 numeric features."""
    rng = np.random.default_rng([seed, 779])
    c0 = rng.integers(0, 40, n)
    c1 = rng.integers(0, 6, n)
    x2 = rng.normal(0, 1, n)
    x3 = rng.uniform(0, 10, n)
    good0 = np.isin(c0, [1, 3, 4, 9, 10, 17, 22, 23, 30, 31, 38])
    logit = 1.4 * good0 - 0.9 * (c1 == 2) + 0.7 * (c1 == 5) + 0.8 * x2 - 0.15 * (x3 - 5) - 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    c0f = c0.astype(np.float64)
    c1f = c1.astype(np.float64)
    c0f[rng.random(n) < nan_rate] = np.nan
    c1f[rng.random(n) < nan_rate] = np.nan
    x2[rng.random(n) < nan_rate] = np.nan
    df = pd.DataFrame({
        "c0": pd.Categorical.from_codes(np.where(np.isnan(c0f), -1, c0f).astype(int), categories=list(range(40))),
        "c1": pd.Categorical.from_codes(np.where(np.isnan(c1f), -1, c1f).astype(int), categories=list(range(6))),
        "x2": x2.astype(np.float32),
        "x3": x3.astype(np.float32),
    })
    X = np.stack([c0f, c1f, x2, x3], 1).astype(np.float32)
    return df, X, y


def train(params, X, y, rounds, missing=np.nan, group=None, feature_names=None,
          feature_types=None, enable_categorical=False, frame=None):
    p = {"nthread": NTHREAD, "seed": 0}
    p.update(params)
    if frame is not None:
        d = xgb.DMatrix(frame, y, enable_categorical=True, nthread=NTHREAD)
    else:
        d = xgb.DMatrix(X, y, missing=missing, feature_names=feature_names,
                        feature_types=feature_types, enable_categorical=enable_categorical,
                        nthread=NTHREAD)
    if group is not None:
        d.set_group(group)
    return xgb.train(p, d, rounds)


# --------------------------------------------------------------------------
# Cases.  Each builder returns a dict:
#   booster, base (float32 rows used as ordinary inputs), missing (None = NaN),
#   cat (bool), desc (one line), n_thr (threshold edge features), specials (bool)
# --------------------------------------------------------------------------
CASES = {}


def case(name):
    def deco(fn):
        CASES[name] = fn
        return fn
    return deco


_LEAD_CACHE = {}


def lead_train(n=4000, seed=31):
    key = (n, seed)
    if key not in _LEAD_CACHE:
        _LEAD_CACHE[key] = lead_data(n, seed)
    return _LEAD_CACHE[key]


def lead_test(n=60, seed=32):
    return lead_data(n, seed)[0]


LEAD_NAMES = list(leads.FEATURE_NAMES)


def _lead_case(params, rounds, desc, n_train=4000, n_base=60, n_thr=8):
    X, y = lead_train(n_train)
    b = train(dict({"objective": "binary:logistic", "tree_method": "hist", "eta": 0.3}, **params),
              X, y, rounds, feature_names=LEAD_NAMES)
    return dict(booster=b, base=lead_test(n_base), desc=desc, n_thr=n_thr)


for _d, _r in ((1, 30), (2, 30), (4, 20), (6, 20), (8, 10), (10, 6), (12, 4)):
    def _mk(d=_d, r=_r):
        return _lead_case({"max_depth": d}, r,
                          "binary:logistic gbtree hist, max_depth %d, %d trees, 50 lead features" % (d, r))
    case("depth%d_hist" % _d)(_mk)


@case("depth6_exact")
def _():
    X, y = lead_train(2000)
    b = train({"objective": "binary:logistic", "tree_method": "exact", "max_depth": 6, "eta": 0.3},
              X, y, 20, feature_names=LEAD_NAMES)
    return dict(booster=b, base=lead_test(), desc="binary:logistic gbtree tree_method exact, max_depth 6, 20 trees, lead features", n_thr=8)


@case("trees1")
def _():
    return _lead_case({"max_depth": 3}, 1, "binary:logistic, a single tree of depth 3, lead features")


@case("trees10")
def _():
    return _lead_case({"max_depth": 4}, 10, "binary:logistic, 10 trees of depth 4, lead features")


@case("trees100")
def _():
    return _lead_case({"max_depth": 4, "eta": 0.1}, 100, "binary:logistic, 100 trees of depth 4, lead features")


@case("bench_1000x8")
def _():
    X, y = lead_train(5000, seed=21)
    b = train({"objective": "binary:logistic", "tree_method": "hist", "max_depth": 8, "eta": 0.05},
              X, y, 1000, feature_names=LEAD_NAMES)
    return dict(booster=b, base=lead_test(36, seed=22), n_thr=6, n_special_max=10,
                desc="benchmark model: binary:logistic, 1000 trees, max_depth 8, hist, eta 0.05, 50 lead features; 64 rows")


@case("bs_logistic_0p2")
def _():
    X, y = lead_train()
    b = train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "base_score": 0.2,
               "tree_method": "hist"}, X, y, 10, feature_names=LEAD_NAMES)
    return dict(booster=b, base=lead_test(), desc="binary:logistic with base_score 0.2 (base margin logit(0.2)), 10 trees depth 4, lead features", n_thr=8)


def _synth_case(obj, desc, label, params=None, nf=6, rounds=20, n=600, seed=5, group=None):
    X = synth_x(n, nf, seed)
    s = synth_signal(X, seed)
    y = label(s)
    p = {"objective": obj, "max_depth": 4, "eta": 0.3, "tree_method": "hist"}
    p.update(params or {})
    if p.get("booster") == "gblinear":
        p.pop("max_depth")
        p.pop("tree_method")
    b = train(p, X, y, rounds, group=group)
    return dict(booster=b, base=synth_x(60, nf, seed + 1000), desc=desc, n_thr=8)


def _bin(s):
    return (s > 0).astype(np.float64)


@case("obj_binary_logistic")
def _():
    return _synth_case("binary:logistic", "binary:logistic, 6 synthetic features, 20 trees depth 4", _bin)


@case("obj_binary_logitraw")
def _():
    return _synth_case("binary:logitraw", "binary:logitraw with base_score 0.3 (1.7.4 base margin is 0.3: identity, not logit); prediction = margin",
                       _bin, {"base_score": 0.3})


@case("obj_binary_hinge")
def _():
    return _synth_case("binary:hinge", "binary:hinge (base margin 0.5, identity); prediction = 1 if margin > 0 else 0", _bin)


@case("obj_reg_squarederror")
def _():
    return _synth_case("reg:squarederror", "reg:squarederror, default base_score 0.5", lambda s: 2 * s + 1)


@case("obj_reg_logistic")
def _():
    return _synth_case("reg:logistic", "reg:logistic, labels in [0,1], prediction = sigmoid(margin)",
                       lambda s: 1 / (1 + np.exp(-s)))


@case("obj_reg_pseudohubererror")
def _():
    return _synth_case("reg:pseudohubererror", "reg:pseudohubererror, huber_slope 1.5", lambda s: 3 * s,
                       {"huber_slope": 1.5})


@case("obj_reg_absoluteerror")
def _():
    return _synth_case("reg:absoluteerror", "reg:absoluteerror (1.7.4 estimates base_score as the label median; adaptive leaves)",
                       lambda s: 2 * s + 5)


@case("obj_count_poisson")
def _():
    return _synth_case("count:poisson", "count:poisson, default base_score 0.5 (base margin log 0.5), prediction = exp(margin)",
                       lambda s: np.random.default_rng(9).poisson(np.exp(0.7 * s)).astype(np.float64))


@case("obj_reg_gamma")
def _():
    return _synth_case("reg:gamma", "reg:gamma with base_score 1.5 (base margin log 1.5), prediction = exp(margin)",
                       lambda s: np.random.default_rng(10).gamma(2.0, np.exp(0.5 * s) / 2.0) + 1e-3,
                       {"base_score": 1.5})


@case("obj_reg_tweedie")
def _():
    def lab(s):
        rng = np.random.default_rng(11)
        v = rng.gamma(1.5, np.exp(0.5 * s))
        v[rng.random(len(s)) < 0.3] = 0.0
        return v
    return _synth_case("reg:tweedie", "reg:tweedie, tweedie_variance_power 1.3, prediction = exp(margin)", lab,
                       {"tweedie_variance_power": 1.3})


def _classes(k):
    def lab(s):
        q = np.quantile(s, np.linspace(0, 1, k + 1)[1:-1])
        return np.searchsorted(q, s).astype(np.float64)
    return lab


@case("obj_multi_softprob")
def _():
    return _synth_case("multi:softprob", "multi:softprob, 4 classes, 15 rounds (60 trees), depth 4", _classes(4),
                       {"num_class": 4}, rounds=15)


@case("obj_multi_softmax")
def _():
    return _synth_case("multi:softmax", "multi:softmax, 3 classes; prediction = argmax class index", _classes(3),
                       {"num_class": 3}, rounds=10)


def _rank_case(obj, desc):
    n_groups, gsize = 40, 15
    n = n_groups * gsize

    def lab(s):
        return np.clip(np.round(s + 1.5), 0, 3).astype(np.float64)
    return _synth_case(obj, desc, lab, n=n, group=[gsize] * n_groups)


@case("obj_rank_pairwise")
def _():
    return _rank_case("rank:pairwise", "rank:pairwise, 40 query groups of 15; prediction = margin")


@case("obj_rank_ndcg")
def _():
    return _rank_case("rank:ndcg", "rank:ndcg, 40 query groups of 15; prediction = margin")


@case("bs_squarederror_3")
def _():
    return _synth_case("reg:squarederror", "reg:squarederror with base_score 3.0 (identity)", lambda s: 2 * s + 3,
                       {"base_score": 3.0}, rounds=15)


@case("bs_poisson_2")
def _():
    return _synth_case("count:poisson", "count:poisson with base_score 2.0 (base margin log 2)",
                       lambda s: np.random.default_rng(12).poisson(2 * np.exp(0.5 * s)).astype(np.float64),
                       {"base_score": 2.0}, rounds=15)


@case("dart_binary")
def _():
    X, y = lead_train(3000)
    b = train({"booster": "dart", "objective": "binary:logistic", "max_depth": 4, "eta": 0.3,
               "rate_drop": 0.1, "skip_drop": 0.0, "tree_method": "hist"}, X, y, 30, feature_names=LEAD_NAMES)
    return dict(booster=b, base=lead_test(), n_thr=8,
                desc="dart binary:logistic, rate_drop 0.1, 30 rounds depth 4, lead features; predict scales tree i by weight_drop[i]")


@case("dart_reg")
def _():
    return _synth_case("reg:squarederror", "dart reg:squarederror, rate_drop 0.2, normalize_type forest, sample_type weighted, 25 rounds",
                       lambda s: 2 * s + 1,
                       {"booster": "dart", "rate_drop": 0.2, "skip_drop": 0.0, "normalize_type": "forest",
                        "sample_type": "weighted", "max_depth": 3}, rounds=25)


@case("gblinear_logistic")
def _():
    return _synth_case("binary:logistic", "gblinear binary:logistic, 20 rounds; margin = bias + logit(0.5) + sum w_j x_j (missing skipped)",
                       _bin, {"booster": "gblinear", "eta": 0.5})


@case("gblinear_squarederror")
def _():
    return _synth_case("reg:squarederror", "gblinear reg:squarederror with base_score 1.0, coord_descent updater",
                       lambda s: 2 * s + 1, {"booster": "gblinear", "updater": "coord_descent", "base_score": 1.0,
                                             "lambda": 0.1, "alpha": 0.01})


@case("gblinear_softprob")
def _():
    return _synth_case("multi:softprob", "gblinear multi:softprob, 3 classes; weights laid out [feature][group], bias last",
                       _classes(3), {"booster": "gblinear", "num_class": 3, "eta": 0.5})


@case("rf_1round")
def _():
    X, y = lead_train()
    b = train({"objective": "binary:logistic", "num_parallel_tree": 4, "subsample": 0.8, "colsample_bynode": 0.8,
               "eta": 1.0, "max_depth": 5, "tree_method": "hist"}, X, y, 1, feature_names=LEAD_NAMES)
    return dict(booster=b, base=lead_test(), n_thr=8,
                desc="random forest: 1 round of num_parallel_tree 4, subsample 0.8, colsample_bynode 0.8, eta 1, depth 5")


@case("rf_5rounds")
def _():
    X, y = lead_train()
    b = train({"objective": "binary:logistic", "num_parallel_tree": 4, "subsample": 0.8, "colsample_bynode": 0.8,
               "eta": 0.5, "max_depth": 4, "tree_method": "hist"}, X, y, 5, feature_names=LEAD_NAMES)
    return dict(booster=b, base=lead_test(), n_thr=8,
                desc="boosted random forest: 5 rounds x num_parallel_tree 4 (20 trees), subsample/colsample_bynode 0.8")


@case("rf_multi")
def _():
    return _synth_case("multi:softprob", "multi:softprob 3 classes with num_parallel_tree 2, 4 rounds (24 trees, tree_info 0,0,1,1,2,2,...)",
                       _classes(3), {"num_class": 3, "num_parallel_tree": 2, "subsample": 0.8,
                                     "colsample_bynode": 0.8}, rounds=4)


def _cat_case(mco, desc, rounds=15, obj="binary:logistic", extra=None):
    df, X, y = cat_frame(1500, 41)
    p = {"objective": obj, "tree_method": "hist", "max_cat_to_onehot": mco, "max_depth": 4, "eta": 0.3}
    p.update(extra or {})
    if obj.startswith("multi"):
        y = (y + (df["x3"].to_numpy() > 6)).astype(np.float64)
    b = train(p, None, y, rounds, frame=df)
    _, Xt, _ = cat_frame(60, 42)
    return dict(booster=b, base=Xt, cat=True, n_thr=6, desc=desc)


@case("cat_onehot")
def _():
    return _cat_case(64, "categorical (pandas category: c0 40 cats, c1 6 cats, 2 numeric), max_cat_to_onehot 64 -> one-hot splits (set of 1 category)")


@case("cat_partition")
def _():
    return _cat_case(1, "categorical, max_cat_to_onehot 1 -> partition splits (category set goes right); unseen/negative/out-of-range/non-integer codes and NaN in inputs")


@case("cat_multi")
def _():
    return _cat_case(1, "categorical multi:softprob 3 classes, partition splits", rounds=6, obj="multi:softprob",
                     extra={"num_class": 3})


@case("missing_heavy")
def _():
    X = synth_x(800, 6, 61, nan_rate=0.5)
    y = _bin(synth_signal(X, 61))
    b = train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "tree_method": "hist"}, X, y, 20)
    base = synth_x(60, 6, 62, nan_rate=0.6)
    base[::7] = np.nan  # every 7th row all missing
    return dict(booster=b, base=base, n_thr=8,
                desc="trained with 50% NaN; inputs ~60% NaN with all-missing rows (default_left routing)")


@case("missing_zero")
def _():
    X = synth_x(800, 6, 71, nan_rate=0.0)
    Xr = np.round(X)  # plenty of exact zeros
    y = _bin(synth_signal(Xr, 71))
    b = train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "tree_method": "hist"}, Xr, y, 20,
              missing=0.0)
    base = np.round(synth_x(60, 6, 72, nan_rate=0.05))
    base[5, :] = 0.0
    base[6, :] = -0.0
    base[7, ::2] = -0.0
    return dict(booster=b, base=base, missing=0.0, n_thr=8,
                desc="DMatrix(missing=0.0) for training and prediction: 0.0 and -0.0 (and NaN) count as missing")


# --------------------------------------------------------------------------
# Inputs: ordinary rows + threshold edge rows + special rows
# --------------------------------------------------------------------------
def numeric_thresholds(model):
    gbt = gbtree_of(model)
    if gbt is None:
        return []
    seen = set()
    for t in gbt["trees"]:
        lc = t["left_children"].values
        st = t["split_type"].values if "split_type" in t else [0] * len(lc)
        si = t["split_indices"].values
        sc = t["split_conditions"].values
        for i in range(len(lc)):
            if lc[i] != -1 and st[i] == 0:
                seen.add((int(si[i]), float(np.float32(sc[i]))))
    return sorted(seen)


def edge_rows(model, base_row, n_thr, cat_mask):
    thr = [p for p in numeric_thresholds(model) if not cat_mask[p[0]]]
    rows, notes = [], []
    if not thr:
        return rows, notes
    idx = np.unique(np.linspace(0, len(thr) - 1, min(n_thr, len(thr))).round().astype(int))
    for k in idx:
        f, c = thr[k]
        c32 = np.float32(c)
        for v, tag in ((c32, "at"), (np.nextafter(c32, np.float32(-np.inf)), "1ulp below"),
                       (np.nextafter(c32, np.float32(np.inf)), "1ulp above")):
            r = base_row.copy()
            r[f] = v
            rows.append(r)
            notes.append("feature %d %s threshold %r" % (f, tag, float(c32)))
    return rows, notes


def special_rows(F, base_row, cat_mask, missing):
    out = []
    tiny = np.float32(1e-45)  # smallest subnormal
    sub = np.float32(1e-40)   # a subnormal
    vals = [("all NaN", np.nan), ("all 0", 0.0), ("all +1e30", 1e30), ("all -1e30", -1e30),
            ("all +float32 max", F32MAX), ("all -float32 max", -F32MAX), ("all +1e-45 (denormal)", tiny),
            ("all -1e-45 (denormal)", -tiny), ("all 1e-40 (denormal)", sub), ("all -1e-40 (denormal)", -sub)]
    for note, v in vals:
        out.append((np.full(F, v, dtype=np.float32), note))
    r = base_row.copy()
    r[::2] = np.nan
    out.append((r, "every other feature NaN"))
    if any(cat_mask):
        for v in (-1.0, -0.5, 2.5, 3.9, 6.0, 39.0, 40.0, 63.0, 64.0, 1000.0, 16777216.0, 1e30, np.nan):
            r = base_row.copy()
            for j in range(F):
                if cat_mask[j]:
                    r[j] = v
            out.append((r, "categorical features = %r" % v))
    if missing == 0.0:
        r = base_row.copy()
        r[1::2] = -0.0
        out.append((r, "odd features -0.0 (missing)"))
    return out


def f32list(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64).tolist()


def f32list_ext(a):
    """f32list, with non-finite values as the strings "Infinity", "-Infinity", "NaN"."""
    def one(v):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    return [[one(v) for v in row] for row in f32list(a)]


def inputs_list(X):
    return [[None if math.isnan(v) else v for v in row] for row in f32list(X)]


# --------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------
def trees_per_round(model):
    gbt = gbtree_of(model)
    npt = int(gbt["gbtree_model_param"]["num_parallel_tree"])
    ng = max(1, int(model["learner"]["learner_model_param"]["num_class"]))
    return npt * ng


def to_v3(model, cat_info):
    import copy
    m = copy.deepcopy(model)
    m["version"] = [3, 1, 0]
    lmp = m["learner"]["learner_model_param"]
    n_out = max(1, int(lmp["num_class"]), int(lmp.get("num_target", "1")))
    bs = np.float32(float(lmp["base_score"]))
    arr = Typed("d", [float(bs)] * n_out)
    lmp["base_score"] = json_text(arr)  # "[5E-1]" / "[5E-1,5E-1,5E-1]"
    lmp.setdefault("num_target", "1")
    lmp.setdefault("boost_from_average", "1")
    gbt = gbtree_of(m)
    if gbt is not None:
        gp = gbt["gbtree_model_param"]
        gp.pop("size_leaf_vector", None)
        k = trees_per_round(model)
        n = int(gp["num_trees"])
        gbt["iteration_indptr"] = list(range(0, n + 1, k))
        for t in gbt["trees"]:
            t["tree_param"]["size_leaf_vector"] = "1"
        if cat_info:
            enc, seg = [], [0]
            for ncat in cat_info:
                if ncat:
                    enc.append({"type": 15, "values": Typed("L", range(ncat))})
                else:
                    enc.append({"offsets": Typed("l", []), "values": Typed("i", [])})
                seg.append(seg[-1] + ncat)
            gbt["cats"] = {"enc": enc, "feature_segments": Typed("l", seg), "sorted_idx": Typed("l", [])}
        else:
            gbt["cats"] = {"enc": [], "feature_segments": Typed("l", []), "sorted_idx": Typed("l", [])}
    return m


def strip_cat_keys(model):
    import copy
    m = copy.deepcopy(model)
    for t in gbtree_of(m)["trees"]:
        for k in ("split_type", "categories", "categories_nodes", "categories_segments", "categories_sizes"):
            t.pop(k, None)
    return m


def to_boolleft(model):
    m = strip_cat_keys(model)
    for t in gbtree_of(m)["trees"]:
        t["default_left"] = [bool(v) for v in t["default_left"].values]
        t["leaf_child_counts"] = Typed("l", [0] * len(t["left_children"].values))
    return m


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------
def predict_all(b, X, missing, ft, cat):
    dm = xgb.DMatrix(X, missing=np.nan if missing is None else missing, feature_names=b.feature_names,
                     feature_types=ft, enable_categorical=cat, nthread=NTHREAD)
    n = X.shape[0]
    margin = b.predict(dm, output_margin=True).reshape(n, -1)
    pred = b.predict(dm).reshape(n, -1)
    contribs = b.predict(dm, pred_contribs=True).reshape(n, -1)
    return margin, pred, contribs


def margins_from_raw(raw, X, missing, ft, cat, names):
    b = xgb.Booster(params={"nthread": NTHREAD})
    b.load_model(bytearray(raw))
    dm = xgb.DMatrix(X, missing=np.nan if missing is None else missing, feature_names=names,
                     feature_types=ft, enable_categorical=cat, nthread=NTHREAD)
    return b.predict(dm, output_margin=True).reshape(X.shape[0], -1)


def same_bits(a, b):
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def run_case(name, report):
    t0 = time.time()
    spec = CASES[name]()
    b = spec["booster"]
    b.set_param({"nthread": NTHREAD})
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("model") or f == "expected.json":
            os.remove(os.path.join(d, f))
    files = []
    b.save_model(os.path.join(d, "model.json"))
    b.save_model(os.path.join(d, "model.ubj"))
    files += ["model.json", "model.ubj"]
    if name in LEGACY_BINARY:
        b.save_model(os.path.join(d, "model.model"))
        files.append("model.model")

    # Our writers must reproduce 1.7.4's own files byte for byte.
    ubj = open(os.path.join(d, "model.ubj"), "rb").read()
    model = ubj_decode(ubj)
    assert ubj_encode(model) == ubj, name + ": UBJSON re-encode differs from xgboost's"
    jtxt = open(os.path.join(d, "model.json"), "rb").read().decode()
    assert json_text(model) == jtxt, name + ": JSON writer differs from xgboost's"

    cat = bool(spec.get("cat"))
    ft = list(b.feature_types) if cat else None
    missing = spec.get("missing")
    F = b.num_features()
    cat_mask = [t == "c" for t in ft] if ft else [False] * F
    base = np.asarray(spec["base"], dtype=np.float32)
    assert base.shape[1] == F
    rows = [r for r in base]
    notes = ["ordinary row"] * len(rows)
    anchor = base[np.argmin(np.isnan(base).sum(1))]  # the most complete ordinary row
    er, en = edge_rows(model, anchor, spec.get("n_thr", 8), cat_mask)
    rows += er
    notes += en
    sp = special_rows(F, anchor, cat_mask, missing)
    if "n_special_max" in spec:
        sp = sp[:spec["n_special_max"]]
    rows += [r for r, _ in sp]
    notes += [n for _, n in sp]
    X = np.stack(rows).astype(np.float32)

    margin, pred, contribs = predict_all(b, X, missing, ft, cat)
    ok = np.isfinite(margin).all(1) & np.isfinite(pred).all(1) & np.isfinite(contribs).all(1)
    nonfinite = [notes[i] for i in range(len(notes)) if not ok[i]]

    obj = plain(model)["learner"]["objective"]["name"]
    booster_name = plain(model)["learner"]["gradient_booster"]["name"]
    G = margin.shape[1]
    assert contribs.shape[1] == G * (F + 1), (contribs.shape, G, F)
    # contributions add up to the margin (float32 rounding aside)
    csum = contribs[ok].reshape(int(ok.sum()), G, F + 1).astype(np.float64).sum(2)
    max_dev = float(np.max(np.abs(csum - margin[ok]))) if ok.any() else 0.0

    # Reloading each saved file must reproduce the margins bit for bit.
    checks = {}
    for f in files:
        raw = open(os.path.join(d, f), "rb").read()
        checks[f] = same_bits(margins_from_raw(raw, X, missing, ft, cat, b.feature_names), margin)
    # inplace_predict agrees with DMatrix predict?
    try:
        ip = b.inplace_predict(X, predict_type="margin", missing=np.nan if missing is None else missing)
        checks["inplace_predict"] = same_bits(np.asarray(ip).reshape(margin.shape), margin)
    except Exception as e:  # noqa: BLE001
        msg = str(e).splitlines()[0]
        msg = re.sub(r"^\[[0-9:]+\] \S+: ", "", msg)  # drop the time stamp and source position
        checks["inplace_predict"] = "error: %s" % msg[:120]

    exp = {
        "case": name,
        "objective": obj,
        "booster": booster_name,
        "num_group": int(G),
        "num_feature": int(F),
        "missing": None if missing is None else float(missing),
        "inputs": inputs_list(X),
        "margin": f32list_ext(margin),
        "prediction": f32list_ext(pred),
        "contribs": f32list_ext(contribs),
        "feature_types": ft,
    }
    with open(os.path.join(d, "expected.json"), "w") as fh:
        json.dump(exp, fh, allow_nan=False, separators=(",", ":"))
        fh.write("\n")
    files.append("expected.json")

    # Newer/older-format variants.
    if name in V3_CASES:
        cat_info = None
        if cat:
            cat_info = [40 if j == 0 else 6 if j == 1 else 0 for j in range(F)]
        v3 = to_v3(model, cat_info)
        txt = json_text(v3)
        with open(os.path.join(d, "model.v3.json"), "w") as fh:
            fh.write(txt)
        with open(os.path.join(d, "model.v3.ubj"), "wb") as fh:
            fh.write(ubj_encode(v3))
        files += ["model.v3.json", "model.v3.ubj"]
        # consistency: the UBJ and JSON variants decode to the same thing
        assert json.loads(txt, parse_constant=lambda c: float(c)) is not None
        assert json_text(ubj_decode(ubj_encode(v3))) == txt
        # 1.7.4 cannot parse a list base_score (nor the `$i` typed array 3.x uses for
        # string categories), but with just those reverted it loads the v3 file and
        # must predict the same margins: the trees, unknown keys etc. are intact.
        import copy
        chk = copy.deepcopy(v3)
        chk["learner"]["learner_model_param"]["base_score"] = model["learner"]["learner_model_param"]["base_score"]
        gbt = gbtree_of(chk)
        for e in gbt["cats"]["enc"]:
            for k, v in e.items():
                if isinstance(v, Typed) and v.code == "i":
                    e[k] = Typed("l", v.values)
        checks["model.v3.json (base_score scalar)"] = same_bits(
            margins_from_raw(json_text(chk).encode(), X, missing, ft, cat, b.feature_names), margin)
        checks["model.v3.ubj (base_score scalar)"] = same_bits(
            margins_from_raw(ubj_encode(chk), X, missing, ft, cat, b.feature_names), margin)
    if name in LEGACYKEYS_CASES:
        for fname, m in (("model.legacykeys.json", strip_cat_keys(model)), ("model.boolleft.json", to_boolleft(model))):
            txt = json_text(m)
            with open(os.path.join(d, fname), "w") as fh:
                fh.write(txt)
            files.append(fname)
            checks[fname] = same_bits(margins_from_raw(txt.encode(), X, missing, ft, cat, b.feature_names), margin)

    bad = {k: v for k, v in checks.items() if v is not True}
    size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
    print("%-24s rows=%3d G=%d F=%2d nonfinite=%d sumdev=%.2g %.1fs %6.0f KB %s" % (
        name, len(X), G, F, len(nonfinite), max_dev, time.time() - t0, size / 1024.0,
        ("reloads ok; differs: " + repr(bad)) if bad else "reloads ok; inplace_predict agrees"), flush=True)
    for k, v in bad.items():
        if k.startswith("model"):  # every saved/variant file must reload exactly
            raise SystemExit("%s: reloading %s does not reproduce the margins" % (name, k))
    desc = spec["desc"]
    if nonfinite:
        desc += " (%d special rows with non-finite outputs, kept: %s)" % (len(nonfinite), "; ".join(nonfinite))
    report.append({"name": name, "description": desc, "rows": int(len(X)), "files": sorted(files),
                   "row_notes": notes, "checks": {k: (v if v is True or v is False else str(v)) for k, v in checks.items()}})


def main(argv):
    names = argv or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit("unknown case(s): %s; known: %s" % (unknown, ", ".join(CASES)))
    report = []
    for n in names:
        run_case(n, report)
    path = os.path.join(OUT, "cases.json")
    if argv and os.path.exists(path):  # partial run: merge with the existing list
        old = {c["name"]: c for c in json.load(open(path))["cases"]}
        for c in report:
            old[c["name"]] = c
        report = [old[n] for n in CASES if n in old]
    with open(path, "w") as fh:
        json.dump({"generator": "testdata/xgboost/gen_fixtures.py", "xgboost_version": xgb.__version__,
                   "cases": report}, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
