#!/usr/bin/env python3
"""End-to-end test of the smart-car flow (issue 7) against real Kafka, HBase and Redis.

Fixed seed and date: K cars for T seconds go into a fresh one-partition topic in two
parts; pipelines/smartcar.toml (only stock plugins) runs in the background; between the
parts, malformed lines are injected and the rule file's threshold goes from 80 to 100.
Then:
  * HBase holds exactly K*T rows, each row's 8 columns equal to the generator's own line;
  * Redis holds, for the date, exactly the members the rule's semantics give, computed
    here independently from the generated lines (30 s tumbling batches per car aligned on
    multiples of 30 s since the epoch, the threshold in force when each batch closed); the
    key has the one-week TTL;
  * the malformed lines are counted on the error port (in the rejects file), none in HBase.
A second run SIGKILLs weir mid-stream and restarts it: HBase still holds exactly K*T rows
and Redis exactly the expected members (the rule's checkpoint restores its windows, so
no batch is evaluated on part of its records).

Usage: smartcar_e2e.py BUILD_DIR   (needs KAFKA_BOOTSTRAP, HBASE_THRIFT_PORT, REDIS_PORT;
exits 77 = skipped when they are not set, as `scripts/test.sh` sets them)
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "build")
WEIR = os.path.join(BUILD, "weir")
DATE, SEED, CARS = "20220426", 10, 20  # seed 10: some cars average between 80 and 100
KILL_CARS = 100  # the kill run needs enough records to be killed mid-stream
PART_SECONDS = 60  # two parts: T = 120 s, four 30 s batches
SKIP = 77

failures = []
passes = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    (passes if ok else failures).append(what)


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def loggen_lines(start_time, cars=CARS):
    out = run([os.path.join(BUILD, "weir-loggen"), DATE, str(cars), "--seconds", str(PART_SECONDS), "--seed",
               str(SEED), "--start-time", start_time])
    return [l for l in out.splitlines() if l]


def produce(topic, start_time, cars=CARS):
    run([WEIR, "run", os.path.join(ROOT, "pipelines", "smartcar-loggen.toml"), "--no-progress",
         "--set", f'cars.date="{DATE}"', "--set", f"cars.cars={cars}", "--set", f"cars.seconds={PART_SECONDS}",
         "--set", "cars.rate=0", "--set", f"cars.seed={SEED}", "--set", f'cars.start_time="{start_time}"',
         "--set", f'kafka.topic="{topic}"'])


last_hbase_count = ""  # what the last hbase_count saw, for a failure's message


def hbase_count(table):
    global last_hbase_count
    r = subprocess.run([os.path.join(BUILD, "weir-hbase"), "scan", "--table", table, "--count"], capture_output=True, text=True)
    last_hbase_count = r.stdout.strip() if r.returncode == 0 else "error: " + r.stderr.strip()
    return int(r.stdout.split()[0]) if r.returncode == 0 else 0  # 0 until hbase_sink has created the table


def wait_for(what, predicate, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    check(False, f"timed out waiting for {what} (the last HBase count: {last_hbase_count or 'none'})")
    return False


def redis(*args):
    return run(["redis-cli", "-h", os.environ["REDIS_HOST"], "-p", os.environ["REDIS_PORT"], "-n", "9", *args])


def expected_members(lines, thresholds):
    """The rule's semantics, independently: per car, 30 s tumbling batches aligned on
    multiples of 30 s since the epoch (the rule's `time_batch(30 sec, 0L)`), whatever the
    first line's time; every line of a car whose batch average speed exceeds the threshold
    in force for that batch (thresholds[batch index]) is flagged as CAR-DATE. The lines'
    times are UTC and all on DATE, and a day is 2880 such batches (midnight UTC is a
    multiple of 30 s since the epoch), so a line's batch is its second of the day // 30:
    batch 0 is 00:00:00-00:00:30, batch 1 00:00:30-00:01:00, and so on."""
    batches = defaultdict(lambda: defaultdict(list))
    for line in lines:
        date, car, *_rest = line.split(",")
        assert date[:8] == DATE, line
        speed = int(line.split(",")[6])
        secs = int(date[8:10]) * 3600 + int(date[10:12]) * 60 + int(date[12:14])
        batches[secs // 30][car].append((date, speed))
    members = set()
    for index, cars in batches.items():
        for car, rows in cars.items():
            if sum(s for _, s in rows) / len(rows) > thresholds[index]:
                members.update(f"{car}-{d}" for d, _ in rows)
    return members


class Pipeline:
    """pipelines/smartcar.toml in the background, pointed at this test's topic, table and db."""

    def __init__(self, work, topic, table, rule_file, group, checkpoint, extra=()):
        self.err_path = os.path.join(work, "weir.err")
        self.args = [WEIR, "run", os.path.join(ROOT, "pipelines", "smartcar.toml"), "--no-progress",
                     "--set", f'kafka.topics=["{topic}"]', "--set", f'kafka.group_id="{group}"',
                     "--set", f'hbase.table="{table}"', "--set", "redis.database=9",
                     "--set", f'rule.rules=["{rule_file}"]', "--set", 'rule.time_field="date"',
                     "--set", f'rule.checkpoint="{checkpoint}"', "--set", "rule.checkpoint_interval_ms=200",
                     "--set", "rule.evaluate_on_flush=true", "--set", "rule.watch_interval_ms=200",
                     "--set", f'rejects.path="{os.path.join(work, "rejects.jsonl")}"', *extra]
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stderr=open(self.err_path, "a"), stdout=subprocess.DEVNULL)

    def log(self):
        return open(self.err_path).read()

    def print_warnings(self, last=40):
        """The last LAST warnings, errors and summaries in weir's log: CI keeps only the test's output."""
        lines = [l for l in self.log().splitlines() if " WARN " in l or " ERROR " in l or l.startswith("weir:")]
        print("\n".join(["  weir: " + l for l in lines[-last:]] or ["  weir logged no warning"]), flush=True)
        services = os.environ.get("WEIR_SERVICES_DIR", os.path.join(ROOT, ".services"))
        for name in ("hbase-master.log", "hbase-thrift.log"):  # the server's side of it
            try:
                with open(os.path.join(services, name), errors="replace") as f:
                    bad = [l.rstrip()[:300] for l in f if " WARN " in l or " ERROR " in l]
            except OSError:
                continue
            print("\n".join(f"  {name}: {l}" for l in bad[-15:]), flush=True)

    def stop(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=120)


