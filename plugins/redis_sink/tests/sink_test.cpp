// redis_sink's logic against the fake host and a scripted fake Redis: the exact
// commands sent, pipelining, acks, the error port, and every retry path
// (refused, reset mid-batch, timeout, READONLY via Sentinel, LOADING, WAIT).
#include <gtest/gtest.h>

#include <atomic>
#include <fake_host.hpp>
#include <thread>
#include <weir_test.hpp>

#include "fake_redis.hpp"

extern "C" const weir_plugin* weir_plugin_entry();

namespace weir::testing {
namespace {

using Command = FakeRedis::Command;
using Commands = std::vector<Command>;

const std::vector<std::string> kSmartCar = {"SADD {date:0:8} {car_number}-{date}", "EXPIRE {date:0:8} {ttl_s}"};

struct Sink {
  FakeHost host{weir_plugin_entry()};
  Sink(const std::vector<std::string>& commands, const std::string& endpoint, int64_t timeout_ms = 2000) {
    host.param("commands", commands).param("endpoint", endpoint).param("command_timeout_ms", timeout_ms);
  }
  void create() { ASSERT_EQ(host.create(), ""); }
  int open() { return host.vt().open(host.instance()); }
  int write(const weir_batch* b) {
    int st = host.write(b);
    reason = host.last_reason;
    return st;
  }
  std::string reason;  // of the last WEIR_RETRY
  bool logged(const std::string& text) const {
    for (const auto& l : host.logs)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
  std::string logs() const {
    std::string out;
    for (const auto& l : host.logs) out += l + "\n";
    return out;
  }
};

FakeHost::Fields car(const char* date, const char* number) {
  return {{"date", FakeHost::str(date)}, {"car_number", FakeHost::str(number)}, {"speed", int_value(99)}};
}

// A port nobody listens on (bound, then released).
int dead_port() {
  FakeRedis f;
  int p = f.port();
  f.stop();
  return p;
}

TEST(RedisSink, SendsEveryCommandOfABatchInOneRoundTrip) {
  FakeRedis redis;
  redis.gate(6);  // replies only once all 6 commands are in: a client waiting per command would time out
  Sink s(kSmartCar, redis.endpoint(), 1000);
  s.create();
  ASSERT_EQ(s.open(), WEIR_OK);
  auto* b = s.host.make_batch(
      {car("20160103061000", "Z0001"), car("20160103061002", "A0002"), car("20160104000000", "B0003")});
  ASSERT_EQ(s.write(b), WEIR_OK) << s.logs();
  EXPECT_EQ(redis.data_commands(), (Commands{{"SADD", "20160103", "Z0001-20160103061000"},
                                             {"EXPIRE", "20160103", "604800"},
                                             {"SADD", "20160103", "A0002-20160103061002"},
                                             {"EXPIRE", "20160103", "604800"},
                                             {"SADD", "20160104", "B0003-20160104000000"},
                                             {"EXPIRE", "20160104", "604800"}}));
  EXPECT_TRUE(s.host.rejected.empty());
  EXPECT_EQ(redis.connections(), 1);
  EXPECT_TRUE(s.logged("INFO connected to " + redis.endpoint())) << s.logs();
}

TEST(RedisSink, ChunksOfPipelineMaxCommands) {
  FakeRedis redis;
  redis.gate(2);
  Sink s(kSmartCar, redis.endpoint(), 1000);
  s.host.param("pipeline_max", int64_t{2});
  s.create();
  auto* b = s.host.make_batch(
      {car("20160103061000", "Z0001"), car("20160103061002", "A0002"), car("20160104000000", "B0003")});
  ASSERT_EQ(s.write(b), WEIR_OK) << s.logs();
  EXPECT_EQ(redis.data_commands().size(), 6u);
}

TEST(RedisSink, ARecordMissingAFieldGoesToTheErrorPortAndTheRestIsWritten) {
  FakeRedis redis;
  Sink s(kSmartCar, redis.endpoint());
  s.create();
  auto* b = s.host.make_batch({car("20160103061000", "Z0001"),
                               {{"date", FakeHost::str("20160103061001")}, {"speed", int_value(120)}},
                               car("20160103061002", "A0002")});
  ASSERT_EQ(s.write(b), WEIR_OK) << s.logs();
  ASSERT_EQ(s.host.rejected.size(), 1u);
  EXPECT_EQ(s.host.rejected[0],
            "commands[0] SADD: field 'car_number' is missing ({car_number}) | "
            "{\"date\":\"20160103061001\",\"speed\":120}");
  EXPECT_EQ(redis.data_commands(), (Commands{{"SADD", "20160103", "Z0001-20160103061000"},
                                             {"EXPIRE", "20160103", "604800"},
                                             {"SADD", "20160103", "A0002-20160103061002"},
                                             {"EXPIRE", "20160103", "604800"}}));
}

TEST(RedisSink, ABatchOfRejectsNeedsNoServer) {
  Sink s(kSmartCar, "127.0.0.1:" + std::to_string(dead_port()));
  s.create();
  ASSERT_EQ(s.open(), WEIR_OK) << "a server that is down at start is waited for, not fatal";
  EXPECT_TRUE(s.logged("WARN cannot connect to 127.0.0.1:")) << s.logs();
  auto* b = s.host.make_batch({{{"date", FakeHost::str("20160103061000")}}, {{"date", FakeHost::str("2016")}}});
  ASSERT_EQ(s.write(b), WEIR_OK);
  ASSERT_EQ(s.host.rejected.size(), 2u);
  EXPECT_EQ(s.host.rejected[1],
            "commands[0] SADD: field 'date' is \"2016\" (4 bytes); {date:0:8} needs 8 | {\"date\":\"2016\"}");
}

TEST(RedisSink, AnErrorReplyRejectsOnlyThatRecordWithTheReplyText) {
  FakeRedis redis([](const Command& c) {
    if (c[0] == "SADD" && c[1] == "20160104")
      return FakeRedis::error("WRONGTYPE Operation against a key holding the wrong kind of value");
    return FakeRedis::default_reply(c);
  });
  Sink s(kSmartCar, redis.endpoint());
  s.create();
  auto* b = s.host.make_batch(
      {car("20160103061000", "Z0001"), car("20160104000000", "B0003"), car("20160103061002", "A0002")});
  ASSERT_EQ(s.write(b), WEIR_OK) << "the rest of the batch is acknowledged";
  ASSERT_EQ(s.host.rejected.size(), 1u);
  EXPECT_EQ(s.host.rejected[0],
            "commands[0] SADD: WRONGTYPE Operation against a key holding the wrong kind of value | record 1");
  EXPECT_EQ(redis.data_commands().size(), 6u) << "every command was still sent (pipelined)";
}

TEST(RedisSink, ConnectionRefusedRetriesUntilTheServerIsBack) {
  int port = dead_port();
  Sink s(kSmartCar, "127.0.0.1:" + std::to_string(port));
  s.create();
  auto* b = s.host.make_batch({car("20160103061000", "Z0001")});
  EXPECT_EQ(s.write(b), WEIR_RETRY);
  EXPECT_EQ(s.reason, "cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
  EXPECT_EQ(s.write(b), WEIR_RETRY) << "tried again at once: the wait between attempts is the host's";
  EXPECT_TRUE(s.host.rejected.empty());
  FakeRedis redis(FakeRedis::default_reply, port);
  ASSERT_EQ(s.write(b), WEIR_OK) << s.logs();
  EXPECT_EQ(redis.data_commands().size(), 2u);
  EXPECT_TRUE(s.logged("INFO connected to 127.0.0.1:" + std::to_string(port))) << s.logs();
  EXPECT_EQ(s.host.gauges["redis_connected{}"], 1.0);
}

TEST(RedisSink, AResetMidBatchRetriesTheWholeBatchWithoutRejecting) {
  std::atomic<int> seen{0};
  FakeRedis redis([&](const Command& c) {
    if (c[0] == "SADD" && c[1] == "20160104") return FakeRedis::error("WRONGTYPE wrong kind");
    if (c[0] == "EXPIRE" && ++seen == 3) return FakeRedis::kClose;  // the first pass dies at record 3
    return FakeRedis::default_reply(c);
  });
  Sink s(kSmartCar, redis.endpoint());
  s.create();
  auto* b = s.host.make_batch(
      {car("20160104000000", "B0003"), car("20160103061000", "Z0001"), car("20160103061002", "A0002")});
  EXPECT_EQ(s.write(b), WEIR_RETRY);
  EXPECT_TRUE(s.host.rejected.empty()) << "nothing reaches the error port from a batch that is retried";
  EXPECT_EQ(s.reason.find(redis.endpoint() + ": "), 0u) << s.reason;
  ASSERT_EQ(s.write(b), WEIR_OK) << s.logs();
  EXPECT_EQ(s.host.rejected.size(), 1u) << "the WRONGTYPE record, once";
  EXPECT_EQ(redis.connections(), 2);
}

TEST(RedisSink, ACommandTimeoutDropsTheConnectionAndRetries) {
  FakeRedis redis;
  redis.gate(1000);  // never answers
  Sink s(kSmartCar, redis.endpoint(), 200);
  s.create();
  auto* b = s.host.make_batch({car("20160103061000", "Z0001")});
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.write(b), WEIR_RETRY);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(s.reason, redis.endpoint() + ": no reply within command_timeout_ms (200 ms) (after 0 of 2 replies)");
}

TEST(RedisSink, ServerSideConditionsAreRetriedNotRejected) {
  for (std::string reply : {"LOADING Redis is loading the dataset in memory", "OOM command not allowed",
                            "BUSY Redis is busy running a script", "MASTERDOWN Link with MASTER is down"}) {
    std::atomic<bool> once{false};
    FakeRedis redis([&](const Command& c) {
      if (c[0] == "SADD" && !once.exchange(true)) return FakeRedis::error(reply);
      return FakeRedis::default_reply(c);
    });
    Sink s(kSmartCar, redis.endpoint());
    s.create();
    auto* b = s.host.make_batch({car("20160103061000", "Z0001")});
    EXPECT_EQ(s.write(b), WEIR_RETRY) << reply;
    EXPECT_EQ(s.reason, redis.endpoint() + " answered SADD with: " + reply);
    EXPECT_EQ(s.write(b), WEIR_OK) << reply;
    EXPECT_TRUE(s.host.rejected.empty()) << reply;
  }
}

TEST(RedisSink, AuthUserAndDatabaseOnEveryConnection) {
  FakeRedis redis;
  Sink s({"SET k v"}, redis.endpoint());
  s.host.param("username", std::string("weir")).param("password", std::string("s3cret")).param("database", int64_t{3});
  s.create();
  ASSERT_EQ(s.open(), WEIR_OK);
  auto cmds = redis.commands();
  ASSERT_GE(cmds.size(), 2u);
  EXPECT_EQ(cmds[0], (Command{"AUTH", "weir", "s3cret"}));
  EXPECT_EQ(cmds[1], (Command{"SELECT", "3"}));
  EXPECT_FALSE(s.logged("s3cret")) << "the password is never logged";
}

TEST(RedisSink, AWrongPasswordIsAnErrorForAPersonAndNothingIsDropped) {
  FakeRedis redis([](const Command& c) {
    if (c[0] == "AUTH") return FakeRedis::error("WRONGPASS invalid username-password pair or user is disabled.");
    return FakeRedis::default_reply(c);
  });
  Sink s(kSmartCar, redis.endpoint());
  s.host.param("password", std::string("nope"));
  s.create();
  auto* b = s.host.make_batch({car("20160103061000", "Z0001")});
  EXPECT_EQ(s.write(b), WEIR_RETRY);
  EXPECT_NE(s.reason.find(redis.endpoint() + ": AUTH failed: WRONGPASS"), std::string::npos) << s.reason;
  EXPECT_TRUE(s.host.rejected.empty());
}

TEST(RedisSink, TemplatesThatDoNotFitTheServerFailAtOpen) {
  FakeRedis redis([](const Command& c) {
    if (c[0] == "COMMAND")  // COMMAND INFO SAD EXPIRE: unknown, then EXPIRE's arity -3
      return FakeRedis::array(
          {FakeRedis::nil(), FakeRedis::array({FakeRedis::bulk("expire"), FakeRedis::integer(-3)})});
    return FakeRedis::default_reply(c);
  });
  Sink s({"SAD {date} x", "EXPIRE {date}"}, redis.endpoint());
  s.create();
  EXPECT_EQ(s.open(), WEIR_FAILED);
  EXPECT_TRUE(
      s.logged("ERROR commands[0] \"SAD {date} x\": Redis does not know the command 'SAD'; "
               "commands[1] \"EXPIRE {date}\": EXPIRE takes at least 2 arguments, the template gives 1"))
      << s.logs();
  auto* b = s.host.make_batch({car("20160103061000", "Z0001")});
  EXPECT_EQ(s.write(b), WEIR_FAILED);
  EXPECT_TRUE(redis.data_commands().empty());
}

// A sentinel whose answer the test moves from one fake server to another.
struct Sentinel {
  std::atomic<int> master_port{0};
  FakeRedis server{[this](const Command& c) {
    if (c.size() == 3 && c[0] == "SENTINEL" && c[1] == "get-master-addr-by-name" && c[2] == "weirmaster")
      return FakeRedis::array({FakeRedis::bulk("127.0.0.1"), FakeRedis::bulk(std::to_string(master_port.load()))});
    if (c[0] == "SENTINEL") return FakeRedis::nil();
    if (c[0] == "AUTH") return FakeRedis::ok();
    return FakeRedis::error("ERR unknown command");
  }};
};

TEST(RedisSink, ReadOnlyFromADemotedMasterReResolvesThroughTheSentinels) {
  std::atomic<bool> demoted{false};
  FakeRedis old_master([&](const Command& c) {
    if (c[0] == "ROLE" && demoted) return FakeRedis::array({FakeRedis::bulk("slave"), FakeRedis::bulk("127.0.0.1")});
    if (c[0] == "SADD" && demoted) return FakeRedis::error("READONLY You can't write against a read only replica.");
    return FakeRedis::default_reply(c);
  });
  FakeRedis new_master;
  Sentinel sentinel;
  sentinel.master_port = old_master.port();
  int dead = dead_port();
  Sink s(kSmartCar, "unused:1");
  // The first sentinel is down: the next one is asked.
  s.host.param("sentinels", std::vector<std::string>{"127.0.0.1:" + std::to_string(dead), sentinel.server.endpoint()})
      .param("master_name", std::string("weirmaster"));
  s.create();
  ASSERT_EQ(s.open(), WEIR_OK);
  auto* b = s.host.make_batch({car("20160103061000", "Z0001")});
  ASSERT_EQ(s.write(b), WEIR_OK) << s.logs();
  EXPECT_TRUE(s.logged("INFO connected to master 'weirmaster' at 127.0.0.1:" + std::to_string(old_master.port())))
      << s.logs();

  demoted = true;  // the old master became a replica; the sentinel has not noticed yet
  EXPECT_EQ(s.write(b), WEIR_RETRY);
  EXPECT_NE(s.reason.find("answered SADD with: READONLY You can't write against a read only replica."), std::string::npos)
      << s.reason;
  EXPECT_EQ(s.write(b), WEIR_RETRY) << "ROLE says slave: not written to";
  EXPECT_NE(s.reason.find("master 'weirmaster' at 127.0.0.1:" + std::to_string(old_master.port()) +
                          ": is a slave, not the master"),
            std::string::npos)
      << s.reason;

  sentinel.master_port = new_master.port();
  ASSERT_EQ(s.write(b), WEIR_OK) << s.logs();
  EXPECT_EQ(new_master.data_commands(),
            (Commands{{"SADD", "20160103", "Z0001-20160103061000"}, {"EXPIRE", "20160103", "604800"}}));
  EXPECT_TRUE(s.host.rejected.empty());
  EXPECT_TRUE(s.logged("INFO connected to master 'weirmaster' at 127.0.0.1:" + std::to_string(new_master.port())))
      << s.logs();
}

TEST(RedisSink, SentinelPasswordAndAnUnknownMaster) {
  FakeRedis master;
  Sentinel sentinel;
  sentinel.master_port = master.port();
  Sink s(kSmartCar, "unused:1");
  s.host.param("sentinels", std::vector<std::string>{sentinel.server.endpoint()})
      .param("master_name", std::string("weirmaster"))
      .param("sentinel_password", std::string("sentinel-secret"));
  s.create();
  ASSERT_EQ(s.open(), WEIR_OK);
  auto asked = sentinel.server.commands();
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0], (Command{"AUTH", "sentinel-secret"}));
  EXPECT_EQ(asked[1], (Command{"SENTINEL", "get-master-addr-by-name", "weirmaster"}));
  EXPECT_TRUE(master.commands().empty() || master.commands()[0][0] != "AUTH") << "the master gets no sentinel password";

