// weir-hbase-bench — rows/s into HBase: weir (generator -> hbase_sink, the real
// binary) next to a raw C++ Thrift2 putMultiple loop, same rows, same batch
// size, same connection settings, alternating in one run, each run into a
// fresh pre-split table. Prints every run, the medians and weir/raw.
//
//   scripts/services/hbase.sh start && source .services/hbase.env
//   build/weir-hbase-bench --rows 200000 --batch-size 1000 --rounds 3
//
// Row shape (both sides): key "<seq, 14 digits, reversed>-k<seq % 100>"
// (20-21 bytes, like the smart-car key), eight cf1 cells of 1-14 bytes
// (date, car_number, speed_pedal, break_pedal, steer_angle, direct_light,
// speed, area_number), cell timestamp = seq (ms).
#include "client.hpp"
#include "hex_split.hpp"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace po = boost::program_options;
namespace t2 = weir::hbase::thrift2;
using Clock = std::chrono::steady_clock;

namespace {

std::string env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

struct Settings {
  std::string endpoint, transport, protocol;
  long rows = 200000;
  int batch = 1000, rounds = 3, regions = 2, connections = 1;
};

// The same text the sink's templates produce (see weir_pipeline below).
std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(s.size() - n); }

void make_put(long seq, t2::TPut& put) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%014ld", seq);
  std::string padded(digits), plain = std::to_string(seq), key = "k" + std::to_string(seq % 100);
  std::string upper_key = "K" + key.substr(1);
  put.row.assign(padded.rbegin(), padded.rend());
  put.row += "-" + key;
  put.columnValues.resize(8);
  const std::pair<const char*, std::string> cells[8] = {
      {"date", padded},
      {"car_number", upper_key},
      {"speed_pedal", tail(plain, 1)},
      {"break_pedal", tail(plain, 2).substr(0, 1)},
      {"steer_angle", "F"},
      {"direct_light", "N"},
      {"speed", tail(plain, 3)},
      {"area_number", "F" + tail(plain, 2)},
  };
  for (int i = 0; i < 8; ++i) {
    put.columnValues[i].family = "cf1";
    put.columnValues[i].qualifier = cells[i].first;
    put.columnValues[i].value = cells[i].second;
  }
  put.__set_timestamp(seq);
}

std::string weir_pipeline(const Settings& s, const std::string& table) {
  return "[nodes.gen]\nplugin = \"generator\"\ncount = " + std::to_string(s.rows) +
         "\npayload_bytes = 0\nkeys = 100\nbatch_size = " + std::to_string(s.batch) +
         "\n[nodes.hbase]\nplugin = \"hbase_sink\"\ninputs = [\"gen\"]\nendpoint = \"" + s.endpoint +
         "\"\ntransport = \"" + s.transport + "\"\nprotocol = \"" + s.protocol + "\"\ntable = \"" + table +
         "\"\nrow_key = \"{seq|lpad(14)|reverse}-{key}\"\ncolumn_family = \"cf1\"\n"
         "columns = [\"date={seq|lpad(14)}\", \"car_number={key|upper}\", \"speed_pedal={seq|substr(-1)}\",\n"
         "  \"break_pedal={seq|substr(-2)|substr(0,1)}\", \"steer_angle=F\", \"direct_light=N\",\n"
         "  \"speed={seq|substr(-3)}\", \"area_number=F{seq|substr(-2)}\"]\n"
         "timestamp_field = \"seq\"\ntimestamp_format = \"epoch_ms\"\nbatch_size = " +
         std::to_string(s.batch) + "\nconnections = " + std::to_string(s.connections) + "\n";
}

