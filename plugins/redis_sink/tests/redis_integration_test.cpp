// redis_sink and weir-overspeed against real servers (label `redis`):
//   - generator -> redis_sink through the real binary: exact set members and a TTL;
//   - error replies and the error port;
//   - a Redis crash and restart mid-stream loses nothing, also before a large write (SIGPIPE);
//   - a Sentinel failover mid-stream loses nothing;
//   - weir-overspeed's exact output, and the shipped example.toml end to end.
// Needs `scripts/services/redis.sh start` (REDIS_PORT) and, for the failover,
// `redis.sh sentinel-start` (REDIS_SENTINELS, REDIS_MASTER_NAME), with the env
// files sourced. Without them the tests skip and say so.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <set>
#include <thread>
#include <weir_test.hpp>

#include "connection.hpp"

namespace weir::testing {
namespace {

using namespace std::chrono_literals;
using weir::redis::Reply;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

#define REQUIRE_REDIS()                                                                                           \
  do {                                                                                                            \
    if (env("REDIS_PORT").empty()) {                                                                              \
      GTEST_SKIP() << "REDIS_PORT is not set: run scripts/services/redis.sh start && source .services/redis.env"; \
    }                                                                                                             \
  } while (0)

#define REQUIRE_SENTINEL()                                                                           \
  do {                                                                                               \
    if (env("REDIS_SENTINELS").empty() || env("REDIS_MASTER_NAME").empty()) {                        \
      GTEST_SKIP() << "REDIS_SENTINELS is not set: run scripts/services/redis.sh sentinel-start && " \
                      "source .services/redis-sentinel.env";                                         \
    }                                                                                                \
  } while (0)

std::string shared_endpoint() {
  return (env("REDIS_HOST").empty() ? "127.0.0.1" : env("REDIS_HOST")) + ":" + env("REDIS_PORT");
}

// Keys of one test run: parallel runs and leftovers never collide.
std::string prefix(const std::string& test) { return "weirtest:" + std::to_string(getpid()) + ":" + test; }

// A plain client for setting up and checking.
class Client {
 public:
  explicit Client(const std::string& endpoint) : conn_(options(endpoint)) {}
  bool connect() { return (why_ = conn_.connect()).empty(); }
  const std::string& why() const { return why_; }
  Reply cmd(const std::vector<std::string>& argv) {
    if (!conn_.connected() && !connect()) return nullptr;
    return conn_.command(argv);
  }
  long long integer(const std::vector<std::string>& argv) {
    Reply r = cmd(argv);
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -100;
  }
  std::set<std::string> members(const std::string& key) {
    std::set<std::string> out;
    Reply r = cmd({"SMEMBERS", key});
    if (r && r->type == REDIS_REPLY_ARRAY)
      for (size_t i = 0; i < r->elements; ++i) out.insert(weir::redis::reply_text(r->element[i]));
    return out;
  }

