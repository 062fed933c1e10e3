#!/usr/bin/env python3
"""CPU time per thread of a running process, until it exits.

Samples /proc/PID/task/*/stat every 0.1 s and keeps each thread's last CPU time
(user + system), so threads that end before the process still count. Prints one
line per thread name (weir names its node threads `w:<node>`), busiest first,
and the total.

Usage: bench/thread_cpu.py PID [RECORDS]   (RECORDS: also print CPU per record)
"""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def sample(pid, seen):
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seen[tid] = (name, (int(fields[11]) + int(fields[12])) / TICK)  # utime, stime
    return True


def main():
    pid, records = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0
    seen = {}
    while sample(pid, seen):
        time.sleep(0.1)
    by_name = {}
    for name, secs in seen.values():
        by_name[name] = by_name.get(name, 0.0) + secs
    total = sum(by_name.values())
    for name, secs in sorted(by_name.items(), key=lambda kv: -kv[1]):
        per = f"  {secs / records * 1e6:6.2f} us/record" if records else ""
        print(f"  thread {name:16} {secs:6.2f} s CPU{per}")
    per = f", {total / records * 1e6:.2f} us/record" if records else ""
    print(f"  threads total {total:.2f} s CPU{per} (sampled every 0.1 s; the last 0.1 s of a thread may be missed)")


if __name__ == "__main__":
    main()
