// weir-hbase — search and correct rows in HBase through its Thrift2 gateway,
// over the same client as hbase_sink. Run `weir-hbase --help`.
#include "client.hpp"
#include "hex_split.hpp"
#include "scan_query.hpp"

#include <weir/json.hpp>

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>

namespace po = boost::program_options;
using namespace weir::hbase;
using namespace weir::hbase::cli;

namespace {

// No abbreviations: global and command options share the command line.
constexpr int kStyle = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
constexpr int kOk = 0, kFailed = 1, kNotFound = 3, kUsage = 64;

const char* kUsageText =
    "usage: weir-hbase [global options] COMMAND [options]\n\n"
    "commands:\n"
    "  scan                  rows by key range/prefix, time range and column conditions\n"
    "  get ROW               one row\n"
    "  put ROW CF:COL=VALUE...   write (correct) cells of one row\n"
    "  count                 number of rows (same selection options as scan)\n"
    "  create-table          create --table with --family, pre-split in --regions (HexStringSplit)\n"
    "  drop-table            disable and delete --table\n"
    "  regions               start keys of --table's regions, one per line\n\n"
    "examples:\n"
    "  weir-hbase scan --start 00016062402202 --limit 10\n"
    "  weir-hbase scan --key-contains 6062402202 --where area_number=F06 --json\n"
    "  weir-hbase scan --where car_number=O0010 --where speed>80 --columns cf1:date,cf1:speed\n"
    "  weir-hbase scan --time-from 20220426061000 --time-to 20220426061100 --count\n"
    "  weir-hbase get 00016062402202-O0010\n"
    "  weir-hbase put 00016062402202-O0010 cf1:speed=90 cf1:area_number=F07\n\n"
    "Defaults come from the environment of scripts/services/hbase.sh (source .services/hbase.env):\n"
    "HBASE_THRIFT_HOST, HBASE_THRIFT_PORT, HBASE_THRIFT_TRANSPORT, HBASE_THRIFT_PROTOCOL.\n"
    "exit codes: 0 ok, 1 HBase error, 3 get: no such row, 64 bad usage\n";

std::string env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

struct Global {
  std::string endpoint, transport, protocol, table, family;
  int timeout_ms = 60000;
};

struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// family:qualifier columns, split on commas; a bare name gets the default family.
std::vector<std::pair<std::string, std::string>> parse_columns(const std::vector<std::string>& args, const std::string& family) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& arg : args) {
    size_t start = 0;
    while (start <= arg.size()) {
      size_t comma = arg.find(',', start);
      std::string col = arg.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!col.empty()) {
        size_t colon = col.find(':');
        if (colon == std::string::npos) out.emplace_back(family, col);
        else out.emplace_back(col.substr(0, colon), col.substr(colon + 1));
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::vector<t2::TColumn> to_tcolumns(const std::vector<std::pair<std::string, std::string>>& cols) {
  std::vector<t2::TColumn> out;
  for (const auto& [f, q] : cols) {
    t2::TColumn c;
    c.family = f;
    if (!q.empty() && q != "*") c.__set_qualifier(q);
    out.push_back(c);
  }
  return out;
}

// Prints rows as an aligned table or as JSON lines: {"row":..., "cf:q":"value", ...}.
class Printer {
 public:
  Printer(bool json, std::vector<std::string> order) : json_(json), order_(std::move(order)) {}
  void add(const t2::TResult& r, const std::set<std::string>& hidden) {
    std::vector<std::pair<std::string, std::string>> cells;
    for (const auto& cv : r.columnValues) {
      std::string col = cv.family + ":" + cv.qualifier;
      if (hidden.count(col)) continue;
      cells.emplace_back(col, cv.value);
    }
    if (json_) {
      std::string line = "{\"row\":";
      weir::append_json_string(line, r.row);
      for (const auto& [col, value] : cells) {
        line += ',';
        weir::append_json_string(line, col);
        line += ':';
        weir::append_json_string(line, value);
      }
      std::cout << line << "}\n";
    } else {
      rows_.push_back({r.row, {cells.begin(), cells.end()}});
    }
    ++count_;
  }
  void finish() {
    if (json_) return;
    std::vector<std::string> cols = order_;
    std::set<std::string> known(cols.begin(), cols.end());
    std::set<std::string> extra;
    for (const auto& row : rows_)
      for (const auto& [col, v] : row.cells)
        if (!known.count(col)) extra.insert(col);
    cols.insert(cols.end(), extra.begin(), extra.end());
    std::vector<size_t> width{3};
    for (const auto& c : cols) width.push_back(c.size());
    for (const auto& row : rows_) {
      width[0] = std::max(width[0], row.key.size());
      for (size_t i = 0; i < cols.size(); ++i) {
        auto it = row.cells.find(cols[i]);
        if (it != row.cells.end()) width[i + 1] = std::max(width[i + 1], it->second.size());
      }
    }
    auto line = [&](const std::string& first, auto&& cell) {
      std::string out = first + std::string(width[0] - first.size(), ' ');
      for (size_t i = 0; i < cols.size(); ++i) {
        std::string v = cell(i);
        out += "  " + v + std::string(width[i + 1] - v.size(), ' ');
      }
      while (!out.empty() && out.back() == ' ') out.pop_back();
      std::cout << out << "\n";
    };
    line("ROW", [&](size_t i) { return cols[i]; });
    for (const auto& row : rows_)
      line(row.key, [&](size_t i) {
        auto it = row.cells.find(cols[i]);
        return it == row.cells.end() ? std::string() : it->second;
      });
    std::cout << "(" << count_ << (count_ == 1 ? " row)\n" : " rows)\n");
  }

 private:
  struct Row {
    std::string key;
    std::map<std::string, std::string> cells;
  };
  bool json_;
  std::vector<std::string> order_;
  std::vector<Row> rows_;
  size_t count_ = 0;
};

Client connect(const Global& g) {
  ClientOptions o;
  o.endpoint = parse_endpoint(g.endpoint);
  o.transport = parse_transport(g.transport);
  o.protocol = parse_protocol(g.protocol);
  o.timeout_ms = g.timeout_ms;
  return Client(o);
}

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& desc,
                        const po::positional_options_description& pos) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).style(kStyle).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

