#include "lexer.hpp"

#include <cctype>

namespace weir::cep {
namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      skip_space_and_comments();
      Token t;
      t.pos = pos_;
      if (i_ >= s_.size()) {
        out.push_back(std::move(t));
        return out;
      }
      char c = s_[i_];
      if (ident_start(c)) {
        size_t b = i_;
        while (i_ < s_.size() && ident_char(s_[i_])) advance();
        t.kind = Tok::Ident;
        t.text = std::string(s_.substr(b, i_ - b));
      } else if (c == '`') {
        advance();
        size_t b = i_;
        while (i_ < s_.size() && s_[i_] != '`' && s_[i_] != '\n') advance();
        if (i_ >= s_.size() || s_[i_] != '`') fail(t.pos, "unterminated `quoted` name");
        t.kind = Tok::Ident;
        t.text = std::string(s_.substr(b, i_ - b));
        advance();
        if (t.text.empty()) fail(t.pos, "empty `quoted` name");
      } else if (digit(c) || (c == '.' && i_ + 1 < s_.size() && digit(s_[i_ + 1]))) {
        number(t);
      } else if (c == '\'' || c == '"') {
        string(t, c);
      } else {
        symbol(t);
      }
      out.push_back(std::move(t));
    }
  }

 private:
  [[noreturn]] void fail(Pos p, const std::string& msg) { throw EplError(file_, p, msg); }

  void advance() {
    if (s_[i_] == '\n') {
      ++pos_.line;
      pos_.col = 1;
    } else {
      ++pos_.col;
    }
    ++i_;
  }
  bool at(std::string_view w) const { return s_.substr(i_, w.size()) == w; }

  void skip_space_and_comments() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
        advance();
      } else if (at("//") || at("--")) {
        while (i_ < s_.size() && s_[i_] != '\n') advance();
      } else if (at("/*")) {
        Pos start = pos_;
        advance();
        advance();
        while (i_ < s_.size() && !at("*/")) advance();
        if (i_ >= s_.size()) fail(start, "unterminated /* comment");
        advance();
        advance();
      } else {
        return;
      }
    }
  }

  void number(Token& t) {
    size_t b = i_;
    bool decimal = false;
    while (i_ < s_.size() && digit(s_[i_])) advance();
    if (i_ < s_.size() && s_[i_] == '.' && i_ + 1 < s_.size() && digit(s_[i_ + 1])) {
      decimal = true;
      advance();
      while (i_ < s_.size() && digit(s_[i_])) advance();
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      size_t j = i_ + 1;
      if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
      if (j < s_.size() && digit(s_[j])) {
        decimal = true;
        while (i_ < j) advance();
        while (i_ < s_.size() && digit(s_[i_])) advance();
      }
    }
    t.text = std::string(s_.substr(b, i_ - b));
    t.kind = decimal ? Tok::Decimal : Tok::Integer;
    if (i_ < s_.size()) {
      char c = s_[i_];
      if (!decimal && (c == 'l' || c == 'L')) {
        t.suffix = 'L';
        advance();
      } else if (c == 'd' || c == 'D' || c == 'f' || c == 'F') {
        t.kind = Tok::Decimal;
        t.suffix = static_cast<char>(c | 0x20);
        advance();
      }
    }
    if (t.text == "0" && i_ < s_.size() && (s_[i_] == 'x' || s_[i_] == 'X'))
      fail(t.pos, "hexadecimal literals (0x...) are not supported: write the number in decimal");
    if (i_ < s_.size() && ident_char(s_[i_])) fail(pos_, "unexpected character '" + std::string(1, s_[i_]) + "' after a number");
  }

  void string(Token& t, char quote) {
    advance();
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail(t.pos, "unterminated string literal");
      char c = s_[i_];
      if (c == quote) {
        advance();
        break;
      }
      if (c == '\\' && i_ + 1 < s_.size()) {
        advance();
        char e = s_[i_];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          default: out += e;  // \' \" \\ and anything else: the character itself
        }
        advance();
        continue;
      }
      out += c;
      advance();
    }
    t.kind = Tok::String;
    t.text = std::move(out);
  }

  void symbol(Token& t) {
    static const char* two[] = {"!=", "<>", "<=", ">=", "||"};
    for (const char* s : two)
      if (at(s)) {
        t.kind = Tok::Symbol;
        t.text = s;
        advance();
        advance();
        return;
      }
    char c = s_[i_];
    static const std::string_view one = "(),.#*+-/%=<>;:@[]?|^{}";  // ? | ^ { }: match_recognize patterns
    if (one.find(c) == std::string_view::npos) {
      std::string shown = std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c) : "\\x" + hex(c);
      fail(pos_, "unexpected character '" + shown + "'");
    }
    t.kind = Tok::Symbol;
    t.text = std::string(1, c);
    advance();
  }

  static std::string hex(char c) {
    static const char* d = "0123456789abcdef";
    auto u = static_cast<unsigned char>(c);
    return {d[u >> 4], d[u & 15]};
  }

  std::string_view s_;
  const std::string& file_;
  size_t i_ = 0;
  Pos pos_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view text, const std::string& file) { return Lexer(text, file).run(); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace weir::cep
