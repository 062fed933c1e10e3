#include "eval.hpp"

#include "aggregate.hpp"
#include "functions.hpp"
#include "table.hpp"

#include <cmath>

namespace weir::cep {
namespace {

// Java long arithmetic wraps around; C++ signed overflow is undefined, so go
// through unsigned.
int64_t wrap_add(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
int64_t wrap_sub(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
int64_t wrap_mul(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }

Value arithmetic(BinOp op, const Value& l, const Value& r) {
  if (l.is_null() || r.is_null()) return {};
  if (l.type() == Type::Long && r.type() == Type::Long && op != BinOp::Div) {
    int64_t a = l.as_long(), b = r.as_long();
    switch (op) {
      case BinOp::Add: return Value::of_long(wrap_add(a, b));
      case BinOp::Sub: return Value::of_long(wrap_sub(a, b));
      case BinOp::Mul: return Value::of_long(wrap_mul(a, b));
      case BinOp::Mod:
        // Esper throws ArithmeticException (and drops the event's rows); we give null.
        if (b == 0) return {};
        if (b == -1) return Value::of_long(0);
        return Value::of_long(a % b);
      default: break;
    }
  }
  if (!is_numeric(l.type()) || !is_numeric(r.type())) return {};
  double a = l.as_double(), b = r.as_double();
  switch (op) {
    case BinOp::Add: return Value::of_double(a + b);
    case BinOp::Sub: return Value::of_double(a - b);
    case BinOp::Mul: return Value::of_double(a * b);
    case BinOp::Div: return Value::of_double(a / b);  // IEEE: x/0 = ±Infinity, 0/0 = NaN, as in Java
    case BinOp::Mod: return Value::of_double(std::fmod(a, b));
    default: break;
  }
  return {};
}

Value compare(BinOp op, const Value& l, const Value& r) {
  if (l.is_null() || r.is_null()) return {};
  int c;  // <0, 0, >0
  Type lt = l.type(), rt = r.type();
  if (lt == Type::Long && rt == Type::Long) {
    int64_t a = l.as_long(), b = r.as_long();
    c = a < b ? -1 : a > b ? 1 : 0;
  } else if (is_numeric(lt) && is_numeric(rt)) {
    double a = l.as_double(), b = r.as_double();
    // Esper's `=` on (boxed) doubles is Double.equals: NaN = NaN, -0.0 != 0.0.
    if (op == BinOp::Eq) return Value::of_bool(java_double_equals(a, b));
    if (op == BinOp::Ne) return Value::of_bool(!java_double_equals(a, b));
    if (std::isnan(a) || std::isnan(b)) return Value::of_bool(false);  // Java: < <= > >= with NaN are false
    c = a < b ? -1 : a > b ? 1 : 0;
  } else if (lt == Type::String && rt == Type::String) {
    c = utf16_compare(l.as_string(), r.as_string());
  } else if (lt == Type::Bool && rt == Type::Bool) {
    c = static_cast<int>(l.as_bool()) - static_cast<int>(r.as_bool());
  } else {
    return {};  // the compiler refuses mixed types; defensive
  }
  switch (op) {
    case BinOp::Eq: return Value::of_bool(c == 0);
    case BinOp::Ne: return Value::of_bool(c != 0);
    case BinOp::Lt: return Value::of_bool(c < 0);
    case BinOp::Le: return Value::of_bool(c <= 0);
    case BinOp::Gt: return Value::of_bool(c > 0);
    case BinOp::Ge: return Value::of_bool(c >= 0);
    default: return {};
  }
}

// Java int arithmetic wraps at 32 bits, float arithmetic rounds to float:
// the result of the wider operation, narrowed, is exactly Java's (a double
// holds the exact sum/difference/product of two floats before rounding).
Value narrowed(Narrow n, Value v) {
  if (n == Narrow::Int && v.type() == Type::Long)
    return Value::of_long(static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v.as_long()))));
  if (n == Narrow::Float && v.type() == Type::Double) return Value::of_double(static_cast<double>(static_cast<float>(v.as_double())));
  return v;
}

// 0 = false, 1 = true, 2 = null
int truth(const Value& v) {
  if (v.type() != Type::Bool) return 2;
  return v.as_bool() ? 1 : 0;
}

}  // namespace

