#include "parser.hpp"

#include "match_recognize_ast.hpp"

#include "lexer.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <utility>
#include <cstdlib>
#include <limits>

namespace weir::cep {
namespace {

// Words that end an expression or a clause; they cannot name a property.
bool reserved(std::string_view w) {
  static const char* words[] = {"select", "from", "where", "group", "by",   "having", "output", "insert", "into",
                                "as",     "and",  "or",    "not",   "is",   "null",   "true",   "false",  "create",
                                "case",   "when", "then",  "else",  "end",  "in",     "between", "like",  "regexp"};
  for (const char* k : words)
    if (iequals(w, k)) return true;
  return false;
}

// Esper constructs cep_rule does not implement: named as unsupported rather
// than answered with a generic syntax error.
[[noreturn]] void unsupported(const std::string& file, Pos pos, const std::string& what) {
  throw EplError(file, pos, "cep_rule does not support " + what);
}

// Esper's built-in single-row and aggregation functions that are not here.
bool esper_function(std::string_view f) {
  static const char* names[] = {"prevtail", "prevwindow", "prevcount", "instanceof",
                                "exists", "current_timestamp", "typeof", "median", "avedev", "stddev", "firstever",
                                "lastever", "first", "last", "window", "countever", "leaving", "nth", "rate", "sorted",
                                "maxby", "minby", "maxbyever", "minbyever", "grouping", "grouping_id", "istream",
                                "current_evaluation_context", "event_identity_equals", "fmin", "fmax"};
  for (const char* n : names)
    if (iequals(f, n)) return true;
  return false;
}

// Recursion guards: deeply nested input must fail cleanly, not overflow the
// stack. kMaxDepth bounds the parser's own recursion (parentheses, unary
// operators); kMaxHeight bounds the tree it builds, since a flat chain
// `a and a and ...` is parsed by a loop but makes a tree as tall as it is
// long, which the compiler, the evaluator and the destructor walk recursively.
constexpr int kMaxDepth = 200;
constexpr uint32_t kMaxHeight = 1000;

class Parser {
 public:
  Parser(std::vector<Token> toks, const std::string& file) : t_(std::move(toks)), file_(file) {}

  Module module() {
    Module m;
    m.file = file_;
    while (!at_end()) {
      if (accept_symbol(";")) continue;
      if (is_word("create") && is_word("context", 1)) {
        m.contexts.push_back(create_context());
      } else if (is_word("create") && is_word("window", 1)) {
        m.statements.push_back(create_window());
      } else if (is_word("create") && is_word("table", 1)) {
        m.tables.push_back(create_table());
      } else if (is_word("create")) {
        m.variables.push_back(create_variable());
      } else {
        m.statements.push_back(statement());
      }
      if (!at_end() && !is_symbol(";")) fail(peek(), "expected ';' or the end of the file, found " + describe(peek()));
    }
    return m;
  }

  ExprPtr lone_expression() {
    ExprPtr e = expr();
    if (!at_end()) fail(peek(), "unexpected " + describe(peek()) + " after the expression");
    return e;
  }

 private:
  // ---------------------------------------------------------------- tokens
  const Token& peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[i_];
    if (i_ + 1 < t_.size()) ++i_;
    return t;
  }
  bool at_end() const { return peek().kind == Tok::End; }
  bool is_word(std::string_view w, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::Ident && iequals(peek(ahead).text, w);
  }
  bool is_symbol(std::string_view s, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::Symbol && peek(ahead).text == s;
  }
  bool accept_word(std::string_view w) {
    if (!is_word(w)) return false;
    next();
    return true;
  }
  bool accept_symbol(std::string_view s) {
    if (!is_symbol(s)) return false;
    next();
    return true;
  }
  const Token& expect_word(std::string_view w) {
    if (!is_word(w)) fail(peek(), "expected '" + std::string(w) + "', found " + describe(peek()));
    return next();
  }
  const Token& expect_symbol(std::string_view s) {
    if (!is_symbol(s)) fail(peek(), "expected '" + std::string(s) + "', found " + describe(peek()));
    return next();
  }
  std::string name(const char* what) {
    const Token& t = peek();
    if (t.kind != Tok::Ident) fail(t, "expected " + std::string(what) + ", found " + describe(t));
    if (reserved(t.text)) fail(t, "expected " + std::string(what) + ", found the keyword '" + t.text + "'");
    return next().text;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::End: return "the end of the input";
      case Tok::Ident: return "'" + t.text + "'";
      case Tok::Integer:
      case Tok::Decimal: return "the number " + t.text;
      case Tok::String: return "a string literal";
      case Tok::Symbol: return "'" + t.text + "'";
    }
    return "?";
  }
  [[noreturn]] void fail(const Token& t, const std::string& msg) const { throw EplError(file_, t.pos, msg); }

