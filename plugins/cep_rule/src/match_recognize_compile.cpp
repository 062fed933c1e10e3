// Compiling `match_recognize` (match_recognize.hpp): which variables are
// repeated, Esper's NFA (RowRecogHelper's strands: start states, end states,
// and the links between them, in Esper's order, which decides which of two
// equal matches wins), and every expression as a plan over the define row.
#include "match_recognize.hpp"

#include "error.hpp"

#include <algorithm>
#include <set>

namespace weir::cep {

namespace {

// A list of expressions compiled as the columns of `select e1, e2... from T`.
std::shared_ptr<const Plan> columns_plan(std::vector<ExprPtr> exprs, const std::vector<std::string>& names,
                                         const EventType& type, const Variables& vars, const std::string& file,
                                         Pos pos) {
  StatementAst st;
  st.pos = pos;
  st.from = type.name;
  st.from_pos = pos;
  for (size_t k = 0; k < exprs.size(); ++k) {
    SelectItem item;
    item.pos = exprs[k]->pos;
    item.expr = std::move(exprs[k]);
    item.alias = names.empty() ? "c" + std::to_string(k) : names[k];
    st.select.push_back(std::move(item));
  }
  auto plan = std::make_shared<Plan>(compile_statement(st, type, vars, file));
  if (plan->aggregating()) throw EplError(file, pos, "an aggregate inside an aggregate or a define in match_recognize");
  return plan;
}

class MatchCompiler {
 public:
  MatchCompiler(const MatchRecognizeAst& m, const EventType& input, const Variables& vars, const std::string& file,
                MatchPlan& out)
      : m_(m), input_(input), vars_(vars), file_(file), p_(out) {}

  void run() {
    p_.fields = input_.fields.size();
    p_.skip = m_.skip;
    p_.text = identity();
    collect_vars(*m_.pattern);
    std::set<std::string> singles, multiples;
    inspect(*m_.pattern, false, singles, multiples);
    for (MatchPlan::Var& v : p_.vars) v.multiple = multiples.count(v.name) > 0;
    std::vector<ExprPtr> defines(p_.vars.size());
    for (const MatchDefine& d : m_.defines) {
      int v = var_index(d.var);
      if (v < 0) fail(d.pos, "the define names '" + d.var + "', which is not a variable of the pattern");
      if (defines[static_cast<size_t>(v)]) fail(d.pos, "the variable '" + d.var + "' is defined twice");
      ExprPtr cond = d.cond->clone();
      check_reads(*cond, v, "its define");
      rewrite_prev(cond);
      defines[static_cast<size_t>(v)] = std::move(cond);
    }
    std::vector<ExprPtr> measures;
    std::vector<std::string> names;
    for (const MatchMeasure& x : m_.measures) {
      ExprPtr e = x.expr->clone();
      rewrite_aggs(e);
      check_reads(*e, -1, "the measures");
      measures.push_back(std::move(e));
      names.push_back(x.alias);
    }
    build_row_type();
    for (size_t v = 0; v < defines.size(); ++v)
      if (defines[v]) p_.vars[v].define = define_plan(std::move(defines[v]));
    for (size_t k = 0; k < agg_args_.size(); ++k) {
      std::vector<ExprPtr> one;
      one.push_back(std::move(agg_args_[k]));
      p_.aggs[k].arg = columns_plan(std::move(one), {}, p_.row_type, vars_, file_, m_.pos);
    }
    p_.measures = columns_plan(std::move(measures), names, p_.row_type, vars_, file_, m_.pos);
    p_.type.name = "match_recognize";
    for (const Column& c : p_.measures->columns) p_.type.fields.push_back({c.name, c.type});
    if (!m_.partition.empty()) {
      std::vector<ExprPtr> keys;
      for (const ExprPtr& e : m_.partition) keys.push_back(e->clone());
      p_.partition = columns_plan(std::move(keys), {}, input_, vars_, file_, m_.pos);
    }
    build_nfa();
    for (const MatchPlan::Var& v : p_.vars)
      if (v.define) add_reads(*v.define, true);
    for (const MatchPlan::Agg& a : p_.aggs) add_reads(*a.arg, true);
    for (const MatchPlan::Prev& pv : p_.prevs) add_reads(*pv.arg, false);
    add_reads(*p_.measures, true);
    if (p_.partition) add_reads(*p_.partition, false);
    std::sort(p_.reads.begin(), p_.reads.end());
  }