Value eval(const Expr& e, const EvalEnv& env) {
  switch (e.kind) {
    case ExprKind::Literal: return e.literal;
    case ExprKind::Prop: return env.row ? env.row[e.index] : Value();
    case ExprKind::Var: return env.vars ? env.vars[e.index] : Value();
    case ExprKind::TableAccess: {
      std::vector<Value> key;
      key.reserve(e.args.size());
      for (const ExprPtr& k : e.args) key.push_back(eval(*k, env));
      const Value* row = e.table->find(key);
      return row ? row[e.index] : Value();
    }
    case ExprKind::KeyRef: return env.group ? env.group->key[static_cast<size_t>(e.index)] : Value();
    case ExprKind::CtxProp: return env.ctx ? env.ctx[e.index] : Value();
    case ExprKind::Prev:
    case ExprKind::Prior: return env.row ? env.row[e.index] : Value();
    case ExprKind::Agg: return env.group && env.aggs ? env.aggs->value(*env.group, e.index) : Value();
    case ExprKind::Ident: return {};  // unbound: the compiler never leaves one
    case ExprKind::Neg: {
      Value v = eval(*e.a, env);
      if (v.type() == Type::Long) return narrowed(e.narrow, Value::of_long(wrap_sub(0, v.as_long())));
      if (v.type() == Type::Double) return Value::of_double(-v.as_double());
      return {};
    }
    case ExprKind::Not: {
      int t = truth(eval(*e.a, env));
      return t == 2 ? Value() : Value::of_bool(t == 0);
    }
    case ExprKind::IsNull: return Value::of_bool(eval(*e.a, env).is_null() != e.negated);
    case ExprKind::Binary:
      switch (e.op) {
        case BinOp::And: {
          int l = truth(eval(*e.a, env));
          if (l == 0) return Value::of_bool(false);
          int r = truth(eval(*e.b, env));
          if (r == 0) return Value::of_bool(false);
          return l == 2 || r == 2 ? Value() : Value::of_bool(true);
        }
        case BinOp::Or: {
          int l = truth(eval(*e.a, env));
          if (l == 1) return Value::of_bool(true);
          int r = truth(eval(*e.b, env));
          if (r == 1) return Value::of_bool(true);
          return l == 2 || r == 2 ? Value() : Value::of_bool(false);
        }
        case BinOp::Add:
        case BinOp::Sub:
        case BinOp::Mul:
        case BinOp::Div:
        case BinOp::Mod: return narrowed(e.narrow, arithmetic(e.op, eval(*e.a, env), eval(*e.b, env)));
        case BinOp::Concat: {
          Value l = eval(*e.a, env), r = eval(*e.b, env);
          if (l.is_null() || r.is_null()) return {};
          std::string s(l.as_string());
          s += r.as_string();
          return Value::of_string(s);
        }
        default: return compare(e.op, eval(*e.a, env), eval(*e.b, env));
      }
    case ExprKind::Case: {
      Value operand = e.a ? eval(*e.a, env) : Value();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        bool hit = e.a ? truth(compare(BinOp::Eq, operand, eval(*e.args[i], env))) == 1 : eval_true(*e.args[i], env);
        if (hit) return widen_to(eval(*e.args[i + 1], env), e.type, e.narrow);
      }
      return e.b ? widen_to(eval(*e.b, env), e.type, e.narrow) : Value();
    }
    case ExprKind::In: {
      // Esper: null operand -> null; no match and a null in the list -> null.
      Value v = eval(*e.a, env);
      if (v.is_null()) return {};
      bool saw_null = false;
      for (const ExprPtr& x : e.args) {
        Value c = eval(*x, env);
        if (c.is_null()) {
          saw_null = true;
          continue;
        }
        if (truth(compare(BinOp::Eq, v, c)) == 1) return Value::of_bool(!e.negated);
      }
      return saw_null ? Value() : Value::of_bool(e.negated);
    }
    case ExprKind::Between: {
      // Esper: the bounds in either order, inclusive; a null anywhere is false (also for `not between`).
      Value v = eval(*e.a, env), lo = eval(*e.args[0], env), hi = eval(*e.args[1], env);
      if (v.is_null() || lo.is_null() || hi.is_null()) return Value::of_bool(false);
      if (truth(compare(BinOp::Gt, lo, hi)) == 1) std::swap(lo, hi);
      bool in = truth(compare(BinOp::Ge, v, lo)) == 1 && truth(compare(BinOp::Le, v, hi)) == 1;
      return Value::of_bool(in != e.negated);
    }
    case ExprKind::Like: {
      Value v = eval(*e.a, env), p = eval(*e.b, env);
      if (v.is_null() || p.is_null()) return {};
      char esc = e.args.empty() ? '\\' : e.args[0]->literal.as_string()[0];
      return Value::of_bool(like_match(v.as_string(), p.as_string(), esc) != e.negated);
    }
    case ExprKind::Regexp: {
      // Java's String.matches: the whole string.
      Value v = eval(*e.a, env);
      if (v.is_null()) return {};
      std::string s(v.as_string());
      if (e.regex) return Value::of_bool(std::regex_match(s, *e.regex) != e.negated);
      Value p = eval(*e.b, env);
      if (p.is_null()) return {};
      try {
        return Value::of_bool(std::regex_match(s, std::regex(std::string(p.as_string()))) != e.negated);
      } catch (const std::regex_error&) {
        return {};  // Esper throws (and drops the row): a bad pattern matches nothing
      }
    }
    case ExprKind::Call: {
      Value self = e.a ? eval(*e.a, env) : Value();
      Value args[64];
      size_t n = std::min<size_t>(e.args.size(), 64);
      for (size_t i = 0; i < n; ++i) args[i] = eval(*e.args[i], env);
      return call_function(e, self, args, n);
    }
    case ExprKind::Cast: return cast_value(e, eval(*e.a, env));
  }
  return {};
}

}  // namespace weir::cep