  struct DepthGuard {
    Parser& p;
    DepthGuard(Parser& parser, const Token& at) : p(parser) {
      if (++p.depth_ > kMaxDepth) p.fail(at, "expression nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  // ---------------------------------------------------------------- declarations
  VariableDecl create_variable() {
    VariableDecl v;
    v.pos = next().pos;  // create
    if (!is_word("variable")) {
      static const char* kinds[] = {"schema", "index", "expression", "dataflow", "constant"};
      for (const char* k : kinds)
        if (is_word(k)) unsupported(file_, v.pos, "'create " + lower(peek().text) + "'");
    }
    expect_word("variable");
    value_type("variable", v.type, v.narrow);
    v.name = name("a variable name");
    if (accept_symbol("=")) {
      v.init = expr();
      const Expr* lit = v.init.get();
      if (lit->kind != ExprKind::Literal) fail_at(v.init->pos, "a variable's initial value must be a literal");
    }
    return v;
  }
  [[noreturn]] void fail_at(Pos p, const std::string& msg) const { throw EplError(file_, p, msg); }

  // A value type (variables, table columns): long, int, double, float, string, boolean.
  void value_type(const char* what, Type& type, Narrow& narrow) {
    const Token& tt = peek();
    std::string t = lower(name("a type"));
    if (t == "long") type = Type::Long;
    else if (t == "int" || t == "integer") type = Type::Long, narrow = Narrow::Int;
    else if (t == "double") type = Type::Double;
    else if (t == "float") type = Type::Double, narrow = Narrow::Float;
    else if (t == "short" || t == "byte" || t == "decimal" || t == "bigdecimal" || t == "biginteger")
      fail(tt, std::string(what) + " type '" + t + "' is not supported (use long, int, double, float, string or boolean)");
    else if (t == "string") type = Type::String;
    else if (t == "boolean" || t == "bool") type = Type::Bool;
    else fail(tt, "unknown " + std::string(what) + " type '" + t + "' (use long, int, double, float, string or boolean)");
  }

  // create table T (k type primary key, col type, col agg(type), n count(*), ...)
  TableDecl create_table() {
    TableDecl t;
    t.pos = next().pos;  // create
    next();              // table
    t.name = name("a table name");
    if (is_word("as")) unsupported(file_, peek().pos, "'create table ... as' (declare the columns in parentheses)");
    expect_symbol("(");
    do {
      TableColumn c;
      c.pos = peek().pos;
      c.name = name("a column name");
      const Token& ft = peek();
      std::string f = lower(ft.text);
      if (ft.kind == Tok::Ident && is_symbol("(", 1)) {
        next();
        next();
        c.agg = true;
        if (f == "count") c.fn = AggFn::Count;
        else if (f == "sum") c.fn = AggFn::Sum;
        else if (f == "avg") c.fn = AggFn::Avg;
        else if (f == "min") c.fn = AggFn::Min;
        else if (f == "max") c.fn = AggFn::Max;
        else unsupported(file_, ft.pos, "the table aggregation '" + ft.text + "' (supported: count, sum, avg, min, max)");
        if (accept_symbol("*")) {
          if (c.fn != AggFn::Count) fail(ft, "only count takes '*'");
          c.star = true;
        } else {
          if (is_word("distinct")) unsupported(file_, peek().pos, "'distinct' in a table column");
          // Esper's table counts the null values too (the random comparison found it): not reproduced.
          if (c.fn == AggFn::Count) unsupported(file_, ft.pos, "'count(type)' as a table column (use count(*))");
          Narrow n = Narrow::None;
          value_type("column", c.arg, n);
        }
        expect_symbol(")");
        c.type = c.fn == AggFn::Count ? Type::Long : c.fn == AggFn::Avg ? Type::Double : c.arg;
        if ((c.fn == AggFn::Sum || c.fn == AggFn::Avg) && c.arg != Type::Long && c.arg != Type::Double)
          fail_at(c.pos, std::string(aggregate_name(c.fn)) + "() needs a numeric type");
      } else {
        Narrow n = Narrow::None;
        value_type("column", c.type, n);
        if (accept_word("primary")) {
          expect_word("key");
          c.key = true;
        }  // else a plain column, written by on-merge, on-update and insert into
      }
      for (const TableColumn& o : t.columns)
        if (o.name == c.name) fail_at(c.pos, "column '" + c.name + "' appears twice in table '" + t.name + "'");
      t.columns.push_back(std::move(c));
    } while (accept_symbol(","));
    expect_symbol(")");
    bool keyed = false;
    for (const TableColumn& c : t.columns) keyed |= c.key;
    if (!keyed) unsupported(file_, t.pos, "a table without a primary key");
    return t;
  }

  // create context NAME
  //   partition [by] p1 [, p2...] from S1[(filter)] [, q1 from S2 ...]
  //   | coalesce [by] fn(expr) from S[(filter)] [, fn(expr) from S2 ...] granularity N [preallocate]
  //   | group [by] cond as label [, group [by] cond as label ...] from S[(filter)]
  ContextDecl create_context() {
    ContextDecl c;
    c.pos = next().pos;  // create
    next();              // context
    c.name = name("a context name");
    c.text = c.name + ":";
    if (is_word("initiated") || is_word("start"))
      unsupported(file_, peek().pos, "overlapping and non-overlapping contexts ('initiated by', 'start ... end')");
    if (is_word("context")) unsupported(file_, peek().pos, "nested contexts");
    if (accept_word("partition")) {
      c.kind = ContextKind::Keyed;
      accept_word("by");
      do {
        ContextItem item;
        item.pos = peek().pos;
        do item.keys.push_back(context_key());
        while (accept_symbol(","));
        context_stream(item);
        c.items.push_back(std::move(item));
      } while (accept_word("and") || accept_symbol(","));
    } else if (accept_word("coalesce")) {
      c.kind = ContextKind::Hash;
      accept_word("by");
      do {
        ContextItem item;
        item.pos = peek().pos;
        std::string fn = lower(name("consistent_hash_crc32 or hash_code"));
        if (fn == "consistent_hash_crc32") item.fn = HashFn::Crc32;
        else if (fn == "hash_code") item.fn = HashFn::HashCode;
        else fail_at(item.pos, "unknown hash function '" + fn + "' (use consistent_hash_crc32 or hash_code)");
        expect_symbol("(");
        item.keys.push_back(expr());
        expect_symbol(")");
        context_stream(item);
        c.items.push_back(std::move(item));
      } while (accept_symbol(","));
      expect_word("granularity");
      const Token& n = peek();
      if (n.kind != Tok::Integer || integer(n) <= 0 || integer(n) > 1'000'000)
        fail(n, "the granularity must be a whole number from 1 to 1000000");
      c.granularity = integer(next());
      c.preallocate = accept_word("preallocate");
    } else if (is_word("group")) {
      c.kind = ContextKind::Category;
      while (accept_word("group")) {
        accept_word("by");
        ContextCategory cat;
        cat.cond = expr();
        expect_word("as");
        cat.label = name("a category label");
        for (const ContextCategory& o : c.categories)
          if (o.label == cat.label) fail_at(cat.cond->pos, "category '" + cat.label + "' appears twice");
        c.categories.push_back(std::move(cat));
        if (!accept_symbol(",")) break;
      }
      ContextItem item;
      item.pos = peek().pos;
      context_stream(item);
      c.items.push_back(std::move(item));
    } else {
      fail(peek(), "expected 'partition by', 'coalesce by' or 'group by' after the context name, found " + describe(peek()));
    }
    // The text that decides whether two contexts partition alike.
    c.text += std::to_string(static_cast<int>(c.kind)) + ":" + std::to_string(c.granularity) + (c.preallocate ? "p" : "");
    for (const ContextCategory& cat : c.categories) c.text += "|" + render(*cat.cond) + " as " + cat.label;
    for (const ContextItem& item : c.items) {
      c.text += "|" + std::to_string(static_cast<int>(item.fn)) + ":";
      for (const ExprPtr& k : item.keys) c.text += render(*k) + ",";
      c.text += " from " + item.stream + "(" + (item.filter ? render(*item.filter) : "") + ")";
    }
    return c;
  }

  ExprPtr context_key() {
    ExprPtr k = expr();
    if (k->kind != ExprKind::Ident) fail_at(k->pos, "a 'partition by' key must be a property of the stream");
    return k;
  }

  void context_stream(ContextItem& item) {
    expect_word("from");
    item.stream = name("a stream name");
    if (accept_symbol("(")) {
      if (!is_symbol(")")) item.filter = expr();
      expect_symbol(")");
    }
    if (is_word("as") || (peek().kind == Tok::Ident && !reserved(peek().text) && !is_word("granularity") &&
                          !is_word("preallocate")))
      unsupported(file_, peek().pos, "a stream alias in 'create context'");
  }

  // ---------------------------------------------------------------- statements
  StatementAst statement() {
    StatementAst s;
    s.pos = peek().pos;
    while (is_symbol("@")) annotation(s);
    if (is_word("create") && is_word("window", 1)) return create_window(std::move(s));  // @name('W') create window
    if (accept_word("context")) {
      s.context_pos = peek().pos;
      s.context = name("a context name");
    }
    if (accept_word("insert")) {
      expect_word("into");
      s.insert_into = name("a stream name after 'insert into'");
    } else if (is_word("into") && is_word("table", 1)) {
      next();
      next();
      s.into_table_pos = peek().pos;
      s.into_table = name("a table name after 'into table'");
    }
    if (s.insert_into.empty() && s.context.empty() && is_word("on")) {
      on_statement(s);
      return s;
    }
    if (is_word("on")) unsupported(file_, peek().pos, "'on ...' statements with 'context' or 'insert into'");
    if (s.insert_into.empty()) {
      if (is_word("expression")) unsupported(file_, peek().pos, "'expression' declarations");
      if (is_word("update")) unsupported(file_, peek().pos, "'update istream'");
    }
    if (!is_word("select")) fail(peek(), "expected 'select', found " + describe(peek()));
    next();
    if (is_word("distinct")) unsupported(file_, peek().pos, "'select distinct'");
    if (accept_word("irstream")) s.selector = StreamSelector::IRStream;
    else if (accept_word("istream")) s.selector = StreamSelector::IStream;
    else if (accept_word("rstream")) s.selector = StreamSelector::RStream;
    select_list(s);
    expect_word("from");
    from_clause(s);
    if (accept_word("where")) s.where = expr();
    if (is_word("group")) {
      next();
      expect_word("by");
      do s.group_by.push_back(expr());
      while (accept_symbol(","));
    }
    if (accept_word("having")) s.having = expr();
    if (is_word("output")) output_clause(s);
    if (is_word("order")) unsupported(file_, peek().pos, "'order by'");
    if (is_word("limit")) unsupported(file_, peek().pos, "'limit'");
    return s;
  }

  // ---------------------------------------------------------------- named windows
  // create window W#view as select ... from S   (or `as S`: all of S's properties)
  // s: its annotations, if any (then s.pos is the first's).
  StatementAst create_window(StatementAst s = {}) {
    Pos create = next().pos;
    if (s.name.empty()) s.pos = create;
    next();              // window
    s.kind = StatementKind::CreateWindow;
    s.window_pos = peek().pos;
    s.window_name = name("a window name");
    if (!is_symbol("#") && !is_symbol("."))
      fail(peek(), "expected the named window's view, e.g. #keepall() or #unique(car), found " + describe(peek()));
    // The views, parsed as a stream's: from_clause wants the stream name first.
    StatementAst views;
    views.from = s.window_name;
    view_chain(views);
    s.window = views.window;
    s.view_exprs = std::move(views.view_exprs);
    s.window_reference = std::move(views.window_reference);
    expect_word("as");
    if (accept_word("select")) {
      select_list(s);
      expect_word("from");
      s.from_pos = peek().pos;
      s.from = name("a stream name");
    } else {
      s.from_pos = peek().pos;
      s.from = name("'select' or a stream name after 'as'");
      SelectItem all;
      all.pos = s.from_pos;
      all.star = true;
      s.select.push_back(std::move(all));
    }
    if (is_symbol("(") || is_symbol("#") || is_symbol("."))
      fail(peek(), "'create window ... as select ... from S' takes the stream's properties only (no filter or view on S)");
    return s;
  }

  // on S[(filter)] [as s] (select ... from W | delete from W | merge W) [as w] [where ...] [merge clauses]
  void on_statement(StatementAst& s) {
    next();  // on
    s.from_pos = peek().pos;
    s.from = name("a stream name after 'on'");
    if (accept_symbol("(")) {
      if (!is_symbol(")")) s.stream_filter = expr();
      expect_symbol(")");
    }
    if (is_symbol("#") || is_symbol(".")) unsupported(file_, peek().pos, "a data window on the triggering stream of 'on ...'");
    if (accept_word("as")) s.from_alias = name("a stream alias");
    else if (peek().kind == Tok::Ident && !reserved(peek().text) && !is_word("delete") && !is_word("merge") &&
             !is_word("update") && !is_word("set"))
      s.from_alias = next().text;
    if (accept_word("select")) {
      s.kind = StatementKind::OnSelect;
      if (is_word("distinct")) unsupported(file_, peek().pos, "'select distinct'");
      if (is_word("and") && is_word("delete", 1)) unsupported(file_, peek().pos, "'on ... select and delete'");
      select_list(s);
      expect_word("from");
    } else if (accept_word("delete")) {
      s.kind = StatementKind::OnDelete;
      expect_word("from");
    } else if (accept_word("merge")) {
      s.kind = StatementKind::OnMerge;
      accept_word("into");
    } else if (accept_word("update")) {
      s.kind = StatementKind::OnUpdate;
    } else {
      fail(peek(), "expected 'select', 'delete', 'merge' or 'update' after 'on " + s.from + "', found " + describe(peek()));
    }
    s.window_pos = peek().pos;
    s.window_name = name("a named window or a table");
    if (accept_word("as")) s.window_alias = name("an alias");
    else if (peek().kind == Tok::Ident && !reserved(peek().text) && !is_word("when") && !is_word("set"))
      s.window_alias = next().text;
    if (s.kind == StatementKind::OnUpdate) {
      MergeClause c;  // on-update: one `when matched then update set ...`
      c.pos = peek().pos;
      if (!accept_word("set")) fail(peek(), "expected 'set' after 'update " + s.window_name + "', found " + describe(peek()));
      set_list(c);
      s.merge.push_back(std::move(c));
    }
    if (accept_word("where")) s.where = expr();
    if (s.kind == StatementKind::OnMerge) {
      while (is_word("when")) s.merge.push_back(merge_clause());
      if (s.merge.empty()) fail(peek(), "expected 'when matched' or 'when not matched', found " + describe(peek()));
    }
    if (is_word("group") || is_word("having") || is_word("output") || is_word("order"))
      unsupported(file_, peek().pos, "'" + lower(peek().text) + "' in an 'on ...' statement");
  }

  // p = expr, ... (after `set`): an update's assignments.
  void set_list(MergeClause& c) {
    c.action = MergeClause::Action::Update;
    do {
      c.set_pos.push_back(peek().pos);
      std::string prop = name("a property of the window or table");
      if (accept_symbol(".")) prop = name("a property of the window or table");  // w.prop
      expect_symbol("=");
      c.sets.emplace_back(prop, expr());
    } while (accept_symbol(","));
  }

  MergeClause merge_clause() {
    MergeClause c;
    c.pos = next().pos;  // when
    c.matched = !accept_word("not");
    if (!accept_word("matched")) fail(peek(), "expected 'matched' after 'when', found " + describe(peek()));
    if (accept_word("and")) c.cond = expr();
    expect_word("then");
    if (accept_word("update")) {
      if (!c.matched) fail(peek(), "'when not matched' can only insert");
      c.action = MergeClause::Action::Update;
      if (!accept_word("set")) fail(peek(), "expected 'set' after 'update', found " + describe(peek()));
      set_list(c);
    } else if (accept_word("delete")) {
      if (!c.matched) fail(peek(), "'when not matched' can only insert");
      c.action = MergeClause::Action::Delete;
    } else if (accept_word("insert")) {
      if (c.matched) unsupported(file_, c.pos, "'when matched then insert'");
      c.action = MergeClause::Action::Insert;
      if (is_word("into")) unsupported(file_, peek().pos, "'insert into' another stream in on-merge");
      expect_word("select");
      StatementAst tmp;
      select_list(tmp);
      c.insert = std::move(tmp.select);
    } else {
      fail(peek(), "expected 'update', 'delete' or 'insert' after 'then', found " + describe(peek()));
    }
    if (is_word("then")) unsupported(file_, peek().pos, "several actions in one merge clause");
    return c;
  }

  void annotation(StatementAst& s) {
    const Token& at = next();  // @
    std::string which = lower(name("an annotation name"));
    if (which != "name") fail(at, "unsupported annotation '@" + which + "' (only @name('...') is supported)");
    expect_symbol("(");
    if (peek().kind != Tok::String) fail(peek(), "expected a string in @name(...)");
    s.name = next().text;
    expect_symbol(")");
    if (s.name.empty()) fail(at, "@name('') must not be empty");
  }

  void select_list(StatementAst& s) {
    do {
      SelectItem item;
      item.pos = peek().pos;
      if (accept_symbol("*")) {
        item.star = true;
      } else {
        item.expr = expr();
        if (accept_word("as")) item.alias = name("a column name after 'as'");
      }
      s.select.push_back(std::move(item));
    } while (accept_symbol(","));
  }

  // Words that may follow a stream in `from` and must not be taken as its alias.
  bool clause_word() const {
    static const char* words[] = {"output", "order", "limit", "match_recognize", "unidirectional",
                                  "inner", "left", "right", "full", "join", "on"};
    for (const char* w : words)
      if (is_word(w)) return true;
    return false;
  }

  void from_clause(StatementAst& s) {
    s.from_pos = peek().pos;
    if (is_word("pattern") && is_symbol("[", 1)) {
      pattern_clause(s);
      return;
    }
    if (is_word("method") && is_symbol(":", 1)) unsupported(file_, peek().pos, "'method:' joins");
    if (is_word("sql") && is_symbol(":", 1)) unsupported(file_, peek().pos, "'sql:' joins");
    s.from = name("a stream name");
    if (accept_symbol("(")) {
      if (!is_symbol(")")) s.stream_filter = expr();
      expect_symbol(")");
    }
    view_chain(s);
    if (accept_word("as")) {
      s.from_alias = name("a stream alias");
    } else if (peek().kind == Tok::Ident && !reserved(peek().text) && !clause_word()) {
      s.from_alias = next().text;
    }
    if (is_symbol(",") || is_word("inner") || is_word("left") || is_word("right") || is_word("full") || is_word("join"))
      unsupported(file_, peek().pos, "joins (more than one stream in 'from')");
    if (is_word("unidirectional")) unsupported(file_, peek().pos, "'unidirectional'");
    if (is_word("match_recognize")) match_recognize_clause(s);
  }

  // ---------------------------------------------------------------- match_recognize
  // `match_recognize ( [partition by e, ...] measures e as name, ... [after
  // match skip ...] pattern ( ... ) define V as cond, ... )`: the clause in
  // match_recognize_ast.hpp, its pattern read by parse_row_pattern.
  void match_recognize_clause(StatementAst& s) {
    auto m = std::make_shared<MatchRecognizeAst>();
    m->pos = next().pos;
    expect_symbol("(");
    if (accept_word("partition")) {
      expect_word("by");
      do m->partition.push_back(expr());
      while (accept_symbol(","));
    }
    expect_word("measures");
    in_measures_ = true;
    do {
      MatchMeasure x;
      x.pos = peek().pos;
      x.expr = expr();
      expect_word("as");
      x.alias = name("a measure name after 'as'");
      m->measures.push_back(std::move(x));
    } while (accept_symbol(","));
    in_measures_ = false;
    if (is_word("all")) unsupported(file_, peek().pos, "'all matches' in match_recognize");
    if (accept_word("after")) {
      expect_word("match");
      expect_word("skip");
      if (accept_word("past")) {
        expect_word("last");
        expect_word("row");
      } else {
        expect_word("to");
        if (!is_word("next") && !is_word("current")) fail(peek(), "expected 'next row' or 'current row' after 'skip to', found " + describe(peek()));
        m->skip = accept_word("next") ? MatchSkip::ToNextRow : (next(), MatchSkip::ToCurrentRow);
        expect_word("row");
      }
    }
    expect_word("pattern");
    m->pattern = parse_row_pattern(t_, i_, file_);
    if (is_word("interval")) unsupported(file_, peek().pos, "'interval' in match_recognize");
    if (is_word("subset")) unsupported(file_, peek().pos, "'subset' in match_recognize");
    expect_word("define");
    in_define_ = true;
    do {
      MatchDefine d;
      d.pos = peek().pos;
      d.var = name("a pattern variable");
      expect_word("as");
      d.cond = expr();
      m->defines.push_back(std::move(d));
    } while (accept_symbol(","));
    in_define_ = false;
    expect_symbol(")");
    s.match_recognize = std::move(m);
  }

  // ---------------------------------------------------------------- patterns
  // `pattern [ ... ]` in `from`, with Esper's precedence (loosest first):
  // followed-by, or, and, repeat/until, every/not, guard postfix.
  void pattern_clause(StatementAst& s) {
    next();  // pattern
    next();  // [
    s.pattern = pattern_followed_by();
    expect_symbol("]");
    std::vector<const PatternAst*> filters;
    pattern_filters(*s.pattern, filters);
    if (filters.empty()) unsupported(file_, s.from_pos, "a pattern without an event filter (only timers)");
    s.from = filters[0]->stream;
    for (const PatternAst* f : filters)
      if (f->stream != s.from)
        unsupported(file_, f->pos, "a pattern over several streams ('" + s.from + "' and '" + f->stream + "')");
    if (is_symbol(".") || is_symbol("#")) unsupported(file_, peek().pos, "a data window on a pattern");
    if (is_word("as") || (peek().kind == Tok::Ident && !reserved(peek().text) && !clause_word()))
      unsupported(file_, peek().pos, "a stream alias on a pattern (name its events with tags: a=Ev)");
  }

  static void pattern_filters(const PatternAst& p, std::vector<const PatternAst*>& out) {
    if (p.kind == PatternKind::Filter) out.push_back(&p);
    for (const auto& k : p.kids) pattern_filters(*k, out);
  }

  using PatternPtr = std::unique_ptr<PatternAst>;

  static PatternPtr pattern_node(PatternKind kind, Pos pos) {
    auto p = std::make_unique<PatternAst>();
    p->kind = kind;
    p->pos = pos;
    return p;
  }

  // p1 op p2 op ...: one node with every operand (a flat chain, so a long
  // one costs no stack).
  template <class Next, class IsOp>
  PatternPtr pattern_chain(PatternKind kind, Next next_level, IsOp is_op, size_t op_tokens, const char* op) {
    Pos pos = peek().pos;
    PatternPtr first = (this->*next_level)();
    if (!is_op()) return first;
    PatternPtr chain = pattern_node(kind, pos);
    chain->text = first->text;
    chain->kids.push_back(std::move(first));
    while (is_op()) {
      for (size_t i = 0; i < op_tokens; ++i) next();
      chain->kids.push_back((this->*next_level)());
      chain->text += std::string(" ") + op + " " + chain->kids.back()->text;
    }
    chain->text = "(" + chain->text + ")";
    return chain;
  }

  PatternPtr pattern_followed_by() {
    PatternPtr p = pattern_chain(PatternKind::FollowedBy, &Parser::pattern_or,
                                 [this] { return is_symbol("-") && is_symbol(">", 1); }, 2, "->");
    if (is_symbol("-") && is_symbol("[", 1)) unsupported(file_, peek().pos, "'-[n]>' (followed-by with a limit)");
    return p;
  }
  PatternPtr pattern_or() {
    return pattern_chain(PatternKind::Or, &Parser::pattern_and, [this] { return is_word("or"); }, 1, "or");
  }
  PatternPtr pattern_and() {
    return pattern_chain(PatternKind::And, &Parser::pattern_repeat, [this] { return is_word("and"); }, 1, "and");
  }

  // `[n]` before a pattern; ranges are refused by name.
  int64_t pattern_count() {
    const Token& open = next();  // [
    const Token& n = peek();
    if (n.kind != Tok::Integer) {
      if (is_symbol(":") || is_symbol(".")) unsupported(file_, open.pos, "repeat ranges ('[a:b]', '[a..b]'); use [n]");
      fail(n, "expected a repeat count such as [3], found " + describe(n));
    }
    next();
    if (!is_symbol("]")) unsupported(file_, open.pos, "repeat ranges ('[a:b]', '[a..b]'); use [n]");
    next();
    int64_t c = integer(n);
    if (c < 1 || c > 1000) fail(n, "a repeat count must be between 1 and 1000");
    return c;
  }

  PatternPtr pattern_repeat() {
    Pos pos = peek().pos;
    int64_t count = is_symbol("[") ? pattern_count() : 0;
    PatternPtr p = pattern_qualify();
    if (!count && !is_word("until")) return p;
    PatternPtr r = pattern_node(PatternKind::Repeat, pos);
    r->count = count;
    r->text = (count ? "[" + std::to_string(count) + "] " : std::string()) + p->text;
    r->kids.push_back(std::move(p));
    if (accept_word("until")) {
      r->kids.push_back(pattern_qualify());
      r->text = "(" + r->text + " until " + r->kids.back()->text + ")";
    }
    return r;
  }

  PatternPtr pattern_qualify() {
    if (is_word("every") && is_symbol("-", 1)) unsupported(file_, peek().pos, "'every-distinct'");
    if (!is_word("every") && !is_word("not")) return pattern_guard();
    DepthGuard g(*this, peek());
    const Token& op = next();
    PatternPtr q = pattern_node(iequals(op.text, "every") ? PatternKind::Every : PatternKind::Not, op.pos);
    PatternPtr child;
    if (is_symbol("[")) {  // every [n] p
      Pos pos = peek().pos;
      child = pattern_node(PatternKind::Repeat, pos);
      child->count = pattern_count();
      child->kids.push_back(pattern_guard());
      child->text = "[" + std::to_string(child->count) + "] " + child->kids[0]->text;
    } else {
      child = pattern_guard();
    }
    q->text = (q->kind == PatternKind::Every ? "every " : "not ") + child->text;
    q->kids.push_back(std::move(child));
    return q;
  }

  PatternPtr pattern_guard() {
    PatternPtr p;
    if (is_symbol("(")) {
      DepthGuard g(*this, peek());
      next();
      p = pattern_followed_by();
      expect_symbol(")");
    } else {
      p = pattern_atom();
    }
    if (is_word("while")) unsupported(file_, peek().pos, "the 'while' pattern guard");
    if (!accept_word("where")) return p;
    if (!is_word("timer") || !is_symbol(":", 1)) unsupported(file_, peek().pos, "pattern guards other than timer:within");
    PatternPtr w = pattern_timer(PatternKind::Within, "within", "guard");
    w->text = p->text + " where timer:within(" + std::to_string(w->ms) + " msec)";
    w->kids.push_back(std::move(p));
    return w;
  }

  // `timer:NAME(period)`, NAME the one supported (a guard's `within`, an observer's `interval`).
  PatternPtr pattern_timer(PatternKind kind, const char* want, const char* what) {
    next();  // timer
    next();  // :
    const Token& n = peek();
    std::string got = lower(name("a timer name"));
    if (got != want) unsupported(file_, n.pos, std::string("the pattern ") + what + " 'timer:" + got + "' (only timer:" + want + ")");
    expect_symbol("(");
    PatternPtr p = pattern_node(kind, n.pos);
    p->ms = time_period(true);
    expect_symbol(")");
    return p;
  }

  PatternPtr pattern_atom() {
    const Token& t = peek();
    if (t.kind == Tok::Ident && is_symbol(":", 1)) {
      if (!is_word("timer")) unsupported(file_, t.pos, "the pattern observer '" + t.text + ":'");
      PatternPtr p = pattern_timer(PatternKind::Interval, "interval", "observer");
      p->text = "timer:interval(" + std::to_string(p->ms) + " msec)";
      return p;
    }
    PatternPtr p = pattern_node(PatternKind::Filter, t.pos);
    if (t.kind == Tok::Ident && is_symbol("=", 1)) {
      p->tag = name("a tag name");
      next();  // =
    }
    p->stream = name("a stream name in the pattern");
    if (accept_symbol("(")) {
      if (!is_symbol(")")) p->filter = expr();
      while (is_symbol(",")) {  // Esper: `Ev(car = a.car, speed < 30)` is `car = a.car and speed < 30`
        auto both = std::make_unique<Expr>();
        both->kind = ExprKind::Binary;
        both->op = BinOp::And;
        both->pos = next().pos;
        both->a = std::move(p->filter);
        both->b = expr();
        p->filter = tall_checked(std::move(both));
      }
      expect_symbol(")");
    }
    if (is_symbol("@")) unsupported(file_, peek().pos, "'@consume' in a pattern");
    if (is_symbol("#") || (is_symbol(".") && peek(1).kind == Tok::Ident))
      unsupported(file_, peek().pos, "a view on a pattern filter");
    p->text = (p->tag.empty() ? "" : p->tag + "=") + p->stream + "(" + (p->filter ? render(*p->filter) : "") + ")";
    return p;
  }

  // The views after a stream: [#groupwin(...)] #view(...), or none.
  void view_chain(StatementAst& s) {
    bool grouped = false;  // a #groupwin(...) waits for its data window
    Pos group_pos;
    while (is_symbol(".") || is_symbol("#")) {
      const Token& start = peek();
      std::string view;
      if (accept_symbol(".")) {
        std::string ns = lower(name("a view namespace (win)"));
        expect_symbol(":");
        view = lower(name("a view name"));
        if (ns != "win" && ns != "std") fail(start, "unknown view namespace '" + ns + "' (use .win:NAME(...) or #NAME(...))");
      } else {
        next();  // #
        view = lower(name("a view name"));
      }
      if (s.window.kind != WindowKind::None)
        unsupported(file_, start.pos, "more than one data window per stream (Esper intersects them); "
                                      "only #groupwin(...) may come before the data window");
      if (view == "groupwin") {
        if (grouped) fail(start, "only one #groupwin(...) per stream is supported");
        grouped = true;
        group_pos = start.pos;
        s.window.view_text = "#groupwin(" + view_expr_list(s) + ")";
        continue;
      }
      window(s, view, start, grouped);
    }
    if (grouped && s.window.kind == WindowKind::None)
      throw EplError(file_, group_pos, "#groupwin(...) needs a data window after it, e.g. #groupwin(car)#length(3)");
  }

  // One data window; `grouped`: it follows #groupwin(keys), whose keys are
  // already in s.view_exprs.
  void window(StatementAst& s, const std::string& view, const Token& start, bool grouped) {
    WindowSpec& w = s.window;
    w.pos = start.pos;
    const char* per_group = "#length, #unique, #firstevent, #lastevent and #keepall";
    if (grouped && (view == "time" || view == "time_batch" || view == "length_batch" || view == "ext_timed" ||
                    view == "time_length_batch"))
      unsupported(file_, start.pos, "#groupwin(...)#" + view + " (supported after #groupwin: " + per_group + ")");
    bool no_args = view == "keepall" || view == "firstevent" || view == "lastevent";
    // Esper writes these with or without the empty parentheses.
    bool paren = !no_args || is_symbol("(");
    if (paren) expect_symbol("(");
    std::string args;  // canonical, for view_text
    if (view == "time") {
      w.kind = WindowKind::Time;
      w.size = time_period(true);
    } else if (view == "time_batch") {
      // Esper: time_batch(period [, reference point] [, 'flags']); a string
      // as the second and last parameter is the flags.
      w.kind = WindowKind::TimeBatch;
      w.size = time_period(true);
      if (accept_symbol(",")) {
        if (peek().kind == Tok::String && is_symbol(")", 1)) {
          time_batch_flags(w, view);
        } else if (peek().kind == Tok::String && is_symbol(",", 1)) {
          fail(peek(), "the #time_batch flags come last, after the reference point, "
                       "e.g. #time_batch(30 sec, 0L, 'FORCE_UPDATE')");
        } else {
          s.window_reference = expr();  // folded (and checked) by the compiler
          if (accept_symbol(",")) {
            if (peek().kind != Tok::String)
              fail(peek(), "expected the #time_batch flags as a string such as 'FORCE_UPDATE, START_EAGER', found " +
                               describe(peek()));
            time_batch_flags(w, view);
          }
        }
      }
    } else if (view == "length" || view == "length_batch") {
      w.kind = view == "length" ? WindowKind::Length : WindowKind::LengthBatch;
      w.size = event_count(view);
      w.keyed = grouped;
      args = std::to_string(w.size);
    } else if (view == "keepall" || view == "firstevent" || view == "lastevent") {
      // #groupwin(k)#keepall keeps every event, as #keepall does.
      w.kind = view == "keepall" ? WindowKind::KeepAll : view == "firstevent" ? WindowKind::FirstEvent : WindowKind::Length;
      w.size = 1;
      w.keyed = grouped && view != "keepall";
    } else if (view == "unique") {
      w.kind = WindowKind::Length;  // the last event of each key
      w.size = 1;
      w.keyed = true;
      args = view_expr_list(s, false);
    } else if (view == "ext_timed") {
      w.kind = WindowKind::ExtTimed;
      s.view_exprs.push_back(expr());
      expect_symbol(",");
      w.size = time_period(true);
      if (w.size <= 0) fail(start, "#ext_timed needs a positive time period");
      args = render(*s.view_exprs.back()) + "," + std::to_string(w.size);
    } else if (view == "time_length_batch") {
      w.kind = WindowKind::TimeLengthBatch;
      w.size = time_period(true);
      if (w.size <= 0) fail(start, "#time_length_batch needs a positive time period");
      expect_symbol(",");
      w.count = event_count(view);
      if (accept_symbol(",")) {
        if (peek().kind != Tok::String)
          fail(peek(), "expected the #time_length_batch flags as a string such as 'FORCE_UPDATE', found " + describe(peek()));
        time_batch_flags(w, view);
      }
      args = std::to_string(w.size) + "," + std::to_string(w.count);
    } else {
      fail(start, "unsupported view '" + view +
                      "' (supported: time, time_batch, length, length_batch, time_length_batch, ext_timed, keepall, "
                      "unique, firstevent, lastevent, groupwin)");
    }
    if (paren) expect_symbol(")");
    w.view_text += "#" + view + "(" + args + ")";
  }

  int64_t event_count(const std::string& view) {
    const Token& n = peek();
    if (n.kind != Tok::Integer) fail(n, "#" + view + " needs a positive integer number of events");
    int64_t v = integer(n);
    next();
    if (v <= 0) fail(n, "#" + view + " needs a positive integer number of events");
    return v;
  }

  // The key expressions of #groupwin(...) or #unique(...), appended to
  // s.view_exprs; `open`: the '(' is still to read. Returns them rendered.
  std::string view_expr_list(StatementAst& s, bool open = true) {
    if (open) expect_symbol("(");
    std::string text;
    do {
      s.view_exprs.push_back(expr());
      text += (text.empty() ? "" : ",") + render(*s.view_exprs.back());
    } while (accept_symbol(","));
    if (open) expect_symbol(")");
    return text;
  }

  // Esper's flow-control keywords, comma-separated, any case. START_EAGER
  // implies FORCE_UPDATE (Esper's TimeBatchFlags).
  void time_batch_flags(WindowSpec& w, const std::string& view) {
    const Token& t = next();
    std::string text = lower(t.text);
    size_t b = 0;
    while (b <= text.size()) {
      size_t e = text.find(',', b);
      if (e == std::string::npos) e = text.size();
      std::string word = text.substr(b, e - b);
      size_t l = word.find_first_not_of(" \t"), r = word.find_last_not_of(" \t");
      word = l == std::string::npos ? "" : word.substr(l, r - l + 1);
      if (word == "force_update") {
        w.force_update = true;
      } else if (word == "start_eager") {
        w.force_update = true;
        w.start_eager = true;
      } else if (!word.empty()) {
        fail(t, "unknown #" + view + " flag '" + word + "' (valid: FORCE_UPDATE, START_EAGER)");
      }
      b = e + 1;
    }
  }

  // `30 sec`, `1 minute 30 seconds`, `1500 msec`, or a bare number of seconds.
  // Returns milliseconds.
  int64_t time_period(bool bare_number_is_seconds) {
    const Token& first = peek();
    double total_ms = 0;
    bool any = false;
    while (peek().kind == Tok::Integer || peek().kind == Tok::Decimal) {
      const Token& n = next();
      double v = std::strtod(n.text.c_str(), nullptr);
      double unit = 0;
      if (peek().kind == Tok::Ident) {
        unit = unit_ms(peek().text);
        if (unit == 0) fail(peek(), "expected a time unit (msec, sec, min, hour), found " + describe(peek()));
        next();
      } else {
        // A bare number is seconds, but only alone: `1 min 30` is a mistake.
        if (!bare_number_is_seconds || any) fail(peek(), "expected a time unit (msec, sec, min, hour), found " + describe(peek()));
        unit = 1000;
      }
      total_ms += v * unit;
      any = true;
    }
    if (!any) fail(first, "expected a time period such as '30 sec', found " + describe(first));
    if (total_ms < 0 || total_ms > 1e15) fail(first, "time period out of range");
    return static_cast<int64_t>(total_ms + 0.5);
  }

  static double unit_ms(std::string_view u) {
    std::string w = lower(u);
    if (w == "msec" || w == "millisecond" || w == "milliseconds") return 1;
    if (w == "sec" || w == "second" || w == "seconds") return 1000;
    if (w == "min" || w == "minute" || w == "minutes") return 60'000;
    if (w == "hour" || w == "hours") return 3'600'000;
    if (w == "day" || w == "days") return 86'400'000;
    return 0;
  }

  void output_clause(StatementAst& s) {
    s.output.pos = next().pos;  // output
    s.output.mode = OutputMode::Default;
    if (accept_word("all")) s.output.mode = OutputMode::All;
    else if (accept_word("first")) s.output.mode = OutputMode::First;
    else if (accept_word("last")) s.output.mode = OutputMode::Last;
    else if (accept_word("snapshot")) s.output.mode = OutputMode::Snapshot;
    if (is_word("when") || is_word("after")) unsupported(file_, peek().pos, "'output " + lower(peek().text) + "'");
    expect_word("every");
    const Token& n = peek();
    if (n.kind != Tok::Integer && n.kind != Tok::Decimal) fail(n, "expected a number after 'every', found " + describe(n));
    if (is_word("events", 1) || is_word("event", 1)) {
      if (n.kind != Tok::Integer) fail(n, "'output every N events' needs a whole number");
      s.output.by_events = true;
      s.output.every = integer(n);
      next();
      next();
      if (s.output.every <= 0) fail(n, "'output every N events' needs N > 0");
    } else {
      s.output.every = time_period(true);
      if (s.output.every <= 0) fail(n, "'output every' needs a positive time period");
    }
  }

  int64_t integer(const Token& t) const {
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(t.text.c_str(), &end, 10);
    if (errno == ERANGE) fail(t, "integer literal out of range: " + t.text);
    return v;
  }

  // ---------------------------------------------------------------- expressions
  ExprPtr expr() { return or_expr(); }

  // A node with its children in place: its height is checked here, for
  // every kind of node.
  ExprPtr tall_checked(ExprPtr e) const {
    uint32_t h = 0;
    for_each_child(std::as_const(*e), [&](const Expr& c) { h = std::max(h, c.height); });
    e->height = h + 1;
    if (e->height > kMaxHeight)
      fail_at(e->pos, "expression too long: more than " + std::to_string(kMaxHeight) +
                          " operators in a chain or nested (split it, e.g. into 'in (...)' or several statements)");
    return e;
  }

  ExprPtr binary(BinOp op, ExprPtr a, ExprPtr b, Pos pos) const {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::Binary;
    e->op = op;
    e->pos = pos;
    e->a = std::move(a);
    e->b = std::move(b);
    return tall_checked(std::move(e));
  }

  ExprPtr or_expr() {
    ExprPtr e = and_expr();
    while (is_word("or")) {
      Pos p = next().pos;
      e = binary(BinOp::Or, std::move(e), and_expr(), p);
    }
    return e;
  }

  ExprPtr and_expr() {
    ExprPtr e = not_expr();
    while (is_word("and")) {
      Pos p = next().pos;
      e = binary(BinOp::And, std::move(e), not_expr(), p);
    }
    return e;
  }

  ExprPtr not_expr() {
    if (is_word("not")) {
      DepthGuard g(*this, peek());
      auto e = std::make_unique<Expr>();
      e->kind = ExprKind::Not;
      e->pos = next().pos;
      e->a = not_expr();
      return tall_checked(std::move(e));
    }
    return comparison();
  }

  // Esper's precedence: comparisons bind looser than `||`, which binds looser than + -.
  ExprPtr concat() {
    ExprPtr e = additive();
    while (is_symbol("||")) {
      Pos p = next().pos;
      e = binary(BinOp::Concat, std::move(e), additive(), p);
    }
    return e;
  }

  ExprPtr comparison() {
    ExprPtr e = concat();
    static const std::pair<const char*, BinOp> ops[] = {{"=", BinOp::Eq},  {"!=", BinOp::Ne}, {"<>", BinOp::Ne},
                                                        {"<", BinOp::Lt},  {"<=", BinOp::Le}, {">", BinOp::Gt},
                                                        {">=", BinOp::Ge}};
    for (const auto& [sym, op] : ops)
      if (is_symbol(sym)) {
        Pos p = next().pos;
        return binary(op, std::move(e), concat(), p);
      }
    if (is_word("is")) {
      auto n = std::make_unique<Expr>();
      n->kind = ExprKind::IsNull;
      n->pos = next().pos;
      n->negated = accept_word("not");
      expect_word("null");
      n->a = std::move(e);
      return tall_checked(std::move(n));
    }
    bool negated = is_word("not") && (is_word("between", 1) || is_word("in", 1) || is_word("like", 1) || is_word("regexp", 1));
    if (negated) next();
    auto n = std::make_unique<Expr>();
    n->pos = peek().pos;
    n->negated = negated;
    if (accept_word("in")) {
      // x in (a, b, ...); Esper's ranges `in [a:b]` are not supported.
      n->kind = ExprKind::In;
      if (is_symbol("[")) unsupported(file_, peek().pos, "ranges in 'in [a:b]'");
      expect_symbol("(");
      do n->args.push_back(expr());
      while (accept_symbol(","));
      expect_symbol(")");
    } else if (accept_word("between")) {
      n->kind = ExprKind::Between;
      n->args.push_back(concat());
      expect_word("and");
      n->args.push_back(concat());
    } else if (accept_word("like")) {
      n->kind = ExprKind::Like;
      n->b = concat();
      if (accept_word("escape")) n->args.push_back(concat());
    } else if (accept_word("regexp")) {
      n->kind = ExprKind::Regexp;
      n->b = concat();
    } else {
      return e;
    }
    n->a = std::move(e);
    return tall_checked(std::move(n));
  }

  ExprPtr additive() {
    ExprPtr e = multiplicative();
    while (is_symbol("+") || is_symbol("-")) {
      BinOp op = peek().text == "+" ? BinOp::Add : BinOp::Sub;
      Pos p = next().pos;
      e = binary(op, std::move(e), multiplicative(), p);
    }
    return e;
  }

  ExprPtr multiplicative() {
    ExprPtr e = unary();
    while (is_symbol("*") || is_symbol("/") || is_symbol("%")) {
      BinOp op = peek().text == "*" ? BinOp::Mul : peek().text == "/" ? BinOp::Div : BinOp::Mod;
      Pos p = next().pos;
      e = binary(op, std::move(e), unary(), p);
    }
    return e;
  }

  ExprPtr unary() {
    if (is_symbol("-") || is_symbol("+")) {
      DepthGuard g(*this, peek());
      bool minus = peek().text == "-";
      Pos p = next().pos;
      ExprPtr a = unary();
      if (!minus) return a;
      // A negative number is a literal (Esper renders it as `-5`, not `-1*5`).
      if (a->kind == ExprKind::Literal && a->literal.type() == Type::Long && a->literal.as_long() != std::numeric_limits<int64_t>::min()) {
        a->literal = Value::of_long(-a->literal.as_long());
        a->pos = p;
        return a;
      }
      if (a->kind == ExprKind::Literal && a->literal.type() == Type::Double) {
        a->literal = Value::of_double(-a->literal.as_double());
        a->pos = p;
        return a;
      }
      auto e = std::make_unique<Expr>();
      e->kind = ExprKind::Neg;
      e->pos = p;
      e->a = std::move(a);
      return tall_checked(std::move(e));
    }
    return primary();
  }

  ExprPtr literal(Value v, Pos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::Literal;
    e->literal = std::move(v);
    e->pos = pos;
    return e;
  }

  ExprPtr primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::Integer: {
        // Java: an int unless it needs a long (or says so with L).
        next();
        ExprPtr e = literal(Value::of_long(integer(t)), t.pos);
        if (t.suffix != 'L' && e->literal.as_long() <= std::numeric_limits<int32_t>::max()) e->narrow = Narrow::Int;
        return e;
      }
      case Tok::Decimal: {
        next();
        if (t.suffix != 'f') return literal(Value::of_double(std::strtod(t.text.c_str(), nullptr)), t.pos);
        ExprPtr e = literal(Value::of_double(static_cast<double>(std::strtof(t.text.c_str(), nullptr))), t.pos);
        e->narrow = Narrow::Float;
        return e;
      }
      case Tok::String: next(); return literal(Value::of_string(t.text), t.pos);
      case Tok::Symbol:
        if (t.text == "(") {
          DepthGuard g(*this, t);
          if (is_word("select", 1)) unsupported(file_, t.pos, "subqueries");
          next();
          ExprPtr e = expr();
          expect_symbol(")");
          return e;
        }
        fail(t, "expected an expression, found " + describe(t));
      case Tok::End: fail(t, "expected an expression, found the end of the input");
      case Tok::Ident: break;
    }
    if (iequals(t.text, "true") || iequals(t.text, "false")) {
      next();
      return literal(Value::of_bool(iequals(t.text, "true")), t.pos);
    }
    if (iequals(t.text, "null")) {
      next();
      return literal(Value(), t.pos);
    }
    if (iequals(t.text, "case")) return case_expr();
    if (is_symbol("(", 1)) return call();
    if (reserved(t.text)) fail(t, "expected an expression, found the keyword '" + t.text + "'");
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::Ident;
    e->pos = t.pos;
    e->name = next().text;
    // `a[0].speed`: the first event of the repeated tag `a` in a pattern.
    if (is_symbol("[") && peek(1).kind == Tok::Integer && is_symbol("]", 2) && is_symbol(".", 3) && peek(4).kind == Tok::Ident) {
      next();
      e->name += "[" + std::to_string(integer(next())) + "]";
      next();
    }
    // `T[k1, ...].col`: a column of the row of table T with that key.
    if (is_symbol("[") && e->name.find('[') == std::string::npos) {
      next();
      e->kind = ExprKind::TableAccess;
      e->qualifier = std::move(e->name);
      do e->args.push_back(expr());
      while (accept_symbol(","));
      expect_symbol("]");
      if (!is_symbol(".")) unsupported(file_, e->pos, "a whole table row ('" + e->qualifier + "[...]'): name a column, " + e->qualifier + "[...].column");
      next();
      e->name = name("a table column");
      return tall_checked(std::move(e));
    }
    if (is_symbol(".") && peek(1).kind == Tok::Ident) {
      next();
      e->qualifier = std::move(e->name);
      e->name = name("a property name");
    }
    if (is_symbol("(") && !e->qualifier.empty()) {
      // Math.abs(x), or a String method of a property: sym.length(), e.sym.trim()
      if (e->qualifier == "Math") return math_call(*e);
      auto recv = std::make_unique<Expr>();
      recv->kind = ExprKind::Ident;
      recv->pos = e->pos;
      recv->name = e->qualifier;
      return method_calls(std::move(recv), e->name, e->pos);
    }
    while (is_symbol(".") && peek(1).kind == Tok::Ident && is_symbol("(", 2)) {
      next();
      const Token& m = next();
      e = method_calls(std::move(e), m.text, m.pos);
    }
    return e;
  }

