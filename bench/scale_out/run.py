#!/usr/bin/env python3
"""Scale-out benchmarks (issue 12) against the local Kafka; sinks are null_sink.

  1. CPU per record of kafka_source -> csv_decode -> cep_rule -> null_sink: this build
     (state per partition, watermarks, late check) next to OLD_BUILD (a build of the commit
     before state per partition), interleaved A B A B ..., the same topic;
  2. 1, 2 and 3 processes in one group on that topic: time to drain, total CPU, CPU per record;
  3. hand-off on a rebalance, with CARS cars of open windows on a live stream: the time from
     a partition leaving one process ("[rule] partitions P left") to its first record in the
     next ("partition P: first record since it was assigned", a debug line), when a second
     process joins and when it leaves again; p50/p99.

Usage: bench/scale_out/run.py [--old OLD_BUILD] [--cars 1000] [--seconds 1000] [--reps 3] [--handoffs 8]
Needs KAFKA_BOOTSTRAP (scripts/services/kafka.sh start; source .services/kafka.env).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")


def pipeline(work, rule, extra=""):
    return f"""
[nodes.kafka]
plugin = "kafka_source"
endpoints = "{os.environ['KAFKA_BOOTSTRAP']}"
topics = ["TOPIC"]
group_id = "GROUP"
[nodes.decode]
plugin = "csv_decode"
inputs = ["kafka"]
fields = ["date:string", "car_number:string", "speed_pedal:int64", "break_pedal:int64", "steer_angle:string",
          "direct_light:string", "speed:int64", "area_number:string"]
event_time_field = "date"
event_time_format = "%Y%m%d%H%M%S"
[nodes.rule]
plugin = "cep_rule"
inputs = ["decode"]
rules = ["{rule}"]
time_field = "date"
{extra}
[nodes.out]
plugin = "null_sink"
inputs = ["rule.overspeed"]
"""


def produce(topic, cars, seconds, rate=0, start="000000"):
    subprocess.run([os.path.join(BUILD, "weir"), "run", os.path.join(ROOT, "pipelines", "smartcar-loggen.toml"),
                    "--no-progress", "--set", f"cars.cars={cars}", "--set", f"cars.seconds={seconds}",
                    "--set", f"cars.rate={rate}", "--set", f'cars.start_time="{start}"',
                    "--set", f'kafka.topic="{topic}"'], check=True, capture_output=True)


def timed(cmd, env=None):
    """Starts CMD under /usr/bin/time; returns (process, file with 'wall user sys rss_kb')."""
    out = tempfile.NamedTemporaryFile(delete=False).name
    p = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", out, *cmd], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, out


def read_time(path):
    wall, user, sys_, rss = open(path).read().split()[-4:]
    return float(wall), float(user) + float(sys_), int(rss) // 1024


def run_group(build, toml, topic, group, processes, extra_args=()):
    cmd = [os.path.join(build, "weir"), "run", toml, "--no-progress", "--set", f'kafka.topics=["{topic}"]',
           "--set", f'kafka.group_id="{group}"', "--set", "kafka.end_at_eof=true",
           "--set", "rule.evaluate_on_flush=true", *extra_args]
    env = dict(os.environ, WEIR_PLUGIN_PATH=os.path.join(build, "plugins"))
    started = time.time()
    runs = [timed(cmd, env) for _ in range(processes)]
    for p, _ in runs:
        p.wait()
    drain = time.time() - started
    results = [read_time(path) for _, path in runs]
    return drain, sum(r[1] for r in results), max(r[2] for r in results)


STAMP = re.compile(r"^(\S+Z) ")


def stamp(line):
    return datetime.strptime(STAMP.match(line).group(1), "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def handoffs(logs_before, logs_after):
    """Seconds from 'partitions P left' in one log to P's first record in the other."""
    out = []
    for line in logs_before:
        m = re.search(r"\[rule\] partitions ([\d,]+) left this process", line)
        if not m:
            continue
        left = stamp(line)
        for p in m.group(1).split(","):
            firsts = [stamp(l) for l in logs_after if f"partition {p}: first record since it was assigned" in l
                      and stamp(l) >= left]
            if firsts:
                out.append(min(firsts) - left)
    return out


