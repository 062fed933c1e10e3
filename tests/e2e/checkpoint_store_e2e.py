#!/usr/bin/env python3
"""Checkpoints in a compacted Kafka topic (issue 12), against the real broker.

A counter per partition (test_partition_counter: every output has n = the records of
its partition seen so far, so n must be offset + 1) checkpoints into
`kafka://BROKER/TOPIC`:
  * a second run continues every partition's count from the topic, also after the
    broker was restarted in between (`kafka.sh restart`: same data, as in production);
  * the topic was created compacted;
  * a record that is not a checkpoint, or one whose bytes were damaged (a flipped
    byte: the checksum), is refused with its topic and key, and nothing runs on it.

Usage: checkpoint_store_e2e.py BUILD_DIR   (needs KAFKA_BOOTSTRAP; exits 77 = skipped without it)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "build")
WEIR = os.path.join(BUILD, "weir")
ENV = dict(os.environ, WEIR_PLUGIN_PATH=os.path.join(BUILD, "test-plugins"))
failures, passes = [], []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    (passes if ok else failures).append(what)


def pipeline(work, topic, count):
    path = os.path.join(work, "p.toml")
    open(path, "w").write(f"""
[nodes.src]
plugin = "test_source"
count = {count}
partitions = 2
resume = true
commit_log = "{work}/commits"
[nodes.count]
plugin = "test_partition_counter"
inputs = ["src"]
checkpoint = "kafka://{os.environ['KAFKA_BOOTSTRAP']}/{topic}"
checkpoint_interval_ms = 100
[nodes.out]
plugin = "file_sink"
inputs = ["count.out"]
path = "{work}/out.jsonl"
""")
    return path


def run(toml):
    return subprocess.run([WEIR, "run", "--no-progress", toml], capture_output=True, text=True, env=ENV)


def wrong_counts(work):
    wrong, seqs = 0, set()
    for line in open(os.path.join(work, "out.jsonl")):
        m = re.search(r'"seq":(\d+),"n":(\d+)', line)
        seq, n = int(m.group(1)), int(m.group(2))
        seqs.add(seq)
        wrong += n != seq // 2 + 1
    return wrong, seqs


def kcat(*args, data=None):
    return subprocess.run(["kcat", "-b", os.environ["KAFKA_BOOTSTRAP"], *args], input=data, capture_output=True)


def main():
    if not os.environ.get("KAFKA_BOOTSTRAP"):
        print("skipped: KAFKA_BOOTSTRAP is not set (scripts/test.sh starts the broker and sets it)")
        return 77
    work = tempfile.mkdtemp(prefix="weir-ckpt-store-", dir=BUILD)
    topic = f"weir-checkpoints-test-{os.getpid()}"
    first = run(pipeline(work, topic, 3000))
    check(first.returncode == 0, f"a first run checkpoints into kafka topic {topic} (exit {first.returncode})")
    config = subprocess.run([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "describe-topic", topic],
                            capture_output=True, text=True)
    check("cleanup.policy=compact" in config.stdout, f"the topic was created compacted ({config.stdout.strip()})")

    restart = subprocess.run([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "restart"], capture_output=True, text=True)
    check(restart.returncode == 0, "the broker restarted on the same data")
    second = run(pipeline(work, topic, 6000))
    check(second.returncode == 0, f"the second run exits 0 ({second.stderr[-500:]})")
    for p in (0, 1):
        check(f"partition {p}: resumed from checkpoint kafka topic {topic} key p/count/partition-{p}" in second.stderr,
              f"partition {p} resumed from its record in the topic after the broker restart")
    wrong, seqs = wrong_counts(work)
    check(len(seqs) == 6000 and wrong == 0, f"every count continued exactly ({len(seqs)} records, {wrong} wrong)")

    # Damaged records: the newest record of a key is what a restore reads.
    key = "p/count/partition-0"
    records = [json.loads(l) for l in kcat("-C", "-t", topic, "-e", "-q", "-J").stdout.splitlines() if l.strip()]
    value = [r["payload"].encode() for r in records if r.get("key") == key]
    check(bool(value), "the partition's checkpoint is a record of the topic")
    for label, data in (("not a checkpoint", b"hello"),
                        ("a flipped byte", value[-1][:-1] + bytes([value[-1][-1] ^ 1]) if value else b"")):
        # A record of its own: key and value split by \x1f, records by \x1e (values hold newlines).
        kcat("-P", "-t", topic, "-K", "\\x1f", "-D", "\\x1e", data=key.encode() + b"\x1f" + data + b"\x1e")
        os.remove(os.path.join(work, "commits"))  # read again from the start, so partition 0 is restored
        r = run(pipeline(work, topic, 6000))
        why = "first line is not" if label == "not a checkpoint" else "checksum mismatch"
        check(r.returncode == 1 and f"kafka topic {topic} key {key}: not a usable checkpoint ({why}" in r.stderr,
              f"{label} in the topic is refused with its topic and key (exit {r.returncode}: {r.stderr[-300:]})")
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