  // The input properties a plan reads: over the define row, a region's field
  // is that property of some row.
  void add_reads(const Plan& plan, bool define_row) {
    for (int src : plan.layout) {
      size_t field = static_cast<size_t>(src);
      if (define_row && field >= p_.prev_offset) continue;  // prev() and aggregate slots: counted on their own
      int f = static_cast<int>(define_row ? field % p_.fields : field);
      if (std::find(p_.reads.begin(), p_.reads.end(), f) == p_.reads.end()) p_.reads.push_back(f);
    }
  }

 private:
  [[noreturn]] void fail(Pos pos, const std::string& msg) const { throw EplError(file_, pos, msg); }

  // What decides the partial matches (not the measures, read only at the
  // end): a reload keeps them when this text is unchanged.
  std::string identity() const {
    std::string t = "partition(";
    for (const ExprPtr& e : m_.partition) t += render(*e) + ",";
    t += ") skip(" + std::to_string(static_cast<int>(m_.skip)) + ") pattern(" + render_row_pattern(*m_.pattern) + ") define(";
    for (const MatchDefine& d : m_.defines) t += d.var + " as " + render(*d.cond) + ",";
    return t + ")";
  }

  int var_index(const std::string& name) const {
    for (size_t v = 0; v < p_.vars.size(); ++v)
      if (p_.vars[v].name == name) return static_cast<int>(v);
    return -1;
  }

  void collect_vars(const RowPattern& n) {
    if (n.kind == RowPatternKind::Var && var_index(n.var) < 0) p_.vars.push_back({n.var, false, nullptr});
    for (const auto& k : n.kids) collect_vars(*k);
  }

  // Esper's recursiveInspectVariables: a variable is multiple when it is
  // quantified with * or +, sits in such a group, or appears twice outside
  // alternatives of each other.
  static void inspect(const RowPattern& n, bool multiple, std::set<std::string>& singles, std::set<std::string>& multiples) {
    switch (n.kind) {
      case RowPatternKind::Group:
        inspect(*n.kids[0], multiple || n.repeats(), singles, multiples);
        return;
      case RowPatternKind::Alt:
        for (const auto& k : n.kids) {
          std::set<std::string> s, m;
          inspect(*k, multiple, s, m);
          multiples.insert(m.begin(), m.end());
          singles.insert(s.begin(), s.end());
        }
        for (const std::string& x : multiples) singles.erase(x);
        return;
      case RowPatternKind::Concat:
        for (const auto& k : n.kids) inspect(*k, multiple, singles, multiples);
        return;
      case RowPatternKind::Var:
        if (multiples.count(n.var)) return;
        if (singles.count(n.var)) {
          singles.erase(n.var);
          multiples.insert(n.var);
          return;
        }
        if (n.repeats() || multiple) multiples.insert(n.var);
        else singles.insert(n.var);
        return;
    }
  }

  // A repeated variable's rows are a list: a define reads only its own
  // (current) row, the measures read them only through an aggregate.
  void check_reads(const Expr& e, int own, const char* where) const {
    if (e.kind == ExprKind::Ident && e.qualifier.empty() && input_.find(e.name) >= 0)  // as Esper: ambiguous
      fail(e.pos, "the property '" + e.name + "' is ambiguous in match_recognize: name its variable (e.g. " +
                      p_.vars[0].name + "." + e.name + ")");
    if (e.kind == ExprKind::Ident && var_index(e.qualifier) >= 0 && input_.find(e.name) < 0) {
      std::string have;
      for (const Field& f : input_.fields) have += (have.empty() ? "" : ", ") + f.name;
      fail(e.pos, "the variable '" + e.qualifier + "' has no property '" + e.name + "' (stream '" + input_.name + "' has: " + have + ")");
    }
    if (e.kind == ExprKind::Ident && !e.qualifier.empty()) {
      int v = var_index(e.qualifier);
      if (v >= 0 && v != own && p_.vars[static_cast<size_t>(v)].multiple)
        fail(e.pos, "cep_rule does not support reading the repeated variable '" + e.qualifier + "' in " + where +
                        " other than in an aggregate (count, sum, avg, min, max, first, last)");
    }
    if (e.kind == ExprKind::Agg && own >= 0) fail(e.pos, "cep_rule does not support aggregates in a define");
    if (e.kind == ExprKind::Prior) fail(e.pos, "cep_rule does not support prior() in match_recognize");
    if (e.kind == ExprKind::Prev && own < 0) fail(e.pos, "cep_rule does not support prev() in the measures");
    for_each_child(e, [&](const Expr& k) { check_reads(k, own, where); });
  }