def bench_handoff(args, work, rule):
    topic, group = f"Scale-Handoff-{os.getpid()}", f"handoff-{os.getpid()}"
    subprocess.run([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "topic", topic, "4"], check=True,
                   capture_output=True)
    toml = os.path.join(work, "handoff.toml")
    open(toml, "w").write(pipeline(work, rule, f'checkpoint = "{work}/handoff-checkpoints"\ncheckpoint_interval_ms = 1000'))
    # A live stream: every car sends a line per simulated second, 4 simulated seconds per second.
    seconds = int(30 + args.handoffs * 16)
    producer = subprocess.Popen([os.path.join(BUILD, "weir"), "run", os.path.join(ROOT, "pipelines", "smartcar-loggen.toml"),
                                 "--no-progress", "--set", f"cars.cars={args.cars}", "--set", f"cars.seconds={seconds}",
                                 "--set", f"cars.rate={args.cars * 4}", "--set", f'kafka.topic="{topic}"'],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cmd = [os.path.join(BUILD, "weir"), "run", toml, "--no-progress", "--log-level", "debug",
           "--set", f'kafka.topics=["{topic}"]', "--set", f'kafka.group_id="{group}"']
    a_log, b_log = os.path.join(work, "a.err"), os.path.join(work, "b.err")
    a = subprocess.Popen(cmd, stderr=open(a_log, "w"), stdout=subprocess.DEVNULL)
    time.sleep(8)
    for _ in range(args.handoffs):
        b = subprocess.Popen(cmd, stderr=open(b_log, "a"), stdout=subprocess.DEVNULL)
        time.sleep(6)
        b.send_signal(2)
        b.wait()
        time.sleep(6)
    a.send_signal(2)
    a.wait()
    producer.kill()
    a_lines, b_lines = open(a_log).read().splitlines(), open(b_log).read().splitlines()
    joins = handoffs(a_lines, b_lines)
    # When B stops, its partitions go back to A: B's last checkpoint is written at its stop.
    leaves = []
    for line in b_lines:
        if "[kafka] revoked" in line:
            at = stamp(line)
            firsts = [stamp(l) for l in a_lines if "first record since it was assigned" in l and stamp(l) >= at]
            if firsts:
                leaves.append(min(firsts) - at)
    return joins, leaves


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", help="build dir of an older commit (weir + its plugins) to compare CPU per record with")
    ap.add_argument("--old-has-reference-point", action="store_true",
                    help="the old build knows time_batch(30 sec, 0L): give it the same rule")
    ap.add_argument("--tasks", type=int, default=0,
                    help="also run one process with decode and rule as this many tasks (parallelism)")
    ap.add_argument("--cars", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--handoffs", type=int, default=8)
    args = ap.parse_args()
    if not os.environ.get("KAFKA_BOOTSTRAP"):
        sys.exit("KAFKA_BOOTSTRAP is not set (scripts/services/kafka.sh start; source .services/kafka.env)")
    work = tempfile.mkdtemp(prefix="weir-scale-bench-")
    rule = os.path.join(ROOT, "rules", "overspeed.epl")
    topic = f"Scale-Bench-{os.getpid()}"
    n = args.cars * args.seconds
    subprocess.run([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "topic", topic, "4"], check=True,
                   capture_output=True)
    produce(topic, args.cars, args.seconds)
    print(f"# {n} records ({args.cars} cars x {args.seconds} s) in a 4-partition topic; "
          f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    toml = os.path.join(work, "p.toml")
    open(toml, "w").write(pipeline(work, rule))
    runs = 0

    if args.old:
        print("\n## 1. kafka_source -> csv_decode -> cep_rule -> null_sink, CPU per record (one process)")
        old_rule = os.path.join(work, "old.epl")  # the old build has no reference point: same rule, first-event batches
        text = open(rule).read()
        if not args.old_has_reference_point:
            text = text.replace("time_batch(30 sec, 0L)", "time_batch(30 sec)")
        open(old_rule, "w").write(text)
        old_toml = os.path.join(work, "old.toml")
        open(old_toml, "w").write(pipeline(work, old_rule))
        cpu = {"new": [], "old": []}
        for rep in range(args.reps):
            for label, build, t, extra in (("new", BUILD, toml, ["--set", "rule.allowed_lateness_ms=0"]),
                                            ("old", args.old, old_toml, [])):
                runs += 1
                drain, total_cpu, rss = run_group(build, t, topic, f"bench-{os.getpid()}-{runs}", 1, extra)
                cpu[label].append(total_cpu / n * 1e6)
                print(f"  {label}: {drain:.2f} s wall, {total_cpu:.2f} s CPU = {total_cpu / n * 1e6:.3f} us/record, "
                      f"peak RSS {rss} MiB")
        ratio = statistics.median(cpu["new"]) / statistics.median(cpu["old"])
        print(f"  median CPU per record: this build {statistics.median(cpu['new']):.3f} us, "
              f"before {statistics.median(cpu['old']):.3f} us: ratio {ratio:.3f}")

    if args.tasks:
        print(f"\n## 2a. one process, decode and rule as 1 and as {args.tasks} tasks (parallelism)")
        for rep in range(args.reps):
            for tasks in (1, args.tasks):
                runs += 1
                extra = [a for node in ("decode", "rule") for a in ("--set", f"{node}.parallelism={tasks}")]
                drain, total_cpu, rss = run_group(BUILD, toml, topic, f"bench-{os.getpid()}-{runs}", 1, extra)
                print(f"  {tasks} task(s): drained in {drain:.2f} s, total CPU {total_cpu:.2f} s = "
                      f"{total_cpu / n * 1e6:.3f} us/record, {total_cpu / drain:.2f} cores, peak RSS {rss} MiB")

    print("\n## 2. 1, 2 and 3 processes in one group (this build)")
    for processes in (1, 2, 3):
        for rep in range(args.reps):
            runs += 1
            drain, total_cpu, rss = run_group(BUILD, toml, topic, f"bench-{os.getpid()}-{runs}", processes)
            print(f"  {processes} process(es): drained in {drain:.2f} s, total CPU {total_cpu:.2f} s = "
                  f"{total_cpu / n * 1e6:.3f} us/record, peak RSS {rss} MiB")

    if args.handoffs:
        print(f"\n## 3. hand-off on a rebalance, {args.cars} cars of open windows, live stream")
        joins, leaves = bench_handoff(args, work, rule)
        for label, values in (("a process joins (partitions leave the old owner)", joins),
                              ("a process leaves (its partitions come back)", leaves)):
            if values:
                print(f"  {label}: {len(values)} hand-offs, p50 {pct(values, 0.5) * 1000:.0f} ms, "
                      f"p99 {pct(values, 0.99) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")
            else:
                print(f"  {label}: no hand-off seen")


if __name__ == "__main__":
    main()
