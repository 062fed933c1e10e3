// Old template spellings in a pipeline file, found by the host: a plugin
// cannot know where its parameters are written, the host can. Parameters
// declared with unit "template" (weir::kTemplateUnit) are compiled here with
// the SDK's compiler only to list their deprecations; syntax errors are left
// to the plugin's create(), which reports them with its own context.
#pragma once

#include "diagnostics.hpp"
#include "pipeline_config.hpp"

#include <weir/abi.h>

#include <vector>

namespace weir {

// One warning per old spelling, at file:line:col of the placeholder when the
// value is written plainly on one line, else at the value.
std::vector<Diagnostic> template_deprecations(const NodeConfig& node, const weir_plugin& d);

}  // namespace weir
