"""The peer in our bench (issue 23): dask.distributed on this machine, 4 worker processes of 1
thread, running the workloads bench/run.js runs on mpi-cluster. Prints one JSON line.

    python3 bench/dask_peer.py [--quick] [--chain N]

Driven by bench/peer.js, which runs it between runs of ours. Debian's python3-distributed
(2022.12) has no TLS set up by default, so this runs without encryption (ours: CURVE on).
"""

import argparse
import json
import os
import statistics
import sys
import time


def identity(x):
    return x


def inc(x):
    return x + 1


def big(n):
    return b"\x01" * n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer and smaller runs")
    ap.add_argument("--chain", type=int, default=None, help="chain length (default 2,000; quick 500)")
    o = ap.parse_args()

    t0 = time.perf_counter()
    import dask
    from distributed import Client, LocalCluster

    dask.config.set({"distributed.logging.distributed": "error"})
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)
    out = {"version": __import__("distributed").__version__}
    cluster = LocalCluster(
        n_workers=4,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    client.wait_for_workers(4)
    # Python's import of distributed, a scheduler in this process and 4 worker processes ready.
    out["startSecs"] = time.perf_counter() - t0

    n = 10_000
    reps = 2
    rates = []
    for _ in range(reps):
        t = time.perf_counter()
        fs = client.map(identity, range(n), pure=False)
        r = client.gather(fs)
        rates.append(n / (time.perf_counter() - t))
        if len(r) != n or r[-1] != n - 1:
            raise SystemExit("wrong results")
        del fs, r
    out["tasksPerSec"] = max(rates)
    out["tasksPerSecMedian"] = statistics.median(rates)

    lat = []
    for i in range(100 if o.quick else 300):
        t = time.perf_counter()
        client.submit(identity, i, pure=False).result()
        lat.append((time.perf_counter() - t) * 1e3)
    out["rttMs"] = statistics.median(lat)

    size = (64 if o.quick else 256) * 2**20
    out["gatherBytes"] = size
    out["gatherMiBps"] = 0
    for _ in range(1 if o.quick else 3):
        f = client.submit(big, size, pure=False)
        from distributed import wait

        wait([f])
        t = time.perf_counter()
        b = f.result()
        secs = time.perf_counter() - t
        if len(b) != size:
            raise SystemExit("wrong size")
        out["gatherMiBps"] = max(out["gatherMiBps"], size / 2**20 / secs)
        del f, b

    # Dask runs a chain at a few hundred tasks/s here: 100,000 would take minutes, so fewer.
    chain = o.chain or (500 if o.quick else 2_000)
    t = time.perf_counter()
    f = client.submit(identity, 0, pure=False)
    for _ in range(chain):
        f = client.submit(inc, f, pure=False)
    if f.result() != chain:
        raise SystemExit("wrong chain result")
    out["chain"] = chain
    out["chainPerSec"] = (chain + 1) / (time.perf_counter() - t)
    del f

    client.close()
    cluster.close()
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    # Skip the interpreter's slow teardown of distributed's threads; everything is closed.
    os._exit(0)


if __name__ == "__main__":
    main()
