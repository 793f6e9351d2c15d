#!/usr/bin/env python3
"""A leadscore client with Python's requests only (no SDK, no pip install).

    python3 examples/python/client.py --url http://127.0.0.1:8080 score
    python3 examples/python/client.py --url http://127.0.0.1:8080 feedback L-1 1
    python3 examples/python/client.py --url http://127.0.0.1:8080 drift

score posts two leads to POST /score (features by name; the rest missing),
with ?explain=3 for the top reasons, and prints each lead's tier and
probability; feedback posts an outcome to POST /v1/feedback; drift prints
the live drift report of GET /v1/monitoring. Set LEADSCORE_API_KEY when the
server requires a key.
"""
import argparse
import json
import os
import sys
import time

import requests

LEADS = [
    {"id": "L-1", "features": {"demo_requested": 1, "pricing_page_views_30d": 4, "is_decision_maker": 1,
                               "company_size_log": 6.2, "email_opens_30d": 9}},
    {"id": "L-2", "features": {"demo_requested": 0, "pricing_page_views_30d": 0, "email_unsubscribed": 1}},
]


def session():
    s = requests.Session()
    if os.environ.get("LEADSCORE_API_KEY"):
        s.headers["Authorization"] = "Bearer " + os.environ["LEADSCORE_API_KEY"]
    return s


def wait_ready(s, url, timeout=15):
    """Waits for GET /readyz: the server answers once its model is loaded."""
    deadline = time.time() + timeout
    while True:
        try:
            if s.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.time() > deadline:
            sys.exit(f"client.py: {url} is not ready after {timeout}s")
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("score")
    fb = sub.add_parser("feedback")
    fb.add_argument("lead_id")
    fb.add_argument("converted", type=int, choices=[0, 1])
    sub.add_parser("drift")
    a = ap.parse_args()
    s = session()
    wait_ready(s, a.url)
    if a.cmd == "score":
        r = s.post(a.url + "/score", params={"explain": 3}, json={"leads": LEADS}, timeout=5)
        r.raise_for_status()
        body = r.json()
        print(f"model {body['model']['name']} {body['model']['version']}")
        for res in body["results"]:
            reasons = ", ".join(f"{x['feature']} {x['direction']}" for x in res.get("reasons", []))
            print(f"{res['id']}: tier {res['score']}, probability {res['probability']:.3f} ({reasons})")
    elif a.cmd == "feedback":
        r = s.post(a.url + "/v1/feedback", json=[{"lead_id": a.lead_id, "converted": a.converted}], timeout=5)
        r.raise_for_status()
        print(json.dumps(r.json()))
    else:
        r = s.get(a.url + "/v1/monitoring", timeout=5)
        r.raise_for_status()
        rep = r.json()
        vs = rep.get("constraint_violations", {}).get("violations", [])
        print(f"drift window: {rep.get('window', {}).get('rows', 0)} rows, {len(vs)} violations")
        for v in vs:
            print(f"  {v['feature_name']}: {v['constraint_check_type']}: {v['description']}")


if __name__ == "__main__":
    main()
