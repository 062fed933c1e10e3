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
  e->distinct = distinct;
  e->func = func;
  e->regex = regex;
  e->table = table;
  e->negated = negated;
  e->narrow = narrow;
  e->literal = literal;
  e->height = height;
  e->qualifier = qualifier;
  e->name = name;
  if (a) e->a = a->clone();
  if (b) e->b = b->clone();
  for (const ExprPtr& x : args) e->args.push_back(x->clone());
  e->index = index;
  e->type = type;
  return e;
}

bool same_bound(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.op != b.op || a.fn != b.fn || a.star != b.star || a.negated != b.negated || a.narrow != b.narrow ||
      a.distinct != b.distinct || a.func != b.func || a.args.size() != b.args.size())
    return false;
  if ((a.kind == ExprKind::Cast || a.kind == ExprKind::Call) && (a.type != b.type || a.name != b.name)) return false;
  switch (a.kind) {
    case ExprKind::Literal:
      if (a.literal.type() != b.literal.type() || a.literal != b.literal) return false;
      break;
    case ExprKind::Ident:
    case ExprKind::TableAccess:
      if (a.qualifier != b.qualifier || a.name != b.name) return false;
      break;
    case ExprKind::Prop:
    case ExprKind::Var:
    case ExprKind::KeyRef:
    case ExprKind::CtxProp:
    case ExprKind::Agg:
    case ExprKind::Prev:
    case ExprKind::Prior:
      if (a.index != b.index) return false;
      break;
    default: break;
  }
  if (!a.a != !b.a || !a.b != !b.b) return false;
  for (size_t i = 0; i < a.args.size(); ++i)
    if (!same_bound(*a.args[i], *b.args[i])) return false;
  return (!a.a || same_bound(*a.a, *b.a)) && (!a.b || same_bound(*a.b, *b.b));
}

namespace {

// Esper's ExprPrecedenceEnum levels: a child is parenthesized only when its
// level is lower than its parent's (so Esper writes `a-(b-c)` as `a-b-c`;
// we copy that, since column names must match).
enum Prec : int { kMinimum = -1000, kOr = 2, kAnd = 3, kNegated = 5, kEquals = 6, kRelational = 7, kConcat = 8, kAdditive = 9, kMultiply = 10, kUnary = 11 };

int precedence(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Agg: return kMinimum;
    case ExprKind::Neg: return kMultiply;  // rendered as -1*x
    case ExprKind::Not: return kNegated;
    case ExprKind::IsNull: return kEquals;
    case ExprKind::In:
    case ExprKind::Between:
    case ExprKind::Like:
    case ExprKind::Regexp: return kRelational;
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
        case BinOp::Concat: return kConcat;
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
    case BinOp::Concat: return "||";
  }
  return "?";
}

const char* func_name(Func f) {
  switch (f) {
    case Func::Coalesce: return "coalesce";
    case Func::Max: return "max";
    case Func::Min: return "min";
    case Func::MathMax: return "Math.max";
    case Func::MathMin: return "Math.min";
    case Func::Abs: return "Math.abs";
    case Func::Round: return "Math.round";
    case Func::Floor: return "Math.floor";
    case Func::Ceil: return "Math.ceil";
    case Func::Sqrt: return "Math.sqrt";
    case Func::Pow: return "Math.pow";
    case Func::Exp: return "Math.exp";
    case Func::Log: return "Math.log";
    case Func::Log10: return "Math.log10";
    case Func::Signum: return "Math.signum";
    case Func::Upper: return "toUpperCase";
    case Func::Lower: return "toLowerCase";
    case Func::Length: return "length";
    case Func::Substring: return "substring";
    case Func::Trim: return "trim";
    case Func::StartsWith: return "startsWith";
    case Func::EndsWith: return "endsWith";
    case Func::Contains: return "contains";
    case Func::IndexOf: return "indexOf";
  }
  return "?";
}

void render_to(const Expr& e, int parent, std::string& out);

void render_list(const std::vector<ExprPtr>& args, size_t from, std::string& out) {
  for (size_t i = from; i < args.size(); ++i) {
    if (i > from) out += ',';
    render_to(*args[i], kMinimum, out);
  }
}

void render_free(const Expr& e, std::string& out) {
  int self = precedence(e);
  switch (e.kind) {
    case ExprKind::Literal:
      switch (e.literal.type()) {
        case Type::Null: out += "null"; break;
        case Type::Bool: out += e.literal.as_bool() ? "true" : "false"; break;
        case Type::Long: out += std::to_string(e.literal.as_long()); break;
        case Type::Double: out += java_double_string(e.literal.as_double()); break;
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
      else {
        if (e.distinct) out += "distinct ";
        render_to(*e.a, kMinimum, out);
      }
      out += ')';
      break;
    case ExprKind::Case:
      out += "case";
      if (e.a) {
        out += ' ';
        render_to(*e.a, kMinimum, out);
      }
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        out += " when ";
        render_to(*e.args[i], kMinimum, out);
        out += " then ";
        render_to(*e.args[i + 1], kMinimum, out);
      }
      if (e.b) {
        out += " else ";
        render_to(*e.b, kMinimum, out);
      }
      out += " end";
      break;
    case ExprKind::In:
      render_to(*e.a, self, out);
      out += e.negated ? " not in (" : " in (";
      render_list(e.args, 0, out);
      out += ')';
      break;
    case ExprKind::Between:
      render_to(*e.a, self, out);
      out += e.negated ? " not between " : " between ";
      render_to(*e.args[0], self, out);
      out += " and ";
      render_to(*e.args[1], self, out);
      break;
    case ExprKind::Like:
    case ExprKind::Regexp:
      render_to(*e.a, self, out);
      out += e.negated ? " not " : " ";
      out += e.kind == ExprKind::Like ? "like " : "regexp ";
      render_to(*e.b, self, out);
      if (!e.args.empty()) {
        out += " escape ";
        render_to(*e.args[0], self, out);
      }
      break;
    case ExprKind::Call:
      if (e.a) {
        render_to(*e.a, kUnary, out);
        out += '.';
      }
      out += func_name(e.func);
      out += '(';
      render_list(e.args, 0, out);
      out += ')';
      break;
    case ExprKind::Prev:
    case ExprKind::Prior:
      out += e.kind == ExprKind::Prev ? "prev(" : "prior(";
      out += std::to_string(e.literal.as_long()) + ',';
      render_to(*e.a, kMinimum, out);
      out += ')';
      break;
    case ExprKind::TableAccess:
      out += e.qualifier + '[';
      render_list(e.args, 0, out);
      out += "]." + e.name;
      break;
    case ExprKind::Cast:
      out += "cast(";
      render_to(*e.a, kMinimum, out);
      out += ',' + e.name + ')';
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
