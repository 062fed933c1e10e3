// What the engine says of a rule that does not compile, for the tests of its
// error messages: the EplError text (`r.epl:LINE:COL: ...`), or "" if it compiles.
#pragma once

#include "engine.hpp"
#include "parser.hpp"

#include <string>

namespace weir::cep {

inline std::string compile_error(const std::string& text, const EventType& input) {
  try {
    Engine e(parse_module(text, "r.epl"), {input}, {});
  } catch (const EplError& e) {
    return e.what();
  }
  return "";
}

}  // namespace weir::cep