def finish(work, tables):
    """The end of an end-to-end test: its tables dropped (a table left behind slows HBase for
    later tests), where its logs are if it failed, the summary line and the exit code."""
    for t in tables:
        subprocess.run([os.path.join(BUILD, "weir-hbase"), "drop-table", "--table", t], capture_output=True)
    if failures:
        print(f"logs in {work}")
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


def hbase_rows(table):
    rows = {}
    out = run([os.path.join(BUILD, "weir-hbase"), "scan", "--table", table, "--json", "--limit", "1000000"])
    for line in out.splitlines():
        r = json.loads(line)
        rows[r["row"]] = r
    return rows


def row_key(line):
    date, car = line.split(",")[:2]
    return f"{date[::-1]}-{car}"


COLUMNS = ["date", "car_number", "speed_pedal", "break_pedal", "steer_angle", "direct_light", "speed", "area_number"]


def main():
    for var in ("KAFKA_BOOTSTRAP", "HBASE_THRIFT_PORT", "REDIS_PORT"):
        if not os.environ.get(var):
            print(f"skipped: {var} is not set (scripts/test.sh starts the servers and sets it)")
            return SKIP
    work = tempfile.mkdtemp(prefix="weir-e2e-", dir=BUILD)
    tag = str(os.getpid())
    rule = os.path.join(work, "overspeed.epl")
    shutil.copy(os.path.join(ROOT, "rules", "overspeed.epl"), rule)
    redis("FLUSHDB")

    # ---- run 1: two parts, malformed lines, the rule changed from 80 to 100 in between
    topic, table = f"SmartCar-E2E-{tag}", f"DriverCarInfoE2E{tag}"
    run([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "topic", topic, "1"])
    part1, part2 = loggen_lines("000000"), loggen_lines("000100")
    produce(topic, "000000")
    pipeline = Pipeline(work, topic, table, rule, f"e2e-{tag}", os.path.join(work, "run1.ckpt"))
    wait_for("part 1 in HBase", lambda: hbase_count(table) >= len(part1))
    malformed = ["not a log line", f"{DATE}000130,X0001,fast,0,F,N,85,F06", f"{DATE}000130,X0002,1,0,F,N",
                 f"{DATE}000130,,1,0,F,N,85,F06"]
    subprocess.run(["kcat", "-P", "-b", os.environ["KAFKA_BOOTSTRAP"], "-t", topic], input="\n".join(malformed) + "\n",
                   text=True, check=True)
    with open(rule) as f:
        text = f.read()
    with open(rule, "w") as f:
        f.write(text.replace("threshold = 80", "threshold = 100"))
    wait_for("the rule reload", lambda: "reloaded " in pipeline.log(), timeout=30)
    produce(topic, "000100")
    wait_for("part 2 in HBase", lambda: hbase_count(table) >= len(part1) + len(part2))
    time.sleep(2)  # let the last records pass the rule, then stop: flush evaluates the last batch
    check(pipeline.stop() == 0, "weir exits 0 after SIGINT")

    lines = part1 + part2
    check(hbase_count(table) == CARS * 2 * PART_SECONDS, f"HBase holds exactly K*T = {CARS * 2 * PART_SECONDS} rows")
    rows = hbase_rows(table)
    mismatched = [l for l in lines if [rows.get(row_key(l), {}).get(f"cf1:{c}") for c in COLUMNS] != l.split(",")]
    check(not mismatched, f"every row's 8 columns equal the generator's line ({len(mismatched)} differ)")
    rejects = open(os.path.join(work, "rejects.jsonl")).read().splitlines()
    check(len(rejects) == len(malformed), f"{len(malformed)} malformed lines on the error port (got {len(rejects)})")
    check(all("error_reason" in r for r in rejects), "each reject carries its reason")
    # Batch 0 (00:00:00-00:00:30, closed inside part 1) ran with 80; batch 1 (to 00:01:00) closed
    # at part 2's first line (00:01:00), after the reload; batches 2 and 3 are part 2's.
    expected = expected_members(lines, {0: 80, 1: 100, 2: 100, 3: 100})
    actual = set(redis("SMEMBERS", DATE).split())
    check(actual == expected, f"Redis set {DATE} holds exactly the {len(expected)} expected members "
                              f"(missing {len(expected - actual)}, extra {len(actual - expected)})")
    under_80 = expected_members(lines, {0: 80, 1: 80, 2: 80, 3: 80})
    check(under_80 != expected, "the threshold change made a difference to the flagged set (else this proves nothing)")
    ttl = int(redis("TTL", DATE))
    check(600000 < ttl <= 604800, f"the key expires in about a week (TTL {ttl})")

    # ---- run 2: SIGKILL mid-stream, restart, exact rows
    redis("FLUSHDB")
    with open(rule, "w") as f:
        f.write(text)  # back to 80
    topic2, table2 = f"SmartCar-E2E-{tag}-kill", f"DriverCarInfoE2EKill{tag}"
    run([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "topic", topic2, "1"])
    produce(topic2, "000000", KILL_CARS)
    produce(topic2, "000100", KILL_CARS)
    lines = loggen_lines("000000", KILL_CARS) + loggen_lines("000100", KILL_CARS)
    # Small batches everywhere, so the kill lands while records are in flight.
    pipeline = Pipeline(work, topic2, table2, rule, f"e2e-kill-{tag}", os.path.join(work, "kill.ckpt"),
                        extra=["--set", "kafka.batch_size=50", "--set", "hbase.batch_size=50"])
    kill_ckpt = os.path.join(work, "kill.ckpt")
    # Killed after the first 30 s batch closed, so the replay starts among evaluated records.
    wait_for("a third of the rows in HBase and a rule checkpoint",
             lambda: hbase_count(table2) > len(lines) // 3 and os.path.exists(kill_ckpt))
    pipeline.proc.send_signal(signal.SIGKILL)
    pipeline.proc.wait()
    killed_at = hbase_count(table2)
    check(0 < killed_at < len(lines), f"weir was killed mid-stream ({killed_at} of {len(lines)} rows loaded)")
    pipeline.args += ["--set", "kafka.end_at_eof=true"]
    pipeline.start()
    check(pipeline.proc.wait(timeout=180) == 0, "the restarted weir reads to the end and exits 0")
    check("resumed from checkpoint" in pipeline.log(), "the restarted rule resumed from its checkpoint")
    check(hbase_count(table2) == len(lines), f"after SIGKILL at {killed_at} rows and a restart: exactly {len(lines)} rows")
    expected = expected_members(lines, defaultdict(lambda: 80))
    actual = set(redis("SMEMBERS", DATE).split())
    check(actual == expected, f"after the restart Redis holds exactly the {len(expected)} expected members "
                              f"(missing {len(expected - actual)}, extra {len(actual - expected)})")

    for t in (table, table2):  # a table left behind would slow HBase for later tests and benchmarks
        subprocess.run([os.path.join(BUILD, "weir-hbase"), "drop-table", "--table", t], capture_output=True)
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
