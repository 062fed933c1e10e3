#!/usr/bin/env python3
"""The web console in a real browser (issue 14), on pipelines/smartcar.toml against the real
Kafka, HBase and Redis.

A loggen pipeline feeds a fresh topic at real time (20 cars, 20 lines/s) while
pipelines/smartcar.toml runs with `--metrics 127.0.0.1:0 --admin-token T`. Headless Chromium,
driven by Selenium, opens http://ADDR/ and:
  * sees every node of the pipeline in the graph and in the table;
  * sees the counters grow between two looks;
  * selects the rule node and sees its rule text (from the rule file) in the details;
  * presses "reload" without the token: the action is refused (403), and the page says so;
  * types the token and presses "reload" again: the page shows the reload's result.
A screenshot goes to BUILD_DIR/console-e2e/console.png (a test artifact).

Usage: console_e2e.py BUILD_DIR   (needs KAFKA_BOOTSTRAP, HBASE_THRIFT_PORT, REDIS_PORT and
python3-selenium, chromium, chromium-driver; exits 77 = skipped when they are missing)
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
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "build")
WEIR = os.path.join(BUILD, "weir")
SKIP = 77
TOKEN = "console-test-token"
NODES = {"kafka", "decode", "hbase", "rule", "redis", "rejects"}  # pipelines/smartcar.toml

failures, passes = [], []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    (passes if ok else failures).append(what)
    return ok


def wait_for(what, predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # noqa: BLE001  (the page is being redrawn: look again)
            pass
        time.sleep(0.2)
    check(False, f"timed out waiting for {what}")
    return None


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,900"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def main():
    for var in ("KAFKA_BOOTSTRAP", "HBASE_THRIFT_PORT", "REDIS_PORT"):
        if not os.environ.get(var):
            print(f"skipped: {var} is not set (scripts/test.sh starts the servers and sets it)")
            return SKIP
    try:
        import selenium  # noqa: F401
    except ImportError:
        print("skipped: python3-selenium is not installed (scripts/install-deps.sh installs it)")
        return SKIP
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        print("skipped: chromium or chromium-driver is not installed (scripts/install-deps.sh installs them)")
        return SKIP
    from selenium.webdriver.common.by import By

    work = tempfile.mkdtemp(prefix="weir-console-", dir=BUILD)
    artifacts = os.path.join(BUILD, "console-e2e")
    os.makedirs(artifacts, exist_ok=True)
    tag = str(os.getpid())
    topic, table = f"SmartCar-Console-{tag}", f"DriverCarInfoConsole{tag}"
    rule = os.path.join(work, "overspeed.epl")
    shutil.copy(os.path.join(ROOT, "rules", "overspeed.epl"), rule)
    subprocess.run([os.path.join(ROOT, "scripts", "services", "kafka.sh"), "topic", topic, "1"], check=True,
                   capture_output=True)
    producer = subprocess.Popen([WEIR, "run", os.path.join(ROOT, "pipelines", "smartcar-loggen.toml"), "--no-progress",
                                 "--set", "cars.cars=20", "--set", "cars.rate=20", "--set", f'kafka.topic="{topic}"'],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "producer.err"), "w"))
    err_path = os.path.join(work, "weir.err")
    pipeline = subprocess.Popen(
        [WEIR, "run", os.path.join(ROOT, "pipelines", "smartcar.toml"), "--no-progress",
         "--metrics", "127.0.0.1:0", "--admin-token", TOKEN,
         "--set", f'kafka.topics=["{topic}"]', "--set", f'kafka.group_id="console-{tag}"',
         "--set", f'hbase.table="{table}"', "--set", "redis.database=12", "--set", f'rule.rules=["{rule}"]',
         "--set", f'rule.checkpoint="{os.path.join(work, "rule.ckpt")}"',
         "--set", f'rejects.path="{os.path.join(work, "rejects.jsonl")}"'],
        stdout=subprocess.DEVNULL, stderr=open(err_path, "w"))
    driver = None
    try:
        port = wait_for("the admin endpoint", lambda: re.findall(r"http://127\.0\.0\.1:(\d+)/", open(err_path).read()), 60)
        if not port:
            return 1
        url = f"http://127.0.0.1:{port[0]}/"
        driver = browser()
        driver.get(url)

        def graph_nodes():
            return {g.get_attribute("data-node") for g in driver.find_elements(By.CSS_SELECTOR, "#graph g.node")}
        seen = wait_for("the graph", lambda: graph_nodes() if graph_nodes() >= NODES else None, 30) or graph_nodes()
        check(seen == NODES, f"the graph shows every node of smartcar.toml ({sorted(seen)})")
        rows = {r.get_attribute("data-node") for r in driver.find_elements(By.CSS_SELECTOR, "#nodes tbody tr")}
        check(rows == NODES, "the table lists every node")
        edges = {e["from"] + ">" + e["to"] for e in json.load(urllib.request.urlopen(url + "status"))["edges"]}
        drawn = {p.get_attribute("data-edge") for p in driver.find_elements(By.CSS_SELECTOR, "#graph path.edge")}
        check(drawn == edges and len(edges) == 8, f"the graph draws every edge ({len(drawn)} of {len(edges)})")

        def total(node, column):
            cell = driver.find_element(By.CSS_SELECTOR, f'#nodes tr[data-node="{node}"] .{column}')
            return int(cell.text.replace(",", ""))
        first = wait_for("records through decode", lambda: total("decode", "total-in"), 120) or 0
        kafka_first = total("kafka", "total-out")
        later = wait_for("decode's count to grow", lambda: total("decode", "total-in") > first and total("decode", "total-in"), 60)
        check(bool(later) and later > first, f"decode's records in grow between two looks ({first} -> {later})")
        check(total("kafka", "total-out") > kafka_first, "kafka's records out grow too")

        driver.find_element(By.CSS_SELECTOR, '#graph g.node[data-node="rule"]').click()
        rule_text = wait_for("the rule text", lambda: " ".join(p.text for p in driver.find_elements(By.CSS_SELECTOR, "#details pre.file")))
        check(rule_text is not None and "threshold" in rule_text, "the rule node's details show its rule text")
        result = driver.find_element(By.ID, "action-result")
        wait_for("the reload button", lambda: driver.find_element(By.ID, "btn-reload")).click()
        refused = wait_for("the refusal", lambda: "refused" in result.text and result.text)
        check(bool(refused) and "403" in refused, f"without the token, reload is refused ({refused!r})")
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "btn-reload").click()
        done = wait_for("the reload's result", lambda: "done" in result.text and result.text)
        check(bool(done) and "node 'rule' reloaded" in done, f"with the token, the page shows the reload's result ({done!r})")
        check("control: reload rule: ok" in open(err_path).read(), "weir logged the reload it did")
        time.sleep(2)  # one more poll, so the sparklines and the reload's log line are in the picture
        shot = os.path.join(artifacts, "console.png")
        driver.save_screenshot(shot)
        check(os.path.getsize(shot) > 10000, f"screenshot saved to {shot}")
    finally:
        if driver:
            driver.quit()
        for p in (pipeline, producer):
            p.send_signal(signal.SIGINT)
        for p in (pipeline, producer):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([os.path.join(BUILD, "weir-hbase"), "drop-table", "--table", table], capture_output=True)
    check(pipeline.returncode == 0, "weir exits 0 after SIGINT")
    if failures:
        print(f"logs in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
