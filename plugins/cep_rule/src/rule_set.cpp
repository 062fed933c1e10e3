#include "rule_set.hpp"

#include "error.hpp"
#include "parser.hpp"
#include "match_recognize.hpp"
#include "pattern.hpp"
#include "serialize.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

namespace weir::cep {

namespace {

void collect_idents(const Expr* e, std::set<std::string>& out) {
  if (!e) return;
  if (e->kind == ExprKind::Ident && e->qualifier != "context") out.insert(e->name);
  for_each_child(*e, [&](const Expr& c) { collect_idents(&c, out); });
}

void collect_idents(const PatternAst* p, std::set<std::string>& out) {
  if (!p) return;
  collect_idents(p->filter.get(), out);
  for (const auto& k : p->kids) collect_idents(k.get(), out);
}

void collect_idents(const MatchRecognizeAst* m, std::set<std::string>& out) {
  if (!m) return;
  for (const ExprPtr& e : m->partition) collect_idents(e.get(), out);
  for (const MatchMeasure& x : m->measures) collect_idents(x.expr.get(), out);
  for (const MatchDefine& d : m->defines) collect_idents(d.cond.get(), out);
}

// Every identifier a statement uses (properties or variables).
void collect_idents(const StatementAst& st, std::set<std::string>& out) {
  collect_idents(st.pattern.get(), out);
  collect_idents(st.match_recognize.get(), out);
  for (const SelectItem& s : st.select) collect_idents(s.expr.get(), out);
  collect_idents(st.stream_filter.get(), out);
  collect_idents(st.where.get(), out);
  for (const ExprPtr& g : st.group_by) collect_idents(g.get(), out);
  collect_idents(st.having.get(), out);
  for (const MergeClause& c : st.merge) {
    collect_idents(c.cond.get(), out);
    for (const auto& [name, e] : c.sets) collect_idents(e.get(), out);
    for (const SelectItem& s : c.insert) collect_idents(s.expr.get(), out);
  }
}

// Every identifier the contexts use on a stream (keys, filters, conditions).
void collect_context_idents(const Module& m, const std::string& stream, std::set<std::string>& out) {
  for (const ContextDecl& c : m.contexts)
    for (const ContextItem& item : c.items) {
      if (item.stream != stream) continue;
      collect_idents(item.filter.get(), out);
      for (const ExprPtr& k : item.keys) collect_idents(k.get(), out);
      for (const ContextCategory& cat : c.categories) collect_idents(cat.cond.get(), out);
    }
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

}  // namespace

std::vector<std::string> input_streams(const Module& m) {
  std::vector<std::string> in;
  std::set<std::string> produced;
  for (const StatementAst& st : m.statements) {
    if (!produced.count(st.from) && std::find(in.begin(), in.end(), st.from) == in.end()) in.push_back(st.from);
    if (!st.insert_into.empty()) produced.insert(st.insert_into);
    if (st.kind == StatementKind::CreateWindow) produced.insert(st.window_name);
  }
  return in;
}

RuleSet::RuleSet(RuleSetOptions options) : options_(std::move(options)) {
  std::vector<std::string> problems;
  if (options_.files.empty() && options_.texts.empty()) problems.push_back("no rule file given (parameter 'rules')");
  for (const std::string& path : options_.files) {
    try {
      files_.push_back(load(path));
    } catch (const std::exception& e) {
      problems.push_back(e.what());
    }
  }
  for (const RuleText& t : options_.texts) {
    try {
      files_.push_back(load(t));
    } catch (const std::exception& e) {
      problems.push_back(e.what());
    }
  }
  // A configured variable that no rule declares or mentions is most likely a typo.
  if (problems.empty() && options_.check_variables_used)
    for (const auto& [name, text] : options_.variables) {
      bool used = false;
      for (const auto& f : files_) {
        std::set<std::string> ids;
        for (const StatementAst& st : f->module.statements) collect_idents(st, ids);
        collect_context_idents(f->module, f->input_stream, ids);
        for (const VariableDecl& d : f->module.variables) ids.insert(d.name);
        used |= ids.count(name) > 0;
      }
      if (!used) problems.push_back("variables." + name + ": no rule file declares or uses a variable named '" + name + "'");
    }
  if (!problems.empty()) throw std::runtime_error(join(problems, "\n"));
}

EngineOptions RuleSet::engine_options(const Module& m, int64_t start_ms) const {
  EngineOptions o;
  o.start_ms = start_ms;
  for (const auto& [name, text] : options_.variables) {
    Type declared = Type::Null;
    Pos pos;
    for (const VariableDecl& d : m.variables)
      if (d.name == name) {
        declared = d.type;
        pos = d.pos;
      }
    try {
      o.variables[name] = parse_variable_value(text, declared);
    } catch (const std::invalid_argument& e) {
      throw EplError(m.file, pos, "variable '" + name + "' is declared " + type_name(declared) + " but its configured value " +
                                      e.what());
    }
  }
  return o;
}

EventType RuleSet::provisional_type(const RuleFile& f) const {
  std::set<std::string> ids, vars;
  for (const StatementAst& st : f.module.statements)
    if (st.from == f.input_stream) collect_idents(st, ids);
  collect_context_idents(f.module, f.input_stream, ids);
  for (const VariableDecl& d : f.module.variables) vars.insert(d.name);
  for (const auto& [name, text] : options_.variables) vars.insert(name);
  EventType t{f.input_stream, {}};
  for (const std::string& id : ids)
    if (!vars.count(id)) t.fields.push_back({id, Type::Null});  // any type until records show it
  return t;
}

std::unique_ptr<Engine> RuleSet::build(RuleFile& f, const EventType& type, int64_t start_ms) const {
  EventType named = type;
  named.name = f.input_stream;
  return std::make_unique<Engine>(f.module, std::vector<EventType>{named}, engine_options(f.module, start_ms));
}

std::unique_ptr<RuleFile> RuleSet::load(const std::string& path) const {
  auto f = std::make_unique<RuleFile>();
  f->path = path;
  f->id = path;
  f->stem = std::filesystem::path(path).stem().string();
  std::error_code ec;
  f->mtime = std::filesystem::last_write_time(path, ec);
  f->size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the rule file: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  parse_into(*f, ss.str());
  return f;
}

std::unique_ptr<RuleFile> RuleSet::load(const RuleText& t) const {
  auto f = std::make_unique<RuleFile>();
  f->path = t.source;
  f->id = t.id;
  f->stem = t.stem;
  f->from_file = false;
  f->text = t.text;
  f->version = t.version;
  parse_into(*f, t.text);
  return f;
}

void RuleSet::parse_into(RuleFile& f, const std::string& text) const {
  const std::string& path = f.path;
  f.module = parse_module(text, path);
  if (f.module.statements.empty()) throw EplError(path, Pos{}, "the rule file has no statement");
  std::vector<std::string> inputs = input_streams(f.module);
  if (inputs.size() != 1)
    throw EplError(path, f.module.statements.front().pos,
                   "the statements read several input streams (" + join(inputs, ", ") + "); a cep_rule node has one input stream");
  f.input_stream = inputs.front();
  if (!options_.stream.empty() && f.input_stream != options_.stream) {
    Pos pos;
    for (const StatementAst& st : f.module.statements)
      if (st.from == f.input_stream) {
        pos = st.from_pos;
        break;
      }
    throw EplError(path, pos, "the rule reads stream '" + f.input_stream + "' but the node's stream is '" + options_.stream + "'");
  }
  // Validate names, clauses and aggregates now; types are checked once known.
  build(f, input_ ? *input_ : provisional_type(f), 0);
}

int RuleSet::find(const std::string& id) const {
  for (size_t i = 0; i < files_.size(); ++i)
    if (files_[i]->id == id) return static_cast<int>(i);
  return -1;
}

void RuleSet::set_listener(Listener fn) {
  listener_ = std::move(fn);
  for (auto& f : files_)
    if (f->engine) attach(*f);
}

void RuleSet::attach(RuleFile& f) {
  RuleFile* fp = &f;
  f.engine->set_listener([this, fp](const Delivery& d) {
    if (listener_) listener_(*fp, d);
  });
}

void RuleSet::set_input_type(const EventType& type, int64_t start_ms) {
  std::vector<std::unique_ptr<Engine>> engines;
  for (auto& f : files_) engines.push_back(build(*f, type, start_ms));  // may throw: nothing changed yet
  input_ = type;
  for (size_t i = 0; i < files_.size(); ++i) {
    files_[i]->engine = std::move(engines[i]);
    attach(*files_[i]);
  }
  compute_needed();
}

void RuleSet::compute_needed() {
  std::set<int> need;
  for (auto& f : files_) {
    if (!f->engine) continue;
    for (size_t s = 0; s < f->engine->statement_count(); ++s) {
      const Plan& p = f->engine->statement(s).plan();
      if (p.from == f->input_stream && p.pattern && p.pattern->fields) {
        // The filters read the input, and the match rows keep properties of tagged input events.
        need.insert(p.pattern->reads.begin(), p.pattern->reads.end());
      } else if (p.from == f->input_stream && p.match_recognize) {
        need.insert(p.match_recognize->reads.begin(), p.match_recognize->reads.end());
      } else if (p.from == f->input_stream) {
        for (int field : p.layout)
          if (field >= 0) need.insert(field);
      }
    }
    std::vector<int> routing = f->engine->context_fields(f->input_stream);
    need.insert(routing.begin(), routing.end());
    std::vector<int> triggers = f->engine->trigger_fields(f->input_stream);
    need.insert(triggers.begin(), triggers.end());
  }
  needed_.assign(need.begin(), need.end());
}

bool RuleSet::reload_one(size_t i, int64_t now_ms, ReloadReport& report) {
  RuleFile& old = *files_[i];
  std::unique_ptr<RuleFile> nf;
  try {
    nf = load(old.path);
    if (input_) nf->engine = build(*nf, *input_, old.engine ? std::max(old.engine->now(), now_ms) : now_ms);
  } catch (const std::exception& e) {
    // Keep the running rule; remember the file's state so that the same
    // broken version is reported once, not at every poll.
    std::error_code ec;
    old.mtime = std::filesystem::last_write_time(old.path, ec);
    old.size = std::filesystem::file_size(old.path, ec);
    old.last_error = e.what();
    report.errors.push_back(e.what());
    return false;
  }
  swap_in(i, std::move(nf), report);
  return true;
}

bool RuleSet::replace(size_t i, const RuleText& text, int64_t now_ms, ReloadReport& report) {
  RuleFile& old = *files_[i];
  std::unique_ptr<RuleFile> nf;
  try {
    nf = load(text);
    if (input_) nf->engine = build(*nf, *input_, old.engine ? std::max(old.engine->now(), now_ms) : now_ms);
  } catch (const std::exception& e) {
    report.errors.push_back(e.what());
    return false;
  }
  swap_in(i, std::move(nf), report);
  return true;
}

// The new rule takes over the old one's windows (those with the same definition).
void RuleSet::swap_in(size_t i, std::unique_ptr<RuleFile> nf, ReloadReport& report) {
  RuleFile& old = *files_[i];
  if (nf->engine && old.engine)
    for (const std::string& n : nf->engine->adopt(*old.engine)) report.notes.push_back(nf->path + ": " + n);
  files_[i] = std::move(nf);
  if (files_[i]->engine) attach(*files_[i]);
  compute_needed();
  report.reloaded.push_back(files_[i]->path);
}

RuleSet::ReloadReport RuleSet::reload_changed(int64_t now_ms) {
  ReloadReport report;
  for (size_t i = 0; i < files_.size(); ++i) {
    if (!files_[i]->from_file) continue;
    std::error_code ec1, ec2;
    auto mtime = std::filesystem::last_write_time(files_[i]->path, ec1);
    auto size = std::filesystem::file_size(files_[i]->path, ec2);
    if (ec1 || ec2) {
      std::string msg = files_[i]->path + ": cannot read the rule file: " + (ec1 ? ec1 : ec2).message() + "; keeping the running rule";
      if (files_[i]->last_error != msg) {
        files_[i]->last_error = msg;
        report.errors.push_back(msg);
      }
      continue;
    }
    if (mtime != files_[i]->mtime || size != files_[i]->size) reload_one(i, now_ms, report);
  }
  return report;
}

RuleSet::ReloadReport RuleSet::reload_all(int64_t now_ms) {
  ReloadReport report;
  for (size_t i = 0; i < files_.size(); ++i)
    if (files_[i]->from_file) reload_one(i, now_ms, report);
  return report;
}

int64_t RuleSet::now() const {
  int64_t t = std::numeric_limits<int64_t>::min();
  for (const auto& f : files_)
    if (f->engine) t = std::max(t, f->engine->now());
  return t;
}

int64_t RuleSet::oldest_pending() {
  int64_t t = kNever;
  for (auto& f : files_)
    if (f->engine) t = std::min(t, f->engine->oldest_pending());
  return t;
}

uint64_t RuleSet::match_states_dropped() const {
  uint64_t n = 0;
  for (const auto& f : files_)
    if (f->engine) n += f->engine->match_states_dropped();
  return n;
}

int64_t RuleSet::next_timer() {
  int64_t t = kNever;
  for (auto& f : files_)
    if (f->engine) t = std::min(t, f->engine->next_timer());
  return t;
}

void RuleSet::advance_to(int64_t t) {
  for (auto& f : files_)
    if (f->engine) f->engine->advance_to(t);
}

void RuleSet::send(const std::vector<Value>& row, std::optional<int64_t> event_time) {
  for (auto& f : files_) {
    if (!f->engine) continue;
    int s = f->engine->stream(f->input_stream);
    if (event_time) f->engine->send_at(s, row.data(), *event_time);
    else f->engine->send(s, row.data());
  }
}

bool RuleSet::batches() const {
  const RuleFile* only = nullptr;
  for (const auto& f : files_) {
    if (!f->engine) continue;
    if (only) return false;
    only = f.get();
  }
  return only && only->engine->prefetches(only->engine->stream(only->input_stream));
}

void RuleSet::send_batch(const std::vector<Value>& rows, const std::vector<int64_t>& times, bool event_time) {
  if (times.empty()) return;
  if (!batches()) throw std::logic_error("cep_rule: send_batch without batches()");  // our bug
  for (auto& f : files_) {
    if (!f->engine) continue;
    Engine& e = *f->engine;
    int s = e.stream(f->input_stream);
    if (event_time) {
      e.send_batch(s, rows.data(), times.data(), times.size());
    } else {
      std::vector<int64_t> now(times.size(), e.now());  // send_at at the engine's clock: send
      e.send_batch(s, rows.data(), now.data(), now.size());
    }
  }
}

// Format 1: the input type, then per rule its id and engine state. Format 2
// (written when some rule is given as text) adds per rule its version tag,
// source name and text.
std::string RuleSet::snapshot() {
  bool texts = std::any_of(files_.begin(), files_.end(), [](const auto& f) { return !f->from_file; });
  std::string out;
  Writer w(out);
  w.str(texts ? "weir-cep-rules-2" : "weir-cep-rules-1");
  w.u8(input_.has_value());
  if (input_) {
    w.u64(input_->fields.size());
    for (const Field& f : input_->fields) {
      w.str(f.name);
      w.u8(static_cast<uint8_t>(f.type));
    }
  }
  w.u64(files_.size());
  for (auto& f : files_) {
    w.str(f->id);
    if (texts) {
      w.u8(f->from_file);
      w.str(f->version);
      w.str(f->from_file ? std::string() : f->path);
      w.str(f->from_file ? std::string() : f->text);
    }
    w.str(f->engine ? f->engine->snapshot() : std::string());
  }
  return out;
}

std::vector<std::string> RuleSet::restore(std::string_view state, int64_t now_ms) {
  std::vector<std::string> notes;
  Reader r(state);
  std::string format = r.str();
  if (format != "weir-cep-rules-1" && format != "weir-cep-rules-2") throw std::runtime_error("cep_rule state: unknown format");
  bool texts = format == "weir-cep-rules-2";
  if (r.u8()) {
    EventType t;
    uint64_t n = r.u64();
    for (uint64_t i = 0; i < n; ++i) {
      std::string name = r.str();
      t.fields.push_back({name, static_cast<Type>(r.u8() % 5)});
    }
    if (!input_) set_input_type(t, now_ms);
  }
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n; ++i) {
    std::string id = r.str();
    bool saved_from_file = true;
    RuleText saved;
    if (texts) {
      saved_from_file = r.u8() != 0;
      saved.version = r.str();
      saved.source = r.str();
      saved.text = r.str();
    }
    std::string engine_state = r.str();
    int at = find(id);
    if (at < 0) {
      if (!engine_state.empty()) notes.push_back(id + ": saved state of a rule that is not configured any more: dropped");
      continue;
    }
    RuleFile& f = *files_[static_cast<size_t>(at)];
    // A rule given as text continues with the saved version (the state is
    // that version's); the caller decides whether to move on to another.
    std::unique_ptr<RuleFile> nf;
    if (!saved_from_file && !f.from_file && (saved.version != f.version || saved.text != f.text)) {
      saved.id = f.id;
      saved.stem = f.stem;
      try {
        nf = load(saved);
      } catch (const std::exception& ex) {
        notes.push_back(id + ": the saved version does not compile any more (" + std::string(ex.what()) +
                        "); continuing with the current version, its windows empty");
        continue;
      }
    }
    RuleFile& target = nf ? *nf : f;
    if (engine_state.empty() || !input_) {
      if (nf) {
        if (input_) nf->engine = build(*nf, *input_, now_ms);
        files_[static_cast<size_t>(at)] = std::move(nf);
        if (files_[static_cast<size_t>(at)]->engine) attach(*files_[static_cast<size_t>(at)]);
      }
      continue;
    }
    // Restore into a fresh engine so a mismatch leaves the running one intact.
    try {
      std::unique_ptr<Engine> e = build(target, *input_, now_ms);
      e->restore(engine_state);
      target.engine = std::move(e);
      if (nf) files_[static_cast<size_t>(at)] = std::move(nf);
      attach(*files_[static_cast<size_t>(at)]);
    } catch (const std::exception& ex) {
      notes.push_back(target.path + ": state not restored (" + ex.what() + "); its windows start empty");
    }
  }
  compute_needed();
  return notes;
}

}  // namespace weir::cep
