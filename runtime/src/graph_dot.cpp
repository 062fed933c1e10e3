#include "graph_dot.hpp"

namespace weir {

static std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string graph_dot(const PipelinePlan& plan) {
  std::string out = "digraph pipeline {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n";
  for (const auto& n : plan.nodes) {
    const weir_plugin& d = n.library->descriptor();
    const char* shape = d.kind == WEIR_SOURCE ? "invhouse" : d.kind == WEIR_SINK ? "house" : "box";
    out += "  " + quoted(n.name) + " [shape=" + shape + ", label=" + quoted(n.name + "\\n(" + d.name + ")") + "];\n";
  }
  for (const auto& e : plan.edges) {
    out += "  " + quoted(plan.nodes[e.from_node].name) + " -> " + quoted(plan.nodes[e.to_node].name) +
           " [label=" + quoted(e.from_port) + (e.from_port == "error" ? ", style=dashed, color=red" : "") + "];\n";
  }
  return out + "}\n";
}

}  // namespace weir
