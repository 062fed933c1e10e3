#!/usr/bin/env python3
"""Chaos test of the smart-car flow (issue 13), against real Kafka, HBase and Redis.

`pipelines/smartcar.toml` reads a 4-partition topic (a backlog, then a stream) while a
driver, at seeded random moments (replay a failure with the printed seed), injects:
  * SIGSTOP of Kafka, HBase (master + region server) or its Thrift2 gateway, or Redis,
    for 2 to 10 s, then SIGCONT;
  * a restart of Redis (`redis.sh stop && start`: same port, data kept in its AOF);
  * SIGKILL of weir, started again a moment later;
  * malformed HTTP to weir's admin port (a bad Content-Length, a huge header, garbage).
At the end HBase holds exactly every row, the Redis set is exactly the independent
computation, weir's peak RSS stayed under a bound, and no weir process ended other than
by the driver's SIGKILL or the final SIGINT (exit 0). The figures are printed.

Usage: chaos_e2e.py BUILD_DIR [SEED]   (needs the servers of scripts/test.sh; exits 77 without them)
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import multi_process_e2e as group  # noqa: E402  (loggen, produce)
import scale_out_e2e as scale  # noqa: E402  (expected_members)
import smartcar_e2e as e2e  # noqa: E402  (run, check, redis, hbase_count)

BACKLOG_S, STREAM_S, STREAM_RATE = 60, 300, 1000
FAULTS = 8
RSS_LIMIT_MIB = 600  # what a run with full queues and librdkafka's prefetch stays far under (~150 MiB)
SERVICES = os.environ.get("WEIR_SERVICES_DIR", os.path.join(e2e.ROOT, ".services"))


def pid_of(name):
    return int(open(os.path.join(SERVICES, f"{name}.pid")).read().strip())


class Weir:
    """The one weir process, restarted after each kill; records how every instance ended."""

    def __init__(self, args, work):
        self.args, self.log_path = args, os.path.join(work, "weir.err")
        self.ends, self.peak_rss_kib, self.proc, self.port = [], 0, None, None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stderr=open(self.log_path, "a"), stdout=subprocess.DEVNULL)
        self.port = None

    def admin_port(self):
        if self.port is None:
            found = re.findall(r"http://127\.0\.0\.1:(\d+)/", open(self.log_path).read())
            self.port = int(found[-1]) if found else None
        return self.port

    def sample(self):
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmRSS:"):
                    self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            pass

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.ends.append(("killed", self.proc.wait()))

    def check_alive(self):
        """An instance that ended by itself is a failure: note it and start another."""
        if self.proc.poll() is not None:
            self.ends.append(("died", self.proc.returncode))
            self.start()


def malformed_http(port):
    requests = [b"POST /ctl/pause HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                b"GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n",
                bytes(random.Random(port).getrandbits(8) for _ in range(4096)),
                b"POST /ctl/swap HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"]
    answered = 0
    for req in requests:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.sendall(req)
                answered += bool(s.recv(64))
        except OSError:
            pass  # a closed connection is an answer too
    return answered


def main():
    for var in ("KAFKA_BOOTSTRAP", "HBASE_THRIFT_PORT", "REDIS_PORT"):
        if not os.environ.get(var):
            print(f"skipped: {var} is not set (scripts/test.sh starts the servers and sets it)")
            return 77
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())
    rng = random.Random(seed)
    print(f"driver seed {seed} (replay: chaos_e2e.py BUILD {seed})", flush=True)
    work = tempfile.mkdtemp(prefix="weir-chaos-", dir=e2e.BUILD)
    rule = os.path.join(work, "overspeed.epl")
    shutil.copy(os.path.join(e2e.ROOT, "rules", "overspeed.epl"), rule)
    tag = str(os.getpid())
    topic, table = f"SmartCar-Chaos-{tag}", f"DriverCarInfoChaos{tag}"
    e2e.redis("FLUSHDB")
    e2e.run([os.path.join(e2e.ROOT, "scripts", "services", "kafka.sh"), "topic", topic, "4"])
    stream_start = time.strftime("%H%M%S", time.gmtime(BACKLOG_S))
    lines = group.loggen(BACKLOG_S, "000000") + group.loggen(STREAM_S, stream_start)
    group.produce(topic, BACKLOG_S, "000000", 0)

    weir = Weir([e2e.WEIR, "run", os.path.join(e2e.ROOT, "pipelines", "smartcar.toml"), "--no-progress",
                 "--metrics", "127.0.0.1:0", "--set", f'kafka.topics=["{topic}"]', "--set", f'kafka.group_id="chaos-{tag}"',
                 "--set", 'kafka.rdkafka={"session.timeout.ms" = "6000", "heartbeat.interval.ms" = "1000"}',
                 "--set", f'hbase.table="{table}"', "--set", "redis.database=9",
                 "--set", f'rule.rules=["{rule}"]', "--set", f'rule.checkpoint="{os.path.join(work, "checkpoints")}"',
                 "--set", "rule.checkpoint_interval_ms=200", "--set", "rule.evaluate_on_flush=true",
                 "--set", f'rejects.path="{os.path.join(work, "rejects.jsonl")}"'], work)
    sampling = True

    def sampler():
        while sampling:
            weir.sample()
            time.sleep(0.2)
    threading.Thread(target=sampler, daemon=True).start()
    producer = threading.Thread(target=group.produce, args=(topic, STREAM_S, stream_start, STREAM_RATE))
    producer.start()

    injected, t0 = [], time.time()
    stream_s = STREAM_S * 100 / STREAM_RATE
    for at in sorted(rng.uniform(1, stream_s) for _ in range(FAULTS)):
        time.sleep(max(0, t0 + at - time.time()))
        weir.check_alive()
        kind = rng.choice(["stop kafka", "stop hbase-master", "stop hbase-thrift", "stop redis", "restart redis",
                           "kill weir", "bad http"])
        if kind.startswith("stop "):
            name, pause = kind[5:], rng.uniform(2, 10)
            os.kill(pid_of(name), signal.SIGSTOP)
            time.sleep(pause)
            os.kill(pid_of(name), signal.SIGCONT)
            injected.append(f"{kind} {pause:.1f} s")
        elif kind == "restart redis":
            e2e.run([os.path.join(e2e.ROOT, "scripts", "services", "redis.sh"), "stop"])
            time.sleep(rng.uniform(0.5, 3))
            e2e.run([os.path.join(e2e.ROOT, "scripts", "services", "redis.sh"), "start"])
            injected.append(kind)
        elif kind == "kill weir":
            weir.kill()
            time.sleep(rng.uniform(0.5, 2))
            weir.start()
            injected.append(kind)
        else:
            port = weir.admin_port()
            injected.append(f"bad http ({malformed_http(port) if port else 0} of 4 answered)")
    producer.join()
    weir.check_alive()
    print(f"faults injected: {injected}", flush=True)
    e2e.wait_for("every row in HBase", lambda: e2e.hbase_count(table) >= len(lines), timeout=300)
    time.sleep(10)  # a killed instance's replay and the last batches through the rule
    weir.check_alive()
    weir.proc.send_signal(signal.SIGINT)
    weir.ends.append(("stopped", weir.proc.wait(timeout=120)))
    sampling = False

    kills = sum(1 for how, _ in weir.ends if how == "killed")
    print(f"faults {len(injected)}, weir kills {kills}, weir peak RSS {weir.peak_rss_kib // 1024} MiB, "
          f"instance ends {weir.ends}", flush=True)
    e2e.check(all(how == "killed" and code == -9 or how == "stopped" and code == 0 for how, code in weir.ends),
              f"no weir process ended but by the driver's SIGKILL or the final SIGINT ({weir.ends})")
    e2e.check(weir.peak_rss_kib < RSS_LIMIT_MIB * 1024, f"weir's peak RSS {weir.peak_rss_kib // 1024} MiB < {RSS_LIMIT_MIB} MiB")
    scale.compare("after the faults", table, scale.expected_members(lines), len(lines))
    return e2e.finish(work, [table])


if __name__ == "__main__":
    sys.exit(main())
