#include "ast.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace weir::cep {

ExprPtr Expr::clone() const {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->pos = pos;
  e->op = op;
  e->fn = fn;
  e->star = star;
  e->negated = negated;
  e->narrow = narrow;
  e->literal = literal;
  e->height = height;
  e->qualifier = qualifier;
  e->name = name;
  if (a) e->a = a->clone();
  if (b) e->b = b->clone();
  e->index = index;
  e->type = type;
  return e;
}

bool same_bound(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.op != b.op || a.fn != b.fn || a.star != b.star || a.negated != b.negated || a.narrow != b.narrow)
    return false;
  switch (a.kind) {
    case ExprKind::Literal:
      if (a.literal.type() != b.literal.type() || a.literal != b.literal) return false;
      break;
    case ExprKind::Ident:
      if (a.qualifier != b.qualifier || a.name != b.name) return false;
      break;
    case ExprKind::Prop:
    case ExprKind::Var:
    case ExprKind::KeyRef:
    case ExprKind::CtxProp:
    case ExprKind::Agg:
      if (a.index != b.index) return false;
      break;
    default: break;
  }
  if (!a.a != !b.a || !a.b != !b.b) return false;
  return (!a.a || same_bound(*a.a, *b.a)) && (!a.b || same_bound(*a.b, *b.b));
}

namespace {

// Esper's ExprPrecedenceEnum levels: a child is parenthesized only when its
// level is lower than its parent's (so Esper writes `a-(b-c)` as `a-b-c`;
// we copy that, since column names must match).
enum Prec : int { kMinimum = -1000, kOr = 2, kAnd = 3, kNegated = 5, kEquals = 6, kRelational = 7, kAdditive = 9, kMultiply = 10, kUnary = 11 };

int precedence(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Agg: return kMinimum;
    case ExprKind::Neg: return kMultiply;  // rendered as -1*x
    case ExprKind::Not: return kNegated;
    case ExprKind::IsNull: return kEquals;
    case ExprKind::Binary:
      switch (e.op) {
        case BinOp::Add:
        case BinOp::Sub: return kAdditive;
        case BinOp::Mul:
        case BinOp::Div:
        case BinOp::Mod: return kMultiply;
        case BinOp::Eq:
        case BinOp::Ne: return kEquals;
        case BinOp::Lt:
        case BinOp::Le:
        case BinOp::Gt:
        case BinOp::Ge: return kRelational;
        case BinOp::And: return kAnd;
        case BinOp::Or: return kOr;
      }
      break;
    default: break;
  }
  return kUnary;
}

const char* op_text(BinOp op) {
  switch (op) {
    case BinOp::Add: return "+";
    case BinOp::Sub: return "-";
    case BinOp::Mul: return "*";
    case BinOp::Div: return "/";
    case BinOp::Mod: return "%";
    case BinOp::Eq: return "=";
    case BinOp::Ne: return "!=";
    case BinOp::Lt: return "<";
    case BinOp::Le: return "<=";
    case BinOp::Gt: return ">";
    case BinOp::Ge: return ">=";
    case BinOp::And: return " and ";
    case BinOp::Or: return " or ";
  }
  return "?";
}

// Java's Double.toString for the values a rule writes as literals.
std::string java_double(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

void render_to(const Expr& e, int parent, std::string& out);

void render_free(const Expr& e, std::string& out) {
  int self = precedence(e);
  switch (e.kind) {
    case ExprKind::Literal:
      switch (e.literal.type()) {
        case Type::Null: out += "null"; break;
        case Type::Bool: out += e.literal.as_bool() ? "true" : "false"; break;
        case Type::Long: out += std::to_string(e.literal.as_long()); break;
        case Type::Double: out += java_double(e.literal.as_double()); break;
        case Type::String: out += '"'; out += e.literal.as_string(); out += '"'; break;
      }
      break;
    case ExprKind::Ident:
    case ExprKind::Prop:
    case ExprKind::Var:
    case ExprKind::KeyRef:
    case ExprKind::CtxProp:
      if (!e.qualifier.empty()) out += e.qualifier + ".";
      out += e.name;
      break;
    case ExprKind::Agg:
      out += aggregate_name(e.fn);
      out += '(';
      if (e.star) out += '*';
      else render_to(*e.a, kMinimum, out);
      out += ')';
      break;
    case ExprKind::Neg:
      out += "-1*";
      render_to(*e.a, self, out);
      break;
    case ExprKind::Not:
      out += "not ";
      render_to(*e.a, self, out);
      break;
    case ExprKind::IsNull:
      render_to(*e.a, self, out);
      out += e.negated ? " is not null" : " is null";
      break;
    case ExprKind::Binary:
      render_to(*e.a, self, out);
      out += op_text(e.op);
      render_to(*e.b, self, out);
      break;
  }
}

void render_to(const Expr& e, int parent, std::string& out) {
  if (precedence(e) < parent) {
    out += '(';
    render_free(e, out);
    out += ')';
  } else {
    render_free(e, out);
  }
}

}  // namespace

const char* aggregate_name(AggFn f) {
  switch (f) {
    case AggFn::Count: return "count";
    case AggFn::Sum: return "sum";
    case AggFn::Avg: return "avg";
    case AggFn::Min: return "min";
    case AggFn::Max: return "max";
  }
  return "?";
}

std::string render(const Expr& e) {
  std::string out;
  render_to(e, kMinimum, out);
  return out;
}

}  // namespace weir::cep
