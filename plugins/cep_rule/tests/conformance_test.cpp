// Runs every Esper reference case in tests/cep_conformance/cases through the
// engine and compares with expected.txt as tests/cep_conformance/README.md
// says: deliveries in order (same time, same rows), the I rows and the R rows
// of one delivery compared as multisets.
#include "engine.hpp"
#include "parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace weir::cep;

namespace {

// Cases the engine does not pass yet, with the reason. A listed case that
// starts passing fails the test, so this list cannot go stale.
const std::map<std::string, std::string> kKnownFailures = {};

// The suite, and more reference cases of ours (same format, also produced by
// the real Esper through tests/cep_conformance/generate.sh): output rate
// limiting corners found by comparing random statements with Esper.
// CEP_CONFORMANCE_CASES=DIR runs another set instead (e.g. new cases).
std::vector<fs::path> case_dirs() {
  if (const char* dir = std::getenv("CEP_CONFORMANCE_CASES")) return {dir};
  return {fs::path(WEIR_SOURCE_DIR) / "tests" / "cep_conformance" / "cases",
          fs::path(WEIR_SOURCE_DIR) / "plugins" / "cep_rule" / "tests" / "esper_cases"};
}

std::vector<std::string> case_paths(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && fs::exists(e.path() / "case.epl")) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

Type csv_type(const std::string& t) {
  if (t == "long") return Type::Long;
  if (t == "double") return Type::Double;
  if (t == "string") return Type::String;
  if (t == "boolean") return Type::Bool;
  throw std::runtime_error("unknown column type " + t);
}

// Java's Long.parseLong: the whole cell, or the case is malformed.
int64_t parse_long_cell(const std::string& cell) {
  const char* b = cell.data() + (cell.size() > 1 && cell[0] == '+');
  int64_t v = 0;
  auto [end, ec] = std::from_chars(b, cell.data() + cell.size(), v);
  if (ec != std::errc() || end != cell.data() + cell.size()) throw std::runtime_error("not a long: '" + cell + "'");
  return v;
}

// Java's Double.parseDouble, which reads subnormals (4.9e-324) as they are
// (std::stod throws on them) and rounds what is out of range to ±Infinity or
// 0 (from_chars reports that; strtod gives those values).
double parse_double_cell(const std::string& cell) {
  const char* b = cell.data() + (cell.size() > 1 && cell[0] == '+');
  double v = 0;
  auto [end, ec] = std::from_chars(b, cell.data() + cell.size(), v);
  if (end != cell.data() + cell.size() || (ec != std::errc() && ec != std::errc::result_out_of_range))
    throw std::runtime_error("not a double: '" + cell + "'");
  if (ec == std::errc::result_out_of_range) v = std::strtod(cell.c_str(), nullptr);
  return v;
}

Value csv_value(const std::string& cell, Type t) {
  if (cell == "null") return {};
  switch (t) {
    case Type::Long: return Value::of_long(parse_long_cell(cell));
    case Type::Double: return Value::of_double(parse_double_cell(cell));
    case Type::Bool: return Value::of_bool(cell == "true");
    default: return Value::of_string(cell);
  }
}

struct Case {
  std::string stream = "Ev";
  std::string observe;  // the observed statement's @name; empty: the last statement
  int64_t start_ms = 0;
  bool has_end = false;
  int64_t end_ms = 0;
  std::map<std::string, Value> vars;
  std::string epl;
  EventType type;
  std::vector<std::vector<Value>> events;
  int ts_index = -1;
};

Case load_case(const fs::path& dir) {
  Case c;
  static const std::regex directive(R"(^\s*--\s*(desc|stream|start_ms|end_ms|var|observe)\s*:\s*(.*)$)");
  std::istringstream epl(read_file(dir / "case.epl"));
  std::string line;
  while (std::getline(epl, line)) {
    std::smatch m;
    if (std::regex_match(line, m, directive)) {
      std::string key = m[1], value = trim(m[2]);
      if (key == "stream") c.stream = value;
      else if (key == "observe") c.observe = value;
      else if (key == "start_ms") c.start_ms = parse_long_cell(value);
      else if (key == "end_ms") c.has_end = true, c.end_ms = parse_long_cell(value);
      else if (key == "var") {
        // NAME:TYPE=VALUE
        size_t colon = value.find(':'), eq = value.find('=');
        std::string name = value.substr(0, colon), type = value.substr(colon + 1, eq - colon - 1);
        c.vars[name] = csv_value(value.substr(eq + 1), csv_type(type));
      }
      c.epl += "\n";  // keep line numbers
      continue;
    }
    if (trim(line).rfind("--", 0) == 0) {
      c.epl += "\n";
      continue;
    }
    c.epl += line + "\n";
  }
  c.type.name = c.stream;
  std::istringstream csv(read_file(dir / "events.csv"));
  bool header = true;
  while (std::getline(csv, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells = split(line, ',');
    if (header) {
      for (const std::string& h : cells) {
        size_t colon = h.find(':');
        c.type.fields.push_back({h.substr(0, colon), csv_type(h.substr(colon + 1))});
      }
      c.ts_index = c.type.find("ts");
      header = false;
      continue;
    }
    std::vector<Value> row;
    for (size_t i = 0; i < cells.size() && i < c.type.fields.size(); ++i) row.push_back(csv_value(cells[i], c.type.fields[i].type));
    c.events.push_back(std::move(row));
  }
  return c;
}

struct DeliveryText {
  int64_t time = 0;
  std::vector<std::string> inew, iold;
};

std::vector<DeliveryText> parse_expected(const std::string& text) {
  std::vector<DeliveryText> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == 'U') {
      out.push_back({std::stoll(line.substr(2)), {}, {}});
      continue;
    }
    size_t sp1 = line.find(' '), sp2 = line.find(' ', sp1 + 1);
    std::string row = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
    if (out.empty()) throw std::runtime_error("row before U line");
    (line[0] == 'I' ? out.back().inew : out.back().iold).push_back(row);
  }
  return out;
}

