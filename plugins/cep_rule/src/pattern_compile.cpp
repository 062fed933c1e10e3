// Compiling a pattern (pattern.hpp): its operators as a table of nodes, each
// tag's place in the match row, and each filter as a stream filter over the
// event followed by the match so far, indexed when it has an equality on a
// tagged event.
#include "pattern.hpp"

#include "error.hpp"

#include <algorithm>
#include <cstdint>

namespace weir::cep {

namespace {

class PatternCompiler {
 public:
  PatternCompiler(const EventType& input, const Variables& vars, const std::string& file, PatternPlan& out)
      : input_(input), vars_(vars), file_(file), p_(out) {}

  void run(const PatternAst& top) {
    p_.fields = input_.fields.size();
    p_.text = top.text;
    build(top);
    layout();
    for (auto [node, ast] : filters_) compile_filter(node, *ast);
  }

 private:
  [[noreturn]] void fail(Pos pos, const std::string& msg) const { throw EplError(file_, pos, msg); }

  int build(const PatternAst& a) {
    int id = static_cast<int>(p_.nodes.size());
    p_.nodes.emplace_back();
    p_.nodes[id].kind = a.kind;
    p_.nodes[id].ms = a.ms;
    p_.nodes[id].count = a.count;
    if ((a.kind == PatternKind::Interval || a.kind == PatternKind::Within) && a.ms <= 0)
      fail(a.pos, "a pattern timer needs a positive time period");
    // A `not` is true as it starts: inside `[n]` it could complete the
    // repeat as it starts (Esper's answer there is not pinned down).
    if (a.kind == PatternKind::Not && repeat_) fail(a.pos, "cep_rule does not support 'not' inside a repeat [n]");
    std::vector<int> tags;
    if (a.kind == PatternKind::Filter) {
      if (!a.tag.empty()) {
        for (const PatternPlan::Tag& t : p_.tags)
          if (t.name == a.tag) fail(a.pos, "the tag '" + a.tag + "' appears more than once in the pattern");
        if (unbounded_) fail(a.pos, "a tag inside 'until' without a repeat count (write [n] ... until ...)");
        PatternPlan::Tag t;
        t.name = a.tag;
        t.count = repeat_;
        p_.tags.push_back(t);
        tags.push_back(static_cast<int>(p_.tags.size() - 1));
        p_.nodes[id].tag = tags.back();
      }
      filters_.emplace_back(id, &a);
    }
    std::vector<int> kids;
    for (size_t k = 0; k < a.kids.size(); ++k) {
      int outer_repeat = repeat_;
      bool outer_unbounded = unbounded_;
      if (a.kind == PatternKind::Repeat && k == 0 && !repeat_ && !unbounded_) {
        repeat_ = a.count;
        unbounded_ = a.count == 0;
      }
      int kid = build(*a.kids[k]);
      p_.nodes[kid].under_every = a.kind == PatternKind::Every;
      repeat_ = outer_repeat;
      unbounded_ = outer_unbounded;
      kids.push_back(kid);
      const std::vector<int>& kt = p_.nodes[kid].tags;
      tags.insert(tags.end(), kt.begin(), kt.end());
    }
    // A repeat inside a repeat would make its tags arrays of arrays.
    if (a.kind == PatternKind::Repeat && (repeat_ || unbounded_) && !tags.empty())
      fail(a.pos, "cep_rule does not support a tag inside a repeat inside a repeat");
    p_.nodes[id].kids = std::move(kids);
    p_.nodes[id].tags = std::move(tags);
    return id;
  }

  // Each tag's properties in the match row; a repeated tag also has n more
  // regions, `a[0]` .. `a[n-1]`, its own region holding the event being matched.
  void layout() {
    size_t f = p_.fields;
    for (PatternPlan::Tag& t : p_.tags) {
      t.offset = p_.width;
      p_.width += f;
      for (const Field& x : input_.fields)
        p_.type.fields.push_back({(t.count ? "\x01" : "") + t.name + "." + x.name, x.type});
      if (!t.count) continue;
      t.array_offset = p_.width;
      p_.width += static_cast<size_t>(t.count) * f;
      for (int64_t i = 0; i < t.count; ++i)
        for (const Field& x : input_.fields)
          p_.type.fields.push_back({t.name + "[" + std::to_string(i) + "]." + x.name, x.type});
    }
    p_.type.name = "pattern";
  }

