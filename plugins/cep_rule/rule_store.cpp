#include "rule_store.hpp"

#ifdef WEIR_CEP_KAFKA_STORE
#include "kafka_rule_store.hpp"
#endif

#include <weir/civil_time.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace weir::cep::store {

namespace {

constexpr std::string_view kMagic = "weir-rule 1";

bool parse_i64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string check_name(std::string_view name) {
  if (name.empty()) return "a rule name must not be empty";
  if (name.size() > 200) return "a rule name has at most 200 characters";
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return "a rule name has only letters, digits, '_', '-' and '.', not '" + std::string(name) + "'";
  return "";
}

std::string record_key(const std::string& name, int64_t effective_from_ms) {
  return name + "@" + std::to_string(effective_from_ms);
}

bool parse_key(std::string_view key, std::string& name, int64_t& effective_from_ms) {
  size_t at = key.rfind('@');
  if (at == std::string_view::npos) return false;
  name = std::string(key.substr(0, at));
  return check_name(name).empty() && parse_i64(key.substr(at + 1), effective_from_ms);
}

std::string encode_value(const RuleVersion& v) {
  return std::string(kMagic) + " name=" + v.name + " effective_from_ms=" + std::to_string(v.effective_from_ms) +
         " published_ms=" + std::to_string(v.published_ms) + " size=" + std::to_string(v.text.size()) + "\n" + v.text;
}

std::optional<RuleVersion> decode(std::string_view key, std::string_view value, std::string& why) {
  size_t eol = value.find('\n');
  if (eol == std::string_view::npos || value.substr(0, kMagic.size()) != kMagic ||
      (value.size() > kMagic.size() && value[kMagic.size()] != ' ' && value[kMagic.size()] != '\n')) {
    why = "not a weir rule version (the value does not start with '" + std::string(kMagic) + "')";
    return std::nullopt;
  }
  RuleVersion v;
  bool has_time = false, has_size = false;
  int64_t size = -1;
  std::string_view header = value.substr(kMagic.size(), eol - kMagic.size());
  while (!header.empty()) {
    size_t sp = header.find(' ');
    std::string_view item = header.substr(0, sp);
    header = sp == std::string_view::npos ? std::string_view() : header.substr(sp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = item.substr(0, eq), val = item.substr(eq + 1);
    if (k == "name") v.name = std::string(val);
    else if (k == "effective_from_ms") has_time = parse_i64(val, v.effective_from_ms);
    else if (k == "published_ms") parse_i64(val, v.published_ms);
    else if (k == "size") has_size = parse_i64(val, size);
  }
  if (v.name.empty() || !has_time || !has_size) {
    why = "the header lacks name, effective_from_ms or size";
    return std::nullopt;
  }
  if (std::string e = check_name(v.name); !e.empty()) {
    why = e;
    return std::nullopt;
  }
  v.text = std::string(value.substr(eol + 1));
  if (size != static_cast<int64_t>(v.text.size())) {
    why = "the header says " + std::to_string(size) + " bytes of rule text, the record holds " + std::to_string(v.text.size());
    return std::nullopt;
  }
  if (key != record_key(v.name, v.effective_from_ms)) {
    why = "the key '" + std::string(key) + "' does not match the header (" + record_key(v.name, v.effective_from_ms) + ")";
    return std::nullopt;
  }
  return v;
}

std::string time14(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
  int64_t rest = ms - days * 86'400'000;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld%02u%02u%02lld%02lld%02lld", static_cast<long long>(y), m, d,
                static_cast<long long>(rest / 3'600'000), static_cast<long long>(rest / 60'000 % 60),
                static_cast<long long>(rest / 1000 % 60));
  std::string s = buf;
  if (rest % 1000) {
    std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(rest % 1000));
    s += buf;
  }
  return s;
}

std::string readable_time(int64_t ms) {
  std::string t = time14(ms);
  return t.substr(0, 4) + "-" + t.substr(4, 2) + "-" + t.substr(6, 2) + " " + t.substr(8, 2) + ":" + t.substr(10, 2) + ":" +
         t.substr(12) + " UTC";
}

// ---------------------------------------------------------------- catalog

const std::vector<RuleVersion>* Catalog::find(const std::string& name) const {
  auto it = rules_.find(name);
  return it == rules_.end() || it->second.empty() ? nullptr : &it->second;
}

void Catalog::put(RuleVersion v) {
  auto& list = rules_[v.name];
  auto it = std::lower_bound(list.begin(), list.end(), v.effective_from_ms,
                             [](const RuleVersion& a, int64_t t) { return a.effective_from_ms < t; });
  if (it != list.end() && it->effective_from_ms == v.effective_from_ms) *it = std::move(v);
  else list.insert(it, std::move(v));
}

void Catalog::erase(const std::string& name, int64_t effective_from_ms) {
  auto it = rules_.find(name);
  if (it == rules_.end()) return;
  std::erase_if(it->second, [&](const RuleVersion& v) { return v.effective_from_ms == effective_from_ms; });
  if (it->second.empty()) rules_.erase(it);
}

size_t Catalog::version_count() const {
  size_t n = 0;
  for (const auto& [name, list] : rules_) n += list.size();
  return n;
}

const RuleVersion* version_at(const std::vector<RuleVersion>& versions, int64_t t,
                              const std::function<bool(const RuleVersion&)>& usable) {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it)
    if (it->effective_from_ms <= t && usable(*it)) return &*it;
  return nullptr;
}

