#!/usr/bin/env python3
"""Produce-to-Redis latency of flagged cars in the smart-car flow (issue 7).

loggen produces CARS lines per second in real time into a fresh topic while
pipelines/smartcar.toml runs; this script polls Redis every 20 ms and notes when
each member first appears. A member CAR-T is flagged when the 30 s batch holding T
closes, which happens when the first line of the next batch is produced; that line's
produce time (wall clock at the start + its simulated offset, since the generator runs
in real time) is the moment the result could exist at the earliest. Latency = first
seen in Redis - that moment. Prints p50/p99/max over all flagged members.

Usage: bench/smartcar/latency.py [CARS] [SECONDS]    (default 100 cars, 150 s)
Needs the services of scripts/services/*.sh running, their .env files sourced.
"""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cars, seconds = (int(sys.argv[1]) if len(sys.argv) > 1 else 100), (int(sys.argv[2]) if len(sys.argv) > 2 else 150)
tag = str(os.getpid())
topic, date = f"SmartCar-Latency-{tag}", "20220426"
weir = os.path.join(ROOT, "build", "weir")
subprocess.run([os.path.join(ROOT, "scripts/services/kafka.sh"), "topic", topic, "4"], check=True, capture_output=True)
redis = ["redis-cli", "-h", os.environ["REDIS_HOST"], "-p", os.environ["REDIS_PORT"], "-n", "11"]
subprocess.run(redis + ["FLUSHDB"], check=True, capture_output=True)

pipeline = subprocess.Popen([weir, "run", os.path.join(ROOT, "pipelines/smartcar.toml"), "--no-progress",
                             "--set", f'kafka.topics=["{topic}"]', "--set", f'kafka.group_id="lat-{tag}"',
                             "--set", f'hbase.table="DriverCarInfoLatency{tag}"', "--set", "redis.database=11",
                             "--set", f'rejects.path="/tmp/latency-rejects-{tag}.jsonl"',
                             "--set", f'rule.checkpoint="/tmp/latency-rule-{tag}.ckpt"'],
                            stderr=subprocess.DEVNULL)
time.sleep(5)  # group join
start = time.time()
producer = subprocess.Popen([weir, "run", os.path.join(ROOT, "pipelines/smartcar-loggen.toml"), "--no-progress",
                             "--set", f'cars.date="{date}"', "--set", f"cars.cars={cars}", "--set", f"cars.rate={cars}",
                             "--set", f"cars.seconds={seconds}", "--set", f'kafka.topic="{topic}"',
                             "--set", 'cars.start_time="000000"'],  # the offsets below count from 00:00:00
                            stderr=subprocess.DEVNULL)
first_seen = {}
while producer.poll() is None or time.time() < start + seconds + 5:
    now = time.time()
    for m in subprocess.run(redis + ["SMEMBERS", date], capture_output=True, text=True).stdout.split():
        first_seen.setdefault(m, now)
    time.sleep(0.02)
pipeline.terminate()
pipeline.wait()

latencies = []
for member, seen in first_seen.items():
    t = member.rsplit("-", 1)[1]
    offset = int(t[8:10]) * 3600 + int(t[10:12]) * 60 + int(t[12:14])  # simulated seconds since 00:00:00
    closes = (offset // 30 + 1) * 30                                      # first line of the next batch
    latencies.append(seen - (start + closes))
latencies.sort()
n = len(latencies)
if not n:
    sys.exit("no member was flagged")
print(f"{n} flagged members ({cars} cars, {seconds} s real time): produce of the window-closing line -> visible "
      f"in Redis: p50 {latencies[n // 2] * 1000:.0f} ms, p99 {latencies[min(n - 1, n * 99 // 100)] * 1000:.0f} ms, "
      f"max {latencies[-1] * 1000:.0f} ms")
