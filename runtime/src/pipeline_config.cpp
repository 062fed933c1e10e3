#include "pipeline_config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <tuple>
#include <vector>

namespace fs = std::filesystem;

namespace weir {

SourcePos position_of(const std::string& file, const toml::node& node) {
  const auto& src = node.source();
  // Values from --set carry no position in the file.
  if (src.begin.line == 0 || (src.path && *src.path == "<override>")) return {"--set", 0, 0};
  return {file, static_cast<uint32_t>(src.begin.line), static_cast<uint32_t>(src.begin.column)};
}

// Tables and arrays nested deeper than this are refused. Everything that walks
// the tree recurses once per level (interpolation, the plugins' parameter
// tables, toml++'s own copy and destructor), and a 40 KB file of
// `[a.b.b.b...]` or `a.b.b.b... = 1` is 20,000 levels deep: it overflowed the
// stack. toml++ itself stops arrays and inline tables at 256, not keys.
constexpr int kMaxNesting = 64;

// The first value (in file order) that is more than kMaxNesting levels deep,
// counting a top-level key as level 1; ROOT's own keys are at BASE + 1.
// Iterative, so it is safe on any depth.
static const toml::node* too_deep(const toml::node& root, int base) {
  const toml::node* first = nullptr;
  auto before = [](const toml::node& a, const toml::node* b) {
    if (!b) return true;
    const auto &pa = a.source().begin, &pb = b->source().begin;
    return std::tie(pa.line, pa.column) < std::tie(pb.line, pb.column);
  };
  std::vector<std::pair<const toml::node*, int>> todo{{&root, base}};
  while (!todo.empty()) {
    auto [n, level] = todo.back();
    todo.pop_back();
    if (level > kMaxNesting) {
      if (before(*n, first)) first = n;
      continue;
    }
    if (auto* t = n->as_table()) {
      for (auto&& [k, v] : *t) todo.emplace_back(&v, level + 1);
    } else if (auto* a = n->as_array()) {
      for (auto& v : *a) todo.emplace_back(&v, level + 1);
    }
  }
  return first;
}

// Frees a tree of any depth without recursing once per level: every table or
// array is moved out of its parent (leaving it empty) before the parent goes.
static void free_flat(toml::node&& root) {
  std::vector<std::unique_ptr<toml::node>> todo;
  auto take = [&todo](toml::node& n) {
    if (auto* t = n.as_table(); t && !t->empty()) todo.push_back(std::make_unique<toml::table>(std::move(*t)));
    else if (auto* a = n.as_array(); a && !a->empty()) todo.push_back(std::make_unique<toml::array>(std::move(*a)));
  };
  take(root);
  while (!todo.empty()) {
    std::unique_ptr<toml::node> n = std::move(todo.back());
    todo.pop_back();
    if (auto* t = n->as_table()) {
      for (auto&& [k, v] : *t) take(v);
    } else if (auto* a = n->as_array()) {
      for (auto& v : *a) take(v);
    }
  }
}

static std::string nesting_message() { return "nesting deeper than " + std::to_string(kMaxNesting) + " levels"; }

// toml++ recurses once per level while it parses, and a key of many dotted
// parts (`a.b.b.b... = 1`, `[a.b.b.b...]`) is that many levels: from ~40,000
// parts (an 80 KB file) it overflows the stack inside toml::parse, before
// too_deep() can look. So the
// text is scanned first for a key of more than kMaxNesting parts: outside
// comments and strings, a run of parts (bare words or strings) joined by dots.
// Values never chain dots (a float has one), so valid TOML is never refused
// here. Returns where the part beyond the limit starts.
static std::optional<SourcePos> long_dotted_key(const std::string& file, std::string_view text) {
  uint32_t line = 1, col = 1;
  size_t i = 0;
  auto advance = [&](size_t n) {
    for (size_t end = std::min(i + n, text.size()); i < end; ++i) {
      if (text[i] == '\n') ++line, col = 1;
      else ++col;
    }
  };
  auto at = [&](std::string_view s) { return text.substr(i, s.size()) == s; };
  // Skips the string starting at i (basic or literal, single- or multi-line).
  auto skip_string = [&] {
    const char q = text[i];
    const bool multi = at(std::string(3, q));
    advance(multi ? 3 : 1);
    while (i < text.size()) {
      if (q == '"' && text[i] == '\\') { advance(2); continue; }
      if (!multi && (text[i] == q || text[i] == '\n')) { advance(1); return; }
      if (multi && at(std::string(3, q))) {
        advance(3);
        for (int extra = 0; extra < 2 && i < text.size() && text[i] == q; ++extra) advance(1);  // """a"""""
        return;
      }
      advance(1);
    }
  };
  int parts = 0;      // parts of the current dotted key so far
  bool dot = false;   // a dot since the last part
  while (i < text.size()) {
    char c = text[i];
    bool bare = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    if (bare || c == '"' || c == '\'') {
      if (parts == 0 || dot) ++parts;
      dot = false;
      if (parts > kMaxNesting) return SourcePos{file, line, col};
      if (bare) advance(1);
      else skip_string();
    } else if (c == '.' && parts > 0) {
      dot = true;
      advance(1);
    } else if (c == ' ' || c == '\t') {
      advance(1);
    } else {
      if (c == '#')
        while (i < text.size() && text[i] != '\n') advance(1);
      else advance(1);
      parts = 0;
      dot = false;
    }
  }
  return std::nullopt;
}

// Replaces ${NAME} and ${NAME:-default} in every string value, in place.
// ${WEIR_PIPELINE_DIR} is the directory of the pipeline file, for paths that
// should not depend on where weir is started.
static void interpolate(const std::string& file, const std::string& dir, toml::node& node, Diagnostics& diags) {
  if (auto* s = node.as_string()) {
    std::string& text = s->get();
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
      size_t open = text.find("${", i);
      if (open == std::string::npos) { out += text.substr(i); break; }
      size_t close = text.find('}', open);
      if (close == std::string::npos) {
        diags.add(position_of(file, node), "unterminated ${ in \"" + text + "\"");
        return;
      }
      out += text.substr(i, open - i);
      std::string expr = text.substr(open + 2, close - open - 2);
      std::optional<std::string> fallback;
      if (size_t dash = expr.find(":-"); dash != std::string::npos) {
        fallback = expr.substr(dash + 2);
        expr.resize(dash);
      }
      if (expr == "WEIR_PIPELINE_DIR") out += dir;
      else if (const char* v = std::getenv(expr.c_str()); v && *v) out += v;
      else if (fallback) out += *fallback;
      else diags.add(position_of(file, node), "environment variable '" + expr + "' is not set (use ${" + expr + ":-default})");
      i = close + 1;
    }
    text = out;
  } else if (auto* t = node.as_table()) {
    for (auto&& [k, v] : *t) interpolate(file, dir, v, diags);
  } else if (auto* a = node.as_array()) {
    for (auto& v : *a) interpolate(file, dir, v, diags);
  }
}