// The raw loop: Thrift objects directly, one connection, the client's buffer size.
double run_raw(const Settings& s, const std::string& table) {
  namespace tt = apache::thrift::transport;
  namespace tp = apache::thrift::protocol;
  auto ep = weir::hbase::parse_endpoint(s.endpoint);
  auto socket = std::make_shared<tt::TSocket>(ep.host, ep.port);
  socket->setNoDelay(true);
  std::shared_ptr<tt::TTransport> transport;
  if (s.transport == "framed") transport = std::make_shared<tt::TFramedTransport>(socket);
  else transport = std::make_shared<tt::TBufferedTransport>(socket, 64 * 1024, 64 * 1024);
  std::shared_ptr<tp::TProtocol> protocol;
  if (s.protocol == "compact") protocol = std::make_shared<tp::TCompactProtocol>(transport);
  else protocol = std::make_shared<tp::TBinaryProtocol>(transport);
  t2::THBaseServiceClient client(protocol);
  auto t0 = Clock::now();
  transport->open();
  std::vector<t2::TPut> puts;
  for (long seq = 0; seq < s.rows;) {
    long n = std::min<long>(s.batch, s.rows - seq);
    puts.resize(static_cast<size_t>(n));
    for (long i = 0; i < n; ++i, ++seq) make_put(seq, puts[static_cast<size_t>(i)]);
    client.putMultiple(table, puts);
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  transport->close();
  return static_cast<double>(s.rows) / secs;
}

// weir: the whole process (start, plugin load, connect, drain) is timed.
double run_weir(const Settings& s, const std::string& weir, const std::string& table, const std::string& dir) {
  std::string file = dir + "/bench.toml";
  std::ofstream(file) << weir_pipeline(s, table);
  std::string cmd = weir + " run " + file + " 2>" + dir + "/weir.err";
  auto t0 = Clock::now();
  int rc = std::system(cmd.c_str());
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (rc != 0) {
    std::ifstream err(dir + "/weir.err");
    std::cerr << err.rdbuf();
    throw std::runtime_error("weir run failed");
  }
  return static_cast<double>(s.rows) / secs;
}

// CPU seconds (user + sys) of this process or of its finished children.
double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  bool verify = false;
  std::vector<std::string> weirs;
  std::string table_prefix;
  po::options_description desc("weir-hbase-bench options");
  desc.add_options()("help,h", "show this help")
      ("endpoint", po::value(&s.endpoint)->default_value(env("HBASE_THRIFT_HOST", "127.0.0.1") + ":" + env("HBASE_THRIFT_PORT", "9090")))
      ("transport", po::value(&s.transport)->default_value(env("HBASE_THRIFT_TRANSPORT", "buffered")))
      ("protocol", po::value(&s.protocol)->default_value(env("HBASE_THRIFT_PROTOCOL", "binary")))
      ("rows", po::value(&s.rows)->default_value(200000), "rows per run")
      ("batch-size", po::value(&s.batch)->default_value(1000), "puts per putMultiple (both sides)")
      ("rounds", po::value(&s.rounds)->default_value(3), "raw/weir pairs, alternating")
      ("regions", po::value(&s.regions)->default_value(2), "pre-split of each fresh table")
      ("connections", po::value(&s.connections)->default_value(1), "hbase_sink connections (raw: always 1)")
      ("verify", po::bool_switch(&verify), "after round 1, check both tables hold the same cells (use few rows)")
      ("weir", po::value(&weirs)->multitoken(), "weir binaries to run after raw in each round, e.g. a before and an after build (default: this build's)")
      ("table-prefix", po::value(&table_prefix)->default_value("weir_bench"), "names of the fresh tables");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "weir-hbase-bench: " << e.what() << "\n" << desc;
    return 64;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (weirs.empty()) weirs.push_back(WEIR_BINARY);
  char tmpl[] = "/tmp/weir-hbase-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  weir::hbase::ClientOptions o;
  o.endpoint = weir::hbase::parse_endpoint(s.endpoint);
  o.transport = weir::hbase::parse_transport(s.transport);
  o.protocol = weir::hbase::parse_protocol(s.protocol);
  weir::hbase::Client admin(o);
  std::vector<double> raw;
  std::vector<std::vector<double>> weir(weirs.size());  // per binary
  std::printf("rows=%ld batch=%d regions=%d connections(weir)=%d %s/%s %s\n", s.rows, s.batch, s.regions, s.connections,
              s.transport.c_str(), s.protocol.c_str(), s.endpoint.c_str());
  // Every cell (row, column, value, timestamp) of a table, in order.
  auto dump = [&](const std::string& table) {
    std::vector<std::string> out;
    admin.scan(table, t2::TScan(), 1000, [&](const t2::TResult& r) {
      for (const auto& c : r.columnValues)
        out.push_back(r.row + " " + c.family + ":" + c.qualifier + "=" + c.value + " @" + std::to_string(c.timestamp));
      return true;
    });
    return out;
  };
  try {
    for (int round = 0; round < s.rounds; ++round) {
      std::vector<std::string> tables(1 + weirs.size());
      for (size_t side = 0; side < tables.size(); ++side) {
        std::string table = table_prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(round) + "_" + std::to_string(side);
        tables[side] = table;
        admin.create_table(table, {"cf1"}, weir::hbase::hex_split_keys(s.regions));
        int who = side == 0 ? RUSAGE_SELF : RUSAGE_CHILDREN;
        double cpu0 = cpu_seconds(who);
        double rate = side == 0 ? run_raw(s, table) : run_weir(s, weirs[side - 1], table, dir);
        double cpu_us_per_row = (cpu_seconds(who) - cpu0) * 1e6 / static_cast<double>(s.rows);
        (side == 0 ? raw : weir[side - 1]).push_back(rate);
        std::printf("round %d %-6s %10.0f rows/s   client CPU %.2f us/row\n", round + 1,
                    side == 0 ? "raw" : ("weir" + std::to_string(side)).c_str(), rate, cpu_us_per_row);
        std::fflush(stdout);
      }
      if (verify && round == 0) {
        auto a = dump(tables[0]);
        for (size_t k = 1; k < tables.size(); ++k) {
          auto b = dump(tables[k]);
          if (a != b || a.size() != static_cast<size_t>(s.rows) * 8) {
            std::fprintf(stderr, "verify: the tables differ (raw %zu cells, weir%zu %zu cells)\n", a.size(), k, b.size());
            return 1;
          }
        }
        std::printf("verify: both tables hold the same %zu cells, e.g. %s\n", a.size(), a.empty() ? "" : a[0].c_str());
      }
      for (const auto& t : tables) admin.drop_table(t);
    }
  } catch (const std::exception& e) {
    std::cerr << "weir-hbase-bench: " << e.what() << "\n";
    return 1;
  }
  double r = median(raw);
  for (size_t k = 0; k < weirs.size(); ++k) {
    double w = median(weir[k]);
    std::printf("median raw %.0f rows/s, weir%zu (%s) %.0f rows/s, weir%zu/raw = %.3f\n", r, k + 1, weirs[k].c_str(), w, k + 1,
                w / r);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