const RuleVersion* first_usable(const std::vector<RuleVersion>& versions,
                                const std::function<bool(const RuleVersion&)>& usable) {
  for (const RuleVersion& v : versions)
    if (usable(v)) return &v;
  return nullptr;
}

// ---------------------------------------------------------------- source

bool RuleSource::wait_ready(int64_t timeout_ms, std::string& why) {
  std::unique_lock lock(mu_);
  bool done = cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0)),
                           [&] { return ready_ || !failure_.empty(); });
  if (ready_) return true;
  if (!failure_.empty()) why = failure_;
  else why = "not read to its end within " + std::to_string(timeout_ms) + " ms" + (problem_.empty() ? "" : ": " + problem_);
  (void)done;
  return false;
}

std::shared_ptr<const Catalog> RuleSource::catalog() const {
  std::lock_guard lock(mu_);
  return catalog_;
}

std::vector<RuleSource::Message> RuleSource::take_messages() {
  std::lock_guard lock(mu_);
  return std::exchange(messages_, {});
}

bool RuleSource::first_report(const std::string& key) {
  std::lock_guard lock(mu_);
  return reported_.insert(key).second;
}

void RuleSource::publish(const std::function<void(Catalog&)>& change) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Catalog>(*catalog_);
  change(*next);
  catalog_ = std::move(next);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void RuleSource::set_ready() {
  {
    std::lock_guard lock(mu_);
    ready_ = true;
    failure_.clear();
  }
  cv_.notify_all();
}

void RuleSource::set_failure(const std::string& why) {
  {
    std::lock_guard lock(mu_);
    failure_ = why;
  }
  cv_.notify_all();
}

void RuleSource::set_problem(const std::string& why) {
  std::lock_guard lock(mu_);
  problem_ = why;
}

void RuleSource::message(int level, std::string text) {
  std::lock_guard lock(mu_);
  if (messages_.size() < 1000) messages_.push_back({level, std::move(text)});
}

// ---------------------------------------------------------------- registry

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::weak_ptr<RuleSource>> sources;
  std::map<std::string, std::shared_ptr<RuleSource>> installed;
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string registry_key(const std::string& endpoints, const std::string& topic) { return endpoints + "\n" + topic; }

}  // namespace

std::shared_ptr<RuleSource> rule_source(const std::string& endpoints, const std::string& topic,
                                        const std::vector<std::pair<std::string, std::string>>& settings) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  std::string key = registry_key(endpoints, topic);
  if (auto it = r.installed.find(key); it != r.installed.end()) return it->second;
  if (auto s = r.sources[key].lock()) return s;
#ifdef WEIR_CEP_KAFKA_STORE
  std::shared_ptr<RuleSource> s = std::make_shared<KafkaRuleSource>(endpoints, topic, settings);
  r.sources[key] = s;
  return s;
#else
  (void)settings;
  throw std::runtime_error("rules_topic: this cep_rule was built without librdkafka, so it cannot read a rule store");
#endif
}

void install_rule_source(const std::string& endpoints, const std::string& topic, std::shared_ptr<RuleSource> source) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  std::string key = registry_key(endpoints, topic);
  if (source) r.installed[key] = std::move(source);
  else r.installed.erase(key);
}

}  // namespace weir::cep::store