  Sink other(kSmartCar, "unused:1");
  other.host.param("sentinels", std::vector<std::string>{sentinel.server.endpoint()})
      .param("master_name", std::string("othermaster"));
  other.create();
  ASSERT_EQ(other.open(), WEIR_OK);
  EXPECT_TRUE(other.logged("WARN no sentinel named the master 'othermaster' (sentinel " + sentinel.server.endpoint() +
                           ": does not know master 'othermaster')"))
      << other.logs();
}

TEST(RedisSink, WaitReplicasHoldsTheAckUntilTheReplicasHaveTheBatch) {
  std::atomic<int> replicas{0};
  FakeRedis redis([&](const Command& c) {
    if (c[0] == "WAIT") return FakeRedis::integer(replicas.load());
    return FakeRedis::default_reply(c);
  });
  Sink s(kSmartCar, redis.endpoint());
  s.host.param("wait_replicas", int64_t{1}).param("wait_timeout_ms", int64_t{250});
  s.create();
  auto* b = s.host.make_batch({car("20160103061000", "Z0001")});
  EXPECT_EQ(s.write(b), WEIR_RETRY);
  EXPECT_NE(s.reason.find("only 0 of 1 replicas acknowledged the commands within 250 ms"), std::string::npos) << s.reason;
  replicas = 1;
  EXPECT_EQ(s.write(b), WEIR_OK);
  auto cmds = redis.commands();
  EXPECT_EQ(cmds.back(), (Command{"WAIT", "1", "250"}));
  EXPECT_EQ(redis.connections(), 1) << "a short WAIT keeps the connection";
}

// ------------------------------------------------------------------ through the real binary

// Redis closes an idle connection (a restart, CLIENT KILL, timeout) and the next
// batch is larger than the socket buffer: hiredis writes it with plain send(),
// the first part draws a reset, the next part fails with EPIPE -- and raises
// SIGPIPE, which killed weir (exit 141) before the host ignored it. Now the
// failed write is an error like any other: retried on a new connection.
TEST(RedisSinkPipeline, ServerClosingAnIdleConnectionBeforeALargeWriteIsRetriedNotADeathBySignal) {
  std::atomic<bool> hung_up{false};
  FakeRedis redis([&](const Command& c) {
    if (c[0] == "SET" && !hung_up.exchange(true)) return FakeRedis::then_hang_up(FakeRedis::ok());
    return FakeRedis::default_reply(c);
  });
  TempDir dir;
  // Two records half a second apart, 8 MiB each: more than one send() each.
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\ncount = 2\nrate = 2\npayload_bytes = 8388608\n"
                               "[nodes.r]\nplugin = \"redis_sink\"\ninputs = [\"gen\"]\nendpoint = \"" +
                                   redis.endpoint() + "\"\ncommands = [\"SET t:{seq} {_payload}\"]\n");
  auto r = run_weir("run " + file, "timeout 60");
  ASSERT_EQ(r.exit_code, 0) << "141 = killed by SIGPIPE\n" << r.err;
  EXPECT_NE(r.err.find("gen=2 r=2 errors=0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << "the sink must have seen the closed connection:\n" << r.err;
  std::vector<std::string> keys;
  for (const auto& c : redis.data_commands()) keys.push_back(c.at(1) + " " + std::to_string(c.at(2).size()));
  EXPECT_EQ(keys, (std::vector<std::string>{"t:0 8388608", "t:1 8388608"}));
  EXPECT_EQ(redis.connections(), 2);
}

// Redis is down from the start: the sink's requests wait in the host's
// backoff, and control still answers (pause, resume); once a server listens,
// every record lands and the process ends by itself.
TEST(RedisSinkPipeline, AServerThatIsDownLeavesControlAnsweringAndLosesNothing) {
  int port = dead_port();
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\ncount = 50\npayload_bytes = 0\n"
                               "[nodes.r]\nplugin = \"redis_sink\"\ninputs = [\"gen\"]\nendpoint = \"127.0.0.1:" +
                                   std::to_string(port) +
                                   "\"\ncommands = [\"SET t:{seq} x\"]\nretry_initial_ms = 20\nretry_max_ms = 100\n");
  BackgroundWeir weir(dir, file);
  ASSERT_TRUE(weir.started()) << weir.err();
  for (int i = 0; i < 200 && weir.err().find("Connection refused; retrying in") == std::string::npos; ++i) usleep(25'000);
  ASSERT_NE(weir.err().find("Connection refused; retrying in"), std::string::npos) << weir.err();
  RunResult paused = weir.ctl("pause r");
  EXPECT_EQ(paused.exit_code, 0) << paused.out << paused.err;
  RunResult resumed = weir.ctl("resume r");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  FakeRedis redis(FakeRedis::default_reply, port);
  ASSERT_TRUE(weir.wait(60)) << weir.err();
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
  EXPECT_EQ(redis.data_commands().size(), 50u);
  EXPECT_NE(weir.err().find("sent again after"), std::string::npos) << weir.err();
}

}  // namespace
}  // namespace weir::testing
