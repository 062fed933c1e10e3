#!/usr/bin/env python3
"""Random EPL statements and events in the conformance case format
(tests/cep_conformance/README.md), for comparing the engine with Esper:
    random_cases.py SEED COUNT OUT_DIR
Statements mix every construct cep_rule supports: plain/aggregate/grouped
selects, both window spellings, time_batch reference points and flags, the views
(unique, firstevent, lastevent, keepall, ext_timed, time_length_batch, groupwin), where,
having, irstream, stream filters, every output rate limiting form, Java's int and
float literals, single-row functions (case, in, between, like, regexp, coalesce,
casts, Math, String methods), distinct aggregates, alias-qualified properties and
keyed/hash/category contexts, and patterns (every, ->, and, or, not,
timer:within, timer:interval, [n], until, tags read by later filters, selected,
aggregated and grouped), and named windows read as a stream (filled, deleted
from and merged, read with the clauses above), and keyed tables (written by `into
table`, read by T[sym].col in other statements). See random_vs_esper.sh."""
import random, os, sys, shutil
seed = int(sys.argv[1]); n = int(sys.argv[2]); out = sys.argv[3]
random.seed(seed)
shutil.rmtree(out, ignore_errors=True); os.makedirs(out)
plain = ["sym", "price", "qty", "ts", "price*2 as p2", "qty+1 as q1", "ok", "e.sym as esym", "2147483647 + qty as big",
         "case when qty > 5 then 'hi' when qty > 2 then 'mid' else 'lo' end as cw", "case sym when 'IBM' then 1 else 2.5 end as cs",
         "qty in (1, 3, 5) as qin", "price between 20 and 10 as pb", "sym like '%M%' as lk", "sym regexp '[IM].*' as rx",
         "coalesce(price, qty, 0) as co", "cast(price, long) as cl", "cast(qty, string) as cst", "Math.abs(qty - 5) as ab",
         "Math.round(price) as rd", "sym.toLowerCase() as lo", "sym.substring(1) as sb", "max(qty, 4) as mq", "0.1f * 3 as fl",
         "sym || '-' || sym as cc", "65536 * 65536 as wrap", "prior(1, qty) as pq", "prior(2, sym) as ps"]
aggs = ["count(*) as c", "sum(qty) as sq", "avg(price) as ap", "min(price) as mn", "max(qty) as mx", "count(price) as cp", "sum(price) as sp", "max(sym) as ms",
        "count(distinct sym) as ds", "sum(distinct qty) as dq", "avg(qty) as aq", "sum(case when ok then 1 else 0 end) as nok",
        "coalesce(sum(qty), 0) as csq"]
wins = lambda: random.choice(["", "#length(%d)" % random.randint(1,5), "#length_batch(%d)" % random.randint(1,4),
        "#time(%d sec)" % random.randint(1,20), "#time(%d msec)" % random.choice([500,1500,2500]), "#time_batch(%d sec)" % random.randint(1,15),
        ".win:time_batch(%d msec)" % random.choice([1500, 4000]), ".win:length(%d)" % random.randint(1,4),
        "#time_batch(%d sec, %dL)" % (random.randint(1,15), random.choice([0, 2500, 7000, 100000])),
        "#time_batch(%d sec, 0L, 'FORCE_UPDATE')" % random.randint(2,15), "#time_batch(%d sec, 'START_EAGER')" % random.randint(2,15)]
        + views())
# The other views (cases 300-432); keyed ones (#unique, #groupwin) refuse min/max.
views = lambda: random.choice([[], [], ["#unique(sym)", "#unique(sym, ok)", ".std:unique(qty)", "#firstevent()", "#lastevent()",
        "#keepall()", "#ext_timed(ts, %d sec)" % random.randint(1, 20), "#ext_timed(qty * 1000, %d sec)" % random.randint(1, 6),
        "#time_length_batch(%d sec, %d)" % (random.randint(1, 15), random.randint(1, 5)),
        "#time_length_batch(%d sec, %d, 'FORCE_UPDATE')" % (random.randint(2, 15), random.randint(2, 5)),
        "#groupwin(sym)#length(%d)" % random.randint(1, 3), "#groupwin(ok)#unique(sym)", "#groupwin(sym)#firstevent()",
        "#groupwin(sym)#lastevent()", "#groupwin(ok)#keepall()"]])
wheres = ["price > 10", "qty < 5", "ok", "not ok", "sym != 'IBM'", "price is not null", "qty >= 3 and price < 20", "sym = 'MSFT' or qty > 6",
          "sym in ('IBM', 'ORCL')", "qty not between 3 and 6", "sym like 'M%'", "e.price > 12", "coalesce(qty, 0) > 4"]
