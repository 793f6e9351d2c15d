#!/usr/bin/env python3
"""Splits a `perf script` of a benchmark run by goroutine.

Reads `perf script` output (call stacks recorded with `perf record -g`, Go's
frame pointers) on stdin and prints the CPU time per operation of each part
of the process, classified by the first frame (from the stack's root) that
names one: the journal goroutine, its syncer, the lake goroutine, the
drift monitor, the request (the benchmark's loop calls the handler), the
garbage collector's workers, and the rest.

Usage: perf script -i DATA | goroutine_cpu.py HZ OPS
"""
import collections
import re
import sys

# (class, pattern) in order: a stack belongs to the first class one of
# whose patterns a frame matches, frames read from the root.
CLASSES = [
    ("syncer", r"capture\.\(\*Writer\)\.runSyncer$"),
    ("journal", r"capture\.\(\*Writer\)\.runJournal$"),
    ("lake", r"capture\.\(\*Writer\)\.runLake$"),
    ("monitor", r"/monitor\."),
    ("request", r"cmd/leadscore\.benchServe"),
    ("gc", r"runtime\.gcBgMarkWorker$"),
]
ORDER = [c for c, _ in CLASSES] + ["other"]


def classify(stack):
    for frame in reversed(stack):  # root first
        for name, pat in CLASSES:
            if re.search(pat, frame):
                return name
    return "other"


def main():
    hz, ops = float(sys.argv[1]), int(sys.argv[2])
    counts = collections.Counter()
    stack = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip():
            if stack:
                counts[classify(stack)] += 1
            stack = []
        elif line[0] in " \t":
            parts = line.split()
            if len(parts) >= 2:
                stack.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[1]))
        else:
            stack = []
    if stack:
        counts[classify(stack)] += 1
    total = sum(counts.values())
    us = lambda n: n / hz * 1e6 / ops
    print(" ".join(f"{c}={us(counts[c]):.2f}" for c in ORDER) + f" total={us(total):.2f}")


if __name__ == "__main__":
    main()
