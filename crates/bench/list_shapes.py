#!/usr/bin/env python3
"""Times each list shape of enlace-bench's list run through the API, per user (p50, p95, max
of 40 queries each, one client). Against a node already serving a bench dataset:

    enlace serve --data-dir /work/bench-data/sqlite-1m-run --listen 127.0.0.1:18600 &
    python3 crates/bench/list_shapes.py http://127.0.0.1:18600 liaison.hn,officer.mx.houston

The names are drawn, weighted, from crates/bench/src/bodies.rs (as the bench draws them).
"""
import json, pathlib, random, re, sys, time, urllib.parse, urllib.request

SRC = (pathlib.Path(__file__).parent / "src" / "bodies.rs").read_text()


def names(const):
    body = re.search(r"pub const " + const + r": &\[\(&str, u32\)\] = &\[(.*?)\];", SRC, re.S).group(1)
    return [(n, int(w)) for n, w in re.findall(r'\("([^"]+)",\s*(\d+)\)', body)]


FEMALE, MALE, SURNAMES = names("GIVEN_FEMALE"), names("GIVEN_MALE"), names("SURNAMES")


def pick(pairs):
    return random.choices([n for n, _ in pairs], weights=[w for _, w in pairs])[0]


def given():
    return pick(FEMALE if random.random() < 0.5 else MALE)


def surname():
    while " " in (s := pick(SURNAMES)):
        pass
    return s


OPEN = "intake,assessment,action_plan,in_progress,awaiting_authority"
CATEGORIES = ["migration", "human_rights", "criminal", "labour", "administrative"]
SHAPES = [
    ("q=<surname>&status=in_progress", lambda: [("q", surname()), ("status", "in_progress")]),
    ("q=<given> <surname>", lambda: [("q", f"{given()} {surname()}")]),
    ("category=migration&subtype=detention", lambda: [("category", "migration"), ("subtype", "detention"), ("sort", "-updated_at")]),
    ("vulnerabilities=unaccompanied_child&q=<given>", lambda: [("vulnerabilities", "unaccompanied_child"), ("q", given())]),
    ("overdue=true", lambda: [("overdue", "true")]),
    ("q=<surname> <surname>", lambda: [("q", f"{surname()} {surname()}"), ("sort", "-updated_at")]),
    ("q=<surname>&category=..&status=<open>", lambda: [("q", surname()), ("category", random.choice(CATEGORIES)), ("status", OPEN)]),
]


def main(base, users, seed=1):
    random.seed(seed)
    for user in users.split(","):
        req = urllib.request.Request(
            base + "/api/v1/auth/token",
            data=json.dumps({"username": user, "password": "enlace-demo-2016"}).encode(),
            headers={"content-type": "application/json"},
        )
        token = json.load(urllib.request.urlopen(req))["token"]
        for label, shape in SHAPES:
            times = []
            for _ in range(40):
                url = base + "/api/v1/cases?" + urllib.parse.urlencode(shape() + [("limit", "50")])
                start = time.perf_counter()
                urllib.request.urlopen(urllib.request.Request(url, headers={"authorization": "Bearer " + token})).read()
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            print(f"{user:20} {label:48} p50 {times[20]:6.1f}  p95 {times[37]:6.1f}  max {times[-1]:6.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