  // case [x] when a then b ... [else c] end
  ExprPtr case_expr() {
    DepthGuard g(*this, peek());
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::Case;
    e->pos = next().pos;  // case
    if (!is_word("when")) e->a = expr();
    if (!is_word("when")) fail(peek(), "expected 'when' in the case expression, found " + describe(peek()));
    while (accept_word("when")) {
      e->args.push_back(expr());
      expect_word("then");
      e->args.push_back(expr());
    }
    if (accept_word("else")) e->b = expr();
    expect_word("end");
    return tall_checked(std::move(e));
  }

  std::vector<ExprPtr> call_args() {
    std::vector<ExprPtr> args;
    expect_symbol("(");
    if (!is_symbol(")")) do args.push_back(expr());
      while (accept_symbol(","));
    expect_symbol(")");
    return args;
  }

  ExprPtr function(Func f, Pos pos, std::vector<ExprPtr> args, ExprPtr receiver = nullptr) const {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::Call;
    e->func = f;
    e->pos = pos;
    e->a = std::move(receiver);
    e->args = std::move(args);
    return tall_checked(std::move(e));
  }

  ExprPtr math_call(const Expr& named) {
    static const std::pair<const char*, Func> fns[] = {
        {"abs", Func::Abs},   {"round", Func::Round}, {"floor", Func::Floor}, {"ceil", Func::Ceil},
        {"sqrt", Func::Sqrt}, {"pow", Func::Pow},     {"exp", Func::Exp},     {"log", Func::Log},
        {"log10", Func::Log10}, {"signum", Func::Signum}, {"max", Func::MathMax}, {"min", Func::MathMin}};
    DepthGuard g(*this, peek());
    for (const auto& [n, f] : fns)
      if (named.name == n) return function(f, named.pos, call_args());
    unsupported(file_, named.pos, "Math." + named.name + "()");
  }