contexts = ["create context C partition by sym from Ev", "create context C partition by sym from Ev(qty > 2)",
            "create context C coalesce by consistent_hash_crc32(sym) from Ev granularity 2",
            "create context C coalesce by hash_code(sym) from Ev granularity 3 preallocate",
            "create context C group by qty < 5 as low, group by qty >= 3 as high from Ev"]
havings_agg = ["count(*) > 1", "sum(qty) > 5", "avg(price) > 10", "max(qty) >= 7", "count(*) >= 2 and avg(price) < 15"]
havings_plain = ["qty > 3", "price < 12"]
outputs = ["output every 2 events", "output every 5 seconds", "output first every 3 events", "output first every 7 seconds",
           "output last every 2 events", "output last every 10 sec", "output snapshot every 5 seconds", "output snapshot every 3 events",
           "output all every 4 events"]
# ---- patterns: a random tree of Esper's operators over tagged filters.
pconds = ["qty > 5", "price < 12", "ok", "sym = 'IBM'", "qty <= 3", "not ok", "price > 15", ""]
class P:
    def __init__(self): self.tags = []; self.n = 0  # tags: (name, array count or 0)
    def filt(self, tag_ok, repeat):
        conds = [c for c in [random.choice(pconds)] if c]
        scalars = [t for t, k in self.tags if not k]
        if scalars and random.random() < 0.5:
            t = random.choice(scalars)
            conds.append(random.choice(["sym = %s.sym", "qty > %s.qty", "price < %s.price", "ok != %s.ok"]) % t)
        f = "Ev(%s)" % ", ".join(conds)
        if not tag_ok or random.random() < 0.15: return f
        t = "t%d" % len(self.tags); self.tags.append((t, repeat)); self.n += 1
        return t + "=" + f
    def atom(self, depth, tag_ok, repeat):
        if depth <= 0 or random.random() < 0.35:
            if random.random() < 0.1: return "timer:interval(%d sec)" % random.randint(1, 8)
            return self.filt(tag_ok, repeat)
        op = random.choice(["every", "fb", "fb", "and", "or", "within", "not", "repeat", "until"])
        if op == "every": return "every " + self.guarded(depth - 1, tag_ok, repeat)
        if op == "fb": return "%s -> %s" % (self.atom(depth - 1, tag_ok, repeat), self.atom(depth - 1, tag_ok, repeat))
        if op in ("and", "or"):
            a = self.atom(depth - 1, tag_ok, repeat)
            b = ("not " + self.paren(self.filt(False, repeat))) if op == "and" and not repeat and random.random() < 0.3 \
                else self.atom(depth - 1, tag_ok, repeat)
            return "(%s %s %s)" % (a, op, b)
        if op == "within": return "%s where timer:within(%d sec)" % (self.paren(self.atom(depth - 1, tag_ok, repeat)), random.randint(1, 15))
        if op == "not" and not repeat: return "(%s and not %s)" % (self.filt(tag_ok, repeat), self.filt(False, repeat))
        if op == "repeat" and not repeat:
            k = random.randint(2, 3)
            return "[%d] %s" % (k, self.paren(self.atom(depth - 1, tag_ok, k)))
        if op == "until" and not repeat:
            return "(%s until %s)" % (self.paren(self.atom(depth - 1, False, 0)), self.paren(self.filt(tag_ok, 0)))
        return self.filt(tag_ok, repeat)
    def guarded(self, depth, tag_ok, repeat): return self.paren(self.atom(depth, tag_ok, repeat))
    def paren(self, x): return x if x.startswith("(") or "=" not in x and " " not in x else "(" + x + ")"

def pattern_statement():
    while True:
        p = P()
        text = p.atom(random.randint(1, 3), True, 0)
        if random.random() < 0.6: text = "every " + p.paren(text)
        if p.tags and "Ev(" in text: break
    cols = []
    for t, k in p.tags:
        prop = random.choice(["sym", "qty", "price", "ts", "ok"])
        cols.append(("%s[%d].%s" % (t, random.randrange(k), prop)) if k else "%s.%s" % (t, prop))
    cols = random.sample(cols, min(len(cols), random.randint(1, 3)))
    items = ["%s as c%d" % (c, j) for j, c in enumerate(cols)]
    st = "select "
    group = ""
    if random.random() < 0.2:
        items = items[:1] + ["count(*) as n"]
        if random.random() < 0.5: group = " group by " + cols[0]
    st += ", ".join(items) + " from pattern [%s]" % text
    if random.random() < 0.2: st += " where %s is not null" % cols[-1]
    return st + group + ";"

