"""Locust load test for leadscore's POST /score, for teams that use Locust.

Works with Debian's python3-locust (apt-get install python3-locust), headless:

    locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 30s \
        --host http://127.0.0.1:8080

Each simulated user posts single leads and, one time in ten, a batch of 100,
in the seed's format (a JSON array of rows of numbers, null for missing), and
fails a response that is not a 200 with one result per lead. Locust is
closed-loop (a user waits for each answer), so its latencies understate what
clients see under overload; `leadscore loadtest` is the open-loop tool.

Settings, all optional, from the environment:

    LEADSCORE_LEADS      CSV of leads with a header row (a "converted" column
                         is dropped; empty cells are missing). Default: the
                         demo leads shipped in loadgen/demo_leads.csv.
    LEADSCORE_API_KEY    sent as "Authorization: Bearer KEY".
    LEADSCORE_BATCH      leads in a batch request (default 100).
    LEADSCORE_PATH       the scoring route (default /score).
    LEADSCORE_USER_RPS   requests per second each user aims for (default 10).
"""

import csv
import json
import os
import random

from locust import constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpUser

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LEADS = os.path.normpath(os.path.join(HERE, "..", "loadgen", "demo_leads.csv"))
LABEL_COLUMN = "converted"


def read_leads(path):
    """Read rows of floats (None for missing) from a CSV with a header."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        keep = [i for i, name in enumerate(header) if name != LABEL_COLUMN]
        rows = []
        for line, rec in enumerate(reader, start=2):
            if not rec:
                continue
            try:
                rows.append([float(rec[i]) if rec[i].strip() not in ("", "nan", "NaN", "null") else None
                             for i in keep])
            except (ValueError, IndexError) as exc:
                raise SystemExit(f"{path} line {line}: {exc}")
    if not rows:
        raise SystemExit(f"{path}: no leads")
    return rows


def encode_bodies(rows, batch, count):
    """Pre-encode count request bodies of batch consecutive rows each."""
    bodies = []
    for k in range(count):
        start = k * len(rows) // count
        chunk = [rows[(start + j) % len(rows)] for j in range(batch)]
        bodies.append(json.dumps(chunk, separators=(",", ":")).encode())
    return bodies


LEADS_PATH = os.environ.get("LEADSCORE_LEADS", DEFAULT_LEADS)
BATCH = int(os.environ.get("LEADSCORE_BATCH", "100"))
SCORE_PATH = os.environ.get("LEADSCORE_PATH", "/score")
USER_RPS = float(os.environ.get("LEADSCORE_USER_RPS", "10"))
API_KEY = os.environ.get("LEADSCORE_API_KEY", "")

ROWS = read_leads(LEADS_PATH)
SINGLE_BODIES = encode_bodies(ROWS, 1, min(len(ROWS), 1000))
BATCH_BODIES = encode_bodies(ROWS, BATCH, 50)

HEADERS = {"Content-Type": "application/json"}
if API_KEY:
    HEADERS["Authorization"] = "Bearer " + API_KEY


@events.init.add_listener
def on_init(environment, **_kwargs):
    print(f"leadscore locustfile: {len(ROWS)} leads from {LEADS_PATH}, batches of {BATCH}, "
          f"{USER_RPS} requests/s per user, API key {'set' if API_KEY else 'not set'}")


class ScoringClient(FastHttpUser):
    """A CRM integration scoring leads as they arrive."""

    wait_time = constant_throughput(USER_RPS)

    def post_leads(self, body, n, name):
        with self.client.post(SCORE_PATH, data=body, headers=HEADERS, name=name,
                              catch_response=True) as resp:
            if resp.status_code == 0:  # no response: connection refused, timeout, ...
                resp.failure(f"no response: {resp.error}")
                return
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
                return
            try:
                results = resp.json()["results"]
            except (ValueError, KeyError, TypeError):
                resp.failure("response is not JSON with a results array")
                return
            if len(results) != n or not all(1 <= r.get("score", 0) <= 5 for r in results):
                resp.failure(f"want {n} results with scores 1..5")

    @task(9)
    def score_one(self):
        self.post_leads(random.choice(SINGLE_BODIES), 1, f"{SCORE_PATH} [1 lead]")

    @task(1)
    def score_batch(self):
        self.post_leads(random.choice(BATCH_BODIES), BATCH, f"{SCORE_PATH} [{BATCH} leads]")
