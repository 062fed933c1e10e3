// weir-rules — the rule store of cep_rule (rules_topic): publishes a new
// version of a rule, shows one, lists them all.
//
//   weir-rules put NAME FILE [--effective-from yyyyMMddHHmmss|MS]
//   weir-rules get NAME [--at yyyyMMddHHmmss|MS]
//   weir-rules list [NAME]
//
// A version applies from its effective time on, in EVENT time (the time of the
// records the rule reads), in every cep_rule engine of every process: see
// plugins/cep_rule/README.md, "Rules from a rule store".
//
// Exit codes: 0 done, 1 Kafka failed or no such rule, 2 bad usage or a rule
// with errors (nothing published).
#include "kafka_rule_store.hpp"
#include "records.hpp"
#include "rule_set.hpp"

#include <boost/program_options.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;
namespace st = weir::cep::store;

namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// yyyyMMddHHmmss (UTC) or milliseconds since the epoch.
bool parse_time(const std::string& s, int64_t& ms) {
  if (s.size() == 14 && weir::cep::parse_yyyymmddhhmmss(s, ms)) return true;
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  ms = std::stoll(s);
  return true;
}

std::string when(int64_t ms) { return st::readable_time(ms) + " (" + std::to_string(ms) + ")"; }

struct Common {
  std::string brokers, topic;
  std::vector<std::string> props;
  int64_t timeout_ms = 15000;
  st::Settings settings;
};

int usage_error(const std::string& msg) {
  std::cerr << "weir-rules: " << msg << "\n";
  return kUsage;
}

// Reads the whole store once (the same reader cep_rule uses).
std::shared_ptr<const st::Catalog> read_store(const Common& c, int& code) {
  st::KafkaRuleSource source(c.brokers, c.topic, c.settings);
  source.start();
  std::string why;
  bool ok = source.wait_ready(c.timeout_ms, why);
  for (const auto& m : source.take_messages()) std::cerr << "weir-rules: warning: " << m.text << "\n";
  if (!ok) {
    std::cerr << "weir-rules: " << source.describe() << ": " << why << "\n";
    code = kFailed;
    return nullptr;
  }
  return source.catalog();
}

