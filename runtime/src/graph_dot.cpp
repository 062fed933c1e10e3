#include "graph_dot.hpp"

namespace weir {

static std::string escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

static std::string quoted(const std::string& s) { return "\"" + escaped(s) + "\""; }

std::string graph_dot(const PipelinePlan& plan) {
  std::string out = "digraph pipeline {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n";
  for (const auto& n : plan.nodes) {
    const weir_plugin& d = n.library->descriptor();
    const char* shape = d.kind == WEIR_SOURCE ? "invhouse" : d.kind == WEIR_SINK ? "house" : "box";
    // Lines of the label are joined by DOT's own "\n" escape, so not escaped themselves.
    std::string label = escaped(n.name) + "\\n(" + escaped(d.name) + ")";
    if (!n.checkpoint.empty()) label += "\\ncheckpoint: " + escaped(n.checkpoint);
    out += "  " + quoted(n.name) + " [shape=" + shape + ", label=\"" + label + "\"];\n";
  }
  for (const auto& e : plan.edges) {
    out += "  " + quoted(plan.nodes[e.from_node].name) + " -> " + quoted(plan.nodes[e.to_node].name) +
           " [label=" + quoted(e.from_port) + (e.from_port == "error" ? ", style=dashed, color=red" : "") + "];\n";
  }
  return out + "}\n";
}

}  // namespace weir