std::optional<Override> parse_override(const std::string& text, std::string& error) {
  size_t eq = text.find('=');
  size_t dot = text.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq || dot == 0 || dot + 1 == eq) {
    error = "--set expects node.param=value, got '" + text + "'";
    return std::nullopt;
  }
  return Override{text.substr(0, dot), text.substr(dot + 1, eq - dot - 1), text.substr(eq + 1)};
}

static void apply_override(toml::table& nodes, const Override& o, Diagnostics& diags) {
  auto* node = nodes[o.node].as_table();
  if (!node) {
    diags.add({"--set", 0, 0}, "no node named '" + o.node + "' to set '" + o.param + "' on");
    return;
  }
  const std::string doc = "v = " + o.value;
  if (long_dotted_key("--set", doc)) {
    diags.add({"--set", 0, 0}, o.node + "." + o.param + ": " + nesting_message());
    return;
  }
  toml::table parsed;
  try {
    parsed = toml::parse(std::string_view(doc), std::string_view("<override>"));
  } catch (const toml::parse_error&) {
    parsed = toml::table{};
    parsed.insert("v", o.value);  // not a TOML literal: a plain string (see overflowed_integer in param_values.cpp)
  }
  // "5\nrate = 10" parses too, as two keys: refuse rather than drop the rest.
  if (parsed.size() != 1) {
    std::string others;
    for (auto&& [k, v] : parsed)
      if (k != "v") others += (others.empty() ? "'" : ", '") + std::string(k.str()) + "'";
    diags.add({"--set", 0, 0}, o.node + "." + o.param + ": the value is more than one TOML value (it goes on to set " +
                                   others + "); give one value per --set, or quote text that spans lines as a TOML string ('''...''')");
    free_flat(std::move(parsed));
    return;
  }
  // `v` stands for nodes.NODE.PARAM: two levels below the top.
  if (too_deep(parsed, 2)) {
    diags.add({"--set", 0, 0}, o.node + "." + o.param + ": " + nesting_message());
    free_flat(std::move(parsed));
    return;
  }
  node->insert_or_assign(o.param, *parsed.get("v"));
}