int cmd_put(const Common& c, const std::string& name, const std::string& file, const std::string& effective_from) {
  if (std::string why = st::check_name(name); !why.empty()) return usage_error(why);
  std::ifstream in(file, std::ios::binary);
  if (!in) return usage_error("cannot read " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  st::RuleVersion v;
  v.name = name;
  v.text = ss.str();
  v.published_ms = wall_ms();
  bool now = effective_from.empty() || effective_from == "now";
  if (now) v.effective_from_ms = v.published_ms;
  else if (!parse_time(effective_from, v.effective_from_ms))
    return usage_error("--effective-from must be yyyyMMddHHmmss (UTC) or milliseconds since the epoch, not '" +
                       effective_from + "'");
  // The same checks cep_rule makes before it runs a version (without the
  // input type, which only the first record shows).
  try {
    weir::cep::RuleSetOptions o;
    o.texts = {{name, file, name, v.text, ""}};
    o.check_variables_used = false;
    weir::cep::RuleSet check(std::move(o));
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\nweir-rules: " << name << " not published: the rule has errors\n";
    return kUsage;
  }
  st::TopicState topic;
  if (std::string why = st::ensure_topic(c.brokers, c.topic, c.settings, c.timeout_ms, topic); !why.empty()) {
    std::cerr << "weir-rules: topic '" << c.topic << "' at " << c.brokers << ": " << why << "\n";
    return kFailed;
  }
  if (topic.created) std::cout << "created topic " << c.topic << " (cleanup.policy=compact)\n";
  else if (topic.cleanup_policy.find("compact") == std::string::npos)
    std::cerr << "weir-rules: warning: topic '" << c.topic << "' has cleanup.policy=" << topic.cleanup_policy
              << ", not compact: retention will delete versions that are still in force\n";
  int32_t partition = -1;
  int64_t offset = -1;
  if (std::string why = st::publish_version(c.brokers, c.topic, c.settings, v, c.timeout_ms, partition, offset);
      !why.empty()) {
    std::cerr << "weir-rules: " << name << " not published to topic '" << c.topic << "' at " << c.brokers << ": " << why << "\n";
    return kFailed;
  }
  std::cout << "published " << name << " effective from " << when(v.effective_from_ms) << ", " << v.text.size()
            << " bytes, topic " << c.topic << " partition " << partition << " offset " << offset << "\n";
  if (now)
    std::cout << "(effective from now, the wall clock: right for live data; for replayed or simulated data give "
                 "--effective-from in the data's time)\n";
  return kOk;
}

int cmd_get(const Common& c, const std::string& name, const std::string& at) {
  int64_t t = 0;
  if (!at.empty() && !parse_time(at, t))
    return usage_error("--at must be yyyyMMddHHmmss (UTC) or milliseconds since the epoch, not '" + at + "'");
  int code = kOk;
  auto catalog = read_store(c, code);
  if (!catalog) return code;
  const auto* versions = catalog->find(name);
  if (!versions) {
    std::cerr << "weir-rules: no rule '" << name << "' in topic '" << c.topic << "'\n";
    return kFailed;
  }
  const st::RuleVersion* v = &versions->back();
  if (!at.empty()) {
    v = st::version_at(*versions, t, [](const st::RuleVersion&) { return true; });
    if (!v) v = &versions->front();  // a rule's first version also covers the time before it
  }
  std::cerr << "# " << name << ": effective from " << when(v->effective_from_ms) << ", " << v->text.size()
            << " bytes, partition " << v->partition << " offset " << v->offset << ", published "
            << st::readable_time(v->published_ms) << "\n";
  std::cout << v->text;
  return kOk;
}

int cmd_list(const Common& c, const std::string& only) {
  int code = kOk;
  auto catalog = read_store(c, code);
  if (!catalog) return code;
  std::cout << "NAME\tEFFECTIVE_FROM\tEFFECTIVE_FROM_MS\tBYTES\tPARTITION\tOFFSET\tPUBLISHED\n";
  bool any = false;
  for (const auto& [name, versions] : catalog->rules()) {
    if (!only.empty() && name != only) continue;
    for (const st::RuleVersion& v : versions) {
      any = true;
      std::cout << name << "\t" << st::time14(v.effective_from_ms) << "\t" << v.effective_from_ms << "\t" << v.text.size()
                << "\t" << v.partition << "\t" << v.offset << "\t" << st::time14(v.published_ms) << "\n";
    }
  }
  if (!only.empty() && !any) {
    std::cerr << "weir-rules: no rule '" << only << "' in topic '" << c.topic << "'\n";
    return kFailed;
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Common c;
  std::string command, effective_from, at;
  std::vector<std::string> args;
  const char* env = std::getenv("KAFKA_BOOTSTRAP");
  po::options_description opts(
      "weir-rules COMMAND [ARGS] [options]\n\n"
      "The rule store of cep_rule (its rules_topic): versions of named EPL rules, each in force from\n"
      "an event time on, in every engine of every process.\n\n"
      "  put NAME FILE [--effective-from T]  check FILE as cep_rule does, then publish it as the version\n"
      "                                      of NAME in force from T (default: now, the wall clock: right\n"
      "                                      for live data; for replayed or simulated data give T)\n"
      "  get NAME [--at T]                   print the newest version's text (--at: the one in force at T)\n"
      "  list [NAME]                         every version: effective from, size, partition, offset\n\n"
      "T is yyyyMMddHHmmss in UTC, or milliseconds since the epoch. Exit codes: 0 done, 1 Kafka failed\n"
      "or no such rule, 2 bad usage or a rule with errors (nothing published).\n\nOptions");
  opts.add_options()("help,h", "this help")(
      "brokers", po::value(&c.brokers)->default_value(env ? env : ""), "bootstrap brokers (default: $KAFKA_BOOTSTRAP)")(
      "topic", po::value(&c.topic)->default_value("weir-rules"), "the rule store's topic")(
      "effective-from", po::value(&effective_from), "put: the event time from which the version applies")(
      "at", po::value(&at), "get: the event time whose version to print")(
      "rdkafka,X", po::value(&c.props)->composing(), "a librdkafka property KEY=VALUE (repeatable)")(
      "timeout-ms", po::value(&c.timeout_ms)->default_value(15000), "how long to wait for Kafka");
  po::options_description hidden;
  hidden.add_options()("command", po::value(&command))("args", po::value(&args)->multitoken());
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("command", 1).add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "weir-rules: " << e.what() << "\n" << opts << "\n";
    return kUsage;
  }
  if (vm.count("help") || command.empty()) {
    std::cout << opts << "\n";
    return command.empty() && !vm.count("help") ? kUsage : kOk;
  }
  for (const std::string& p : c.props) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) return usage_error("--rdkafka takes KEY=VALUE, not '" + p + "'");
    c.settings.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  if (c.brokers.empty()) return usage_error("no brokers: give --brokers HOST:PORT or set KAFKA_BOOTSTRAP");
  if (c.topic.empty()) return usage_error("--topic must not be empty");
  auto want = [&](size_t lo, size_t hi, const char* usage) {
    if (args.size() < lo || args.size() > hi) {
      std::cerr << "weir-rules: usage: weir-rules " << usage << "\n";
      return false;
    }
    return true;
  };
  try {
    if (command == "put") {
      if (!want(2, 2, "put NAME FILE [--effective-from yyyyMMddHHmmss|MS]")) return kUsage;
      return cmd_put(c, args[0], args[1], effective_from);
    }
    if (!effective_from.empty()) return usage_error("--effective-from is for put");
    if (command == "get") {
      if (!want(1, 1, "get NAME [--at yyyyMMddHHmmss|MS]")) return kUsage;
      return cmd_get(c, args[0], at);
    }
    if (!at.empty()) return usage_error("--at is for get");
    if (command == "list") {
      if (!want(0, 1, "list [NAME]")) return kUsage;
      return cmd_list(c, args.empty() ? "" : args[0]);
    }
  } catch (const weir::ConfigError& e) {  // librdkafka refused a --rdkafka property
    return usage_error(e.what());
  }
  return usage_error("unknown command '" + command + "' (put, get or list)");
}
