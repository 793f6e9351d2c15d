#!/usr/bin/env python3
"""Score through the SageMaker runtime path: boto3's invoke_endpoint shape.

With a deployed endpoint (boto3 and AWS credentials needed):

    python3 examples/python/sagemaker_invoke.py --endpoint lead-score

Against a local `leadscore serve` (requests only), the same request goes to
its /invocations route, which answers as SageMaker's XGBoost container:

    python3 examples/python/sagemaker_invoke.py --local http://127.0.0.1:8080

The body is text/csv: one lead per line, the features in the model's order
(an empty field is missing), no header, as SageMaker sends it. The answer
is the probability of each row.
"""
import argparse
import sys


def rows(n=2, features=50):
    # Two leads with every feature missing but a few, in model order.
    out = []
    for i in range(n):
        vals = [""] * features
        vals[0] = str(4 + i)  # company_size_log
        out.append(",".join(vals))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--endpoint", help="SageMaker endpoint name")
    g.add_argument("--local", help="URL of a local leadscore serve")
    ap.add_argument("--features", type=int, default=50)
    a = ap.parse_args()
    body = rows(features=a.features)
    if a.endpoint:
        import boto3  # only for the real endpoint

        rt = boto3.client("sagemaker-runtime")
        resp = rt.invoke_endpoint(EndpointName=a.endpoint, ContentType="text/csv", Accept="text/csv", Body=body)
        out = resp["Body"].read().decode()
    else:
        import requests

        r = requests.post(a.local.rstrip("/") + "/invocations", data=body,
                          headers={"Content-Type": "text/csv", "Accept": "text/csv"}, timeout=5)
        if r.status_code != 200:
            sys.exit(f"sagemaker_invoke.py: {r.status_code} {r.text}")
        out = r.text
    print(out.strip())


if __name__ == "__main__":
    main()
