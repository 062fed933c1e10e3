#!/usr/bin/env python3
"""file_source throughput, next to the raw pipe, same file, same broker, same run.

  bench/file_source/run.py [--build build] [--kafka-lines 1000000] [--null-lines 5000000] [--reps 3]

1. Kafka: the same file of smart-car lines (weir-loggen, ~37 B each) into a fresh
   4-partition topic, by
     - weir: file_source -> kafka_sink, unkeyed (keyed = false, like the pipe) and keyed by
       car (key_csv_column = 1, the collector's setting);
     - `tail -n +1 -F FILE | kcat -P` (Debian's kcat), with kafka_sink's producer settings
       (idempotent, acks=all, linger.ms=5, batch.size=1000000).
   weir ends at the file's end (end_at_eof) once the broker acknowledged every line; the pipe
   never ends, so its time is until the topic holds every line but the last 64 KiB (kcat
   sends those only when more input comes; end offsets polled every 20 ms) and its CPU is
   tail's plus kcat's at that moment.
2. file_source -> null_sink alone on a file of 40-byte lines: lines/s, and lines per CPU
   second (per core).
Needs KAFKA_BOOTSTRAP (source .services/kafka.env). Prints a markdown table.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def create_topic(topic):
    jars = os.path.expanduser("~/.cache/weir/kafka-3.9.2/libs")
    subprocess.run(["java", "-Xmx256m", "-cp", jars + "/*", "-Dlog4j.configuration=file:/dev/null",
                    "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", os.environ["KAFKA_BOOTSTRAP"],
                    "--create", "--if-not-exists", "--topic", topic, "--partitions", "4", "--replication-factor", "1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def end_offsets(topic):
    total = 0
    for p in range(4):
        out = subprocess.run(["kcat", "-b", os.environ["KAFKA_BOOTSTRAP"], "-Q", "-t", f"{topic}:{p}:-1"],
                             capture_output=True, text=True).stdout
        # "<topic> [<p>] offset <n>"
        for line in out.splitlines():
            if " offset " in line:
                total += int(line.rsplit(" ", 1)[1])
    return total


def run_weir(build, pipeline_text, work):
    path = os.path.join(work, "p.toml")
    with open(path, "w") as f:
        f.write(pipeline_text)
    pos = os.path.join(work, "positions")
    for p in (pos, pos + ".lock"):
        if os.path.exists(p):
            os.remove(p)
    t0 = time.monotonic()
    proc = subprocess.Popen([os.path.join(build, "weir"), "run", path, "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "weir.log"), "w"))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit("weir failed: " + open(os.path.join(work, "weir.log")).read())
    return wall, usage.ru_utime + usage.ru_stime


def source(work, path, extra):
    return (f'[nodes.logs]\nplugin = "file_source"\npaths = ["{path}"]\npositions_file = "{work}/positions"\n'
            f'end_at_eof = true\nbatch_size = 4096\n{extra}\n')


def weir_kafka(build, work, path, topic, keyed):
    extra = "key_csv_column = 1" if keyed else ""
    sink = (f'[nodes.kafka]\nplugin = "kafka_sink"\ninputs = ["logs"]\nendpoints = "{os.environ["KAFKA_BOOTSTRAP"]}"\n'
            f'topic = "{topic}"\nkeyed = {"true" if keyed else "false"}\nlinger_ms = 5\nbatch_bytes = 1000000\n')
    return run_weir(build, source(work, path, extra) + sink, work)


def pipe_kafka(path, topic, n):
    t0 = time.monotonic()
    tail = subprocess.Popen(["tail", "-n", "+1", "-F", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    kcat = subprocess.Popen(["kcat", "-P", "-b", os.environ["KAFKA_BOOTSTRAP"], "-t", topic, "-X", "linger.ms=5",
                             "-X", "batch.size=1000000", "-X", "enable.idempotence=true", "-X", "acks=all"],
                            stdin=tail.stdout, stderr=subprocess.DEVNULL)
    tail.stdout.close()
    # kcat holds back the last lines it read while its input stays open (measured: 205 of
    # 1000 short lines were still unsent after 4 s): they go when more input comes. So the
    # pipe counts as done when all but its last 64 KiB of lines are in the topic.
    slack = 65536 // (os.path.getsize(path) // n)
    while end_offsets(topic) < n - slack:
        time.sleep(0.02)
    wall = time.monotonic() - t0
    cpu = cpu_of(tail.pid) + cpu_of(kcat.pid)
    tail.kill()
    kcat.kill()
    tail.wait()
    kcat.wait()
    return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--kafka-lines", type=int, default=1_000_000)
    ap.add_argument("--null-lines", type=int, default=5_000_000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    if "KAFKA_BOOTSTRAP" not in os.environ:
        sys.exit("KAFKA_BOOTSTRAP is not set (source .services/kafka.env)")
    work = tempfile.mkdtemp(prefix="weir-file-source-bench.")
    cars = os.path.join(work, "cars.log")
    secs = (a.kafka_lines + 999) // 1000
    with open(cars, "w") as f:
        subprocess.run([os.path.join(a.build, "weir-loggen"), "20220426", "1000", "--seconds", str(secs)], stdout=f, check=True)
    n = 1000 * secs
    size = os.path.getsize(cars)
    thin = os.path.join(work, "thin.log")
    with open(thin, "w") as f:
        block = "".join(f"{i:039d}\n" for i in range(100_000))
        for _ in range(a.null_lines // 100_000):
            f.write(block)
    nn = a.null_lines // 100_000 * 100_000

    rows = {}
    stamp = str(os.getpid())
    for rep in range(a.reps):
        for name, fn in (("weir file_source -> kafka_sink, unkeyed", lambda t: weir_kafka(a.build, work, cars, t, False)),
                         ("weir file_source -> kafka_sink, keyed by car", lambda t: weir_kafka(a.build, work, cars, t, True)),
                         ("tail -F | kcat -P", lambda t: pipe_kafka(cars, t, n))):
            topic = f"wt-17-bench-fs-{stamp}-{rep}-{len(rows.get(name, []))}-{abs(hash(name)) % 1000}"
            create_topic(topic)
            rows.setdefault(name, []).append(fn(topic))
        rows.setdefault("weir file_source -> null_sink (40 B lines)", []).append(
            run_weir(a.build, source(work, thin, "") + '[nodes.out]\nplugin = "null_sink"\ninputs = ["logs"]\n', work))

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2]

    print(f"{n} smart-car lines ({size / n:.1f} B avg incl. newline) into a 4-partition topic; {nn} 40-byte lines into null_sink;"
          f" median of {a.reps}; {os.cpu_count()} cores; load {open('/proc/loadavg').read().split()[0]} at the end\n")
    print("| run | lines/s | CPU µs/line | lines per CPU second |")
    print("|---|---:|---:|---:|")
    base = None
    for name, rs in rows.items():
        lines = nn if "null_sink" in name else n
        wall = median([w for w, _ in rs])
        cpu = median([c for _, c in rs])
        print(f"| {name} | {lines / wall:,.0f} | {cpu / lines * 1e6:.2f} | {lines / cpu:,.0f} |")
    pipe = rows["tail -F | kcat -P"]
    for name in ("weir file_source -> kafka_sink, unkeyed", "weir file_source -> kafka_sink, keyed by car"):
        w = median([x for x, _ in rows[name]]); c = median([x for _, x in rows[name]])
        pw = median([x for x, _ in pipe]); pc = median([x for _, x in pipe])
        print(f"\n{name} vs the pipe: {pw / w:.2f}x the rate, {c / pc:.2f}x the CPU per line", end="")
    print()
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