static uint32_t read_count(const std::string& file, const toml::table& t, const char* key, uint32_t fallback,
                           Diagnostics& diags) {
  const toml::node* n = t.get(key);
  if (!n) return fallback;
  auto v = n->value<int64_t>();
  if (!v || *v <= 0 || *v > (1 << 24)) {
    diags.add(position_of(file, *n), std::string("pipeline.") + key + " must be a positive integer");
    return fallback;
  }
  return static_cast<uint32_t>(*v);
}

bool is_runtime_key(const std::string& key) {
  for (const char* k : {"plugin", "inputs", "checkpoint", "checkpoint_interval_ms", "state", "allowed_lateness_ms",
                        "idle_timeout_ms", "max_ahead_ms", "parallelism"})
    if (key == k) return true;
  return false;
}

std::optional<PipelineConfig> load_pipeline(const std::string& file, const std::vector<Override>& overrides,
                                            Diagnostics& diags) {
  PipelineConfig cfg;
  cfg.file = file;
  cfg.dir = fs::absolute(fs::path(file)).parent_path().string();
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (auto pos = long_dotted_key(file, text)) {
    diags.add(*pos, nesting_message());
    return std::nullopt;
  }
  try {
    // Unreadable: toml++ says why.
    cfg.root = std::make_shared<toml::table>(in ? toml::parse(text, file) : toml::parse_file(file));
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    diags.add({file, static_cast<uint32_t>(src.begin.line), static_cast<uint32_t>(src.begin.column)},
              std::string(e.description()));
    return std::nullopt;
  }
  toml::table& root = *cfg.root;
  if (const toml::node* deep = too_deep(root, 0)) {
    diags.add(position_of(file, *deep), nesting_message());
    free_flat(std::move(root));
    return std::nullopt;
  }
  interpolate(file, cfg.dir, root, diags);

  for (auto&& [key, value] : root) {
    if (key != "pipeline" && key != "nodes")
      diags.add(position_of(file, value),
                "unknown top-level key '" + std::string(key.str()) + "' (expected [pipeline] or [nodes.NAME])");
  }
  if (auto* p = root["pipeline"].as_table()) {
    for (auto&& [key, value] : *p) {
      std::string k(key.str());
      if (k == "batch_size")  // it was parsed, documented and read by nothing
        diags.add(position_of(file, value), "pipeline.batch_size is not a setting (it never did anything): batch sizes "
                                            "are parameters of the sources, e.g. [nodes.kafka] batch_size; remove it");
      else if (k != "plugin_path" && k != "queue_batches" && k != "name" && k != "description")
        diags.add(position_of(file, value), "unknown key 'pipeline." + k + "'" +
                                                did_you_mean(k, {"plugin_path", "queue_batches", "name", "description"}));
    }
    if (const toml::node* pp = p->get("plugin_path")) {
      if (auto* arr = pp->as_array()) {
        for (auto& item : *arr) {
          if (auto s = item.value<std::string>()) {
            fs::path dir(*s);
            cfg.plugin_path.push_back((dir.is_absolute() ? dir : fs::path(cfg.dir) / dir).lexically_normal().string());
          } else {
            diags.add(position_of(file, item), "plugin_path entries must be strings");
          }
        }
      } else {
        diags.add(position_of(file, *pp), "pipeline.plugin_path must be an array of directories");
      }
    }
    cfg.queue_batches = read_count(file, *p, "queue_batches", cfg.queue_batches, diags);
  }

  auto* nodes = root["nodes"].as_table();
  if (!nodes || nodes->empty()) {
    diags.add({file, 1, 1}, "the pipeline has no nodes (add a [nodes.NAME] table)");
    return std::nullopt;
  }
  for (const auto& o : overrides) apply_override(*nodes, o, diags);

  for (auto&& [name, value] : *nodes) {
    NodeConfig node;
    node.name = std::string(name.str());
    node.pos = position_of(file, value);
    auto* t = value.as_table();
    if (!t) {
      diags.add(node.pos, "nodes." + node.name + " must be a table");
      continue;
    }
    if (node.name.find('.') != std::string::npos) diags.add(node.pos, "node name '" + node.name + "' must not contain '.'");
    if (const toml::node* plugin = t->get("plugin")) {
      node.plugin_pos = position_of(file, *plugin);
      if (auto s = plugin->value<std::string>()) node.plugin = *s;
      else diags.add(node.plugin_pos, "node '" + node.name + "': plugin must be a string");
    } else {
      diags.add(node.pos, "node '" + node.name + "' has no 'plugin'");
    }
    if (const toml::node* inputs = t->get("inputs")) {
      auto* arr = inputs->as_array();
      if (!arr) diags.add(position_of(file, *inputs), "node '" + node.name + "': inputs must be an array like [\"a.out\"]");
      for (size_t i = 0; arr && i < arr->size(); ++i) {
        const toml::node& item = *arr->get(i);
        auto s = item.value<std::string>();
        if (!s || s->empty()) {
          diags.add(position_of(file, item), "node '" + node.name + "': each input is a string \"node\" or \"node.port\"");
          continue;
        }
        InputRef ref{*s, "", position_of(file, item)};
        if (size_t dot = s->find('.'); dot != std::string::npos) ref = {s->substr(0, dot), s->substr(dot + 1), ref.pos};
        node.inputs.push_back(ref);
      }
    }
    if (const toml::node* c = t->get("checkpoint")) {
      node.checkpoint_pos = position_of(file, *c);
      auto s = c->value<std::string>();
      if (s) node.checkpoint = *s;  // "" = none (handy with --set)
      else diags.add(node.checkpoint_pos, "node '" + node.name + "': checkpoint must be a file path (or \"\" for none)");
    }
    if (const toml::node* c = t->get("checkpoint_interval_ms")) {
      auto v = c->value<int64_t>();
      if (v && *v > 0) node.checkpoint_interval_ms = *v;
      else diags.add(position_of(file, *c), "node '" + node.name + "': checkpoint_interval_ms must be a positive number");
    }
    if (const toml::node* c = t->get("state")) {
      node.state_pos = position_of(file, *c);
      auto s = c->value<std::string>();
      if (s && (*s == "per_partition" || *s == "global")) node.state = *s;
      else diags.add(node.state_pos, "node '" + node.name + "': state must be \"per_partition\" or \"global\"");
    }
    // Runtime durations in ms: a non-negative integer each.
    auto duration = [&](const char* key, auto&& store) {
      const toml::node* c = t->get(key);
      if (!c) return;
      auto v = c->value<int64_t>();
      if (v && *v >= 0) store(*v, position_of(file, *c));
      else diags.add(position_of(file, *c), "node '" + node.name + "': " + key + " must be a number of ms >= 0");
    };
    duration("allowed_lateness_ms", [&](int64_t v, SourcePos pos) {
      node.allowed_lateness_ms = v;
      node.allowed_lateness_pos = pos;
    });
    duration("idle_timeout_ms", [&](int64_t v, SourcePos) { node.idle_timeout_ms = v; });
    duration("max_ahead_ms", [&](int64_t v, SourcePos) { node.max_ahead_ms = v; });
    if (const toml::node* c = t->get("parallelism")) {
      node.parallelism_pos = position_of(file, *c);
      auto v = c->value<int64_t>();
      if (v && *v >= 1 && *v <= kMaxParallelism) node.parallelism = static_cast<uint32_t>(*v);
      else diags.add(node.parallelism_pos, "node '" + node.name + "': parallelism must be a number of tasks from 1 to " +
                                               std::to_string(kMaxParallelism));
    }
    for (auto&& [k, v] : *t) {
      std::string key(k.str());
      // Runtime keys; everything else is a parameter of the plugin.
      if (is_runtime_key(key)) continue;
      node.params.emplace_back(key, &v);
      node.param_pos[key] = position_of(file, v);
    }
    cfg.nodes.push_back(std::move(node));
  }
  // TOML tables are unordered; keep the order of the file for listings.
  std::stable_sort(cfg.nodes.begin(), cfg.nodes.end(),
                   [](const NodeConfig& a, const NodeConfig& b) { return a.pos.line < b.pos.line; });
  return cfg;
}

}  // namespace weir