  // receiver.method(args), possibly chained: s.trim().toUpperCase()
  ExprPtr method_calls(ExprPtr receiver, const std::string& method, Pos pos) {
    static const std::pair<const char*, Func> fns[] = {
        {"toUpperCase", Func::Upper},   {"toLowerCase", Func::Lower}, {"length", Func::Length},
        {"substring", Func::Substring}, {"trim", Func::Trim},         {"startsWith", Func::StartsWith},
        {"endsWith", Func::EndsWith},   {"contains", Func::Contains}, {"indexOf", Func::IndexOf}};
    DepthGuard g(*this, peek());
    for (const auto& [n, f] : fns)
      if (method == n) {
        ExprPtr e = function(f, pos, call_args(), std::move(receiver));
        while (is_symbol(".") && peek(1).kind == Tok::Ident && is_symbol("(", 2)) {
          next();
          const Token& m = next();
          e = method_calls(std::move(e), m.text, m.pos);
        }
        return e;
      }
    unsupported(file_, pos, "the method '" + method + "()'");
  }

  ExprPtr call() {
    const Token& fn = next();
    std::string f = lower(fn.text);
    if (f == "coalesce") {
      DepthGuard g(*this, fn);
      std::vector<ExprPtr> args = call_args();
      if (args.size() < 2) fail_at(fn.pos, "coalesce() needs at least two values");
      return function(Func::Coalesce, fn.pos, std::move(args));
    }
    if (f == "prev" || f == "prior") {
      // prev(n, expr) / prior(n, expr), n a whole number literal
      DepthGuard g(*this, fn);
      auto e = std::make_unique<Expr>();
      e->kind = f == "prev" ? ExprKind::Prev : ExprKind::Prior;
      e->pos = fn.pos;
      expect_symbol("(");
      const Token& n = peek();
      if (in_define_ && f == "prev") {  // match_recognize: prev(expr [, n]), the partition's n-th previous row
        e->a = expr();
        int64_t back = 1;
        if (accept_symbol(",")) {
          if (peek().kind != Tok::Integer) fail(peek(), "prev()'s index must be a whole number");
          back = integer(next());
        }
        e->literal = Value::of_long(back);
        expect_symbol(")");
        return tall_checked(std::move(e));
      }
      if (n.kind != Tok::Integer || is_symbol(")", 1)) unsupported(file_, n.pos, f + "() without a constant index (write " + f + "(1, expr))");
      e->literal = Value::of_long(integer(next()));
      expect_symbol(",");
      e->a = expr();
      expect_symbol(")");
      return tall_checked(std::move(e));
    }
    if (f == "cast") {
      DepthGuard g(*this, fn);
      auto e = std::make_unique<Expr>();
      e->kind = ExprKind::Cast;
      e->pos = fn.pos;
      expect_symbol("(");
      e->a = expr();
      expect_symbol(",");
      const Token& tt = peek();
      std::string type = lower(name("a type"));
      if (type == "long" || type == "java.lang.long") e->type = Type::Long;
      else if (type == "int" || type == "integer") e->type = Type::Long, e->narrow = Narrow::Int;
      else if (type == "double") e->type = Type::Double;
      else if (type == "float") e->type = Type::Double, e->narrow = Narrow::Float;
      else if (type == "string") e->type = Type::String;
      else if (type == "boolean") e->type = Type::Bool;
      else unsupported(file_, tt.pos, "cast to '" + type + "' (cast to long, int, double, float, string or boolean)");
      e->name = type;
      if (is_symbol(",")) unsupported(file_, peek().pos, "cast with a date format");
      expect_symbol(")");
      return tall_checked(std::move(e));
    }
    // max(a, b, ...) and min(a, b, ...) are Esper's single-row max/min.
    if ((f == "max" || f == "min") && is_symbol("(", 0)) {
      size_t save = i_;
      int depth = 0;
      bool several = false;
      for (size_t j = i_; j < t_.size() && t_[j].kind != Tok::End; ++j) {
        if (t_[j].kind != Tok::Symbol) continue;
        if (t_[j].text == "(") ++depth;
        else if (t_[j].text == ")" && --depth == 0) break;
        else if (t_[j].text == "," && depth == 1) several = true;
      }
      if (several && !is_word("distinct", 1)) {
        DepthGuard g(*this, fn);
        return function(f == "max" ? Func::Max : Func::Min, fn.pos, call_args());
      }
      i_ = save;
    }
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::Agg;
    e->pos = fn.pos;
    if (f == "count") e->fn = AggFn::Count;
    else if (f == "sum") e->fn = AggFn::Sum;
    else if (f == "avg") e->fn = AggFn::Avg;
    else if (f == "min") e->fn = AggFn::Min;
    else if (f == "max") e->fn = AggFn::Max;
    else if (in_measures_ && (f == "first" || f == "last")) e->fn = AggFn::Count;  // named below (match_recognize only)
    else if (esper_function(f)) unsupported(file_, fn.pos, "the function '" + f + "'");
    else fail(fn, "unknown function '" + fn.text + "' (supported: count, sum, avg, min, max)");
    DepthGuard g(*this, fn);
    expect_symbol("(");
    if (is_word("all")) unsupported(file_, peek().pos, "'all' in an aggregate");
    if (accept_word("distinct")) {
      e->distinct = true;
      if (is_symbol("*")) fail(peek(), f + "(distinct *) needs an expression");
    }
    if (e->fn == AggFn::Count && accept_symbol("*")) {
      e->star = true;
    } else {
      if (is_symbol(")")) fail(peek(), f + "() needs an argument");
      e->a = expr();
    }
    if (is_symbol(",")) fail(peek(), f + "() takes one argument");
    expect_symbol(")");
    if (in_measures_) e->name = f;  // match_recognize_compile.cpp reads the function by name
    return tall_checked(std::move(e));
  }

  std::vector<Token> t_;
  bool in_measures_ = false, in_define_ = false;  // inside match_recognize's measures / define
  size_t i_ = 0;
  int depth_ = 0;
  const std::string& file_;
};

}  // namespace

Module parse_module(std::string_view text, const std::string& file) {
  return Parser(tokenize(text, file), file).module();
}

ExprPtr parse_expression(std::string_view text, const std::string& file) {
  return Parser(tokenize(text, file), file).lone_expression();
}

}  // namespace weir::cep
