// End-to-end checks through the real `weir` binary, against any broker: the
// mock cluster (kafka_pipeline_test, label unit) or a real Kafka
// (kafka_integration_test, label kafka).
//
//  * produce: loggen -> kafka_sink, N lines;
//  * consume_all_once: kafka_source -> file_sink reads exactly those N lines,
//    each once, every partition in offset order, each car in one partition in
//    time order, event time = the message timestamp (the produce time);
//  * crash_and_resume: kafka_source -> file_sink is SIGKILLed mid-stream and
//    restarted with the same group: nothing is missing, and the only
//    duplicates are records after the last commit (counted and printed);
//  * bounded_run_ends_the_last_batches: end_at_eof through cep_rule posts the
//    rule's last (open) batches too.
#pragma once

#include "mock_cluster.hpp"

#include <weir_test.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <set>

extern char** environ;

namespace weir::testing::e2e {

inline std::string unique_name(const std::string& base) {
  return base + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

// Creates a topic with the admin API and waits for its leaders (real brokers).
inline void create_topic(const std::string& bootstrap, const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_TRUE(rk) << err;
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  ASSERT_TRUE(ev) << "CreateTopics timed out";
  size_t n = 0;
  const rd_kafka_topic_result_t** res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
  ASSERT_EQ(n, 1u);
  rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[0]);
  EXPECT_TRUE(e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) << rd_kafka_err2str(e);
  rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  // Leaders elected for every partition.
  for (int i = 0; i < 100; ++i) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    bool ready = false;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].partition_cnt == partitions) {
      ready = std::all_of(md->topics[0].partitions, md->topics[0].partitions + partitions,
                          [](const rd_kafka_metadata_partition& p) { return p.leader >= 0; });
    }
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (ready) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
}

// The group's committed offsets of `topic` (partition -> next offset; -1001 = none).
inline std::map<int32_t, int64_t> committed(const std::string& bootstrap, const std::string& group, const std::string& topic,
                                            int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(l, topic.c_str(), p);
  std::map<int32_t, int64_t> out;
  if (rd_kafka_committed(c, l, 15000) == RD_KAFKA_RESP_ERR_NO_ERROR)
    for (int i = 0; i < l->cnt; ++i) out[l->elems[i].partition] = l->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_destroy(c);
  return out;
}

struct SinkLine {
  std::string key, payload, topic;
  int32_t partition = -1;
  int64_t offset = -1, time_ns = 0;
};

// file_sink's JSON lines (metadata = true; no _key for a message without one); a
// trailing line cut by a kill is ignored.
inline std::vector<SinkLine> read_sink(const std::string& path) {
  static const std::regex kLine(
      R"re(^\{(?:"_key":"([^"]*)",)?"_payload":"([^"]*)","topic":"([^"]*)","partition":(\d+),"offset":(\d+),"_time":(\d+),)re");
  std::vector<SinkLine> out;
  std::string text = read_file(path);
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = text.substr(start, nl - start);
    std::smatch m;
    if (!std::regex_search(line, m, kLine)) {
      ADD_FAILURE() << "unexpected line in " << path << ": " << line;
      continue;
    }
    out.push_back({m[1], m[2], m[3], std::stoi(m[4]), std::stoll(m[5]), std::stoll(m[6])});
  }
  return out;
}

inline int64_t line_time_ns(const std::string& line) {
  auto num = [&](size_t pos, size_t len) { return std::stoll(line.substr(pos, len)); };
  int64_t y = num(0, 4), m = num(4, 2), d = num(6, 2);
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return ((days * 24 + num(8, 2)) * 3600 + num(10, 2) * 60 + num(12, 2)) * 1'000'000'000;
}

inline std::string consumer_pipeline(const std::string& bootstrap, const std::string& topic, const std::string& group,
                                     const std::string& out, bool end_at_eof, const std::string& extra_sink = "",
                                     int batch_size = 1024, int commit_interval_ms = 1000) {
  return "[nodes.in]\nplugin = \"kafka_source\"\nendpoints = \"" + bootstrap + "\"\ntopics = [\"" + topic +
         "\"]\ngroup_id = \"" + group + "\"\nend_at_eof = " + (end_at_eof ? "true" : "false") +
         "\nbatch_size = " + std::to_string(batch_size) + "\ncommit_interval_ms = " + std::to_string(commit_interval_ms) +
         "\n[nodes.in.rdkafka]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\"\n"
         "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"in\"]\npath = \"" +
         out + "\"\nmetadata = true\n" + extra_sink;
}