# ---- a named window read as a stream (cases 460-474): no view, context, prior,
# min/max on the reader, nor a time-based output over a #time window.
nw_views = ["#keepall", "#length(%d)", "#time(%d sec)", "#unique(sym)", "#lastevent", "#firstevent", "#groupwin(sym)#length(%d)",
            "#unique(sym, ok)", "#ext_timed(ts, %d sec)"]
nw_changes = ["", "on Ev(qty <= 2) as d delete from W as w where w.sym = d.sym;\n",
              "on Ev(qty = 1) as d delete from W as w;\n",
              "on Ev(qty <= 3) as d merge W as w where w.sym = d.sym when matched and d.qty = 1 then delete "
              "when matched then update set price = d.price when not matched then insert select d.sym as sym, d.price as price, "
              "d.qty as qty, d.ok as ok;\n"]
def window_reader_statement():
    v = random.choice(nw_views)
    if "%d" in v: v = v % random.randint(1, 12)
    st = "create window W%s as select sym, price, qty, ok from Ev;\n" % v
    st += "insert into W select sym, price, qty, ok from Ev%s;\n" % random.choice(["", "(qty > 3)", "(ok)", "(price > 10)"])
    st += random.choice(nw_changes)
    shape = random.choice(["plain", "agg", "mixed"])
    cols = []
    ok_plain = [c for c in plain if "prior(" not in c]
    ok_aggs = [c for c in aggs if not c.startswith(("min(", "max("))]
    if shape in ("plain", "mixed"): cols += random.sample(ok_plain, random.randint(1, 2))
    if shape in ("agg", "mixed"): cols += random.sample(ok_aggs, random.randint(1, 3))
    group = shape != "plain" and random.random() < 0.5
    if group and shape == "agg" and random.random() < 0.7: cols = ["sym"] + cols
    sel = "irstream " if random.random() < 0.3 else random.choice(["", "", "rstream "])
    flt = "(%s)" % random.choice(["ok", "qty > 2", "price < 15"]) if random.random() < 0.3 else ""
    st += "select %s%s from W%s as e" % (sel, ", ".join(dict.fromkeys(cols)), flt)
    if random.random() < 0.3: st += " where " + random.choice(wheres)
    if group: st += " group by sym"
    if random.random() < 0.2:
        hv = havings_agg if shape != "plain" else havings_plain
        st += " having " + random.choice([h for h in hv if "max(" not in h])
    if random.random() < 0.25 and not (sel and " having " in st):
        clause = random.choice(outputs)
        if sel and not clause.startswith("output every"): clause = "output every 2 events"
        if "#time" in v and "events" not in clause: clause = "output every 3 events"
        if group and " having " in st and "last" in clause: clause = "output every 2 events"
        st += " " + clause
    return st + ";"

# ---- a keyed table (cases 476-489): written by a grouped statement, read by
# another with T[sym].col; the filters vary the order in which they see an event.
tcols = [("c", "count(*)", "count(*)"), ("sq", "sum(long)", "sum(qty)"), ("ap", "avg(double)", "avg(price)"),
         ("mn", "min(double)", "min(price)"), ("mx", "max(long)", "max(qty)")]
tfilters = ["", "", "(ok)", "(qty > 2)", "(price < 15)", "(not ok)"]
def table_statement():
    cols = random.sample(tcols, random.randint(1, 3))
    v = random.choice(["", "", "#length(%d)" % random.randint(1, 5), "#time(%d sec)" % random.randint(1, 15), "#keepall",
                       "#unique(sym)", "#ext_timed(ts, %d sec)" % random.randint(1, 10)])
    # min/max: not over a keyed window (out of arrival order), not unbound (Esper refuses it).
    if "unique" in v or not v: cols = [c for c in cols if c[0] not in ("mn", "mx")] or [tcols[0]]
    st = "create table T (sym string primary key, %s);\n" % ", ".join("%s %s" % (n, d) for n, d, _ in cols)
    if random.random() < 0.3: st += "select sym from Ev%s;\n" % random.choice(tfilters[2:])  # an earlier filter node
    st += "into table T select %s from Ev%s%s%s group by sym;\n" % (", ".join("%s as %s" % (a, n) for n, _, a in cols),
          random.choice(tfilters), v, random.choice(["", " where qty > 1"]))
    reads = ["T[sym].%s as t%s" % (n, n) for n, _, _ in cols]
    sel = ["sym"] + random.sample(["price", "qty", "ok"], random.randint(0, 2)) + reads
    where = ""
    windowed = random.random() < 0.2
    if random.random() < 0.4 and not windowed:  # a table in a windowed where clause is refused
        n = random.choice(cols)[0]
        where = " where " + random.choice(["price > T[sym].%s" % n, "T[sym].%s is null" % n, "coalesce(T[sym].%s, 0) < qty" % n])
    if windowed:
        st += "select sym, count(*) as n, max(qty) as m, %s from Ev%s#length(4)%s group by sym;" % (reads[0],
              random.choice(tfilters), where)
    else:
        st += "select %s from Ev%s%s;" % (", ".join(sel), random.choice(tfilters), where)
    return st