std::string render_row(const Plan& plan, const Value* row) {
  std::string s;
  for (size_t c = 0; c < plan.columns.size(); ++c) {
    if (c) s += ',';
    s += plan.columns[c].name + "=" + format_value(row[c]);
  }
  return s;
}

std::string to_text(const std::vector<DeliveryText>& ds) {
  std::string s;
  for (const auto& d : ds) {
    s += "U " + std::to_string(d.time) + "\n";
    for (const auto& r : d.inew) s += "I " + std::to_string(d.time) + " " + r + "\n";
    for (const auto& r : d.iold) s += "R " + std::to_string(d.time) + " " + r + "\n";
  }
  return s;
}

// Runs a case; returns "" when it matches, else a description of the difference.
// With `restore_midway`, the engine's state is saved after half of the events
// and restored into a fresh engine that finishes the run (hot swap).
std::string run_case(const fs::path& dir, bool restore_midway = false) {
  Case c = load_case(dir);
  Module module = parse_module(c.epl, (dir / "case.epl").string());
  EngineOptions opt;
  opt.start_ms = c.start_ms;
  opt.variables = c.vars;
  auto engine = std::make_unique<Engine>(module, std::vector<EventType>{c.type}, opt);
  int stream = engine->stream(c.stream);
  size_t observed = engine->statement_count() - 1;
  if (!c.observe.empty()) {
    observed = engine->statement_count();
    for (size_t i = 0; i < engine->statement_count(); ++i)
      if (engine->statement(i).plan().name == c.observe) observed = i;
    if (observed == engine->statement_count()) return "no statement is named '" + c.observe + "'";
  }
  std::vector<DeliveryText> got;
  bool continued = false;  // the previous call was a partial chunk of this delivery
  auto listener = [&](const Delivery& d) {
    if (d.statement.index() != observed) return;
    if (!continued) got.push_back({d.time_ms, {}, {}});
    DeliveryText& t = got.back();
    for (size_t i = 0; i < d.inew.size(); ++i) t.inew.push_back(render_row(d.statement.plan(), d.inew.row(i)));
    for (size_t i = 0; i < d.iold.size(); ++i) t.iold.push_back(render_row(d.statement.plan(), d.iold.row(i)));
    continued = d.partial;
  };
  engine->set_listener(listener);
  for (size_t i = 0; i < c.events.size(); ++i) {
    if (restore_midway && i == c.events.size() / 2) {
      std::string state = engine->snapshot();
      engine = std::make_unique<Engine>(module, std::vector<EventType>{c.type}, opt);
      engine->set_listener(listener);
      engine->restore(state);
    }
    const auto& ev = c.events[i];
    engine->send_at(stream, ev.data(), ev[static_cast<size_t>(c.ts_index)].as_long());
  }
  if (c.has_end) engine->advance_to(c.end_ms);

  std::vector<DeliveryText> want = parse_expected(read_file(dir / "expected.txt"));
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  size_t n = std::min(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    if (got[i].time != want[i].time || sorted(got[i].inew) != sorted(want[i].inew) || sorted(got[i].iold) != sorted(want[i].iold)) {
      return "delivery " + std::to_string(i + 1) + " differs\n--- expected\n" + to_text({want[i]}) + "--- got\n" + to_text({got[i]}) +
             "--- full output\n" + to_text(got);
    }
  }
  if (got.size() != want.size())
    return "expected " + std::to_string(want.size()) + " deliveries, got " + std::to_string(got.size()) + "\n--- full output\n" +
           to_text(got) + "--- expected\n" + to_text(want);
  return "";
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, MatchesEsper) {
  fs::path dir = GetParam();
  std::string name = dir.filename().string();
  std::string diff;
  try {
    diff = run_case(dir);
  } catch (const std::exception& e) {
    diff = std::string("error: ") + e.what();
  }
  auto known = kKnownFailures.find(name);
  if (known != kKnownFailures.end()) {
    if (diff.empty()) FAIL() << name << " now passes: remove it from kKnownFailures";
    GTEST_SKIP() << "known failure: " << known->second;
  }
  EXPECT_EQ(diff, "") << dir.string();
}

// The same case with a snapshot/restore halfway: hot swap loses nothing.
TEST_P(Conformance, SurvivesSnapshotRestore) {
  fs::path dir = GetParam();
  if (kKnownFailures.count(dir.filename().string())) GTEST_SKIP() << "known failure";
  std::string diff;
  try {
    diff = run_case(dir, true);
  } catch (const std::exception& e) {
    diff = std::string("error: ") + e.what();
  }
  EXPECT_EQ(diff, "") << dir.string();
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = "c" + fs::path(info.param).filename().string();
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Cases, Conformance, ::testing::ValuesIn(case_paths(case_dirs().front())), test_name);
INSTANTIATE_TEST_SUITE_P(More, Conformance,
                         ::testing::ValuesIn(case_dirs().size() > 1 ? case_paths(case_dirs()[1]) : std::vector<std::string>{}),
                         test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Conformance);

TEST(Conformance, SuiteIsPresent) {
  if (std::getenv("CEP_CONFORMANCE_CASES")) GTEST_SKIP() << "CEP_CONFORMANCE_CASES is set";
  EXPECT_GE(case_paths(case_dirs().front()).size(), 40u);
}

}  // namespace