inline int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// loggen -> kafka_sink through the real binary. Message timestamps are the
// produce time (kafka_sink's default): loggen's 2022 event times would make
// the broker's time retention delete the topic's data.
// SINK_PARAMS: more kafka_sink lines, e.g. "keyed = false\n".
inline void produce(const std::string& bootstrap, const std::string& topic, int cars, int seconds, TempDir& dir,
                    const std::string& sink_params = "") {
  std::string file = dir.write("produce.toml",
                               "[nodes.cars]\nplugin = \"loggen\"\ndate = \"20220426\"\nstart_time = \"000000\"\ncars = " + std::to_string(cars) +
                                   "\nseconds = " + std::to_string(seconds) +
                                   "\n[nodes.kafka]\nplugin = \"kafka_sink\"\ninputs = [\"cars\"]\nendpoints = \"" + bootstrap +
                                   "\"\ntopic = \"" + topic + "\"\n" + sink_params);
  RunResult r = run_weir("run " + file + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

inline std::vector<std::string> loggen_lines(int cars, int seconds) {
  TempDir tmp;
  std::string cmd = std::string(WEIR_BUILD_DIR) + "/weir-loggen 20220426 " + std::to_string(cars) + " --start-time 000000" + " --seconds " +
                    std::to_string(seconds) + " > " + tmp.file("lines");
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::vector<std::string> out;
  std::string text = read_file(tmp.file("lines")), line;
  for (char c : text) {
    if (c == '\n') out.push_back(std::exchange(line, {}));
    else line += c;
  }
  return out;
}

// Offsets 0..end-1 of every partition, each exactly once and in order.
inline void expect_each_once_in_order(const std::vector<SinkLine>& lines) {
  std::map<int32_t, int64_t> next;
  for (const SinkLine& l : lines) {
    int64_t& want = next[l.partition];
    ASSERT_EQ(l.offset, want) << "partition " << l.partition;
    want = l.offset + 1;
  }
}

inline void consume_all_once(const std::string& bootstrap, const std::string& topic, int cars, int seconds, TempDir& dir) {
  const int64_t started = wall_ns();
  std::string out = dir.file("consumed.json");
  std::string file = dir.write("consume.toml", consumer_pipeline(bootstrap, topic, unique_name("g-all"), out, true));
  RunResult r = run_weir("run " + file + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<SinkLine> lines = read_sink(out);
  const size_t n = static_cast<size_t>(cars) * seconds;
  ASSERT_EQ(lines.size(), n);
  expect_each_once_in_order(lines);
  // Exactly the generator's lines, keyed by car; event time = the message timestamp (the produce time).
  std::vector<std::string> got, want = loggen_lines(cars, seconds);
  std::map<std::string, int32_t> partition_of_car;
  std::map<std::string, int64_t> last_time;
  for (const SinkLine& l : lines) {
    got.push_back(l.payload);
    EXPECT_EQ(l.key, l.payload.substr(15, 5));
    EXPECT_LE(l.time_ns, started) << "produced before this consumer started";
    EXPECT_GT(l.time_ns, started - 600'000'000'000LL) << "a produce time, not the line's 2022 time";
    auto [it, fresh] = partition_of_car.emplace(l.key, l.partition);
    EXPECT_EQ(it->second, l.partition) << "car " << l.key << " in two partitions";
    int64_t t = line_time_ns(l.payload);
    EXPECT_GT(t, last_time.count(l.key) ? last_time[l.key] : -1) << "car " << l.key << " out of order";
    last_time[l.key] = t;
  }
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_TRUE(got == want) << "the consumed lines differ from weir-loggen's";
}

inline pid_t spawn_weir(const std::string& pipeline, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<std::string> args = {WEIR_BINARY, "run", pipeline, "--no-progress"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, WEIR_BINARY, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// Returns the process's exit code, or -1 on timeout (the process is then killed).
inline int wait_for(pid_t pid, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

inline void crash_and_resume(const std::string& bootstrap, const std::string& topic, int partitions, int cars, int seconds,
                             TempDir& dir) {
  const size_t n = static_cast<size_t>(cars) * seconds;
  const std::string group = unique_name("g-crash");
  // Run 1: small batches and requests, and an fsync per request, keep it slow enough to be killed mid-stream.
  std::string out1 = dir.file("run1.json");
  std::string p1 = dir.write("run1.toml", consumer_pipeline(bootstrap, topic, group, out1, false, "fsync = true\nbatch_max_records = 100\n", 100, 200));
  pid_t pid = spawn_weir(p1, dir.file("run1.log"));
  ASSERT_GT(pid, 0);
  // Kill it halfway, or 1.5 s after its first output (several commits in) if that comes first.
  size_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::optional<std::chrono::steady_clock::time_point> first;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = count_lines(read_file(out1));
    if (seen > 0 && !first) first = std::chrono::steady_clock::now();
    if (seen >= n / 2 || (first && std::chrono::steady_clock::now() - *first > std::chrono::milliseconds(1500))) break;
    int status = 0;
    ASSERT_NE(::waitpid(pid, &status, WNOHANG), pid) << "weir exited early: " << read_file(dir.file("run1.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  std::vector<SinkLine> run1 = read_sink(out1);
  ASSERT_GT(run1.size(), 0u) << read_file(dir.file("run1.log"));
  ASSERT_LT(run1.size(), n) << "killed too late to be mid-stream";
  std::map<int32_t, int64_t> commit = committed(bootstrap, group, topic, partitions);

  // Run 2: same group, to the end.
  std::string out2 = dir.file("run2.json");
  std::string p2 = dir.write("run2.toml", consumer_pipeline(bootstrap, topic, group, out2, true));
  pid = spawn_weir(p2, dir.file("run2.log"));
  ASSERT_EQ(wait_for(pid, std::chrono::seconds(180)), 0) << read_file(dir.file("run2.log"));
  std::vector<SinkLine> run2 = read_sink(out2);

  // Run 2 starts exactly at each partition's last commit and reads on in order.
  std::map<int32_t, int64_t> next;
  for (auto [p, o] : commit) next[p] = o < 0 ? 0 : o;
  for (const SinkLine& l : run2) {
    int64_t& want = next[l.partition];
    ASSERT_EQ(l.offset, want) << "run 2, partition " << l.partition;
    want = l.offset + 1;
  }
  // Run 1 wrote every record below the commit (it was acknowledged); what it
  // wrote at or above the commit is written again by run 2: the duplicates.
  std::map<int32_t, std::set<int64_t>> in_run1;
  for (const SinkLine& l : run1) in_run1[l.partition].insert(l.offset);
  size_t duplicates = 0, committed_total = 0;
  for (auto [p, o] : commit) {
    int64_t c = o < 0 ? 0 : o;
    committed_total += static_cast<size_t>(c);
    for (int64_t off = 0; off < c; ++off) ASSERT_TRUE(in_run1[p].count(off)) << "lost: partition " << p << " offset " << off;
    for (int64_t off : in_run1[p]) duplicates += off >= c;
  }
  std::set<std::string> all;
  for (auto& l : run1) all.insert(l.payload);
  for (auto& l : run2) all.insert(l.payload);
  EXPECT_EQ(all.size(), n) << "nothing is missing";
  EXPECT_EQ(run1.size() + run2.size(), n + duplicates);
  std::fprintf(stderr,
               "  crash test: %zu records; run 1 wrote %zu before SIGKILL (%zu committed); run 2 wrote %zu; "
               "%zu duplicates, all after the last commit\n",
               n, run1.size(), committed_total, run2.size(), duplicates);
}

// A bounded run (end_at_eof) through the smart-car rule ends the rule's last
// batches: kafka_source -> csv_decode -> cep_rule (rules/overspeed.epl with a
// threshold every car passes) -> file_sink flags every one of the N lines,
// also those of each partition's last 30 s batch, which no later line ends
// (SECONDS not a multiple of 30).
inline void bounded_run_ends_the_last_batches(const std::string& bootstrap, const std::string& topic, int cars,
                                              int seconds, TempDir& dir) {
  std::string out = dir.file("flagged.json");
  std::string file = dir.write(
      "rule.toml",
      consumer_pipeline(bootstrap, topic, unique_name("g-rule"), dir.file("all.json"), true) +
          "[nodes.decode]\nplugin = \"csv_decode\"\ninputs = [\"in\"]\nfields = [\"date:string\", \"car_number:string\", "
          "\"speed_pedal:int64\", \"break_pedal:int64\", \"steer_angle:string\", \"direct_light:string\", \"speed:int64\", "
          "\"area_number:string\"]\n"
          "[nodes.rule]\nplugin = \"cep_rule\"\ninputs = [\"decode\"]\nrules = [\"" WEIR_SOURCE_DIR "/rules/overspeed.epl\"]\n"
          "time_field = \"date\"\nvariables = { threshold = \"-1\" }\n"
          "[nodes.flagged]\nplugin = \"file_sink\"\ninputs = [\"rule.overspeed\"]\npath = \"" + out + "\"\n");
  RunResult r = run_weir("run " + file + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(read_file(dir.file("all.json"))), static_cast<size_t>(cars) * seconds);
  EXPECT_EQ(count_lines(read_file(out)), static_cast<size_t>(cars) * seconds)
      << "every line is flagged, those of the last batches too";
}

}  // namespace weir::testing::e2e
