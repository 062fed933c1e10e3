// The syntax tree of `match_recognize (...)` after a stream in `from` (row
// patterns, Esper's "EPL Reference: Match Recognize"): partition keys,
// measures, the regular expression over variables, and the variables'
// conditions. The parser (parser.cpp) reads the clause around the pattern;
// parse_row_pattern reads the pattern itself.
#pragma once

#include "ast.hpp"
#include "lexer.hpp"

#include <memory>
#include <string>
#include <vector>

namespace weir::cep {

// A node of the pattern: a variable, a concatenation, an alternation or a
// parenthesised group, each with a quantifier.
enum class RowPatternKind : uint8_t { Var, Concat, Alt, Group };
enum class Quantifier : uint8_t { One, ZeroOrMore, OneOrMore, ZeroOrOne };  // (none) * + ?

struct RowPattern {
  RowPatternKind kind = RowPatternKind::Var;
  Pos pos;
  std::string var;  // Var
  Quantifier quant = Quantifier::One;
  bool reluctant = false;  // *? +? ??
  std::vector<std::unique_ptr<RowPattern>> kids;

  bool repeats() const { return quant == Quantifier::ZeroOrMore || quant == Quantifier::OneOrMore; }
  bool optional() const { return quant == Quantifier::ZeroOrMore || quant == Quantifier::ZeroOrOne; }
};

struct MatchMeasure {
  Pos pos;
  ExprPtr expr;  // aggregates here carry their function's name in Expr::name (first/last have no AggFn)
  std::string alias;
};

struct MatchDefine {
  Pos pos;
  std::string var;
  ExprPtr cond;
};

// `after match skip past last row` (the default), `to next row` or `to
// current row` (Esper then drops no partial match: matches may overlap).
enum class MatchSkip : uint8_t { PastLastRow, ToNextRow, ToCurrentRow };

struct MatchRecognizeAst {
  Pos pos;
  std::vector<ExprPtr> partition;
  std::vector<MatchMeasure> measures;
  MatchSkip skip = MatchSkip::PastLastRow;
  std::unique_ptr<RowPattern> pattern;
  std::vector<MatchDefine> defines;
};

// Reads `( pattern )` starting at t[i] (the opening parenthesis) and leaves i
// after the closing one. Throws EplError; constructs cep_rule does not run
// (`^`, `$`) are refused by name at their position; a repetition `{n,m}`
// and `match_recognize_permute(...)` come back written out (A{2,3} as
// (A A A?), permute(A, B) as (A B | B A)).
std::unique_ptr<RowPattern> parse_row_pattern(const std::vector<Token>& t, size_t& i, const std::string& file);

// The pattern as text (`A B+ (C | D)*?`).
std::string render_row_pattern(const RowPattern& p);

}  // namespace weir::cep
