#include "template_params.hpp"

#include <weir/template.hpp>

#include <cstring>

namespace weir {

namespace {

void check(const std::string& where, const toml::node& value, const std::string& file, std::vector<Diagnostic>& out) {
  const toml::value<std::string>* s = value.as_string();
  if (!s) return;
  Template t;
  try {
    t = Template::compile(s->get());
  } catch (const TemplateError&) {
    return;  // the plugin's create() says what is wrong
  }
  const auto& src = value.source();
  // The column of the placeholder itself when the source is the text between two
  // quotes (no escape, no ${ENV}); otherwise the value's own position.
  bool plain = src.begin.line == src.end.line && src.end.column - src.begin.column == s->get().size() + 2;
  for (const TemplateDeprecation& dep : t.deprecations()) {
    SourcePos pos = position_of(file, value);
    if (plain && pos.line) pos.column += static_cast<uint32_t>(dep.column);
    out.push_back({pos, where + ": '" + dep.old_spelling + "' is an old spelling (it works for one more release); write '" +
                            dep.new_spelling + "' (docs/templates.md)"});
  }
}

}  // namespace

std::vector<Diagnostic> template_deprecations(const NodeConfig& node, const weir_plugin& d) {
  std::vector<Diagnostic> out;
  const std::string file = node.pos.file;
  for (uint32_t i = 0; i < d.param_count; ++i) {
    const weir_param_spec& spec = d.params[i];
    if (!spec.unit || std::strcmp(spec.unit, kTemplateUnit) != 0) continue;
    for (const auto& [key, value] : node.params) {
      if (key != spec.name) continue;
      std::string where = std::string(d.name) + " \"" + node.name + "\": " + key;
      if (const toml::array* a = value->as_array()) {
        for (size_t k = 0; k < a->size(); ++k) check(where + "[" + std::to_string(k) + "]", *a->get(k), file, out);
      } else {
        check(where, *value, file, out);
      }
    }
  }
  return out;
}

}  // namespace weir
