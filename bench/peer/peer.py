"""The Python peer leadscore is benchmarked against.

The seed's scoring service done the usual careful Python way: FastAPI on
uvicorn (uvloop event loop, httptools parser, 2 worker processes) with an
XGBoost Booster loaded once per worker, all from Debian packages
(python3-fastapi, python3-uvicorn, python3-uvloop, python3-httptools,
python3-xgboost). It serves POST /score with leadscore's request and response:

    request:  [[f1, ..., f50], ...]       (null = missing)
    response: {"request_id": "...", "model": {"name": "...", "version": "..."},
               "results": [{"score": 1..5, "probability": p}, ...],
               "latency": {"total_ms": t, "model_ms": m}}

and GET /readyz. Errors are 4xx with {"error": {"code": "...", "message": "..."}}.

Run it (Debian's python, not a virtualenv's):

    /usr/bin/python3 bench/peer/peer.py --port 8090 \
        [--model ../shared/models/lead-demo/model.json] \
        [--tiers 0.018,0.081,0.25,0.51] [--workers 2]

Every option also reads an environment variable (PEER_MODEL, PEER_TIERS,
PEER_MODEL_NAME, PEER_MODEL_VERSION, PEER_MAX_BATCH); the workers get their
settings that way.
"""

import argparse
import hashlib
import json
import os
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_MODEL = os.path.normpath(
    os.path.join(REPO, "..", "shared", "models", "lead-demo", "model.json")
)
# The demo bundle's cut-offs (bundle/demo/manifest.json): tier 1 below the
# first, tier 5 at or above the last.
DEFAULT_TIERS = "0.018,0.081,0.25,0.51"
DEFAULT_MAX_BATCH = 1000


def parse_tiers(text: str) -> list[float]:
    """Parse four ascending probability cut-offs from "a,b,c,d"."""
    cuts = [float(x) for x in text.split(",")]
    if len(cuts) != 4 or not all(0 < c < 1 for c in cuts) or cuts != sorted(set(cuts)):
        raise ValueError(f"tiers {text!r}: want four ascending probabilities in (0, 1)")
    return cuts


def create_app():
    """Build the FastAPI app from PEER_* environment variables.

    uvicorn calls this once in each worker process (factory=True), so the
    Booster is loaded once per worker and never in the supervisor.
    """
    # Imported here so that `--help` and the supervisor stay light.
    import numpy as np
    import xgboost as xgb
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    model_path = os.environ.get("PEER_MODEL", DEFAULT_MODEL)
    cuts = np.asarray(parse_tiers(os.environ.get("PEER_TIERS", DEFAULT_TIERS)))
    max_batch = int(os.environ.get("PEER_MAX_BATCH", DEFAULT_MAX_BATCH))
    name = os.environ.get("PEER_MODEL_NAME", "lead-demo")
    version = os.environ.get("PEER_MODEL_VERSION") or file_digest(model_path)

    booster = xgb.Booster(model_file=model_path)
    # One thread per worker: two workers already fill the two cores.
    booster.set_param({"nthread": 1})
    n_features = booster.num_features()
    model_info = {"name": name, "version": version}
    # Warm up once so the first request does not pay for lazy set-up.
    booster.inplace_predict(np.zeros((1, n_features), dtype=np.float32))

    app = FastAPI(title="leadscore peer", docs_url=None, redoc_url=None, openapi_url=None)

    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    @app.get("/readyz")
    async def readyz():
        return {"status": "ready", "model": model_info}

    @app.post("/score")
    async def score(request: Request):
        start = time.perf_counter()
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("application/json"):
            return error(415, "unsupported_media_type", "send Content-Type: application/json")
        try:
            rows = json.loads(await request.body())
        except ValueError as exc:
            return error(400, "bad_json", f"body is not JSON: {exc}")
        if not isinstance(rows, list) or not rows:
            return error(422, "bad_request", "want a non-empty JSON array of rows")
        if len(rows) > max_batch:
            return error(413, "batch_too_large", f"{len(rows)} rows, at most {max_batch}")
        try:
            # None becomes NaN, XGBoost's missing value.
            x = np.array(rows, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            return error(422, "bad_row", f"rows must be arrays of numbers or null: {exc}")
        if x.ndim != 2 or x.shape[1] != n_features:
            return error(422, "bad_row", f"each row must have {n_features} values")
        if np.isinf(x).any():
            return error(422, "bad_value", "values must be finite numbers or null")

        model_start = time.perf_counter()
        proba = booster.inplace_predict(x)
        model_ms = (time.perf_counter() - model_start) * 1000
        tiers = np.searchsorted(cuts, proba, side="right") + 1
        results = [
            {"score": int(t), "probability": float(p)} for t, p in zip(tiers.tolist(), proba.tolist())
        ]
        return JSONResponse(
            {
                "request_id": request.headers.get("x-request-id") or uuid.uuid4().hex,
                "model": model_info,
                "results": results,
                "latency": {
                    "total_ms": (time.perf_counter() - start) * 1000,
                    "model_ms": model_ms,
                },
            }
        )

    return app


def file_digest(path: str) -> str:
    """The first 12 hex digits of the file's SHA-256, as a model version."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default=os.environ.get("PEER_MODEL", DEFAULT_MODEL),
                        help="XGBoost model file (JSON, UBJSON or binary)")
    parser.add_argument("--tiers", default=os.environ.get("PEER_TIERS", DEFAULT_TIERS),
                        help="four ascending probability cut-offs, comma-separated")
    parser.add_argument("--max-batch", type=int,
                        default=int(os.environ.get("PEER_MAX_BATCH", DEFAULT_MAX_BATCH)))
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args()
    parse_tiers(args.tiers)  # fail here, not in every worker
    if not os.path.isfile(args.model):
        parser.error(f"model file {args.model} not found")
    os.environ.update(
        PEER_MODEL=os.path.abspath(args.model),
        PEER_TIERS=args.tiers,
        PEER_MAX_BATCH=str(args.max_batch),
        # XGBoost and numpy must not start a thread pool per core in
        # each worker.
        OMP_NUM_THREADS="1",
    )

    import uvicorn

    uvicorn.run(
        "peer:create_app",
        factory=True,
        app_dir=HERE,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=args.access_log,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