int cmd_scan(const Global& g, const std::vector<std::string>& args, bool count_only) {
  std::string start, stop, prefix, key_contains, filter, time_from, time_to;
  std::vector<std::string> wheres, columns;
  int64_t limit = 0;
  int caching = 1000;
  bool json = false, count_flag = false;
  po::options_description desc(count_only ? "count options" : "scan options");
  desc.add_options()
      ("start", po::value(&start), "first row key (inclusive)")
      ("stop", po::value(&stop), "row key to stop before (exclusive)")
      ("prefix", po::value(&prefix), "only row keys starting with this")
      ("key-contains", po::value(&key_contains), "only row keys containing this (server-side RowFilter)")
      ("time-from", po::value(&time_from), "cells written at/after: epoch ms or yyyyMMddHHmmss (UTC)")
      ("time-to", po::value(&time_to), "cells written before: epoch ms or yyyyMMddHHmmss (UTC)")
      ("where", po::value(&wheres)->composing(),
       "COLUMN OP VALUE, OP = != > >= < <= (repeatable, all must hold); > < compare numbers")
      ("filter", po::value(&filter), "a raw HBase filter string, ANDed with the rest")
      ("columns", po::value(&columns)->composing(), "cf:col[,cf:col...] to print (default: all)")
      ("limit", po::value(&limit), "print at most N rows")
      ("caching", po::value(&caching), "rows per round trip")
      ("json", po::bool_switch(&json), "JSON lines: {\"row\":...,\"cf:col\":\"value\",...}")
      ("count", po::bool_switch(&count_flag), "print only the number of matching rows");
  po::positional_options_description pos;
  parse(args, desc, pos);
  const bool count = count_only || count_flag;
  if (!prefix.empty() && (!start.empty() || !stop.empty())) throw UsageError("--prefix cannot be combined with --start/--stop");
  if (limit < 0 || caching < 1) throw UsageError("--limit must be >= 0 and --caching >= 1");

  std::vector<Condition> conditions;
  for (const auto& w : wheres) conditions.push_back(parse_condition(w, g.family));
  auto cols = parse_columns(columns, g.family);

  t2::TScan scan;
  if (!prefix.empty()) {
    scan.__set_startRow(prefix);
    if (std::string end = prefix_end(prefix); !end.empty()) scan.__set_stopRow(end);
  }
  if (!start.empty()) scan.__set_startRow(start);
  if (!stop.empty()) scan.__set_stopRow(stop);
  if (!time_from.empty() || !time_to.empty()) {
    t2::TTimeRange tr;
    tr.minStamp = time_from.empty() ? 0 : parse_time_ms(time_from);
    tr.maxStamp = time_to.empty() ? INT64_MAX : parse_time_ms(time_to);
    scan.__set_timeRange(tr);
  }
  // Printed columns, plus the ones the conditions need (fetched, not printed).
  std::set<std::string> hidden;
  std::vector<std::string> order;
  if (!cols.empty()) {
    std::set<std::string> wanted;
    for (const auto& [f, q] : cols) wanted.insert(f + ":" + q), order.push_back(f + ":" + q);
    for (const auto& c : conditions)
      if (!wanted.count(c.column())) {
        cols.emplace_back(c.family, c.qualifier);
        hidden.insert(c.column());
        wanted.insert(c.column());
      }
    scan.__set_columns(to_tcolumns(cols));
  }
  std::string fs = filter_string(conditions, key_contains);
  if (!filter.empty()) fs = fs.empty() ? filter : "(" + filter + ") AND " + fs;
  if (!fs.empty()) scan.__set_filterString(fs);
  bool client_side = std::any_of(conditions.begin(), conditions.end(), [](const Condition& c) { return c.numeric(); });
  if (limit > 0 && !client_side) scan.__set_limit(static_cast<int32_t>(limit));
  scan.__set_caching(caching);

  Client client = connect(g);
  Printer printer(json, order);
  int64_t n = 0;
  int page = limit > 0 && !client_side ? static_cast<int>(std::min<int64_t>(limit, caching)) : caching;
  client.scan(g.table, scan, page, [&](const t2::TResult& r) {
    if (!matches(r, conditions)) return true;
    ++n;
    if (!count) printer.add(r, hidden);
    return limit == 0 || n < limit;
  });
  if (count) std::cout << n << "\n";
  else printer.finish();
  return kOk;
}

