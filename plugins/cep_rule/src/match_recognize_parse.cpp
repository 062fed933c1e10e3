// The regular expression of `match_recognize`'s `pattern ( ... )`, with
// Esper's precedence: alternation `|` loosest, then concatenation, then a
// quantifier on a variable or a parenthesised group.
#include "match_recognize_ast.hpp"

namespace weir::cep {

namespace {

class RowPatternParser {
 public:
  RowPatternParser(const std::vector<Token>& t, size_t& i, const std::string& file) : t_(t), i_(i), file_(file) {}

  std::unique_ptr<RowPattern> run() {
    expect("(");
    auto p = alternation();
    expect(")");
    return p;
  }

 private:
  const Token& peek() const { return t_[std::min(i_, t_.size() - 1)]; }
  bool is(const char* s) const { return peek().kind == Tok::Symbol && peek().text == s; }
  [[noreturn]] void fail(Pos pos, const std::string& msg) const { throw EplError(file_, pos, msg); }
  [[noreturn]] void unsupported(Pos pos, const std::string& what) const {
    fail(pos, "cep_rule does not support " + what + " in a match_recognize pattern");
  }
  void expect(const char* s) {
    if (!is(s)) fail(peek().pos, std::string("expected '") + s + "' in the match_recognize pattern");
    ++i_;
  }

  std::unique_ptr<RowPattern> alternation() {
    Pos pos = peek().pos;
    auto first = concatenation();
    if (!is("|")) return first;
    auto alt = std::make_unique<RowPattern>();
    alt->kind = RowPatternKind::Alt;
    alt->pos = pos;
    alt->kids.push_back(std::move(first));
    while (is("|")) {
      ++i_;
      alt->kids.push_back(concatenation());
    }
    return alt;
  }

  std::unique_ptr<RowPattern> concatenation() {
    Pos pos = peek().pos;
    std::vector<std::unique_ptr<RowPattern>> items;
    while (!is(")") && !is("|")) {
      if (peek().kind == Tok::End) fail(peek().pos, "expected ')' to end the match_recognize pattern");
      items.push_back(quantified());
    }
    if (items.empty()) fail(pos, "expected a pattern variable");
    if (items.size() == 1) return std::move(items[0]);
    auto c = std::make_unique<RowPattern>();
    c->kind = RowPatternKind::Concat;
    c->pos = pos;
    c->kids = std::move(items);
    return c;
  }

  std::unique_ptr<RowPattern> quantified() {
    const Token& t = peek();
    std::unique_ptr<RowPattern> p;
    if ((t.kind == Tok::Symbol && t.text == "^") || t.text == "$") unsupported(t.pos, "the anchor '" + t.text + "'");
    if (t.kind == Tok::Ident && (t.text == "permute" || t.text == "PERMUTE")) unsupported(t.pos, "permute(...)");
    if (t.kind == Tok::Symbol && t.text == "(") {
      p = std::make_unique<RowPattern>();
      p->kind = RowPatternKind::Group;
      p->pos = t.pos;
      ++i_;
      p->kids.push_back(alternation());
      expect(")");
    } else if (t.kind == Tok::Ident) {  // (`$` lexes as a name: Java names may hold it)
      p = std::make_unique<RowPattern>();
      p->pos = t.pos;
      p->var = t.text;
      ++i_;
    } else {
      fail(t.pos, "expected a pattern variable or '(' in the match_recognize pattern");
    }
    const Token& q = peek();
    if (q.kind == Tok::Symbol && (q.text == "*" || q.text == "+" || q.text == "?")) {
      p->quant = q.text == "*" ? Quantifier::ZeroOrMore : q.text == "+" ? Quantifier::OneOrMore : Quantifier::ZeroOrOne;
      ++i_;
      if (is("?")) {
        // Esper's grammar has no reluctant quantifier on a group.
        if (p->kind == RowPatternKind::Group) unsupported(peek().pos, "a reluctant quantifier on a group");
        p->reluctant = true;
        ++i_;
      }
    } else if (q.kind == Tok::Symbol && q.text == "{") {
      unsupported(q.pos, "the repetition '{n,m}'");
    }
    return p;
  }

  const std::vector<Token>& t_;
  size_t& i_;
  const std::string& file_;
};

const char* quantifier_text(const RowPattern& p) {
  switch (p.quant) {
    case Quantifier::One: return "";
    case Quantifier::ZeroOrMore: return p.reluctant ? "*?" : "*";
    case Quantifier::OneOrMore: return p.reluctant ? "+?" : "+";
    case Quantifier::ZeroOrOne: return p.reluctant ? "??" : "?";
  }
  return "";
}

}  // namespace

std::unique_ptr<RowPattern> parse_row_pattern(const std::vector<Token>& t, size_t& i, const std::string& file) {
  return RowPatternParser(t, i, file).run();
}

std::string render_row_pattern(const RowPattern& p) {
  std::string out;
  switch (p.kind) {
    case RowPatternKind::Var: out = p.var; break;
    case RowPatternKind::Group: out = "(" + render_row_pattern(*p.kids[0]) + ")"; break;
    case RowPatternKind::Concat:
    case RowPatternKind::Alt:
      for (size_t k = 0; k < p.kids.size(); ++k) {
        if (k) out += p.kind == RowPatternKind::Alt ? " | " : " ";
        out += render_row_pattern(*p.kids[k]);
      }
      break;
  }
  return out + quantifier_text(p);
}

}  // namespace weir::cep
