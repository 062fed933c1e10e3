#!/usr/bin/env python3
"""Where the time goes while weir drains a Kafka backlog (issue 18): a timeline.

Runs bench/flink/weir.toml with null_sink (kafka_source end_at_eof -> csv_decode ->
cep_rule -> null_sink) on TOPIC with a fresh group and --metrics, and samples every
INTERVAL: /status (records per node, queue depth per edge, the rule's watermark per
partition), /metrics (kafka_source's position lag per partition, published every 100 ms
here) and every thread's CPU from /proc. Prints one row per sample, then:

  * cores used while draining (CPU of all threads / wall, first record to last);
  * CPU per thread (the busiest first);
  * when each partition was read to its end (position lag 0) and the tail: from the
    first partition done to the last one;
  * how long each queue was full (>= capacity - 1) or empty.

Usage: bench/drain/timeline.py TOPIC RECORDS [--interval-ms 50] [--set node.param=value ...]
       [--perf FILE]  (also `perf record` the run into FILE) [--sink null|file] (flagged rows to a file)
       [--plugins DIR]  (another build's plugins, e.g. to compare with an older commit)
Needs KAFKA_BOOTSTRAP; the topic filled as bench/flink/run.py does (or by hand, see
docs/benchmarks.md).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from thread_cpu import sample as thread_cpu  # noqa: E402  (tid -> (name, CPU s) from /proc)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build")
LAG = re.compile(r'^weir_kafka_consumer_position_lag\{[^}]*partition="(\d+)"[^}]*\} (\S+)$', re.M)


def schedstat(pid):
    """tid -> (name, seconds on a CPU, seconds runnable but waiting for one) from /proc schedstat."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            run_ns, wait_ns, _ = open(f"/proc/{pid}/task/{tid}/schedstat").read().split()
        except (OSError, ValueError):
            continue
        out[tid] = (name, int(run_ns) / 1e9, int(wait_ns) / 1e9)
    return out