int cmd_get(const Global& g, const std::vector<std::string>& args) {
  std::string row;
  std::vector<std::string> columns;
  bool json = false;
  po::options_description desc("get options");
  desc.add_options()("row", po::value(&row), "row key")
      ("columns", po::value(&columns)->composing(), "cf:col[,cf:col...] (default: all)")
      ("json", po::bool_switch(&json), "one JSON line");
  po::positional_options_description pos;
  pos.add("row", 1);
  parse(args, desc, pos);
  if (row.empty()) throw UsageError("get needs a ROW");
  t2::TGet get;
  get.row = row;
  auto cols = parse_columns(columns, g.family);
  std::vector<std::string> order;
  for (const auto& [f, q] : cols) order.push_back(f + ":" + q);
  if (!cols.empty()) get.__set_columns(to_tcolumns(cols));
  Client client = connect(g);
  t2::TResult r = client.get(g.table, get);
  if (r.columnValues.empty()) {
    std::cerr << "weir-hbase: row \"" << row << "\" not found in " << g.table << "\n";
    return kNotFound;
  }
  Printer printer(json, order);
  printer.add(r, {});
  printer.finish();
  return kOk;
}

int cmd_put(const Global& g, const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  int64_t timestamp = -1;
  po::options_description desc("put options");
  desc.add_options()("args", po::value(&positional)->composing(), "ROW CF:COL=VALUE...")
      ("timestamp", po::value(&timestamp), "cell timestamp in epoch ms (default: HBase's clock, newer than loaded cells)");
  po::positional_options_description pos;
  pos.add("args", -1);
  parse(args, desc, pos);
  if (positional.size() < 2) throw UsageError("put needs ROW and at least one CF:COL=VALUE");
  t2::TPut put;
  put.row = positional[0];
  for (size_t i = 1; i < positional.size(); ++i) {
    const std::string& a = positional[i];
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("\"" + a + "\" must be CF:COL=VALUE (or COL=VALUE for --family)");
    auto col = parse_columns({a.substr(0, eq)}, g.family);
    if (col.size() != 1 || col[0].second.empty()) throw UsageError("\"" + a + "\": bad column name");
    t2::TColumnValue cv;
    cv.family = col[0].first;
    cv.qualifier = col[0].second;
    cv.value = a.substr(eq + 1);
    put.columnValues.push_back(cv);
  }
  if (timestamp >= 0) put.__set_timestamp(timestamp);
  Client client = connect(g);
  client.put(g.table, put);
  std::cout << "put " << put.columnValues.size() << (put.columnValues.size() == 1 ? " cell" : " cells") << " into row "
            << put.row << "\n";
  return kOk;
}

