#include "context.hpp"

#include "eval.hpp"

#include <array>

namespace weir::cep {

namespace {

std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

// java.util.zip.CRC32 (the zlib polynomial).
uint32_t crc32(std::string_view s) {
  static const std::array<uint32_t, 256> table = crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// String.hashCode over the UTF-16 code units of a UTF-8 text.
int32_t java_string_hash(std::string_view s) {
  uint32_t h = 0;
  auto unit = [&](uint32_t u) { h = 31 * h + u; };
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    size_t n = 1;
    if (c >= 0xF0) n = 4, cp = c & 0x07;
    else if (c >= 0xE0) n = 3, cp = c & 0x0F;
    else if (c >= 0xC0) n = 2, cp = c & 0x1F;
    for (size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(0xD800 + (cp >> 10));
      unit(0xDC00 + (cp & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return static_cast<int32_t>(h);
}

}  // namespace

int64_t crc32_bucket(std::string_view s, int64_t granularity) {
  return static_cast<int64_t>(static_cast<int32_t>(static_cast<int64_t>(crc32(s)) % granularity));
}

int64_t java_hash_bucket(const Value& v, Narrow narrow, int64_t granularity) {
  int32_t h = 0;
  switch (v.type()) {
    case Type::Null: return 0;
    case Type::Bool: h = v.as_bool() ? 1231 : 1237; break;
    case Type::Long: {
      int64_t x = v.as_long();
      h = narrow == Narrow::Int ? static_cast<int32_t>(x)
                                : static_cast<int32_t>(static_cast<uint64_t>(x) ^ (static_cast<uint64_t>(x) >> 32));
      break;
    }
    case Type::Double: {
      // Double.hashCode (a float's Float.hashCode is not needed: no float property exists).
      double d = v.as_double();
      uint64_t bits;
      if (d != d) bits = 0x7ff8000000000000ULL;
      else std::memcpy(&bits, &d, sizeof bits);
      h = static_cast<int32_t>(bits ^ (bits >> 32));
      break;
    }
    case Type::String: h = java_string_hash(v.as_string()); break;
  }
  int32_t r = h % static_cast<int32_t>(granularity);  // Java's remainder: the sign of h
  return r < 0 ? -static_cast<int64_t>(r) : r;
}

ContextRuntime::ContextRuntime(const ContextDecl& decl, const std::vector<std::pair<std::string, const EventType*>>& streams,
                               const Variables& vars, const std::string& file)
    : name_(decl.name), text_(decl.text), kind_(decl.kind), granularity_(decl.granularity), preallocate_(decl.preallocate),
      file_(file), key_width_(decl.kind == ContextKind::Keyed && !decl.items.empty() ? decl.items.front().keys.size() : 1) {
  for (const ContextCategory& c : decl.categories) labels_.push_back(c.label);
  for (const ContextItem& item : decl.items) streams_.push_back(item.stream);
  size_t nkeys = decl.items.empty() ? 0 : decl.items.front().keys.size();
  for (const ContextItem& item : decl.items) {
    int id = -1;
    for (size_t s = 0; s < streams.size(); ++s)
      if (streams[s].first == item.stream) id = static_cast<int>(s);
    if (id < 0)
      throw EplError(file, item.pos, "context '" + decl.name + "' reads stream '" + item.stream +
                                         "', which is not an input stream or an 'insert into' stream of an earlier statement");
    if (item.keys.size() != nkeys)
      throw EplError(file, item.pos, "every stream of context '" + decl.name + "' needs the same number of partition keys");
    // The item's filter and expressions, compiled as `select k1, k2 from S(filter)`.
    StatementAst st;
    st.pos = item.pos;
    st.from = item.stream;
    st.from_pos = item.pos;
    if (item.filter) st.stream_filter = item.filter->clone();
    auto column = [&](const Expr& e) {
      SelectItem si;
      si.expr = e.clone();
      si.alias = "k" + std::to_string(st.select.size());
      si.pos = e.pos;
      st.select.push_back(std::move(si));
    };
    for (const ExprPtr& k : item.keys) column(*k);
    if (decl.kind == ContextKind::Category)
      for (const ContextCategory& c : decl.categories) column(*c.cond);
    Router r;
    r.stream = id;
    r.fn = item.fn;
    r.plan = compile_statement(st, *streams[static_cast<size_t>(id)].second, vars, file);
    if (!r.plan.aggs.empty()) throw EplError(file, item.pos, "aggregate functions are not allowed in 'create context'");
    for (size_t c = 0; c < r.plan.columns.size(); ++c) {
      Type t = r.plan.columns[c].type;
      Pos pos = st.select[c].pos;
      if (decl.kind == ContextKind::Category && t != Type::Bool && t != Type::Null)
        throw EplError(file, pos, "a context category needs a boolean condition, not " + std::string(type_name(t)));
      if (decl.kind == ContextKind::Hash && item.fn == HashFn::Crc32 && t != Type::String && t != Type::Null)
        throw EplError(file, pos, "consistent_hash_crc32 needs a string, not " + std::string(type_name(t)) + " (use hash_code)");
    }
    r.slots.resize(r.plan.layout.size());
    if (decl.kind == ContextKind::Keyed)
      for (const Column& c : r.plan.columns) r.key_fields.push_back(r.plan.layout[static_cast<size_t>(c.expr->index)]);
    routers_.push_back(std::move(r));
  }
}

ContextShape ContextRuntime::shape_for(const std::string& stream, Pos pos) const {
  ContextShape s;
  s.name = name_;
  s.kind = kind_;
  s.text = text_;
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (streams_[i] != stream) continue;
    if (kind_ == ContextKind::Keyed) {
      const Plan& p = routers_[i].plan;
      for (const Column& c : p.columns) {  // each a property (the parser checked): its slot's input field
        s.key_types.push_back(c.type);
        s.key_fields.push_back(p.layout[static_cast<size_t>(c.expr->index)]);
      }
    }
    return s;
  }
  throw EplError(file_, pos, "context '" + name_ + "' does not partition stream '" + stream +
                                 "': add it to the 'create context' or read one of its streams");
}

std::vector<int> ContextRuntime::fields(const std::string& stream) const {
  std::vector<int> out;
  for (size_t i = 0; i < routers_.size(); ++i)
    if (streams_[i] == stream) out.insert(out.end(), routers_[i].plan.layout.begin(), routers_[i].plan.layout.end());
  return out;
}

namespace {

uint64_t hash_key(const Value* key, size_t width) {
  uint64_t h = 0x84222325cbf29ce4ULL;
  for (size_t i = 0; i < width; ++i) h = (h ^ key[i].hash()) * 0x100000001b3ULL;
  return h;
}

}  // namespace

size_t ContextRuntime::find_or_add(const Value* key) {
  auto same = [&](size_t p) {
    const Value* k = key_of(p);
    for (size_t i = 0; i < key_width_; ++i)
      if (k[i] != key[i]) return false;
    return true;
  };
  size_t p = index_.find(hash_key(key, key_width_), same);
  return p != SIZE_MAX ? p : add(key);
}

// A new partition (its key is not indexed yet); on_create_ may route events
// of its own, so the partition is complete before it runs.
size_t ContextRuntime::add(const Value* key) {
  size_t id = parts_.size();
  std::vector<Value> v(kCtxKey0);
  v[kCtxName] = Value::of_string(name_);
  v[kCtxId] = Value::of_long(static_cast<int64_t>(id));
  if (kind_ == ContextKind::Category) v[kCtxLabel] = Value::of_string(labels_[id]);
  if (kind_ == ContextKind::Keyed) v.insert(v.end(), key, key + key_width_);
  parts_.push_back(std::move(v));
  keys_.insert(keys_.end(), key, key + key_width_);
  index_.find_or_add(hash_key(key, key_width_), [](size_t) { return false; }, [&] { return id; });
  if (on_create_) on_create_(id);
  return id;
}

void ContextRuntime::create_initial() {
  if (kind_ == ContextKind::Category)
    for (size_t c = 0; c < labels_.size(); ++c) {
      Value k = Value::of_long(static_cast<int64_t>(c));
      add(&k);
    }
  if (kind_ == ContextKind::Hash && preallocate_)
    for (int64_t b = 0; b < granularity_; ++b) {
      Value k = Value::of_long(b);
      add(&k);
    }
}

int64_t ContextRuntime::bucket(const Router& r, const Value& v) const {
  if (r.fn == HashFn::HashCode) return java_hash_bucket(v, r.plan.columns[0].expr->narrow, granularity_);
  return v.is_null() ? 0 : crc32_bucket(v.as_string(), granularity_);
}

void ContextRuntime::fill(Router& r, const Value* row) {
  for (size_t i = 0; i < r.plan.layout.size(); ++i) r.slots[i] = row[r.plan.layout[i]];
}

void ContextRuntime::make_key(const Router& r) {
  EvalEnv env{r.slots.data(), nullptr, nullptr, nullptr, nullptr};
  key_.clear();
  if (kind_ == ContextKind::Hash) {
    key_.push_back(Value::of_long(bucket(r, eval(*r.plan.columns[0].expr, env))));
    return;
  }
  for (const Column& c : r.plan.columns) key_.push_back(eval(*c.expr, env));
}

const Value* ContextRuntime::keyed_key(const Router& r, const Value* row) {
  if (r.key_fields.size() == 1) return row + r.key_fields[0];
  key_.clear();
  for (int f : r.key_fields) key_.push_back(row[f]);
  return key_.data();
}

void ContextRuntime::route(int stream_id, const Value* row, std::vector<size_t>& out) {
  out.clear();
  for (Router& r : routers_) {
    if (r.stream != stream_id) continue;
    EvalEnv env{r.slots.data(), nullptr, nullptr, nullptr, nullptr};
    if (kind_ == ContextKind::Keyed) {
      if (r.plan.stream_filter) {
        fill(r, row);
        if (!eval_true(*r.plan.stream_filter, env)) continue;
      }
      out.push_back(find_or_add(keyed_key(r, row)));
      return;  // one item per stream
    }
    fill(r, row);
    if (r.plan.stream_filter && !eval_true(*r.plan.stream_filter, env)) continue;
    if (kind_ == ContextKind::Category) {
      for (size_t c = 0; c < r.plan.columns.size(); ++c)
        if (eval_true(*r.plan.columns[c].expr, env)) out.push_back(c);
      return;
    }
    make_key(r);
    out.push_back(find_or_add(key_.data()));
    return;  // one item per stream
  }
}

uint64_t ContextRuntime::prefetch_slot(int stream_id, const Value* row) {
  for (Router& r : routers_) {
    if (r.stream != stream_id) continue;
    if (kind_ == ContextKind::Category) return 0;
    // The filter is not evaluated: a rejected event only costs a useless fetch.
    const Value* key;
    if (kind_ == ContextKind::Keyed) {
      key = keyed_key(r, row);
    } else {
      fill(r, row);
      make_key(r);
      key = key_.data();
    }
    uint64_t h = hash_key(key, key_width_);
    index_.prefetch(h);
    return h;
  }
  return 0;
}

size_t ContextRuntime::prefetch_partition(uint64_t hash) const {
  size_t p = index_.first_with(hash);
  if (p != SIZE_MAX) __builtin_prefetch(key_of(p));
  return p;
}

void ContextRuntime::save(Writer& w) const {
  w.str(name_);
  w.u64(parts_.size());
  // Keys in partition order: the index is rebuilt from them.
  for (size_t p = 0; p < parts_.size(); ++p) {
    w.u64(key_width_);
    for (size_t i = 0; i < key_width_; ++i) w.value(key_of(p)[i]);
  }
}

void ContextRuntime::clear_partitions() {
  parts_.clear();
  keys_.clear();
  index_.clear();
}

void ContextRuntime::load(Reader& r) {
  if (r.str() != name_) throw std::runtime_error("cep_rule state: context mismatch");
  clear_partitions();
  uint64_t n = r.u64();
  if (n > (uint64_t{1} << 32)) throw std::runtime_error("cep_rule state: bad context");
  std::vector<Value> key;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t k = r.u64();
    if (k != key_width_) throw std::runtime_error("cep_rule state: bad context");
    key.clear();
    for (uint64_t j = 0; j < k; ++j) key.push_back(r.value());
    if (kind_ == ContextKind::Category && (key[0].type() != Type::Long || key[0].as_long() != static_cast<int64_t>(i)))
      throw std::runtime_error("cep_rule state: bad context");
    add(key.data());
  }
}

void ContextRuntime::copy_partitions(const ContextRuntime& old) {
  clear_partitions();
  for (size_t p = 0; p < old.parts_.size(); ++p) add(old.key_of(p));
}

}  // namespace weir::cep