  // A filter is compiled as the stream filter of `select 1 from Stream(expr)
  // as tag` over the event's properties followed by the match row's
  // (`a.car`), so it reads the events matched before it.
  void compile_filter(int node, const PatternAst& a) {
    if (!a.filter) return;
    EventType combined = input_;
    for (const Field& x : p_.type.fields) combined.fields.push_back(x);
    StatementAst st;
    st.pos = a.pos;
    st.from = a.stream;
    st.from_alias = a.tag;
    st.from_pos = a.pos;
    st.stream_filter = a.filter->clone();
    SelectItem one;
    one.pos = a.pos;
    one.expr = std::make_unique<Expr>();
    one.expr->literal = Value::of_long(1);
    st.select.push_back(std::move(one));
    auto plan = std::make_shared<Plan>(compile_statement(st, combined, vars_, file_));
    for (int src : plan->layout) {
      int field = src % static_cast<int>(p_.fields);  // the event's own, or a matched event's (fields > 0: it reads one)
      if (std::find(p_.reads.begin(), p_.reads.end(), field) == p_.reads.end()) p_.reads.push_back(field);
    }
    PatternPlan::Node& n = p_.nodes[node];
    find_index(*plan, n);
    if (std::all_of(plan->layout.begin(), plan->layout.end(), [&](int src) { return src < static_cast<int>(p_.fields); }))
      n.on_event = over_event(*plan->stream_filter, *plan);
    n.filter = std::move(plan);
  }

  // Esper indexes `b=Ev(car = a.car)` by car: an event is checked only
  // against the active filters whose key it has.
  void find_index(const Plan& plan, PatternPlan::Node& n) const {
    std::vector<const Expr*> conj;
    std::vector<const Expr*> todo{plan.stream_filter.get()};
    while (!todo.empty()) {
      const Expr* e = todo.back();
      todo.pop_back();
      if (e->kind == ExprKind::Binary && e->op == BinOp::And) {
        todo.push_back(e->b.get());
        todo.push_back(e->a.get());
      } else {
        conj.push_back(e);
      }
    }
    for (const Expr* c : conj) {
      if (c->kind != ExprKind::Binary || c->op != BinOp::Eq) continue;
      for (int side = 0; side < 2; ++side) {
        const Expr* prop = side ? c->b.get() : c->a.get();
        const Expr* key = side ? c->a.get() : c->b.get();
        if (prop->kind != ExprKind::Prop || plan.layout[static_cast<size_t>(prop->index)] >= static_cast<int>(p_.fields)) continue;
        if (prop->type != key->type || (prop->type != Type::Long && prop->type != Type::String)) continue;
        if (!reads_only_matched(*key, plan)) continue;
        n.index_field = plan.layout[static_cast<size_t>(prop->index)];
        n.index_key = key;
        n.key_decides = std::none_of(conj.begin(), conj.end(), [&](const Expr* o) { return o != c && reads_matched(*o, plan); });
        if (n.key_decides)
          for (const Expr* o : conj)
            if (o != c) n.rest.push_back(over_event(*o, plan));
        return;
      }
    }
  }

  // A copy of e (which reads only the event) whose properties index the
  // event's fields instead of the filter's slots.
  static ExprPtr over_event(const Expr& e, const Plan& plan) {
    ExprPtr c = e.clone();
    to_fields(*c, plan);
    return c;
  }
  static void to_fields(Expr& e, const Plan& plan) {
    if (e.kind == ExprKind::Prop) e.index = plan.layout[static_cast<size_t>(e.index)];
    for_each_child(e, [&](ExprPtr& k) { to_fields(*k, plan); });
  }