 private:
  static weir::redis::ConnectionOptions options(const std::string& endpoint) {
    weir::redis::ConnectionOptions o;
    o.endpoint = weir::redis::parse_endpoint(endpoint);
    o.connect_timeout_ms = 1000;
    o.command_timeout_ms = 5000;
    return o;
  }
  weir::redis::Connection conn_;
  std::string why_;
};

std::set<std::string> seqs(int64_t from, int64_t to, int64_t step = 1) {
  std::set<std::string> out;
  for (int64_t i = from; i < to; i += step) out.insert(std::to_string(i));
  return out;
}

// Runs weir on a pipeline in the background; wait() gives its result.
std::future<RunResult> run_async(const std::string& args, const std::string& env_prefix = "") {
  return std::async(std::launch::async, [=] { return run_weir(args, env_prefix + " timeout 180"); });
}

bool eventually(std::chrono::milliseconds limit, const std::function<bool()>& ok) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return ok();
}

std::string sink_toml(const std::string& gen, const std::string& sink_extra, const std::string& key) {
  return "[nodes.gen]\nplugin = \"generator\"\npayload_bytes = 0\n" + gen +
         "\n[nodes.r]\nplugin = \"redis_sink\"\ninputs = [\"gen\"]\n"
         "commands = [\"SADD {prefix}:{key} {seq}\", \"EXPIRE {prefix}:{key} 600\"]\n" +
         sink_extra + "\n[nodes.r.vars]\nprefix = \"" + key + "\"\n";
}

// ------------------------------------------------------------------ basic

TEST(RedisSinkRedis, GeneratorRecordsLandInTheirSetsWithTheTtl) {
  REQUIRE_REDIS();
  TempDir dir;
  std::string key = prefix("basic");
  std::string file =
      dir.write("p.toml", sink_toml("count = 1000\nkeys = 4\n", "endpoint = \"" + shared_endpoint() + "\"", key));
  auto r = run_weir("run " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("gen=1000 r=1000 errors=0"), std::string::npos) << r.err;
  Client c(shared_endpoint());
  for (int k = 0; k < 4; ++k) {
    std::string set = key + ":k" + std::to_string(k);
    EXPECT_EQ(c.members(set), seqs(k, 1000, 4)) << set;
    long long ttl = c.integer({"TTL", set});
    EXPECT_GT(ttl, 0) << set;
    EXPECT_LE(ttl, 600) << set;
    c.cmd({"DEL", set});
  }
}

TEST(RedisSinkRedis, ErrorRepliesGoToTheErrorPortWithTheReplyText) {
  REQUIRE_REDIS();
  TempDir dir;
  std::string key = prefix("wrongtype");
  Client c(shared_endpoint());
  ASSERT_TRUE(c.cmd({"SET", key + ":k1", "a string, not a set"})) << c.why();
  std::string file =
      dir.write("p.toml", sink_toml("count = 20\nkeys = 4\n", "endpoint = \"" + shared_endpoint() + "\"", key) +
                              "[nodes.dead]\nplugin = \"file_sink\"\ninputs = [\"r.error\"]\npath = \"" +
                              dir.file("dead") + "\"\n");
  auto r = run_weir("run " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("errors=5"), std::string::npos) << r.err;
  std::string dead = read_file(dir.file("dead"));
  EXPECT_EQ(count_lines(dead), 5u) << dead;
  EXPECT_NE(
      dead.find("{\"_key\":\"k1\",\"seq\":1,\"key\":\"k1\",\"error_reason\":\"commands[0] SADD: WRONGTYPE Operation "
                "against a key holding the wrong kind of value\",\"error_node\":\"r\"}"),
      std::string::npos)
      << dead;
  EXPECT_EQ(c.members(key + ":k0"), seqs(0, 20, 4)) << "the rest of each batch was written";
  for (int k = 0; k < 4; ++k) c.cmd({"DEL", key + ":k" + std::to_string(k)});
}

// ------------------------------------------------------------------ restart

// A private redis-server for the restart test: the shared one must not be
// killed under other tests, and this one persists every write (see below).
class OwnRedis {
 public:
  explicit OwnRedis(const std::string& dir) : dir_(dir) {
    // A free port: bind 0, read it, release it (redis-server sets SO_REUSEADDR).
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::close(fd);
  }
  ~OwnRedis() { kill9(); }
  bool start() {
    std::string cmd = "setsid redis-server --bind 127.0.0.1 --port " + std::to_string(port_) + " --dir " + dir_ +
                      " --appendonly yes --appendfsync always --save '' --daemonize no --logfile " + dir_ +
                      "/redis.log </dev/null >/dev/null 2>&1 & echo $! >" + dir_ + "/pid";
    if (std::system(cmd.c_str()) != 0) return false;
    pid_ = std::stoi(read_file(dir_ + "/pid"));
    Client c(endpoint());
    return eventually(10s, [&] {
      Reply r = c.cmd({"PING"});
      return r && weir::redis::reply_text(r.get()) == "PONG";
    });
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    eventually(5s, [&] {
      return ::kill(pid_, 0) != 0 ||
             read_file("/proc/" + std::to_string(pid_) + "/stat").find(") Z") != std::string::npos;
    });
    pid_ = 0;
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return read_file(dir_ + "/redis.log"); }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// What proves "no loss" here: the server runs with appendonly + appendfsync
// always, so every write it has answered is on disk before the answer leaves
// (Redis fsyncs the AOF before sending replies), and it is SIGKILLed — a crash,
// not a clean shutdown — then started again on the same port and directory.
// So the final set holds exactly what the sink got acknowledged before the
// crash plus what it wrote after. Every seq 0..N-1 being there (and errors=0)
// means no batch was acknowledged without Redis's reply and every batch cut by
// the crash was retried until the restarted server had it. Without persistence
// the restarted server would start empty and the check could only cover what
// came after the restart, which proves much less.
TEST(RedisSinkRedis, ARedisCrashAndRestartMidStreamLosesNothing) {
  REQUIRE_REDIS();
  TempDir dir;
  OwnRedis redis(dir.path().string());
  ASSERT_TRUE(redis.start()) << redis.log();
  std::string key = prefix("restart");
  const int n = 3000;
  std::string file = dir.write(
      "p.toml",
      sink_toml("count = " + std::to_string(n) + "\nrate = 1000\nkeys = 1\n",
                "endpoint = \"" + redis.endpoint() + "\"\nconnect_timeout_ms = 500\ncommand_timeout_ms = 1000", key));
  auto weir = run_async("run " + file);
  Client c(redis.endpoint());
  std::string set = key + ":k0";
  ASSERT_TRUE(eventually(10s, [&] { return c.integer({"SCARD", set}) >= 500; })) << "nothing arrives";
  long long before = c.integer({"SCARD", set});
  redis.kill9();
  std::this_thread::sleep_for(1500ms);  // ~1500 records pile up meanwhile
  ASSERT_TRUE(redis.start()) << redis.log();
  RunResult r = weir.get();
  std::cerr << "weir's log:\n" << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(before, n) << "the crash must come mid-stream, else this proves nothing";
  EXPECT_NE(r.err.find("gen=" + std::to_string(n) + " r=" + std::to_string(n) + " errors=0"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << "the sink must have seen the outage:\n" << r.err;
  EXPECT_NE(r.err.find("connected to " + redis.endpoint()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sent again after"), std::string::npos) << r.err;
  Client after(redis.endpoint());
  EXPECT_EQ(after.members(set), seqs(0, n)) << r.err;
}

// Redis goes away between two batches larger than the socket buffer: hiredis
// sends the next one with plain send(), the first part draws a reset and the
// second fails with EPIPE, raising SIGPIPE, which killed weir (exit 141) until
// the host ignored it. Now it is a write error: retried until Redis is back.
TEST(RedisSinkRedis, ARedisRestartBeforeALargeWriteIsRetriedNotADeathBySignal) {
  REQUIRE_REDIS();
  TempDir dir;
  OwnRedis redis(dir.path().string());
  ASSERT_TRUE(redis.start()) << redis.log();
  std::string key = prefix("bigwrite");
  const int n = 5;
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\ncount = " + std::to_string(n) +
                                             "\nrate = 1\npayload_bytes = 4194304\n"
                                             "[nodes.r]\nplugin = \"redis_sink\"\ninputs = [\"gen\"]\nendpoint = \"" +
                                             redis.endpoint() +
                                             "\"\nconnect_timeout_ms = 500\n"
                                             "commands = [\"SET " + key + ":{seq} {_payload}\"]\n");
  auto weir = run_async("run " + file);
  Client c(redis.endpoint());
  ASSERT_TRUE(eventually(10s, [&] { return c.integer({"EXISTS", key + ":0"}) == 1; })) << "nothing arrives";
  redis.kill9();  // between two records, a second apart
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(redis.start()) << redis.log();
  RunResult r = weir.get();
  ASSERT_EQ(r.exit_code, 0) << "141 = killed by SIGPIPE\n" << r.err;
  EXPECT_NE(r.err.find("gen=" + std::to_string(n) + " r=" + std::to_string(n) + " errors=0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << "the sink must have seen the outage:\n" << r.err;
  Client after(redis.endpoint());
  for (int i = 0; i < n; ++i) EXPECT_EQ(after.integer({"STRLEN", key + ":" + std::to_string(i)}), 4194304) << i;
}

// ------------------------------------------------------------------ sentinel

struct SentinelView {
  std::string master;       // host:port the sentinel names
  bool replica_ok = false;  // one replica flagged exactly "slave" with its link up
};

SentinelView sentinel_view(const std::string& sentinel, const std::string& name) {
  SentinelView v;
  Client s(sentinel);
  Reply m = s.cmd({"SENTINEL", "get-master-addr-by-name", name});
  if (m && m->type == REDIS_REPLY_ARRAY && m->elements == 2)
    v.master = weir::redis::reply_text(m->element[0]) + ":" + weir::redis::reply_text(m->element[1]);
  Reply reps = s.cmd({"SENTINEL", "replicas", name});
  for (size_t i = 0; reps && reps->type == REDIS_REPLY_ARRAY && i < reps->elements; ++i) {
    std::map<std::string, std::string> f;
    const redisReply* e = reps->element[i];
    for (size_t j = 0; j + 1 < e->elements; j += 2)
      f[weir::redis::reply_text(e->element[j])] = weir::redis::reply_text(e->element[j + 1]);
    v.replica_ok |= f["flags"] == "slave" && f["master-link-status"] == "ok";
  }
  return v;
}

// wait_replicas = 1: a batch is acknowledged only once the replica has it
// (WAIT), so the replica the failover promotes holds every acknowledged record;
// the rest is retried against the new master (found through the sentinel after
// a READONLY or a dropped connection). Without WAIT, Redis's asynchronous
// replication could lose the last acknowledged writes in a failover.
TEST(RedisSinkRedis, ASentinelFailoverMidStreamLosesNothing) {
  REQUIRE_SENTINEL();
  std::string sentinel = env("REDIS_SENTINELS"), name = env("REDIS_MASTER_NAME");
  sentinel = sentinel.substr(0, sentinel.find_first_of(", "));
  // A previous failover may still be settling: wait for a master and a healthy replica.
  SentinelView v;
  ASSERT_TRUE(eventually(60s, [&] { return (v = sentinel_view(sentinel, name)).replica_ok && !v.master.empty(); }))
      << "the sentinel set is not ready (master '" << v.master << "')";
  const std::string first_master = v.master;

  TempDir dir;
  std::string key = prefix("failover");
  const int n = 4000;
  std::string file = dir.write(
      "p.toml",
      sink_toml("count = " + std::to_string(n) + "\nrate = 1000\nkeys = 1\n",
                "sentinels = [\"" + sentinel + "\"]\nmaster_name = \"" + name +
                    "\"\nwait_replicas = 1\nwait_timeout_ms = 500\ncommand_timeout_ms = 2000\nconnect_timeout_ms = 500",
                key));
  auto weir = run_async("run " + file);
  std::string set = key + ":k0";
  Client m(first_master);
  ASSERT_TRUE(eventually(10s, [&] { return m.integer({"SCARD", set}) >= 1000; })) << "nothing arrives";
  long long before = m.integer({"SCARD", set});
  Client s(sentinel);
  Reply f = s.cmd({"SENTINEL", "failover", name});
  ASSERT_TRUE(f) << s.why();
  ASSERT_EQ(weir::redis::reply_text(f.get()), "OK");
  RunResult r = weir.get();
  std::cerr << "weir's log:\n" << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(before, n) << "the failover must come mid-stream, else this proves nothing";
  EXPECT_NE(r.err.find("gen=" + std::to_string(n) + " r=" + std::to_string(n) + " errors=0"), std::string::npos)
      << r.err;

  ASSERT_TRUE(
      eventually(30s, [&] { return (v = sentinel_view(sentinel, name)).master != first_master && !v.master.empty(); }))
      << "no failover happened: the master is still " << first_master;
  EXPECT_NE(r.err.find("connected to master '" + name + "' at " + v.master), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sent again after"), std::string::npos) << r.err;
  Client now(v.master);
  EXPECT_EQ(now.members(set), seqs(0, n)) << r.err;
  now.cmd({"DEL", set});
}

// ------------------------------------------------------------------ the query tool

RunResult overspeed(const std::string& args) {
  TempDir tmp;
  std::string cmd = std::string(WEIR_OVERSPEED) + " " + args + " >" + tmp.file("out") + " 2>" + tmp.file("err");
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(tmp.file("out")), read_file(tmp.file("err"))};
}

TEST(OverspeedToolRedis, ListsTheDaysMembersSortedWithTheTtl) {
  REQUIRE_REDIS();
  std::string p = prefix("tool");
  std::string key = p + ":20160103";
  Client c(shared_endpoint());
  c.cmd({"DEL", key});
  ASSERT_TRUE(c.cmd({"SADD", key, "Z0001-20160103061000", "A0002-20160103061002", "B0003-20160103235959"})) << c.why();
  std::string args = "20160103 --endpoint " + shared_endpoint() + " --key-template '" + p + ":{date}'";
  auto r = overspeed(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "CAR    TIME                 MEMBER\n"
            "A0002  2016-01-03 06:10:02  A0002-20160103061002\n"
            "B0003  2016-01-03 23:59:59  B0003-20160103235959\n"
            "Z0001  2016-01-03 06:10:00  Z0001-20160103061000\n"
            "3 flagged records (3 cars) in " +
                key + ", no expiry\n");

  ASSERT_EQ(c.integer({"EXPIRE", key, "604800"}), 1);
  r = overspeed(args + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The TTL may tick down by a second between EXPIRE and the read.
  for (long long ttl : {604800, 604799}) {
    std::string t = std::to_string(ttl);
    std::string want =
        "{\"member\":\"A0002-20160103061002\",\"car_number\":\"A0002\",\"time\":\"2016-01-03 06:10:02\",\"key\":\"" +
        key + "\",\"ttl_s\":" + t + "}\n" +
        "{\"member\":\"B0003-20160103235959\",\"car_number\":\"B0003\",\"time\":\"2016-01-03 23:59:59\",\"key\":\"" +
        key + "\",\"ttl_s\":" + t + "}\n" +
        "{\"member\":\"Z0001-20160103061000\",\"car_number\":\"Z0001\",\"time\":\"2016-01-03 06:10:00\",\"key\":\"" +
        key + "\",\"ttl_s\":" + t + "}\n";
    if (r.out == want) break;
    if (ttl == 604799) {
      EXPECT_EQ(r.out, want);
    }
  }

  // Details stored by a second template (HSET {date:0:8}:{car_number}-{date} speed {speed} ..).
  c.cmd({"HSET", key + ":Z0001-20160103061000", "speed", "131", "area_number", "F06"});
  c.cmd({"PERSIST", key});
  r = overspeed(args + " --details '" + p + ":{date}:{member}'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "CAR    TIME                 MEMBER                area_number  speed\n"
            "A0002  2016-01-03 06:10:02  A0002-20160103061002  -            -\n"
            "B0003  2016-01-03 23:59:59  B0003-20160103235959  -            -\n"
            "Z0001  2016-01-03 06:10:00  Z0001-20160103061000  F06          131\n"
            "3 flagged records (3 cars) in " +
                key + ", no expiry\n");

  r = overspeed("20160104 --endpoint " + shared_endpoint() + " --key-template '" + p + ":{date}'");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "no cars flagged: key " + p + ":20160104 is missing\n");
  c.cmd({"DEL", key, key + ":Z0001-20160103061000"});
}

TEST(OverspeedToolRedis, FindsTheMasterThroughTheSentinels) {
  REQUIRE_SENTINEL();
  std::string sentinel = env("REDIS_SENTINELS"), name = env("REDIS_MASTER_NAME");
  sentinel = sentinel.substr(0, sentinel.find_first_of(", "));
  std::string p = prefix("toolsentinel");
  const std::string want =
      "CAR    TIME                 MEMBER\n"
      "Z0001  2016-01-03 06:10:00  Z0001-20160103061000\n"
      "1 flagged record (1 car) in " +
      p + ":20160103, no expiry\n";
  // The failover test may switch the master under us: write and read again until both agree.
  RunResult r;
  std::string master;
  bool ok = eventually(60s, [&] {
    master = sentinel_view(sentinel, name).master;
    if (master.empty()) return false;
    Client m(master);
    Reply added = m.cmd({"SADD", p + ":20160103", "Z0001-20160103061000"});
    if (!added || added->type != REDIS_REPLY_INTEGER) return false;
    r = overspeed("20160103 --sentinels " + sentinel + " --master-name " + name + " --key-template '" + p + ":{date}'");
    return r.exit_code == 0 && r.out == want;
  });
  EXPECT_TRUE(ok) << "exit " << r.exit_code << "\n" << r.out << r.err;
  EXPECT_EQ(r.out, want);
  Client(master).cmd({"DEL", p + ":20160103"});
}

// The shipped example, end to end: loggen -> csv_decode -> redis_sink, then the
// tool. In its own database so that the fixed day key cannot meet other tests'.
TEST(RedisSinkRedis, TheExampleRunsAndTheToolListsItsCars) {
  REQUIRE_REDIS();
  TempDir dir;
  const std::string db = "7";
  Client c(shared_endpoint());
  c.cmd({"SELECT", db});
  c.cmd({"DEL", "20220426"});
  auto r =
      run_weir("run " + std::string(WEIR_SOURCE_DIR) + "/plugins/redis_sink/example.toml --set redis.database=" + db +
                   " --set rejects.path=\"" + dir.file("rejects") + "\"",
               "REDIS_PORT=" + env("REDIS_PORT"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("errors=0"), std::string::npos) << r.err;
  auto t = overspeed("20220426 --endpoint " + shared_endpoint() + " --database " + db + " --json");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(count_lines(t.out), 15u) << "5 cars x 3 simulated seconds:\n" << t.out;
  EXPECT_NE(t.out.find("\"time\":\"2022-04-26 06:10:00\""), std::string::npos) << t.out;
  long long ttl = c.integer({"TTL", "20220426"});
  EXPECT_GT(ttl, 604000);
  c.cmd({"DEL", "20220426"});
}

}  // namespace
}  // namespace weir::testing
