// The web console of `weir run --metrics ADDR` (http://ADDR/): a single page,
// its script and style compiled into the binary from runtime/console/ (so it
// works with no network: nothing is loaded from elsewhere), and the per-node
// document it reads beside /status.
//
//   GET /                  the page (also /console.js, /console.css)
//   GET /node/NAME         one node in detail (node_json below)
#pragma once

#include "http_server.hpp"

#include <optional>
#include <string>

namespace weir {

class Engine;

// The asset at PATH ("/", "/console.js", "/console.css"), or nothing.
std::optional<HttpResponse> console_asset(const std::string& path);

// {"name","plugin","version","library","params":{...as given...},
//  "files":[{"param","path","text"}],   // parameters naming a readable text file (e.g. a rule file)
//  "log":[{"time_ms","level","message"}], "errors":[{"time_ms","record"}]}
// Parameters are as written in the pipeline file (after ${ENV} and --set). Nothing if there is no such node.
// Reads the running configuration, which `weir ctl apply` replaces: call it where
// control actions run (admin_request_blocks), never beside one.
std::optional<std::string> node_json(const Engine& engine, const std::string& name);

}  // namespace weir
