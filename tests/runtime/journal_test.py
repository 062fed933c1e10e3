#!/usr/bin/env python3
"""Under systemd, weir's log entries go to the journal with the node as a field.

weir writes to the journal when its stderr is the stream systemd gave it
($JOURNAL_STREAM = that stream's device:inode). Here stderr is a file whose
device:inode we put in $JOURNAL_STREAM, and the journal's socket
(/run/systemd/journal/socket, a fixed path) is ours: the test runs in a private
mount namespace with a fresh /run, so it touches no real journal. It checks the
entry of a node's ERROR line (MESSAGE, PRIORITY=3, WEIR_NODE) and that the line
is not on stderr as well; then that a stderr which is not the journal stream
keeps every line.

  journal_test.py BUILD_DIR        (exit 77 = skipped: no libsystemd or no mount namespace)
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

build = os.path.abspath(sys.argv[1])
weir = os.path.join(build, "weir")


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


if os.environ.get("WEIR_JOURNAL_TEST_INSIDE") != "1":
    if "libsystemd" not in subprocess.run(["ldd", weir], capture_output=True, text=True).stdout:
        skip("weir was built without libsystemd (its log lines then always go to stderr)")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        skip("cannot make a private mount namespace here (unshare -m)")
    env = dict(os.environ, WEIR_JOURNAL_TEST_INSIDE="1")
    sys.exit(subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__, build], env=env).returncode)

# Inside the namespace: a /run of our own, with a journal socket we read.
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
os.makedirs("/run/systemd/journal")
journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
journal.bind("/run/systemd/journal/socket")
journal.setblocking(False)

work = tempfile.mkdtemp(prefix="weir-journal-test-")  # /tmp is not private: removed at exit
import atexit  # noqa: E402
atexit.register(shutil.rmtree, work, True)
pipeline = os.path.join(work, "p.toml")
with open(pipeline, "w") as f:
    f.write('[nodes.gen]\nplugin = "generator"\ncount = 10\nbatch_size = 1\n'
            f'[nodes.out]\nplugin = "test_sink"\ninputs = ["gen"]\npath = "{work}/out"\nfail_after = 1\n')
plugins = os.path.join(build, "test-plugins") + ":" + os.path.join(build, "plugins")


def run(journal_stream):
    """weir run with stderr in a file; JOURNAL_STREAM = that file's dev:inode, or something else."""
    err_path = os.path.join(work, "err")
    with open(err_path, "w") as err:
        st = os.fstat(err.fileno())
        stream = f"{st.st_dev}:{st.st_ino}" if journal_stream else f"{st.st_dev}:{st.st_ino + 1}"
        env = dict(os.environ, WEIR_PLUGIN_PATH=plugins, JOURNAL_STREAM=stream)
        code = subprocess.run([weir, "run", pipeline, "--no-progress"], stderr=err, env=env).returncode
    entries = []
    while True:
        try:
            data = journal.recv(65536)
        except BlockingIOError:
            break
        entries.append(dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line))
    return code, open(err_path).read(), entries


failures = 0


def check(ok, what):
    global failures
    print(("ok: " if ok else "FAILED: ") + what)
    failures += not ok


code, err, entries = run(journal_stream=True)
check(code == 1, f"the pipeline failed as told (exit {code})")
node_entries = [e for e in entries if e.get("WEIR_NODE") == "out"]
check(len(node_entries) == 1, f"one journal entry with WEIR_NODE=out ({len(node_entries)} in {entries})")
if node_entries:
    e = node_entries[0]
    check(e.get("MESSAGE", "").startswith("[out] failing for good"), f"its MESSAGE names the node: {e.get('MESSAGE')}")
    check(e.get("PRIORITY") == "3", f"an ERROR line has PRIORITY=3 (err): {e.get('PRIORITY')}")
    check(e.get("SYSLOG_IDENTIFIER") == "weir", f"SYSLOG_IDENTIFIER=weir: {e.get('SYSLOG_IDENTIFIER')}")
check(any("WEIR_NODE" not in e and "pipeline failed" in e.get("MESSAGE", "") for e in entries),
      "the host's own line is an entry without WEIR_NODE")
check("failing for good" not in err, "the journal's lines are not on stderr as well")

code, err, entries = run(journal_stream=False)
check(code == 1 and not entries, f"a stderr that is not the journal stream: no entries ({entries})")
check("ERROR [out] failing for good" in err, "... and the line on stderr, node first")

print(f"journal: {failures} of the checks failed" if failures else "journal: every check passed")
sys.exit(1 if failures else 0)