def get(url):
    try:
        return urllib.request.urlopen(url, timeout=1).read().decode()
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("topic")
    ap.add_argument("records", type=int)
    ap.add_argument("--interval-ms", type=int, default=50)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--perf")
    ap.add_argument("--quiet", action="store_true", help="no row per sample")
    ap.add_argument("--sink", default="null", choices=["file", "null"], help="the flagged rows to null_sink or a file")
    ap.add_argument("--plugins", default=os.path.join(BUILD, "plugins"), help="plugin directory (e.g. an older build's)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="weir-timeline-")
    text = open(os.path.join(ROOT, "bench", "flink", "weir.toml")).read()
    if args.sink == "null":
        text = text.replace('plugin = "file_sink"', 'plugin = "null_sink"').replace('path = "flagged.jsonl"', "")
    else:
        text = text.replace('path = "flagged.jsonl"', f'path = "{os.path.join(work, "flagged.jsonl")}"')
    toml = os.path.join(work, "p.toml")
    open(toml, "w").write(text.replace("${WEIR_PIPELINE_DIR}/../../rules", os.path.join(ROOT, "rules")))
    port = 20000 + os.getpid() % 20000
    cmd = [os.path.join(BUILD, "weir"), "run", toml, "--no-progress", "--metrics", f"127.0.0.1:{port}",
           "--set", f'kafka.endpoints="{os.environ["KAFKA_BOOTSTRAP"]}"', "--set", f'kafka.topics=["{args.topic}"]',
           "--set", f'kafka.group_id="timeline-{os.getpid()}-{time.time_ns()}"', "--set", "kafka.lag_interval_ms=100"]
    for s in args.set:
        cmd += ["--set", s]
    if args.perf:
        cmd = ["perf", "record", "-F", "1999", "-g", "-o", args.perf, "--", *cmd]
    env = dict(os.environ, WEIR_PLUGIN_PATH=args.plugins)
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "err"), "w"))
    pid = proc.pid
    if args.perf:  # the weir child of perf
        for _ in range(100):
            kids = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
            if kids:
                pid = int(kids[0])
                break
            time.sleep(0.01)
    samples = []  # (t, status, lags, threads)
    cpu_seen, sched_seen = {}, {}
    while proc.poll() is None:
        t = time.time() - t0
        status = get(f"http://127.0.0.1:{port}/status")
        metrics = get(f"http://127.0.0.1:{port}/metrics")
        th = {}
        thread_cpu(pid, th)
        cpu_seen.update(th)
        sched_seen.update(schedstat(pid))
        if status:
            lags = {int(p): float(v) for p, v in LAG.findall(metrics or "")}
            samples.append((t, json.loads(status), lags, th))
        time.sleep(args.interval_ms / 1000)
    wall = time.time() - t0
    if proc.returncode != 0:
        sys.exit(f"weir failed ({proc.returncode}): {open(os.path.join(work, 'err')).read()[-2000:]}")

    def cpu_total(th):
        return sum(c for _, c in th.values())

    def node(st, name):
        return next(n for n in st["nodes"] if n["name"] == name)

    if not args.quiet:
        print("| t s | kafka out | decode in | rule in | q kafka->decode | q decode->rule | cores | lag per partition |")
        print("|---|---|---|---|---|---|---|---|")
    prev = None
    first_t = last_t = None
    done_at = {}
    full = {"kafka": 0.0, "decode": 0.0}
    empty = {"kafka": 0.0, "decode": 0.0}
    for t, st, lags, th in samples:
        k, d, r = node(st, "kafka"), node(st, "decode"), node(st, "rule")
        if k["records_out"] > 0 and first_t is None:
            first_t = t
        if r["records_in"] < args.records:
            last_t = t
        for p, v in lags.items():
            if v == 0 and p not in done_at and k["records_out"] > 0:
                done_at[p] = t
        cores = 0.0
        if prev:
            dt = t - prev[0]
            cores = max(0.0, (cpu_total(th) - cpu_total(prev[3])) / dt) if dt > 0 else 0
            if first_t is not None and r["records_in"] < args.records:
                for name in full:
                    depth = node(st, name)["outputs"][0]["queue_depth"]
                    full[name] += dt if depth >= 63 else 0
                    empty[name] += dt if depth == 0 else 0
        if not args.quiet:
            print(f"| {t:.2f} | {k['records_out']} | {d['records_in']} | {r['records_in']} | "
                  f"{k['outputs'][0]['queue_depth']} | {d['outputs'][0]['queue_depth']} | {cores:.2f} | "
                  f"{' '.join(str(int(lags[p])) for p in sorted(lags))} |")
        prev = (t, st, lags, th)
    print(f"\nwall {wall:.2f} s; first record at {first_t:.2f} s, rule had all {args.records} by {last_t:.2f} s")
    by_name = {}
    for name, c in cpu_seen.values():
        by_name[name] = by_name.get(name, 0) + c
    total = sum(by_name.values())
    drain = (last_t or wall) - (first_t or 0)
    print(f"CPU {total:.2f} s = {total / args.records * 1e6:.3f} us/record; draining {drain:.2f} s "
          f"(first record to the rule's last): {total / drain:.2f} cores used of {os.cpu_count()}")
    print("threads: " + ", ".join(f"{n} {c:.2f} s" for n, c in sorted(by_name.items(), key=lambda x: -x[1]) if c >= 0.01))
    run, wait = {}, {}
    for name, r, w in sched_seen.values():
        run[name], wait[name] = run.get(name, 0) + r, wait.get(name, 0) + w
    print("waiting for a CPU while runnable (schedstat; other processes or our own threads on the cores): " +
          ", ".join(f"{n} {wait[n]:.2f} s (ran {run[n]:.2f} s)" for n in sorted(run, key=lambda n: -run[n]) if run[n] >= 0.01))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if done_at:
        order = sorted(done_at.items(), key=lambda x: x[1])
        print("partitions read to the end at: " + ", ".join(f"{p}: {t:.2f} s" for p, t in order) +
              f"; tail (first done to last done) {order[-1][1] - order[0][1]:.2f} s")
    print("queues while draining: " + ", ".join(f"{n}->next full {full[n]:.2f} s, empty {empty[n]:.2f} s" for n in full))


if __name__ == "__main__":
    main()
