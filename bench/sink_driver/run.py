#!/usr/bin/env python3
"""Sinks before and after the sink driver, interleaved in one run.

For each build (e.g. the commit before the driver and the current one), runs
generator -> SINK for null_sink (the engine's path alone), file_sink and
redis_sink (a private redis-server), REPS times each, builds interleaved, and
prints the median wall time and CPU time (user + sys of the weir process) per
record, and the ratio of each build to the first.

  bench/sink_driver/run.py OLD_BUILD NEW_BUILD [--records N] [--reps N]
"""
import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pipeline(sink, records, work, port):
    gen = f'[nodes.gen]\nplugin = "generator"\ncount = {records}\nkeys = 16\npayload_bytes = 100\n'
    if sink == "null_sink":
        return gen + '[nodes.out]\nplugin = "null_sink"\ninputs = ["gen"]\n'
    if sink == "file_sink":
        return gen + f'[nodes.out]\nplugin = "file_sink"\ninputs = ["gen"]\npath = "{work}/out.jsonl"\n'
    return gen + (f'[nodes.out]\nplugin = "redis_sink"\ninputs = ["gen"]\nendpoint = "127.0.0.1:{port}"\n'
                  'commands = ["SADD bench:{key} {seq}", "EXPIRE bench:{key} 600"]\n')


def run(build, toml):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run([os.path.join(build, "weir"), "run", toml, "--no-progress"], capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{build}: weir run failed:\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sinks", default="null_sink,file_sink,redis_sink")
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
                              "no", "--dir", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        print(f"# {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {a.records} records, {a.reps} reps")
        for sink in a.sinks.split(","):
            records = a.records // 4 if sink == "redis_sink" else a.records
            toml = os.path.join(work, sink + ".toml")
            with open(toml, "w") as f:
                f.write(pipeline(sink, records, work, port))
            got = {b: [] for b in a.builds}
            for _ in range(a.reps):
                for b in a.builds:
                    if os.path.exists(f"{work}/out.jsonl"):
                        os.remove(f"{work}/out.jsonl")
                    subprocess.run(["redis-cli", "-p", str(port), "flushall"], capture_output=True)
                    got[b].append(run(b, toml))
            base = None
            for b in a.builds:
                wall = statistics.median(w for w, _ in got[b])
                cpu_us = statistics.median(c for _, c in got[b]) / records * 1e6
                if base is None:
                    base = (wall, cpu_us)
                print(f"{sink:10s} {b:28s} wall {wall:6.2f} s ({records / wall / 1e6:5.2f} M rec/s)  "
                      f"CPU {cpu_us:5.3f} us/rec  wall x{wall / base[0]:.2f}  CPU x{cpu_us / base[1]:.2f}")
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
