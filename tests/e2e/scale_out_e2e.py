#!/usr/bin/env python3
"""The smart-car answer at any partitioning (issue 12), against real Kafka, HBase and Redis.

Every case uses a fresh 4-partition topic (kafka_sink keys lines by car, so a car stays
in one partition) and compares with an independent computation of the rule: per car,
30 s batches aligned on multiples of 30 s since the epoch (Esper's
`time_batch(30 sec, 0L)`), every line of a car whose batch average speed exceeds 80.
The data starts 15 s past a 30 s boundary, so batches aligned on the first line would
differ from those.

  backlog      the topic is filled first, then read as fast as weir can (a restart after
               downtime): the Redis set is exactly the computation, HBase holds every row;
  kill         the first half of the data as a backlog, weir SIGKILLed once it has read
               it, the second half produced, weir restarted: the answer of the whole
               (each partition's windows come back from its checkpoint);
  stream       lines produced while weir reads them, at 20x real time: the same answer;
  kafka store  the kill case with the checkpoints in a compacted Kafka topic;
  context      the kill and stream cases with the rule in a keyed context (issue 15: one
               statement instance per car, `create context ByCar partition by car_number`,
               each partition's instances in its checkpoint): the same answer;
  pattern      the kill and stream cases with a pattern (issue 15): a car over 80 km/h
               followed by one of its lines under 80 within 5 s; Redis holds the car and
               time of each such line, as an independent computation of Esper's
               semantics finds them (the first later line under 80 of that car, less than
               5 s after: a timer due at the same instant as a line fires first);
  mr           the kill and stream cases with a row pattern (`match_recognize`, partial
               matches per car in each partition's checkpoint): a car over 80 again after at
               least 3 lines at or under 80 (`pattern (A N{3,} B)`, skip past last row);
  window       the kill and stream cases with a named window (`create window
               Speeding#time(30 sec)`, its events and expiry timers and its reader's counts in
               each partition's checkpoint): a car's line over 80 that is its third in the
               window.
Each rule's answer in Redis is compared with an independent computation here, never with
weir's own output. In the kill cases every partition's state at the kill is the middle of the
data, whatever order the partitions were read in (PARTS): a restore that drops the state,
tried by hand, fails each kill case.

Usage: scale_out_e2e.py BUILD_DIR   (needs KAFKA_BOOTSTRAP, HBASE_THRIFT_PORT, REDIS_PORT;
exits 77 = skipped when they are not set, as `scripts/test.sh` sets them)
"""
import calendar
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smartcar_e2e as e2e  # noqa: E402  (shared helpers: run, check, Pipeline, redis, hbase_count)

