#!/usr/bin/env python3
"""Random match_recognize statements and events for random_vs_esper.sh
(CEP_RANDOM_GENERATOR=plugins/cep_rule/tests/random_match_recognize.py):
patterns over A-D with * + ? and their reluctant forms, {n,m}
repetitions of variables, match_recognize_permute, groups and alternatives, defines with thresholds and prev(), partition by or not, any of the three skips; the measures aggregate every
variable's rows (Esper refuses the case when a variable matches a single row:
it is dropped).
  random_match_recognize.py SEED COUNT OUT_DIR"""
import random, os, sys
seed=int(sys.argv[1]); count=int(sys.argv[2]); out=sys.argv[3]
r=random.Random(seed)
VARS="ABCD"
def repeat():
    # (not on groups, and rarely: repeated nested repeats make Esper's partial
    # matches explode, and it runs out of heap)
    return r.choice([""]*9 + ["{2}","{1,2}","{2,}","{,2}"])
def quant():
    return r.choice(["","","","*","+","?","*?","+?","??"]) + repeat()
def pat(depth, used):
    n=r.randint(1,3)
    items=[]
    for _ in range(n):
        if depth<2 and r.random()<0.08:
            vs=r.sample(VARS, r.randint(2,3)); used.update(vs)
            # (no {n,m} inside: refused, Esper 8.9 ignores it)
            items.append("match_recognize_permute(" + ", ".join(v+r.choice(["","","*","+","?","*?","+?","??"]) for v in vs) + ")")
        elif depth<2 and r.random()<0.2:
            inner = pat(depth+1, used)
            if r.random()<0.4: inner = inner + " | " + pat(depth+1, used)
            items.append("("+inner+")"+r.choice(["","*","+","?"]))
        else:
            v=r.choice(VARS); used.add(v)
            items.append(v+quant())
    return " ".join(items)
for i in range(count):
    used=set()
    p=pat(0,used)
    if r.random()<0.2: p = p + " | " + pat(1,used)
    meas=[f"{r.choice(['count', 'count', 'sum', 'avg', 'min', 'max', 'first', 'last'])}({v}.speed) as n{v}" for v in sorted(used)]
    defs=[]
    for v in sorted(used):
        if r.random()<0.2: continue
        k=r.random()
        if k<0.4: defs.append(f"{v} as {v}.speed > {r.randint(20,120)}")
        elif k<0.7: defs.append(f"{v} as {v}.speed < {r.randint(20,120)}")
        else: defs.append(f"{v} as {v}.speed {r.choice(['<','>'])} prev({v}.speed)")
    if not defs: defs.append(f"{sorted(used)[0]} as {sorted(used)[0]}.speed > 50")
    part = "partition by car_number\n  " if r.random()<0.5 else ""
    # to current row keeps every partial match: with nested repeats of undefined
    # variables their number explodes (Esper runs out of heap), so only short
    # event files get it.
    skip = r.choice(["", "", "", "after match skip to next row\n  ", "after match skip to current row\n  "])
    events_max = 12 if "current" in skip else 20 if "permute" in p else 40
    d=os.path.join(out,f"{i:03d}-mr")
    os.makedirs(d)
    open(d+"/case.epl","w").write(f"-- desc: random match_recognize {seed}/{i}\nselect * from Ev\nmatch_recognize (\n  {part}measures {', '.join(meas)}\n  {skip}pattern ({p})\n  define {', '.join(defs)}\n);\n")
    lines=["ts:long,car_number:string,speed:long"]
    t=0
    for j in range(r.randint(10,events_max)):
        t+=1000; lines.append(f"{t},{r.choice(['C1','C2'])},{r.randint(0,150)}")
    open(d+"/events.csv","w").write("\n".join(lines)+"\n")
