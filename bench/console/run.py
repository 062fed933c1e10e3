#!/usr/bin/env python3
"""Console and tap overhead (issue 14).

1. Engine throughput, generator -> passthrough -> null_sink (bench/engine's saturated pipeline,
   100-byte records, batches of 1024), every run with `--metrics 127.0.0.1:0`, in pairs:
     A  nobody looks;
     B  the console's polling (GET /status every second, GET /node/pass every 2 s, as the page
        does) and one `weir tap --rate 100 pass.out` running for the whole run.
   Pairs alternate A and B (the machine is shared: a slow moment hits both), and the result is
   the median of the pairs' ratios B/A.
2. /status latency on pipelines/smartcar.toml against the real Kafka, HBase and Redis (skipped
   without KAFKA_BOOTSTRAP, HBASE_THRIFT_PORT, REDIS_PORT), with a loggen feeding it at real time
   (100 cars): 1000 GET /status, 10 a second, on one keep-alive connection, as the console makes
   them: p50, p99, max.

Usage: bench/console/run.py [BUILD_DIR] [--pairs N] [--records N]
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def admin_port(err_path, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        found = re.findall(r"http://127\.0\.0\.1:(\d+)/", open(err_path).read())
        if found:
            return int(found[0])
        time.sleep(0.02)
    raise RuntimeError("no admin endpoint: " + open(err_path).read())


def console_poller(port, stop):
    """What an open console page asks for: /status every second, the selected node every 2 s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    tick = 0
    while not stop.is_set():
        try:
            conn.request("GET", "/status")
            conn.getresponse().read()
            if tick % 2 == 0:
                conn.request("GET", "/node/pass")
                conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            return  # weir has ended
        tick += 1
        stop.wait(1.0)


def engine_run(build, work, records, watched):
    toml = os.path.join(work, "p.toml")
    with open(toml, "w") as f:
        f.write(f'[nodes.gen]\nplugin = "generator"\ncount = {records}\nrate = 0\nbatch_size = 1024\npayload_bytes = 100\n'
                'fields = false\n[nodes.pass]\nplugin = "passthrough"\ninputs = ["gen.out"]\n'
                '[nodes.sink]\nplugin = "null_sink"\ninputs = ["pass.out"]\n')
    err, status = os.path.join(work, "err"), os.path.join(work, "status.json")
    proc = subprocess.Popen([os.path.join(build, "weir"), "run", toml, "--no-progress", "--metrics", "127.0.0.1:0",
                             "--status-out", status], stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    port = admin_port(err, proc)
    stop, extra = threading.Event(), []
    if watched:
        extra.append(threading.Thread(target=console_poller, args=(port, stop)))
        extra[0].start()
        tap = subprocess.Popen([os.path.join(build, "weir"), "tap", "--admin", f"127.0.0.1:{port}", "--rate", "100", "pass.out"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.wait()
    stop.set()
    for t in extra:
        t.join()
    if watched:
        tap.send_signal(signal.SIGINT)
        tap.wait()
    s = json.load(open(status))
    sink = next(n for n in s["nodes"] if n["name"] == "sink")
    assert sink["records_in"] == records, sink
    return records / s["uptime_s"]


def status_latency(build, work):
    for var in ("KAFKA_BOOTSTRAP", "HBASE_THRIFT_PORT", "REDIS_PORT"):
        if not os.environ.get(var):
            print(f"/status latency on smartcar.toml: skipped ({var} is not set)")
            return
    tag = f"bench{os.getpid()}"
    topic, table = f"SmartCar-ConsoleBench-{tag}", f"DriverCarInfoConsoleBench{tag}"
    rule = os.path.join(work, "overspeed.epl")
    shutil.copy(os.path.join(ROOT, "rules", "overspeed.epl"), rule)
    subprocess.run([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "topic", topic, "1"], check=True, capture_output=True)
    weir = os.path.join(build, "weir")
    producer = subprocess.Popen([weir, "run", os.path.join(ROOT, "pipelines", "smartcar-loggen.toml"), "--no-progress",
                                 "--set", f'kafka.topic="{topic}"'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    err = os.path.join(work, "smartcar.err")
    proc = subprocess.Popen([weir, "run", os.path.join(ROOT, "pipelines", "smartcar.toml"), "--no-progress",
                             "--metrics", "127.0.0.1:0", "--set", f'kafka.topics=["{topic}"]', "--set", f'kafka.group_id="{tag}"',
                             "--set", f'hbase.table="{table}"', "--set", "redis.database=12", "--set", f'rule.rules=["{rule}"]',
                             "--set", f'rule.checkpoint="{os.path.join(work, "rule.ckpt")}"',
                             "--set", f'rejects.path="{os.path.join(work, "rejects.jsonl")}"'],
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    try:
        port = admin_port(err, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        time.sleep(5)  # records flowing
        took, size = [], 0
        for _ in range(1000):
            t0 = time.perf_counter()
            conn.request("GET", "/status")
            body = conn.getresponse().read()
            took.append((time.perf_counter() - t0) * 1000)
            size = len(body)
            time.sleep(0.1)
        took.sort()
        doc = json.loads(body)
        flowed = next(n for n in doc["nodes"] if n["name"] == "decode")["records_in"]
        print(f"/status on smartcar.toml ({len(doc['nodes'])} nodes, {size} bytes, {flowed} records through decode): "
              f"p50 {took[499]:.2f} ms, p99 {took[989]:.2f} ms, max {took[-1]:.2f} ms over 1000 requests")
    finally:
        for p in (proc, producer):
            p.send_signal(signal.SIGINT)
        for p in (proc, producer):
            p.wait(timeout=60)
        subprocess.run([os.path.join(build, "weir-hbase"), "drop-table", "--table", table], capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--records", type=int, default=30_000_000)
    ap.add_argument("--skip-engine", action="store_true")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="weir-console-bench-")
    try:
        if not args.skip_engine:
            ratios, alone, watched = [], [], []
            for i in range(args.pairs):
                # Alternate which goes first, so a trend in the machine's load favours neither.
                order = (False, True) if i % 2 == 0 else (True, False)
                got = {w: engine_run(build, work, args.records, w) for w in order}
                alone.append(got[False])
                watched.append(got[True])
                ratios.append(got[True] / got[False])
                print(f"pair {i + 1}: alone {got[False] / 1e6:.2f}M/s, console+tap {got[True] / 1e6:.2f}M/s, "
                      f"ratio {ratios[-1]:.3f}", flush=True)
            print(f"engine, {args.records} records x {args.pairs} pairs: alone median {statistics.median(alone) / 1e6:.2f}M "
                  f"records/s, with the console polled every second and one tap median {statistics.median(watched) / 1e6:.2f}M; "
                  f"median ratio {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
        status_latency(build, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