  static ExprPtr slot_ref(Pos pos, const std::string& name) {
    auto r = std::make_unique<Expr>();
    r->kind = ExprKind::Ident;
    r->pos = pos;
    r->name = name;
    return r;
  }

  // The arguments name variables (`B.speed`) but are read off one row.
  void strip_vars(Expr& e) const {
    if (e.kind == ExprKind::Ident && var_index(e.qualifier) >= 0) e.qualifier.clear();
    for_each_child(e, [&](ExprPtr& k) { strip_vars(*k); });
  }

  // prev(expr, n) -> a slot of the define row, filled once per event.
  void rewrite_prev(ExprPtr& e) {
    if (e->kind == ExprKind::Prev) {
      MatchPlan::Prev pv;
      pv.n = e->literal.as_long();
      if (pv.n < 1) fail(e->pos, "prev() needs an index of at least 1");
      ExprPtr arg = e->a->clone();
      strip_vars(*arg);
      std::vector<ExprPtr> one;
      one.push_back(std::move(arg));
      pv.arg = columns_plan(std::move(one), {}, input_, vars_, file_, e->pos);
      p_.history = std::max(p_.history, pv.n);
      p_.prevs.push_back(std::move(pv));
      e = slot_ref(e->pos, "prev#" + std::to_string(p_.prevs.size() - 1));
      return;
    }
    for_each_child(*e, [&](ExprPtr& k) { rewrite_prev(k); });
  }

  void qualifiers(const Expr& e, std::set<std::string>& out) const {
    if (e.kind == ExprKind::Ident && var_index(e.qualifier) >= 0) out.insert(e.qualifier);
    for_each_child(e, [&](const Expr& k) { qualifiers(k, out); });
  }

  // count(B.speed) -> a slot of the define row, computed over B's rows.
  void rewrite_aggs(ExprPtr& e) {
    if (e->kind == ExprKind::Agg) {
      if (e->star || !e->a) fail(e->pos, "cep_rule does not support count(*) in the measures (count a variable's property, e.g. count(B.speed))");
      if (e->distinct) fail(e->pos, "cep_rule does not support 'distinct' in the measures");
      std::set<std::string> qs;
      qualifiers(*e->a, qs);
      if (qs.size() != 1) fail(e->pos, "an aggregate in the measures must read exactly one pattern variable (e.g. count(B.speed))");
      int v = var_index(*qs.begin());
      if (!p_.vars[static_cast<size_t>(v)].multiple)
        fail(e->pos, "cep_rule does not support an aggregate over '" + *qs.begin() + "', which matches a single row");
      MatchPlan::Agg a;
      a.fn = e->name;
      a.var = v;
      p_.aggs.push_back(a);
      agg_args_.push_back(e->a->clone());
      agg_pos_.push_back(e->pos);
      e = slot_ref(e->pos, "agg#" + std::to_string(p_.aggs.size() - 1));
      return;
    }
    for_each_child(*e, [&](ExprPtr& k) { rewrite_aggs(k); });
  }

  void build_row_type() {
    p_.row_type.name = input_.name;
    p_.row_type.fields = input_.fields;
    for (const MatchPlan::Var& v : p_.vars)
      for (const Field& f : input_.fields) p_.row_type.fields.push_back({v.name + "." + f.name, f.type});
    p_.prev_offset = p_.row_type.fields.size();
    for (size_t k = 0; k < p_.prevs.size(); ++k)
      p_.row_type.fields.push_back({"prev#" + std::to_string(k), p_.prevs[k].arg->columns[0].type});
    p_.agg_offset = p_.row_type.fields.size();
    // The aggregates' types need their arguments compiled over the regions.
    EventType regions = p_.row_type;
    for (size_t k = 0; k < p_.aggs.size(); ++k) {
      std::vector<ExprPtr> one;
      one.push_back(agg_args_[k]->clone());
      Type t = columns_plan(std::move(one), {}, regions, vars_, file_, agg_pos_[k])->columns[0].type;
      const std::string& fn = p_.aggs[k].fn;
      if ((fn == "sum" || fn == "avg") && t != Type::Long && t != Type::Double && t != Type::Null)
        fail(agg_pos_[k], fn + "() needs a numeric argument");
      p_.aggs[k].arg_type = t;
      p_.aggs[k].type = fn == "count" ? Type::Long : fn == "avg" ? Type::Double : t;
      p_.row_type.fields.push_back({"agg#" + std::to_string(k), p_.aggs[k].type});
    }
  }

