// EPL tokens. Keywords are not distinguished here: they are identifiers that
// the parser compares case-insensitively (EPL keywords are case-insensitive,
// property and stream names are not).
#pragma once

#include "error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace weir::cep {

enum class Tok {
  End,
  Ident,    // text = the name (backquoted `names` are unquoted)
  Integer,  // text = digits; a trailing L/l is dropped (suffix = 'L')
  Decimal,  // text = the number as written, without a d/D/f/F suffix (suffix = 'd' or 'f')
  String,   // text = the unescaped contents
  Symbol,   // text = one of ( ) , . # * + - / % = != <> < <= > >= || ; : @ [ ] ? | ^ { }
};

struct Token {
  Tok kind = Tok::End;
  std::string text;
  Pos pos;
  char suffix = 0;  // numbers: 'L', 'd', 'f' as written (any case), else 0
};

// Splits the whole text into tokens (the last one is End). Comments: `//` and
// `--` to the end of the line, `/* ... */`. Throws EplError on a bad character
// or an unterminated string/comment.
std::vector<Token> tokenize(std::string_view text, const std::string& file);

// How the parsers compare keywords: ASCII letters without case.
bool iequals(std::string_view a, std::string_view b);
std::string lower(std::string_view s);

}  // namespace weir::cep