int cmd_create(const Global& g, const std::vector<std::string>& args) {
  int64_t regions = 1;
  po::options_description desc("create-table options");
  desc.add_options()("regions", po::value(&regions), "pre-split into N regions (HexStringSplit, like RegionSplitter -c N)");
  parse(args, desc, {});
  Client client = connect(g);
  if (client.table_exists(g.table)) {
    std::cout << "table " << g.table << " exists\n";
    return kOk;
  }
  client.create_table(g.table, {g.family}, hex_split_keys(regions));
  std::cout << "created table " << g.table << " (family " << g.family << ", " << regions << " region(s))\n";
  return kOk;
}

int cmd_drop(const Global& g, const std::vector<std::string>& args) {
  parse(args, po::options_description("drop-table options"), {});
  Client client = connect(g);
  if (!client.table_exists(g.table)) {
    std::cout << "table " << g.table << " does not exist\n";
    return kOk;
  }
  client.drop_table(g.table);
  std::cout << "dropped table " << g.table << "\n";
  return kOk;
}

int cmd_regions(const Global& g, const std::vector<std::string>& args) {
  parse(args, po::options_description("regions options"), {});
  Client client = connect(g);
  for (const auto& k : client.region_start_keys(g.table)) std::cout << (k.empty() ? "\"\"" : k) << "\n";
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Global g;
  po::options_description global("global options");
  global.add_options()("help,h", "show this help")
      ("endpoint", po::value(&g.endpoint)->default_value(env("HBASE_THRIFT_HOST", "127.0.0.1") + ":" + env("HBASE_THRIFT_PORT", "9090")),
       "Thrift2 gateway host:port")
      ("transport", po::value(&g.transport)->default_value(env("HBASE_THRIFT_TRANSPORT", "buffered")), "buffered or framed")
      ("protocol", po::value(&g.protocol)->default_value(env("HBASE_THRIFT_PROTOCOL", "binary")), "binary or compact")
      ("table", po::value(&g.table)->default_value("DriverCarInfo"), "table (or namespace:table)")
      ("family", po::value(&g.family)->default_value("cf1"), "column family for bare column names")
      ("timeout-ms", po::value(&g.timeout_ms)->default_value(60000), "per-call timeout");
  // Global options may come before or after the command: they are parsed from
  // every argument, the rest goes to the command.
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    po::variables_map vm;
    po::parsed_options parsed = po::command_line_parser(args).options(global).style(kStyle).allow_unregistered().run();
    po::store(parsed, vm);
    po::notify(vm);
    std::vector<std::string> rest = po::collect_unrecognized(parsed.options, po::include_positional);
    if (vm.count("help") || rest.empty()) {
      std::cout << kUsageText << "\n" << global;
      return rest.empty() && !vm.count("help") ? kUsage : kOk;
    }
    std::string cmd = rest.front();
    rest.erase(rest.begin());
    if (cmd == "scan") return cmd_scan(g, rest, false);
    if (cmd == "count") return cmd_scan(g, rest, true);
    if (cmd == "get") return cmd_get(g, rest);
    if (cmd == "put") return cmd_put(g, rest);
    if (cmd == "create-table") return cmd_create(g, rest);
    if (cmd == "drop-table") return cmd_drop(g, rest);
    if (cmd == "regions") return cmd_regions(g, rest);
    throw UsageError("unknown command \"" + cmd + "\"");
  } catch (const UsageError& e) {
    std::cerr << "weir-hbase: " << e.what() << "\n(weir-hbase --help for usage)\n";
    return kUsage;
  } catch (const po::error& e) {
    std::cerr << "weir-hbase: " << e.what() << "\n(weir-hbase --help for usage)\n";
    return kUsage;
  } catch (const std::invalid_argument& e) {
    std::cerr << "weir-hbase: " << e.what() << "\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "weir-hbase: " << e.what() << "\n";
    return kFailed;
  }
}
