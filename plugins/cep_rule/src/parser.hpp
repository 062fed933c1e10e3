// Recursive-descent parser for the EPL subset (grammar in ../README.md).
#pragma once

#include "ast.hpp"

#include <string>
#include <string_view>

namespace weir::cep {

// Parses a rule file: `create variable` declarations and statements separated
// by `;`. Throws EplError (`file:line:col: message`) on the first syntax error.
Module parse_module(std::string_view text, const std::string& file);

// Parses one expression (tests and the variable overrides use it).
ExprPtr parse_expression(std::string_view text, const std::string& file);

}  // namespace weir::cep