  std::shared_ptr<const Plan> define_plan(ExprPtr cond) {
    StatementAst st;
    st.pos = cond->pos;
    st.from = p_.row_type.name;
    st.from_pos = cond->pos;
    st.stream_filter = std::move(cond);
    SelectItem one;
    one.pos = st.pos;
    one.expr = std::make_unique<Expr>();
    one.expr->literal = Value::of_long(1);
    st.select.push_back(std::move(one));
    return std::make_shared<Plan>(compile_statement(st, p_.row_type, vars_, file_));
  }

  // ---- Esper's NFA (RowRecogHelper.recursiveBuildStatesInternal)
  struct Strand {
    std::vector<int> starts, ends;
    bool passthrough = false;
  };

  void link(int from, int to) { p_.states[static_cast<size_t>(from)].next.push_back(to); }

  Strand build(const RowPattern& n) {
    Strand s;
    switch (n.kind) {
      case RowPatternKind::Alt:
        for (const auto& k : n.kids) {
          Strand c = build(*k);
          s.starts.insert(s.starts.end(), c.starts.begin(), c.starts.end());
          s.ends.insert(s.ends.end(), c.ends.begin(), c.ends.end());
          s.passthrough = s.passthrough || c.passthrough;
        }
        return s;
      case RowPatternKind::Concat: {
        std::vector<Strand> parts;
        for (const auto& k : n.kids) parts.push_back(build(*k));
        s.passthrough = std::all_of(parts.begin(), parts.end(), [](const Strand& x) { return x.passthrough; });
        for (const Strand& x : parts) {  // starts: up to the first one that must match a row
          s.starts.insert(s.starts.end(), x.starts.begin(), x.starts.end());
          if (!x.passthrough) break;
        }
        for (size_t i = parts.size(); i-- > 0;) {  // ends: back to the last one that must match a row
          s.ends.insert(s.ends.end(), parts[i].ends.begin(), parts[i].ends.end());
          if (!parts[i].passthrough) break;
        }
        for (size_t i = parts.size() - 1; i >= 1; --i)
          for (size_t j = i; j-- > 0;) {
            for (int e : parts[j].ends)
              for (int st : parts[i].starts) link(e, st);
            if (!parts[j].passthrough) break;
          }
        return s;
      }
      case RowPatternKind::Group: {
        s = build(*n.kids[0]);
        s.passthrough = s.passthrough || n.optional();
        if (n.repeats())
          for (int e : s.ends)
            for (int st : s.starts) {
              std::vector<int>& nx = p_.states[static_cast<size_t>(e)].next;
              if (std::find(nx.begin(), nx.end(), st) == nx.end()) nx.push_back(st);
            }
        return s;
      }
      case RowPatternKind::Var: {
        int id = static_cast<int>(p_.states.size());
        MatchPlan::State st;
        st.var = var_index(n.var);
        // Only * and ? count rows for the ranking: Esper 8.9 ranks two `C* A+ B`
        // matches by C alone (tests/esper_cases/514-*).
        if (n.quant == Quantifier::ZeroOrMore || n.quant == Quantifier::ZeroOrOne) st.greedy = n.reluctant ? 0 : 1;
        p_.states.push_back(st);
        if (n.repeats()) link(id, id);
        s.starts = s.ends = {id};
        s.passthrough = n.optional();
        return s;
      }
    }
    return s;
  }

  void build_nfa() {
    Strand s = build(*m_.pattern);
    for (int e : s.ends) link(e, MatchPlan::kEnd);
    p_.starts = s.starts;
  }

  const MatchRecognizeAst& m_;
  const EventType& input_;
  const Variables& vars_;
  const std::string& file_;
  MatchPlan& p_;
  std::vector<ExprPtr> agg_args_;
  std::vector<Pos> agg_pos_;
};

}  // namespace

std::shared_ptr<const MatchPlan> compile_match_recognize(const MatchRecognizeAst& m, const EventType& input,
                                                         const Variables& vars, const std::string& file) {
  auto plan = std::make_shared<MatchPlan>();
  MatchCompiler(m, input, vars, file, *plan).run();
  return plan;
}

}  // namespace weir::cep