DATE, SEED, CARS, SECONDS, START = "20220426", 10, 100, 300, "000015"
# The kill cases' data: two parts of SECONDS / 2 each, the second produced only after the kill.
PARTS = ((START, SECONDS // 2), ("000245", SECONDS - SECONDS // 2))  # 00:00:15 + 150 s = 00:02:45
PARTITIONS = 4
SKIP = 77


def lines(start=START, seconds=SECONDS):
    out = e2e.run([os.path.join(e2e.BUILD, "weir-loggen"), DATE, str(CARS), "--seconds", str(seconds), "--seed",
                   str(SEED), "--start-time", start])
    return [l for l in out.splitlines() if l]


def produce(topic, rate=0, start=START, seconds=SECONDS):
    e2e.run([e2e.WEIR, "run", os.path.join(e2e.ROOT, "pipelines", "smartcar-loggen.toml"), "--no-progress",
             "--set", f'cars.date="{DATE}"', "--set", f"cars.cars={CARS}", "--set", f"cars.seconds={seconds}",
             "--set", f"cars.rate={rate}", "--set", f"cars.seed={SEED}", "--set", f'cars.start_time="{start}"',
             "--set", f'kafka.topic="{topic}"'])


def epoch_s(date):
    return calendar.timegm(time.strptime(date, "%Y%m%d%H%M%S"))


def expected_members(all_lines, threshold=80):
    """Per car, epoch-aligned 30 s batches; every line of a batch averaging above THRESHOLD."""
    batches = defaultdict(list)
    for line in all_lines:
        f = line.split(",")
        batches[(f[1], epoch_s(f[0]) // 30)].append((f[0], int(f[6])))
    members = set()
    for (car, _), rows in batches.items():
        if sum(s for _, s in rows) / len(rows) > threshold:
            members.update(f"{car}-{d}" for d, _ in rows)
    return members


def first_aligned_members(all_lines, threshold=80):
    """The same rule with batches aligned on the first line (what Esper's default would give)."""
    t0 = min(epoch_s(l.split(",")[0]) for l in all_lines)
    batches = defaultdict(list)
    for line in all_lines:
        f = line.split(",")
        batches[(f[1], (epoch_s(f[0]) - t0) // 30)].append((f[0], int(f[6])))
    return {f"{car}-{d}" for (car, _), rows in batches.items() if sum(s for _, s in rows) / len(rows) > threshold
            for d, _ in rows}


def compare(label, table, expected, total):
    actual = set(e2e.redis("SMEMBERS", DATE).split())
    e2e.check(actual == expected, f"{label}: Redis holds exactly the {len(expected)} members of the independent "
                                  f"computation (missing {len(expected - actual)}, extra {len(actual - expected)})")
    e2e.check(e2e.hbase_count(table) == total, f"{label}: HBase holds exactly {total} rows")


CONTEXT_RULE = """create variable double threshold = 80;
create context ByCar partition by car_number from DriverCarInfoBean;
context ByCar
select date, car_number, speed_pedal, break_pedal, steer_angle, direct_light, speed, area_number
  from DriverCarInfoBean.win:time_batch(30 sec, 0L)
  having avg(speed) > threshold;
"""


PATTERN_RULE = """select b.date as date, b.car_number as car_number
  from pattern [every a=DriverCarInfoBean(speed > 80)
                -> b=DriverCarInfoBean(car_number = a.car_number, speed < 80) where timer:within(5 sec)];
"""


def rows_by_car(all_lines):
    """Each car's lines in time order, as (epoch seconds, date, speed)."""
    by_car = defaultdict(list)
    for line in all_lines:
        f = line.split(",")
        by_car[f[1]].append((epoch_s(f[0]), f[0], int(f[6])))
    for rows in by_car.values():
        rows.sort()
    return by_car


def pattern_members(all_lines, within_s=5):
    """PATTERN_RULE computed on its own: for each line over 80, its car's first later line under 80, if sooner than WITHIN_S."""
    members, at_the_limit = set(), 0
    for car, rows in rows_by_car(all_lines).items():
        for i, (t_a, _, speed_a) in enumerate(rows):
            if speed_a <= 80:
                continue
            for t_b, date_b, speed_b in rows[i + 1:]:
                if speed_b < 80:
                    if t_b - t_a < within_s:
                        members.add(f"{car}-{date_b}")
                    at_the_limit += t_b - t_a == within_s
                    break
    return members, at_the_limit


# match_recognize: per car, speeding again after driving at most 80 for at least 3 lines. A is
# the last line of a speeding run (the next line must be an N), B the first line of the next run.
MATCH_RECOGNIZE_RULE = """select * from DriverCarInfoBean
  match_recognize (
    partition by car_number
    measures B.date as date, B.car_number as car_number, A.date as sped_at, count(N.speed) as normal_lines
    pattern (A N{3,} B)
    define A as A.speed > 80, N as N.speed <= 80, B as B.speed > 80
  );
"""


def speeding_again_members(all_lines, min_normal=3, skip_past_last_row=True):
    """MATCH_RECOGNIZE_RULE computed on its own: per car, a line over 80 followed by at least MIN_NORMAL lines
    at most 80 and then one over 80 (that one is the member). After a match the search goes on after its
    last line (Esper's default `after match skip past last row`): that line cannot be the next match's A."""
    members = set()
    for car, rows in rows_by_car(all_lines).items():
        i = 0
        while i + 1 < len(rows):
            if not (rows[i][2] > 80 and rows[i + 1][2] <= 80):
                i += 1
                continue
            j = i + 1  # the first line over 80 after the normal ones
            while j < len(rows) and rows[j][2] <= 80:
                j += 1
            if j < len(rows) and j - i - 1 >= min_normal:
                members.add(f"{car}-{rows[j][1]}")
                i = j + 1 if skip_past_last_row else j
            else:
                i = j
    return members


# A named window: the lines over 80 of the last 30 s. A car's line is posted when it makes the car's
# third line in the window (itself included): the moment a car becomes a repeat offender, again
# after it has come back under three. The create and insert statements post to port Speeding (not
# wired); the reader's rows go to the file's port. (`= 3`, not `>= 3`: a restart that lost the
# window or the reader's counts would post lines that are not a car's third.)
NAMED_WINDOW_RULE = """@name('Speeding') create window Speeding#time(30 sec) as select date, car_number, speed from DriverCarInfoBean;
insert into Speeding select date, car_number, speed from DriverCarInfoBean(speed > 80);
select date, car_number, count(*) as times from Speeding group by car_number having count(*) = 3;
"""


def repeat_speeding_members(all_lines, times=3, within_s=30, expired_first=True):
    """NAMED_WINDOW_RULE computed on its own: a car's line over 80 at t when the car has exactly TIMES lines over
    80 in (t - WITHIN_S, t]. A line leaves the #time window at its time + WITHIN_S, before a line of that instant
    arrives (EXPIRED_FIRST; False keeps it for that line, the wrong boundary)."""
    members = set()
    for car, rows in rows_by_car(all_lines).items():
        fast = [(t, date) for t, date, speed in rows if speed > 80]
        for i, (t, date) in enumerate(fast):
            held = [u for u, _ in fast[:i + 1] if u > t - within_s or (u == t - within_s and not expired_first)]
            if len(held) == times:
                members.add(f"{car}-{date}")
    return members


def rule_file(work, kind, text):
    """TEXT as WORK/KIND/overspeed.epl: the same file name, so the same output port (overspeed)."""
    os.makedirs(os.path.join(work, kind))
    path = os.path.join(work, kind, "overspeed.epl")
    with open(path, "w") as f:
        f.write(text)
    return path


def checkpointed_partitions(directory):
    """How many partition-P.ckpt files DIRECTORY holds (not the temporary file of one being replaced)."""
    if not os.path.isdir(directory):
        return 0
    return sum(1 for f in os.listdir(directory) if f.startswith("partition-") and f.endswith(".ckpt"))


def case(work, rule, name, produce_first=True, kill=False, rate=0, kafka_store=False, tasks=1):
    tag = f"{os.getpid()}-{name}"
    topic, table = f"SmartCar-Scale-{tag}", f"DriverCarInfoScale{tag.replace('-', '')}"
    e2e.redis("FLUSHDB")
    e2e.run([os.path.join(e2e.ROOT, "scripts", "services", "kafka.sh"), "topic", topic, str(PARTITIONS)])
    if kill:
        produce(topic, start=PARTS[0][0], seconds=PARTS[0][1])
    elif produce_first:
        produce(topic)
    ckpt = os.path.join(work, f"{name}-checkpoints")
    if kafka_store:  # in a compacted topic instead of files: what processes on several machines use
        ckpt = f"kafka://{os.environ['KAFKA_BOOTSTRAP']}/weir-checkpoints-{tag}"
    # A killed member holds its partitions until its session times out: keep that short. A kill
    # case's restart comes back as the same static member, which takes them over at once.
    rdkafka = '"session.timeout.ms" = "6000", "heartbeat.interval.ms" = "1000"'
    if kill:
        rdkafka += f', "group.instance.id" = "scale-{tag}"'
    extra = ["--set", "kafka.batch_size=200", "--set", "hbase.batch_size=200", "--set", f"kafka.rdkafka={{{rdkafka}}}"]
    if produce_first and not kill:
        extra += ["--set", "kafka.end_at_eof=true"]
    if tasks > 1:  # every node after the source as several tasks, the partitions spread over them
        for node in ("decode", "rule", "hbase", "redis"):
            extra += ["--set", f"{node}.parallelism={tasks}"]
    pipeline = e2e.Pipeline(work, topic, table, rule, f"scale-{tag}", ckpt, extra=extra)
    producer = None
    if not produce_first:
        producer = threading.Thread(target=produce, args=(topic, rate))
        producer.start()
    total = CARS * SECONDS
    if kill:
        # Killed once the first part is read, the second still to come: the rule's state in every
        # partition is the middle of the data, whatever order the partitions were read in. (Killed
        # at a third of one backlog, the rule had mostly read three partitions to their end, as
        # the consumer reads a backlog about one partition after another and the rule runs ahead
        # of HBase: a restore that dropped the state passed.)
        first = CARS * PARTS[0][1]
        e2e.wait_for(f"{name}: the first part in HBase and a checkpoint of each partition",
                     lambda: (kafka_store or checkpointed_partitions(ckpt) == PARTITIONS) and e2e.hbase_count(table) >= first)
        time.sleep(0.4)  # two checkpoint intervals: checkpoints of the whole part (in the topic, for kafka_store)
        pipeline.proc.send_signal(signal.SIGKILL)
        pipeline.proc.wait()
        killed_at = e2e.hbase_count(table)
        e2e.check(killed_at == first, f"{name}: weir was killed after the first part ({killed_at} of {total} rows)")
        produce(topic, start=PARTS[1][0], seconds=PARTS[1][1])
        pipeline.args += ["--set", "kafka.end_at_eof=true"]
        restarted_at = len(pipeline.log())  # the log is the work directory's, shared by every case
        pipeline.start()
    if producer:
        producer.join()
        # The stream is complete: stop once everything is in (end_at_eof would end at the first momentary EOF).
        if not e2e.wait_for(f"{name}: every row in HBase", lambda: e2e.hbase_count(table) >= total, timeout=300):
            pipeline.print_warnings()
        time.sleep(2)
        e2e.check(pipeline.stop() == 0, f"{name}: weir exits 0 after SIGINT")
    else:
        e2e.check(pipeline.proc.wait(timeout=300) == 0, f"{name}: weir reads to the end and exits 0")
    if kill:
        e2e.check(pipeline.log()[restarted_at:].count("resumed from checkpoint") >= PARTITIONS,
                  f"{name}: the restarted rule resumed each partition from its checkpoint")
    return table, total, pipeline


def main():
    for var in ("KAFKA_BOOTSTRAP", "HBASE_THRIFT_PORT", "REDIS_PORT"):
        if not os.environ.get(var):
            print(f"skipped: {var} is not set (scripts/test.sh starts the servers and sets it)")
            return SKIP
    work = tempfile.mkdtemp(prefix="weir-scale-", dir=e2e.BUILD)
    rule = os.path.join(work, "overspeed.epl")
    shutil.copy(os.path.join(e2e.ROOT, "rules", "overspeed.epl"), rule)
    all_lines = lines()
    expected = expected_members(all_lines)
    e2e.check(expected != first_aligned_members(all_lines),
              "epoch-aligned batches flag other members than first-line-aligned ones (else this proves nothing)")
    context_rule, pattern_rule = rule_file(work, "context", CONTEXT_RULE), rule_file(work, "pattern", PATTERN_RULE)
    pattern_expected, at_the_limit = pattern_members(all_lines)
    e2e.check(len(pattern_expected) > 50 and at_the_limit > 0,
              f"the pattern matches often ({len(pattern_expected)} lines) and some lines come exactly at the "
              f"time limit ({at_the_limit}), which must not match")
    mr_rule, mr_expected = rule_file(work, "mr", MATCH_RECOGNIZE_RULE), speeding_again_members(all_lines)
    e2e.check(len(mr_expected) > 50 and mr_expected != speeding_again_members(all_lines, min_normal=2)
              and mr_expected != speeding_again_members(all_lines, skip_past_last_row=False),
              f"the row pattern matches often ({len(mr_expected)} lines), and 2 normal lines or no skip past the "
              f"last row would match others")
    window_rule, window_expected = rule_file(work, "window", NAMED_WINDOW_RULE), repeat_speeding_members(all_lines)
    e2e.check(len(window_expected) > 50 and window_expected != repeat_speeding_members(all_lines, times=2)
              and window_expected != repeat_speeding_members(all_lines, expired_first=False),
              f"the named window's reader posts often ({len(window_expected)} lines), and 2 times or keeping a "
              f"line at its expiry instant would post others")
    kill_lines = [l for start, seconds in PARTS for l in lines(start, seconds)]  # what the kill cases produce
    pattern_answer = lambda ls: pattern_members(ls)[0]  # noqa: E731
    tables = []
    for name, kw in (("backlog", {}), ("kill", {"kill": True}), ("stream", {"produce_first": False, "rate": 2000}),
                     ("kafka-store", {"kill": True, "kafka_store": True}),
                     ("tasks-kill", {"kill": True, "tasks": 3}), ("tasks-stream", {"produce_first": False, "rate": 2000, "tasks": 2}),
                     ("context-kill", {"kill": True, "rule": context_rule}),
                     ("context-stream", {"produce_first": False, "rate": 2000, "rule": context_rule}),
                     ("pattern-kill", {"kill": True, "rule": pattern_rule, "answer": pattern_answer}),
                     ("pattern-stream", {"produce_first": False, "rate": 2000, "rule": pattern_rule,
                                         "answer": pattern_answer}),
                     ("mr-kill", {"kill": True, "rule": mr_rule, "answer": speeding_again_members}),
                     ("mr-stream", {"produce_first": False, "rate": 2000, "rule": mr_rule, "answer": speeding_again_members}),
                     ("window-kill", {"kill": True, "rule": window_rule, "answer": repeat_speeding_members}),
                     ("window-stream", {"produce_first": False, "rate": 2000, "rule": window_rule,
                                        "answer": repeat_speeding_members})):
        if os.environ.get("WEIR_E2E_CASES") and name not in os.environ["WEIR_E2E_CASES"].split(","):
            continue  # by hand: run only the cases named there
        want = kw.pop("answer", expected_members)(kill_lines if kw.get("kill") else all_lines)
        table, total, _ = case(work, kw.pop("rule", rule), name, **kw)
        compare(name, table, want, total)
        tables.append(table)
    return e2e.finish(work, tables)


if __name__ == "__main__":
    sys.exit(main())
