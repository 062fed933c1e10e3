// Esper's single-row functions, with Java's semantics: java.lang.Math, the
// String methods (on UTF-16 code units, as Java counts), casts, `like` and
// `regexp`. Null in, null out (Esper returns null instead of invoking a method
// on null).
#pragma once

#include "ast.hpp"
#include "value.hpp"

#include <string_view>

namespace weir::cep {

// A value widened to an expression's static type (case/coalesce/max/min
// results: an int branch of a double case is a double).
Value widen_to(Value v, Type t, Narrow n);

// SQL `like`: % any run, _ one character (a UTF-8 character), escape makes
// the next pattern character literal. Case-sensitive.
bool like_match(std::string_view s, std::string_view pattern, char escape);

// Math.*, max/min/coalesce and String methods: `self` is the receiver of a
// method (null for functions), args the evaluated arguments.
Value call_function(const Expr& e, const Value& self, const Value* args, size_t n);

// cast(v, type) of the node (e.type, e.narrow): Java's narrowing and parsing.
Value cast_value(const Expr& e, const Value& v);

}  // namespace weir::cep
