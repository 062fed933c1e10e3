#!/usr/bin/env python3
"""weir against Apache Flink on the smart-car over-speed rule (issue 18), on the same topic.

For each size (records = CARS x SECONDS smart-car lines, seed 10, starting 15 s past a 30 s
boundary) a fresh 4-partition topic on the local broker is filled by
pipelines/smartcar-loggen.toml (kafka_sink keyed by car), then read to its end, interleaved
weir, Flink, weir, Flink ... REPS times:

  weir   bench/flink/weir.toml: kafka_source (end_at_eof) -> csv_decode -> cep_rule
         (rules/overspeed.epl, state per partition) -> file_sink (the flagged rows);
  Flink  bench/flink (SmartcarOverspeed): a bounded KafkaSource with watermarks per
         partition -> keyed 30 s tumbling event-time windows -> the flagged lines, parallelism
         2, in-process MiniCluster, collected into a file.

Every run is a new consumer group. Per run: whole-process wall, job time (weir: the engine's
uptime from --status-out, group join included; Flink: the job's net runtime, its own
figure, MiniCluster start-up excluded), CPU
(user+sys of the whole process, /usr/bin/time), peak RSS, and whether its flagged set
(members CAR-yyyyMMddHHmmss) equals the independent computation of tests/e2e/scale_out_e2e.py
(expected_members). Then the medians and the ratios weir/Flink, and with two sizes or more
the CPU per record in steady state: the difference of the median CPU between the largest and
the smallest size over the difference of their records (start-up cancels out).

Usage: bench/flink/run.py [--sizes 1000x1000,1000x5000] [--reps 3] [--flink 2.2.1|1.20.5] [--sink file|null]
                          [--topic-prefix Flink-Bench]
Needs KAFKA_BOOTSTRAP (source .services/kafka.env), build/ with weir, its plugins and
weir-loggen, mvn and Java 17 (the first run fetches Flink from Maven Central).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build")
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.argv[1:1] = [BUILD]  # smartcar_e2e (imported by scale_out_e2e) reads the build dir from argv[1]
import scale_out_e2e  # noqa: E402  (the independent computation of the rule)
del sys.argv[1]

DATE, SEED, START, THRESHOLD = "20220426", 10, "000015", 80
FLINK_PROFILES = {"2.2.1": [], "1.20.5": ["-Pflink-1.20"]}
# What Flink's own scripts pass to the JVM on Java 17 (flink-conf's env.java.opts.all).
JAVA_OPENS = [f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in (
    "java.lang", "java.lang.reflect", "java.lang.invoke", "java.io", "java.net", "java.nio", "java.text",
    "java.time", "java.util", "java.util.concurrent", "java.util.concurrent.atomic", "java.util.concurrent.locks",
    "sun.nio.ch")] + ["--add-exports=java.base/sun.net.util=ALL-UNNAMED"]


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def flink_classpath(version):
    """Builds the job (once per version) and returns its classpath."""
    out = os.path.join(HERE, "target", version)
    cp_file = os.path.join(out, "classpath.txt")
    sh(["mvn", "-q", "-B", *FLINK_PROFILES[version], "compile", "dependency:build-classpath",
        f"-Dmdep.outputFile={cp_file}"], cwd=HERE)
    return os.path.join(out, "classes") + ":" + open(cp_file).read().strip()


def fill(topic, cars, seconds):
    sh([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "topic", topic, "4"])
    sh([os.path.join(BUILD, "weir"), "run", os.path.join(ROOT, "pipelines", "smartcar-loggen.toml"), "--no-progress",
        "--set", f'cars.date="{DATE}"', "--set", f"cars.cars={cars}", "--set", f"cars.seconds={seconds}",
        "--set", "cars.rate=0", "--set", f"cars.seed={SEED}", "--set", f'cars.start_time="{START}"',
        "--set", f'kafka.topic="{topic}"'])


def expected(cars, seconds):
    lines = sh([os.path.join(BUILD, "weir-loggen"), DATE, str(cars), "--seconds", str(seconds), "--seed", str(SEED),
                "--start-time", START]).splitlines()
    return scale_out_e2e.expected_members([l for l in lines if l], THRESHOLD)


def timed(cmd, env=None):
    """Runs CMD under /usr/bin/time: (wall s, cpu s, peak RSS MiB, stdout)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", t.name, *cmd], env=env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
        wall, user, sys_, rss = t.read().split()[-4:]
    return float(wall), float(user) + float(sys_), int(rss) / 1024, p.stdout


def run_weir(work, topic, group, sink):
    toml = os.path.join(work, "weir.toml")
    text = open(os.path.join(HERE, "weir.toml")).read()
    if sink == "null":
        text = text.replace('plugin = "file_sink"', 'plugin = "null_sink"').replace('path = "flagged.jsonl"', "")
    open(toml, "w").write(text.replace("${WEIR_PIPELINE_DIR}/../../rules", os.path.join(ROOT, "rules")))
    out, status = os.path.join(work, f"{group}.jsonl"), os.path.join(work, f"{group}.status.json")
    cmd = [os.path.join(BUILD, "weir"), "run", toml, "--no-progress", "--status-out", status,
           "--set", f'kafka.endpoints="{os.environ["KAFKA_BOOTSTRAP"]}"', "--set", f'kafka.topics=["{topic}"]',
           "--set", f'kafka.group_id="{group}"']
    if sink == "file":
        cmd += ["--set", f'flagged.path="{out}"']
    env = dict(os.environ, WEIR_PLUGIN_PATH=os.path.join(BUILD, "plugins"))
    wall, cpu, rss, _ = timed(cmd, env)
    job = json.load(open(status))["uptime_s"]
    members = None
    if sink == "file":
        members = set()
        for line in open(out):
            r = json.loads(line)
            members.add(f"{r['car_number']}-{r['date']}")
        os.unlink(out)
    return wall, job, cpu, rss, members