  bool reads_matched(const Expr& e, const Plan& plan) const {
    if (e.kind == ExprKind::Prop && plan.layout[static_cast<size_t>(e.index)] >= static_cast<int>(p_.fields)) return true;
    bool any = false;
    for_each_child(e, [&](const Expr& k) { any = any || reads_matched(k, plan); });
    return any;
  }

  bool reads_only_matched(const Expr& e, const Plan& plan) const {
    if (e.kind == ExprKind::Prop && plan.layout[static_cast<size_t>(e.index)] < static_cast<int>(p_.fields)) return false;
    if (e.kind != ExprKind::Prop && e.kind != ExprKind::Var && e.kind != ExprKind::Literal && e.kind != ExprKind::Binary &&
        e.kind != ExprKind::Neg && e.kind != ExprKind::Call)
      return false;
    bool ok = true;
    for_each_child(e, [&](const Expr& k) { ok = ok && reads_only_matched(k, plan); });
    return ok;
  }

  const EventType& input_;
  const Variables& vars_;
  const std::string& file_;
  PatternPlan& p_;
  int64_t repeat_ = 0;     // inside `[n]`: n
  bool unbounded_ = false;  // inside `p until q` without a count
  std::vector<std::pair<int, const PatternAst*>> filters_;
};

}  // namespace

std::shared_ptr<PatternPlan> compile_pattern(const PatternAst& p, const EventType& input, const Variables& vars,
                                             const std::string& file) {
  auto plan = std::make_shared<PatternPlan>();
  PatternCompiler(input, vars, file, *plan).run(p);
  return plan;
}

void narrow_pattern(PatternPlan& p, std::vector<int>& layout) {
  size_t f = p.fields;
  std::vector<bool> used(p.width);  // by index in `type`
  for (int s : layout)
    if (s >= 0) used[static_cast<size_t>(s)] = true;
  for (const PatternPlan::Node& n : p.nodes)
    if (n.filter)
      for (int s : n.filter->layout)
        if (static_cast<size_t>(s) >= f) used[static_cast<size_t>(s) - f] = true;
  // An element of `a[n]` is copied from the tag's own properties (the event being matched).
  for (const PatternPlan::Tag& t : p.tags)
    for (size_t i = 0; i < static_cast<size_t>(t.count); ++i)
      for (size_t x = 0; x < f; ++x)
        if (used[t.array_offset + i * f + x]) used[t.offset + x] = true;
  std::vector<size_t> slot(p.width, SIZE_MAX);
  size_t width = 0;
  p.kept.clear();
  for (size_t i = 0; i < p.width; ++i)
    if (used[i]) {
      slot[i] = width++;
      p.kept.push_back(i);
    }
  for (PatternPlan::Tag& t : p.tags) {
    for (size_t x = 0; x < f; ++x) {
      if (!used[t.offset + x]) continue;
      t.keep.emplace_back(x, slot[t.offset + x]);
      t.slots.push_back(slot[t.offset + x]);
      if (std::find(p.reads.begin(), p.reads.end(), static_cast<int>(x)) == p.reads.end()) p.reads.push_back(static_cast<int>(x));
    }
    t.elements.assign(static_cast<size_t>(t.count), {});
    for (size_t i = 0; i < static_cast<size_t>(t.count); ++i)
      for (size_t x = 0; x < f; ++x) {
        size_t e = t.array_offset + i * f + x;
        if (!used[e]) continue;
        t.elements[i].emplace_back(slot[t.offset + x], slot[e]);
        t.slots.push_back(slot[e]);
      }
  }
  for (PatternPlan::Node& n : p.nodes)
    if (n.filter)
      for (int s : n.filter->layout)
        n.slots.push_back(static_cast<size_t>(s) < f ? s : static_cast<int>(f + slot[static_cast<size_t>(s) - f]));
  for (int& s : layout)
    if (s >= 0) s = static_cast<int>(slot[static_cast<size_t>(s)]);
  p.width = width;
}

}  // namespace weir::cep
