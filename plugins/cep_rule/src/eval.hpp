// Expression evaluation with Esper's semantics: long/long division gives a
// double, division by zero gives Infinity/NaN, arithmetic and comparison with
// null give null, `and`/`or` are three-valued, and a null condition is false.
#pragma once

#include "ast.hpp"
#include "value.hpp"

namespace weir::cep {

class Aggregator;
struct GroupState;

// What an expression can read. Any pointer may be null when the expression
// cannot refer to it (e.g. no event for a fully aggregated row).
struct EvalEnv {
  const Value* row = nullptr;          // the event's slots (ExprKind::Prop)
  const Value* vars = nullptr;         // variable values (ExprKind::Var)
  const GroupState* group = nullptr;   // group key and aggregate cells (KeyRef, Agg)
  const Aggregator* aggs = nullptr;
  const Value* ctx = nullptr;          // the context partition's properties (CtxProp, by CtxSlot)
};

Value eval(const Expr& e, const EvalEnv& env);

// The value of an operand without copying it when it is a plain property
// (the common case on the hot path); otherwise evaluated into `tmp`.
inline const Value& operand(const Expr& e, const EvalEnv& env, Value& tmp) {
  if (e.kind == ExprKind::Prop && env.row) return env.row[e.index];
  tmp = eval(e, env);
  return tmp;
}

// A condition: true only when it evaluates to boolean true.
//
// A comparison of two longs that are properties or literals (`speed > 100`,
// the usual stream and pattern filter, checked per event) is answered here,
// without building the operands' and the result's Values; it gives what
// eval's comparison gives for two longs.
inline bool eval_true(const Expr& e, const EvalEnv& env) {
  if (e.kind == ExprKind::Binary && e.op >= BinOp::Eq && e.op <= BinOp::Ge) {
    auto direct = [&](const Expr& x) -> const Value* {
      if (x.kind == ExprKind::Literal) return &x.literal;
      if (x.kind == ExprKind::Prop && env.row) return &env.row[x.index];
      return nullptr;
    };
    const Value* a = direct(*e.a);
    const Value* b = direct(*e.b);
    if (a && b && a->type() == Type::Long && b->type() == Type::Long) {
      int64_t x = a->as_long(), y = b->as_long();
      switch (e.op) {
        case BinOp::Eq: return x == y;
        case BinOp::Ne: return x != y;
        case BinOp::Lt: return x < y;
        case BinOp::Le: return x <= y;
        case BinOp::Gt: return x > y;
        default: return x >= y;
      }
    }
  }
  Value v = eval(e, env);
  return v.type() == Type::Bool && v.as_bool();
}

}  // namespace weir::cep