def run_flink(work, topic, group, classpath):
    out = os.path.join(work, f"{group}.txt")
    cmd = ["java", *JAVA_OPENS, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", classpath,
           "weir.bench.SmartcarOverspeed", os.environ["KAFKA_BOOTSTRAP"], topic, group, out, "2", str(THRESHOLD)]
    wall, cpu, rss, stdout = timed(cmd)
    fields = dict(kv.split("=") for kv in stdout.split())
    members = set(open(out).read().split())
    os.unlink(out)
    return wall, int(fields["net_runtime_ms"]) / 1000, cpu, rss, members


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000x1000,1000x5000", help="CARSxSECONDS,...")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--flink", default="2.2.1", choices=sorted(FLINK_PROFILES))
    ap.add_argument("--sink", default="file", choices=["file", "null"], help="weir's sink of the flagged rows")
    ap.add_argument("--topic-prefix", default="Flink-Bench", help="the fresh topics' names start with this")
    args = ap.parse_args()
    if not os.environ.get("KAFKA_BOOTSTRAP"):
        sys.exit("KAFKA_BOOTSTRAP is not set (source .services/kafka.env)")
    classpath = flink_classpath(args.flink)
    work = tempfile.mkdtemp(prefix="weir-flink-bench-")
    load = os.getloadavg()[0]
    print(f"# weir vs Flink {args.flink}, smart-car over-speed rule; {os.cpu_count()} CPUs; load {load:.1f}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; weir sink: {args.sink}_sink", flush=True)
    cpu_at = {}  # records -> engine -> median CPU s
    for size in args.sizes.split(","):
        cars, seconds = map(int, size.split("x"))
        n = cars * seconds
        topic = f"{args.topic_prefix}-{n}-{os.getpid()}"
        fill(topic, cars, seconds)
        want = expected(cars, seconds)
        print(f"\n## {n} records ({cars} cars x {seconds} s), 4 partitions; {len(want)} flagged lines expected",
              flush=True)
        print("| run | engine | wall s | job s | CPU s | CPU/record us | peak RSS MiB | records/s (wall) | flagged set |")
        print("|---|---|---|---|---|---|---|---|---|")
        res = {"weir": [], "flink": []}
        for rep in range(args.reps):
            for engine in ("weir", "flink"):
                group = f"wt18-{engine}-{os.getpid()}-{n}-{rep}"
                if engine == "weir":
                    wall, job, cpu, rss, members = run_weir(work, topic, group, args.sink)
                else:
                    wall, job, cpu, rss, members = run_flink(work, topic, group, classpath)
                if members is None:
                    verdict = "not written (null_sink)"
                elif members == want:
                    verdict = "= expected"
                else:
                    verdict = f"WRONG: {len(want - members)} missing, {len(members - want)} extra"
                res[engine].append((wall, job, cpu, rss))
                print(f"| {rep + 1} | {engine} | {wall:.2f} | {job:.2f} | {cpu:.2f} | {cpu / n * 1e6:.2f} | {rss:.0f} | "
                      f"{n / wall:,.0f} | {verdict} |", flush=True)
        med = {e: [statistics.median(r[i] for r in res[e]) for i in range(4)] for e in res}
        w, f = med["weir"], med["flink"]
        print(f"\nmedians: weir wall {w[0]:.2f} s, job {w[1]:.2f} s, CPU {w[2]:.2f} s, RSS {w[3]:.0f} MiB; "
              f"Flink wall {f[0]:.2f} s, job {f[1]:.2f} s, CPU {f[2]:.2f} s, RSS {f[3]:.0f} MiB")
        print(f"ratios: records/s (wall) weir/Flink {f[0] / w[0]:.2f}x; job time Flink/weir {f[1] / w[1]:.2f}x; "
              f"CPU per record weir/Flink 1/{f[2] / w[2]:.1f}; peak RSS weir/Flink 1/{f[3] / w[3]:.1f}", flush=True)
        cpu_at[n] = {"weir": w[2], "flink": f[2]}
    if len(cpu_at) >= 2:
        lo, hi = min(cpu_at), max(cpu_at)
        steady = {e: (cpu_at[hi][e] - cpu_at[lo][e]) / (hi - lo) * 1e6 for e in ("weir", "flink")}
        print(f"\nCPU per record in steady state ({lo} -> {hi} records): weir {steady['weir']:.2f} us, "
              f"Flink {steady['flink']:.2f} us: weir/Flink 1/{steady['flink'] / steady['weir']:.1f}")


if __name__ == "__main__":
    main()
