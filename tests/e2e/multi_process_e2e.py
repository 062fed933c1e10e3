#!/usr/bin/env python3
"""Three weir processes in one consumer group (issue 12), against real Kafka, HBase and Redis.

A fresh 4-partition topic gets a backlog first, then a stream while three
`weir run pipelines/smartcar.toml` processes (one group, one checkpoint directory, the
rule from a shared rule store) read it. While the stream flows the threshold goes from
80 to 100 (`weir-rules put`, effective from an event time still ahead), and a driver
SIGKILLs a random process at bounded random moments (seeded, so a failure can be
replayed) and starts it again a moment later. At the end:
  * HBase holds exactly every row;
  * the Redis set is exactly the independent computation (per car, epoch-aligned 30 s
    batches, average speed > the threshold in force: 80 for a batch ending at or before
    the change's event time, 100 after), whichever process owned a car when its batch
    closed and whichever version it had read;
  * every process logged its assignments, and partitions moved with their windows
    ("resumed from checkpoint" after a kill).

Usage: multi_process_e2e.py BUILD_DIR [SEED]   (needs KAFKA_BOOTSTRAP, HBASE_THRIFT_PORT,
REDIS_PORT; exits 77 = skipped when they are not set)
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale_out_e2e as scale  # noqa: E402  (expected_members, epoch_s)
import smartcar_e2e as e2e  # noqa: E402  (run, check, redis, hbase_count)

DATE, SEED, CARS = "20220426", 10, 100
BACKLOG_S, STREAM_S, STREAM_RATE = 120, 300, 1000  # simulated seconds; lines/s of the stream
CHANGE_AT = "20220426000400"  # the threshold change's event time: 4 minutes in, 12 s into the stream
PROCESSES, KILLS = 3, 4
SKIP = 77


def loggen(seconds, start):
    out = e2e.run([os.path.join(e2e.BUILD, "weir-loggen"), DATE, str(CARS), "--seconds", str(seconds), "--seed",
                   str(SEED), "--start-time", start])
    return [l for l in out.splitlines() if l]


def produce(topic, seconds, start, rate):
    e2e.run([e2e.WEIR, "run", os.path.join(e2e.ROOT, "pipelines", "smartcar-loggen.toml"), "--no-progress",
             "--set", f'cars.date="{DATE}"', "--set", f"cars.cars={CARS}", "--set", f"cars.seconds={seconds}",
             "--set", f"cars.rate={rate}", "--set", f"cars.seed={SEED}", "--set", f'cars.start_time="{start}"',
             "--set", f'kafka.topic="{topic}"'])


class Member:
    """One weir process of the group; its stderr goes to its own log across restarts."""

    def __init__(self, index, args, work):
        self.index, self.args = index, args
        self.log_path = os.path.join(work, f"member-{index}.err")
        self.proc = None
        self.start()

    def start(self):
        with open(self.log_path, "a") as log:
            log.write(f"---- start {time.strftime('%H:%M:%S')}\n")
        self.proc = subprocess.Popen(self.args, stderr=open(self.log_path, "a"), stdout=subprocess.DEVNULL)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def log(self):
        return open(self.log_path).read()


def rules(*args):
    return e2e.run([os.path.join(e2e.BUILD, "weir-rules"), *args])


def expected(lines, change_s):
    """The rule's answer with the threshold 80 for batches ending at or before CHANGE_S, 100 after."""
    from collections import defaultdict
    batches = defaultdict(list)
    for line in lines:
        f = line.split(",")
        batches[(f[1], scale.epoch_s(f[0]) // 30)].append((f[0], int(f[6])))
    members = set()
    for (car, slot), rows in batches.items():
        threshold = 80 if (slot + 1) * 30 <= change_s else 100
        if sum(s for _, s in rows) / len(rows) > threshold:
            members.update(f"{car}-{d}" for d, _ in rows)
    return members


def main():
    for var in ("KAFKA_BOOTSTRAP", "HBASE_THRIFT_PORT", "REDIS_PORT"):
        if not os.environ.get(var):
            print(f"skipped: {var} is not set (scripts/test.sh starts the servers and sets it)")
            return SKIP
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())
    rng = random.Random(seed)
    print(f"driver seed {seed} (replay: multi_process_e2e.py BUILD {seed})", flush=True)
    work = tempfile.mkdtemp(prefix="weir-group-", dir=e2e.BUILD)
    tag = str(os.getpid())
    rule = os.path.join(work, "overspeed.epl")
    shutil.copy(os.path.join(e2e.ROOT, "rules", "overspeed.epl"), rule)
    store = f"weir-rules-{tag}"
    rules("put", "overspeed", rule, "--topic", store, "--effective-from", f"{DATE}000000")
    text = open(rule).read()
    faster = os.path.join(work, "overspeed-100.epl")
    open(faster, "w").write(text.replace("threshold = 80", "threshold = 100"))
    topic, table, group = f"SmartCar-Group-{tag}", f"DriverCarInfoGroup{tag}", f"group-{tag}"
    e2e.redis("FLUSHDB")
    e2e.run([os.path.join(e2e.ROOT, "scripts", "services", "kafka.sh"), "topic", topic, "4"])
    stream_start = time.strftime("%H%M%S", time.gmtime(BACKLOG_S))
    lines = loggen(BACKLOG_S, "000000") + loggen(STREAM_S, stream_start)
    total = len(lines)
    produce(topic, BACKLOG_S, "000000", 0)

    args = [e2e.WEIR, "run", os.path.join(e2e.ROOT, "pipelines", "smartcar.toml"), "--no-progress",
            "--set", f'kafka.topics=["{topic}"]', "--set", f'kafka.group_id="{group}"',
            "--set", 'kafka.rdkafka={"session.timeout.ms" = "6000", "heartbeat.interval.ms" = "1000"}',
            "--set", "kafka.batch_size=200", "--set", "hbase.batch_size=200",
            "--set", f'hbase.table="{table}"', "--set", "redis.database=9",
            "--set", "rule.rules=[]", "--set", f'rule.rules_topic="{store}"',
            "--set", f'rule.rules_endpoints="{os.environ["KAFKA_BOOTSTRAP"]}"', "--set", 'rule.rules_names=["overspeed"]',
            "--set", f'rule.checkpoint="{os.path.join(work, "checkpoints")}"',
            "--set", "rule.checkpoint_interval_ms=200", "--set", "rule.evaluate_on_flush=true",
            "--set", f'rejects.path="{os.path.join(work, "rejects.jsonl")}"']
    members = [Member(i, args, work) for i in range(PROCESSES)]
    time.sleep(3)  # the members have joined and read the store
    # The threshold change, published ahead of its event time (the stream reaches it in ~12 s).
    rules("put", "overspeed", faster, "--topic", store, "--effective-from", CHANGE_AT)
    producer = threading.Thread(target=produce, args=(topic, STREAM_S, stream_start, STREAM_RATE))
    producer.start()

    # Kills at bounded random moments while the stream flows (it lasts STREAM_S * CARS / STREAM_RATE s).
    stream_s = STREAM_S * CARS / STREAM_RATE
    moments = sorted(rng.uniform(1, stream_s - 5) for _ in range(KILLS))
    t0, kills = time.time(), []
    for at in moments:
        time.sleep(max(0, t0 + at - time.time()))
        victim = rng.randrange(PROCESSES)
        members[victim].kill()
        kills.append((round(time.time() - t0, 1), victim, e2e.hbase_count(table)))
        time.sleep(rng.uniform(0.5, 3))
        members[victim].start()
    producer.join()
    print(f"kills (s after start, member, rows then): {kills}", flush=True)
    e2e.check(len(kills) == KILLS, f"{KILLS} members were SIGKILLed and restarted while data flowed")
    # No more faults: the group settles (a killed member's partitions move after its
    # 6 s session), the replays finish, then everyone stops and ends its last batches.
    e2e.wait_for("every row in HBase", lambda: e2e.hbase_count(table) >= total, timeout=240)
    time.sleep(15)
    for m in members:
        m.proc.send_signal(signal.SIGINT)
    codes = [m.proc.wait(timeout=120) for m in members]
    e2e.check(codes == [0] * PROCESSES, f"every member exits 0 after SIGINT (got {codes})")

    want = expected(lines, scale.epoch_s(CHANGE_AT))
    e2e.check(want != scale.expected_members(lines), "the threshold change made a difference (else this proves nothing)")
    scale.compare("three processes", table, want, total)
    logs = [m.log() for m in members]
    e2e.check(all("[kafka] assigned" in l for l in logs), "every member logged the partitions it was assigned")
    e2e.check(sum(l.count("[kafka] revoked") for l in logs) > 0, "rebalances revoked partitions and logged it")
    e2e.check(any("resumed from checkpoint" in l for l in logs), "partitions moved with their windows (checkpoints)")
    return e2e.finish(work, [table])


if __name__ == "__main__":
    sys.exit(main())
