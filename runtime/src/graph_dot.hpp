#pragma once

#include "pipeline_plan.hpp"

#include <string>

namespace weir {
// The pipeline as a Graphviz digraph: nodes shaped by kind, edges labelled by port.
std::string graph_dot(const PipelinePlan& plan);
}  // namespace weir
