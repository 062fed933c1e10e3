// The regular expression of `match_recognize`'s `pattern ( ... )`, with
// Esper's precedence: alternation `|` loosest, then concatenation, then a
// quantifier on a variable or a parenthesised group.
#include "lexer.hpp"
#include "match_recognize_ast.hpp"

#include <algorithm>
#include <cctype>

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
    while (!is(")") && !is("|") && !is(",")) {
      if (peek().kind == Tok::End) fail(peek().pos, "expected ')' to end the match_recognize pattern");
      if (peek().kind == Tok::Ident && iequals(peek().text, "define"))
        fail(peek().pos, "expected ')' to end the match_recognize pattern before 'define'");
      std::unique_ptr<RowPattern> item = quantified();
      if (item->kind == RowPatternKind::Concat) {
        // a written-out repetition: its copies join this sequence, as Esper's
        // expansion splices them (A B{2} C is A B B C, not A (B B) C, which
        // its NFA ranks differently)
        for (auto& k : item->kids) items.push_back(std::move(k));
      } else {
        items.push_back(std::move(item));
      }
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
    if (t.kind == Tok::Ident && iequals(t.text, "match_recognize_permute")) {
      p = permutation();
    } else if (t.kind == Tok::Symbol && t.text == "(") {
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
    }
    if (is("{")) {
      // Esper 8.9 drops a repetition inside a permutation (it matches
      // permute(B{2}, C) as permute(B, C), found by the random comparison).
      if (permute_depth_ > 0) unsupported(peek().pos, "a repetition '{n,m}' inside match_recognize_permute (Esper 8.9 ignores it)");
      return repetition(std::move(p));
    }
    return p;
  }

  // `X{n}`, `X{n,}`, `X{,m}`, `X{n,m}` after an atom and its own quantifier,
  // written out as Esper's RowRecogPatternExpandUtil does before anything
  // else sees the pattern: n copies of X, then for {n,m} m-n optional copies
  // (X's `+` becomes `*`, One becomes `?`), for {n,} one copy with `*`, for
  // {,m} m optional copies; a variable so repeated is a list (A[0], A[1]).
  std::unique_ptr<RowPattern> repetition(std::unique_ptr<RowPattern> x) {
    Pos pos = peek().pos;
    expect("{");
    int64_t lo = -1, hi = -1;
    bool comma = false;
    if (peek().kind == Tok::Integer || is("-")) lo = bound();
    if (is(",")) {
      comma = true;
      ++i_;
      if (peek().kind == Tok::Integer || is("-")) hi = bound();
    }
    if (!is("}")) fail(peek().pos, "expected a number or '}' in the repetition '{n,m}'");
    ++i_;
    if (lo < 0 && hi < 0) fail(pos, "expected a number in the repetition '{n,m}'");
    if (lo >= 0 && hi >= 0 && lo > hi)
      fail(pos, "the repetition's minimum " + std::to_string(lo) + " is above its maximum " + std::to_string(hi));
    int64_t copies = !comma ? lo : hi >= 0 ? hi : lo + 1;
    if (copies * static_cast<int64_t>(size(*x)) > kMaxNodes)
      fail(pos, "the repetition writes out " + std::to_string(copies) + " copies of its pattern, more than cep_rule's " +
                    std::to_string(kMaxNodes) + " pattern elements");
    auto body = std::make_unique<RowPattern>();
    body->kind = RowPatternKind::Concat;  // spliced into the enclosing sequence (concatenation)
    body->pos = x->pos;
    int64_t required = lo < 0 ? 0 : lo;
    for (int64_t k = 0; k < required; ++k) body->kids.push_back(clone(*x));
    if (comma && hi < 0) {
      body->kids.push_back(requantified(*x, Quantifier::ZeroOrMore));  // {n,}: any more
    } else {
      for (int64_t k = required; k < (comma ? hi : lo); ++k) body->kids.push_back(optional_copy(*x));
    }
    if (body->kids.size() == 1) return std::move(body->kids[0]);
    return body;
  }

  // `match_recognize_permute(X, Y, Z)`, written out as Esper does: every
  // order of the items as alternatives, in lexicographic order of their
  // positions, `(X Y Z | X Z Y | Y X Z | ...)`. Each alternative holds each
  // item once, so a variable in it stays a single row.
  std::unique_ptr<RowPattern> permutation() {
    Pos pos = peek().pos;
    ++i_;
    expect("(");
    ++permute_depth_;
    std::vector<std::unique_ptr<RowPattern>> items;
    do {
      if (!items.empty()) ++i_;
      items.push_back(alternation());
      // An item of several elements (A B, or a written-out A{2}) stays one
      // unit in each order: `((A B) C | C (A B))`, as Esper writes it.
      if (items.back()->kind == RowPatternKind::Concat) {
        auto g = std::make_unique<RowPattern>();
        g->kind = RowPatternKind::Group;
        g->pos = items.back()->pos;
        g->kids.push_back(std::move(items.back()));
        items.back() = std::move(g);
      }
    } while (is(","));
    expect(")");
    --permute_depth_;
    size_t orders = 1, item_nodes = 0;
    for (size_t k = 1; k <= items.size() && orders <= static_cast<size_t>(kMaxNodes); ++k) orders *= k;
    for (const auto& x : items) item_nodes += size(*x);
    if (orders > static_cast<size_t>(kMaxNodes) || orders * item_nodes > static_cast<size_t>(kMaxNodes))
      fail(pos, "match_recognize_permute of " + std::to_string(items.size()) + " items writes out more than cep_rule's " +
                    std::to_string(kMaxNodes) + " pattern elements");
    auto alt = std::make_unique<RowPattern>();
    alt->kind = RowPatternKind::Alt;
    alt->pos = pos;
    std::vector<size_t> order(items.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    do {
      auto seq = std::make_unique<RowPattern>();
      seq->kind = RowPatternKind::Concat;
      seq->pos = pos;
      for (size_t k : order) seq->kids.push_back(clone(*items[k]));
      alt->kids.push_back(items.size() == 1 ? std::move(seq->kids[0]) : std::move(seq));
    } while (std::next_permutation(order.begin(), order.end()));
    auto group = std::make_unique<RowPattern>();
    group->kind = RowPatternKind::Group;
    group->pos = pos;
    if (alt->kids.size() == 1) group->kids.push_back(std::move(alt->kids[0]));
    else group->kids.push_back(std::move(alt));
    return group;
  }

  int64_t bound() {
    Pos pos = peek().pos;
    bool negative = is("-");
    if (negative) ++i_;
    if (peek().kind != Tok::Integer) fail(peek().pos, "expected a number in the repetition '{n,m}'");
    int64_t v = 0;
    for (char c : peek().text) {
      v = v * 10 + (c - '0');
      if (v > kMaxNodes) fail(pos, "a repetition count above " + std::to_string(kMaxNodes) + " (cep_rule's limit)");
    }
    ++i_;
    if (negative || v < 1) fail(pos, "a repetition count must be at least 1");
    return v;
  }

  static std::unique_ptr<RowPattern> clone(const RowPattern& p) {
    auto c = std::make_unique<RowPattern>();
    c->kind = p.kind;
    c->pos = p.pos;
    c->var = p.var;
    c->quant = p.quant;
    c->reluctant = p.reluctant;
    for (const auto& k : p.kids) c->kids.push_back(clone(*k));
    return c;
  }
  static std::unique_ptr<RowPattern> requantified(const RowPattern& p, Quantifier q) {
    auto c = clone(p);
    c->quant = q;
    return c;
  }
  // The copy of an optional repetition: X? for X, X* for X+ (X? and X* stay).
  static std::unique_ptr<RowPattern> optional_copy(const RowPattern& p) {
    switch (p.quant) {
      case Quantifier::One: return requantified(p, Quantifier::ZeroOrOne);
      case Quantifier::OneOrMore: return requantified(p, Quantifier::ZeroOrMore);
      default: return clone(p);
    }
  }

  static size_t size(const RowPattern& p) {
    size_t n = 1;
    for (const auto& k : p.kids) n += size(*k);
    return n;
  }

  // A rule file cannot blow the pattern up (A{1000000}, or repetitions of
  // repetitions): Esper has no limit.
  static constexpr int64_t kMaxNodes = 1000;

  const std::vector<Token>& t_;
  size_t& i_;
  int permute_depth_ = 0;  // inside match_recognize_permute(...)
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
