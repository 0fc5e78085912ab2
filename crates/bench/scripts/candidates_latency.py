#!/usr/bin/env python3
"""Latency of POST /api/v1/persons/candidates on a running node (issue 5: candidate lookup
for one new person, p99 < 20 ms at 1,000,000 persons). Outside CI.

    python3 crates/bench/scripts/candidates_latency.py http://127.0.0.1:18570 liaison.hn PASSWORD [N]

Takes N persons from the node's own case list (the user's scope), misspells each the way a
second post would (accents dropped, one given name, first surname only, b/v and z/s swapped,
the year of birth only) and asks for candidates, one request at a time. Prints the server
round-trip p50/p90/p99/max over loopback and how often the original person came first.
"""

import json
import sys
import time
import unicodedata
import urllib.error
import urllib.request


def call(base, method, path, token=None, body=None):
    req = urllib.request.Request(base + path, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(req, data) as r:
        return json.loads(r.read() or b"null")


def fold(s):
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


def misspell(name):
    out = fold(name)
    for a, b in (("v", "b"), ("z", "s")):
        if a in out:
            return out.replace(a, b, 1)
    return out


def main():
    base, user, password = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    token = call(base, "POST", "/api/v1/auth/token", body={"username": user, "password": password})["token"]
    people, cursor = [], None
    while len(people) < n:
        q = "/api/v1/cases?limit=100&sort=opened_at&state=HN" + (f"&cursor={cursor}" if cursor else "")
        page = call(base, "GET", q, token)
        for c in page["items"]:
            people.append(c["id"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    times, first = [], 0
    for cid in people[:n]:
        try:
            case = call(base, "GET", f"/api/v1/cases/{cid}", token)
        except urllib.error.HTTPError:
            continue  # a restricted case this account may not open

        p = case["person"]
        birth = p["birth"]
        year = {"date": lambda b: int(b["date"][:4]), "year": lambda b: b["year"]}.get(birth["kind"])
        query = {
            "given_names": [misspell(p["given_names"][0])] if p["given_names"] else [],
            "surnames": [misspell(p["surnames"][0])] if p["surnames"] else [],
            "sex": p["sex"],
            "birth": {"kind": "year", "year": year(birth)} if year else {"kind": "unknown"},
            "nationalities": p.get("nationalities", [])[:1],
        }
        t = time.perf_counter()
        r = call(base, "POST", "/api/v1/persons/candidates", token, {"person": query})
        times.append((time.perf_counter() - t) * 1000)
        if r["candidates"] and r["candidates"][0]["person"]["id"] == case["person_id"]:
            first += 1
    times.sort()
    pct = lambda q: times[min(len(times) - 1, int(len(times) * q))]
    print(f"{len(times)} lookups: p50 {pct(0.5):.2f} ms  p90 {pct(0.9):.2f}  p99 {pct(0.99):.2f}  max {times[-1]:.2f}; "
          f"original person first in {first} of {len(times)} ({100 * first / len(times):.0f} %)")


if __name__ == "__main__":
    main()