def write_case(i, st, desc, events, steps, null_rate, end_extra):
    t = 0; lines = ["ts:long,sym:string,price:double,qty:long,ok:boolean"]
    for k in range(random.randint(*events)):
        t += random.choice(steps)
        price = "null" if random.random() < null_rate else "%.2f" % random.uniform(5, 25)
        qty = "null" if random.random() < null_rate else str(random.randint(1, 10))
        lines.append("%d,%s,%s,%s,%s" % (t, random.choice(["IBM", "MSFT", "ORCL"]), price, qty, random.choice(["true", "false"])))
    d = os.path.join(out, "r%04d" % i); os.makedirs(d)
    hdr = "-- desc: %s %d\n" % (desc, i)
    if random.random() < 0.7: hdr += "-- end_ms: %d\n" % (t + random.randint(0, end_extra))
    open(os.path.join(d, "case.epl"), "w").write(hdr + st + "\n")
    open(os.path.join(d, "events.csv"), "w").write("\n".join(lines) + "\n")

for i in range(n):
    if random.random() < 0.12:
        write_case(i, table_statement(), "random table", (10, 40), [0, 0, 500, 1000, 1000, 2500, 5000, 10000], 0.1, 30000)
        continue
    if random.random() < 0.15:
        write_case(i, window_reader_statement(), "random named window reader", (10, 40), [0, 0, 500, 1000, 1000, 2500, 5000, 10000], 0.1, 30000)
        continue
    if random.random() < 0.25:
        write_case(i, pattern_statement(), "random pattern", (10, 40), [0, 0, 500, 1000, 1000, 2500, 5000, 10000], 0.05, 30000)
        continue
    shape = random.choice(["plain", "agg", "mixed"])
    cols = []
    if shape in ("plain", "mixed"): cols += random.sample(plain, random.randint(1, 2))
    if shape in ("agg", "mixed"): cols += random.sample(aggs, random.randint(1, 3))
    group = shape != "plain" and random.random() < 0.5
    if group and shape == "agg" and random.random() < 0.7: cols = ["sym"] + cols
    sel = "irstream " if random.random() < 0.2 else ""
    flt = "(%s)" % random.choice(["ok", "qty > 2", "price < 15"]) if random.random() < 0.1 else ""
    ctx = random.choice(contexts) if random.random() < 0.2 else ""
    w = wins()
    if "unique" in w or "groupwin" in w:
        cols = [c for c in cols if not c.startswith(("min(", "max(q", "max(s"))] or ["count(*) as c"]
    if "groupwin" in w: cols = [c for c in cols if "prior(" not in c] or ["count(*) as c"]
    # prior() of the group key with only aggregates and keys beside it is refused
    # (Esper then posts a row per group): give it a property outside the group by.
    if group and "prior(2, sym) as ps" in cols: cols.append("qty")
    st = "select %s%s from Ev%s%s as e" % (sel, ", ".join(dict.fromkeys(cols)), flt, w)
    if ctx: st = ctx + ";\ncontext C " + st
    if random.random() < 0.3: st += " where " + random.choice(wheres)
    if group: st += " group by sym"
    if random.random() < 0.3:
        hv = havings_agg if shape != "plain" else havings_plain
        if "unique" in w or "groupwin" in w: hv = [h for h in hv if "max(" not in h]
        st += " having " + random.choice(hv)
    if random.random() < 0.25:
        clause = random.choice(outputs)
        # cep_rule refuses remove-stream rows with output rate limiting other than
        # plain `output every` without having, and grouped per-event rows with
        # having and `output last` (an Esper bug).
        if sel and " having " in st: clause = ""
        elif sel and not clause.startswith("output every"): clause = "output every 2 events"
        if group and " having " in st and "last" in clause: clause = "output every 2 events"
        # prior() under output rate limiting is refused but over #length/#time (Esper 8.9 differs).
        if "prior(" in st and not w.startswith(("#length(", "#time(")): clause = ""
        if clause: st += " " + clause
    st += ";"
    write_case(i, st, "random", (8, 30), [0, 0, 500, 1000, 1000, 2500, 5000, 10000, 20000], 0.1, 60000)
