// Parameter tests: what create() refuses (with which message), the shipped
// example.toml through `weir validate`, and a template error with its position.
#include <gtest/gtest.h>

#include <fake_host.hpp>
#include <weir_test.hpp>

extern "C" const weir_plugin* weir_plugin_entry();

namespace weir::testing {
namespace {

using Strings = std::vector<std::string>;

std::string create_error(const std::function<void(FakeHost&)>& set) {
  FakeHost h(weir_plugin_entry());
  set(h);
  return h.create();
}

TEST(RedisSinkParams, DefaultsAreValid) {
  EXPECT_EQ(create_error([](FakeHost& h) { h.param("commands", Strings{"SADD {date:0:8} {car_number}-{date}"}); }), "");
}

TEST(RedisSinkParams, EveryTemplateErrorAtOnce) {
  EXPECT_EQ(create_error([](FakeHost& h) {
              h.param("commands", Strings{"SADD {dat", "EXPIRE k 1", "SET {_kye} v"});
            }),
            "commands[0]: '{' is never closed (write '{{' for a literal brace) at column 6; "
            "commands[2]: unknown name '_kye'; did you mean '_key'? at column 6");
  EXPECT_EQ(create_error([](FakeHost& h) { h.param("commands", Strings{}); }),
            "commands is empty: give at least one command template, e.g. \"SADD {key} {value}\"");
}

TEST(RedisSinkParams, ConnectionSettings) {
  auto with = [](std::function<void(FakeHost&)> more) {
    return create_error([&](FakeHost& h) {
      h.param("commands", Strings{"SET k v"});
      more(h);
    });
  };
  EXPECT_EQ(with([](FakeHost& h) { h.param("endpoint", std::string("localhost:0")); }),
            "endpoint 'localhost:0': port '0' is not a number from 1 to 65535");
  EXPECT_EQ(with([](FakeHost& h) { h.param("endpoint", std::string("::1:6379")); }),
            "endpoint '::1:6379': write an IPv6 address as [addr]:port");
  EXPECT_EQ(with([](FakeHost& h) { h.param("endpoint", std::string("[::1]:6380")); }), "");
  EXPECT_EQ(with([](FakeHost& h) { h.param("endpoint", std::string("unix:/run/redis/redis.sock")); }), "");
  EXPECT_EQ(with([](FakeHost& h) { h.param("sentinels", Strings{"127.0.0.1:26379"}); }),
            "sentinels are given but master_name is empty: name the master the sentinels monitor");
  EXPECT_EQ(with([](FakeHost& h) { h.param("master_name", std::string("weirmaster")); }),
            "master_name is set but sentinels is empty: give the sentinels' addresses");
  EXPECT_EQ(with([](FakeHost& h) { h.param("sentinels", Strings{"a:b"}).param("master_name", std::string("m")); }),
            "endpoint 'a:b': port 'b' is not a number from 1 to 65535");
  EXPECT_EQ(with([](FakeHost& h) { h.param("username", std::string("weir")); }),
            "username needs a password (AUTH username password)");
  EXPECT_EQ(with([](FakeHost& h) { h.param("database", int64_t{-1}); }), "database must be >= 0");
  EXPECT_EQ(with([](FakeHost& h) { h.param("wait_replicas", int64_t{1}).param("wait_timeout_ms", int64_t{5000}); }),
            "command_timeout_ms (5000) must be longer than wait_timeout_ms (5000), or WAIT always times out");
  EXPECT_EQ(with([](FakeHost& h) { h.param("pipeline_max", int64_t{0}); }), "pipeline_max must be > 0");
  EXPECT_EQ(with([](FakeHost& h) { h.param("ttl_s", int64_t{0}); }), "ttl_s must be > 0");
}

TEST(RedisSinkParams, Vars) {
  EXPECT_EQ(create_error([](FakeHost& h) {
              h.param("commands", Strings{"SET {prefix}:{id} {ttl_s}"})
                  .param("vars", std::vector<std::pair<std::string, std::string>>{{"prefix", "weir"}});
            }),
            "");
  EXPECT_EQ(create_error([](FakeHost& h) {
              h.param("commands", Strings{"SET k v"})
                  .param("vars", std::vector<std::pair<std::string, std::string>>{{"_x", "1"}});
            }),
            "vars._x: names starting with '_' are reserved for record metadata ({_key}, ..)");
  EXPECT_EQ(create_error([](FakeHost& h) {
              h.param("commands", Strings{"SET k v"})
                  .param("vars", std::vector<std::pair<std::string, std::string>>{{"ttl_s", "1"}});
            }),
            "vars.ttl_s: set the ttl_s parameter instead");
}

TEST(RedisSinkParams, ExampleTomlValidates) {
  auto r = run_weir("validate " + std::string(WEIR_SOURCE_DIR) + "/plugins/redis_sink/example.toml");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": ok (4 nodes, 3 edges)"), std::string::npos) << r.out;
}

// The old spellings (before the SDK's template language) still validate, and the
// host warns at the placeholder's file:line:col with the new spelling.
TEST(RedisSinkParams, OldTemplateSpellingsWarnWithTheirPosition) {
  TempDir dir;
  std::string file = dir.write("old.toml",
                               "[nodes.gen]\nplugin = \"generator\"\n\n"
                               "[nodes.r]\nplugin = \"redis_sink\"\ninputs = [\"gen\"]\n"
                               "commands = [\"SADD {key:0:2} {seq}\",\n"
                               "  \"ZADD z {_time_ms} {key[0:2]}\"]\n");
  auto r = run_weir("validate " + file);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("WARN [r] " + file + ":7:19: redis_sink \"r\": commands[0]: '{key:0:2}' is an old spelling (it works "
                       "for one more release); write '{key[0:2]}'"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file + ":8:11: redis_sink \"r\": commands[1]: '{_time_ms}' is an old spelling (it works for one "
                       "more release); write '{_time|epoch_ms}'"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("{key[0:2]}' is an old"), std::string::npos) << "the new spelling is not warned about";
  // The new spelling: no warning at all.
  file = dir.write("new.toml",
                   "[nodes.gen]\nplugin = \"generator\"\n\n"
                   "[nodes.r]\nplugin = \"redis_sink\"\ninputs = [\"gen\"]\n"
                   "commands = [\"SADD {key[0:2]} {seq}\", \"ZADD z {_time|epoch_ms} {key}\"]\n");
  r = run_weir("validate " + file);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("old spelling"), std::string::npos) << r.err;
}

TEST(RedisSinkParams, ATemplateErrorIsReportedAtTheNode) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\n\n"
                               "[nodes.r]\nplugin = \"redis_sink\"\ninputs = [\"gen\"]\n"
                               "commands = [\"SADD {key} {seq}\", \"EXPIRE {key} {_ttl}\"]\nhots = 1\n");
  auto r = run_weir("validate " + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(file + ":8:8: redis_sink \"r\": unknown parameter 'hots'"), std::string::npos) << r.err;
  // Create errors come once the parameters are well-typed:
  file = dir.write("q.toml",
                   "[nodes.gen]\nplugin = \"generator\"\n\n"
                   "[nodes.r]\nplugin = \"redis_sink\"\ninputs = [\"gen\"]\n"
                   "commands = [\"SADD {key} {seq}\", \"EXPIRE {key} {_ttl}\"]\n");
  r = run_weir("validate " + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(file + ":4:1: redis_sink \"r\": commands[1]: unknown name '_ttl'"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace weir::testing
