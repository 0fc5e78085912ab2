#!/usr/bin/env python3
"""Writes the case-list SQL of enlace-store (commit 0218bd3), or the proposed rewrite, for the
benchmark's list shapes, as a workload for `enlace-bench sqlite-plan --workload` (which runs
it with the SQLite version bundled in the server). Diagnosis aid for BENCHMARKS.md; see
sqlite_list.sh, which runs the whole comparison.

    python3 sqlite_list.py DB current|union|proposed [N] > workload.jsonl

`proposed` reads posting-list sizes from DB (Python's sqlite3 module) to choose its plan.
"""

import json
import random
import sqlite3
import sys
import time
import unicodedata

DB = sys.argv[1]
STATES = ["MX", "GT", "HN"]
GIVEN = ["maria", "jose", "juan", "ana", "carlos", "luis", "rosa", "jorge", "kevin", "marvin", "xiomara",
         "guadalupe", "jesus", "yesenia", "wilmer"]
SURN = ["hernandez", "garcia", "martinez", "lopez", "gonzalez", "perez", "rodriguez", "sanchez", "ramirez",
        "cruz", "flores", "gomez", "reyes", "morales", "mejia", "orellana", "caal"]
NOW = "2026-11-29T08:00:00.000000+00:00"
HI = "\U0010FFFF"
T = 4000  # posting-list size under which the search drives the query


def shapes(rng):
    """(name, filters dict) like the benchmark's list shapes."""
    cat = rng.choice(["migration", "human_rights", "criminal", "labour", "administrative"])
    return [
        ("q=<surname>&status=in_progress", dict(q=[rng.choice(SURN)], status=["in_progress"])),
        ("q=<given> <surname>", dict(q=[rng.choice(GIVEN), rng.choice(SURN)])),
        ("category=migration&subtype=detention&sort=-updated_at",
         dict(category="migration", subtype="detention", sort="updated_at")),
        ("vulnerabilities=unaccompanied_child&q=<given>", dict(vuln=1, q=[rng.choice(GIVEN)])),
        ("overdue=true", dict(overdue=True)),
        ("q=<surname> <surname>&sort=-updated_at", dict(q=[rng.choice(SURN), rng.choice(SURN)], sort="updated_at")),
        ("q=<surname>&category=<c>&status=<open>",
         dict(q=[rng.choice(SURN)], category=cat,
              status=["intake", "assessment", "action_plan", "in_progress", "awaiting_authority"])),
    ]


COLS = ("c.id, c.owner_state, c.year, c.seq, c.post, c.host_state, c.category, c.subtype, c.vuln_mask, "
        "c.status, c.person_name, c.assigned_officer, c.opened_at, c.updated_at, c.first_contact_due_at")


def filters_sql(f, args):
    s = ""
    if "category" in f:
        s += " AND c.category = ?"; args.append(f["category"])
    if "subtype" in f:
        s += " AND c.subtype = ?"; args.append(f["subtype"])
    if "status" in f:
        s += " AND c.status IN (%s)" % ",".join("?" * len(f["status"])); args += f["status"]
    if "vuln" in f:
        s += " AND (c.vuln_mask & ?) = ?"; args += [f["vuln"], f["vuln"]]
    if f.get("overdue"):
        s += " AND c.first_contact_due_at IS NOT NULL AND c.first_contact_due_at < ?"; args.append(NOW)
    return s


def current(state, f):
    """The SQL list_cases builds at 0218bd3."""
    args = [state]
    s = f"SELECT {COLS} FROM cases c WHERE 1 = 1 AND (c.owner_state IN (?) OR c.assisting_state IN (?))"
    args.append(state)
    s += filters_sql(f, args)
    for t in f.get("q", []):
        s += " AND c.id IN (SELECT case_id FROM case_terms WHERE term >= ? AND term < ?)"
        args += [t, t + HI]
    col = "c.updated_at" if f.get("sort") == "updated_at" else "c.opened_at"
    s += f" ORDER BY {col} DESC, c.id DESC LIMIT 51"
    return s, args


def postings(con, t):
    return con.execute("SELECT count(*) FROM (SELECT 1 FROM case_terms WHERE term >= ? AND term < ? LIMIT ?)",
                       (t, t + HI, T + 1)).fetchone()[0]


def proposed(con, state, f):
    """Scope as UNION ALL of index-ordered branches; words as EXISTS; a rare word drives."""
    col = "updated_at" if f.get("sort") == "updated_at" else "opened_at"
    words = f.get("q", [])
    drive = None
    if words:
        counts = {t: postings(con, t) for t in words}
        rare = min(words, key=lambda t: counts[t])
        if counts[rare] <= T:
            drive = rare
    parts, args = [], []
    for branch in ("c.owner_state = ?", "c.assisting_state = ? AND c.owner_state <> ?"):
        a = [state] if branch.count("?") == 1 else [state, state]
        if drive:
            frm = ("(SELECT DISTINCT case_id FROM case_terms WHERE term >= ? AND term < ?) t "
                   "CROSS JOIN cases c ON c.id = t.case_id")
            a = [drive, drive + HI] + a
        else:
            frm = "cases c"
        s = f"SELECT {COLS} FROM {frm} WHERE {branch}"
        s += filters_sql(f, a)
        for t in words:
            if t == drive:
                continue
            s += " AND EXISTS (SELECT 1 FROM case_terms x WHERE x.case_id = c.id AND x.term >= ? AND x.term < ?)"
            a += [t, t + HI]
        s += f" ORDER BY c.{col} DESC, c.id DESC LIMIT 51"
        parts.append(f"SELECT * FROM ({s})")
        args += a
    return " UNION ALL ".join(parts) + f" ORDER BY {col} DESC, id DESC LIMIT 51", args


def union(con, state, f):
    """Only the scope rewritten as UNION ALL of index-ordered branches; words as today."""
    col = "updated_at" if f.get("sort") == "updated_at" else "opened_at"
    parts, args = [], []
    for branch in ("c.owner_state = ?", "c.assisting_state = ? AND c.owner_state <> ?"):
        a = [state] if branch.count("?") == 1 else [state, state]
        s = f"SELECT {COLS} FROM cases c WHERE {branch}" + filters_sql(f, a)
        for t in f.get("q", []):
            s += " AND c.id IN (SELECT case_id FROM case_terms WHERE term >= ? AND term < ?)"
            a += [t, t + HI]
        s += f" ORDER BY c.{col} DESC, c.id DESC LIMIT 51"
        parts.append(f"SELECT * FROM ({s})")
        args += a
    return " UNION ALL ".join(parts) + f" ORDER BY {col} DESC, id DESC LIMIT 51", args


MODE = sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 20
con = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
rng = random.Random(2016)
for _ in range(N):
    state = rng.choice(STATES)
    for name, f in shapes(rng):
        sql, args = {"current": lambda: current(state, f), "proposed": lambda: proposed(con, state, f),
                     "union": lambda: union(con, state, f)}[MODE]()
        print(json.dumps({"label": name, "sql": sql, "params": args}))
