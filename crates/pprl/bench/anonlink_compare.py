#!/usr/bin/env python3
"""Dice comparisons per second: enlace-pprl's kernels against anonlink, on the same encodings.

Not part of the tests or CI. Needs a virtual environment with anonlink:

    python3 -m venv /path/to/venv && /path/to/venv/bin/pip install anonlink
    cargo build --release -p enlace-pprl --example dice_bench
    cargo build -p enlace            # any build of the CLI: it only encodes here
    /path/to/venv/bin/python crates/pprl/bench/anonlink_compare.py \
        --enlace target/debug/enlace --dice-bench target/release/examples/dice_bench

It generates two seeded files of person records (B repeats half of A with typical spelling
errors), encodes both with `enlace pprl encode` under one secret, then times
`anonlink.similarities.dice_coefficient_accelerated` and `dice_bench` on those same encodings at
the same threshold, checks that both find exactly the same pairs and similarities, and prints
rates per second of wall time and per second of CPU time (one core).
"""

import argparse
import base64
import csv
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time

GIVEN = ["María", "José", "Juan", "Ana", "Luis", "Carlos", "Rosa", "Jorge", "Lucía", "Miguel",
         "Elena", "Francisco", "Guadalupe", "Héctor", "Verónica", "Jesús", "Isabel", "Víctor",
         "Silvia", "Raúl", "Beatriz", "Sergio", "Yolanda", "Gabriel", "Xiomara", "Óscar"]
SURNAMES = ["Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez",
            "Ramírez", "Cruz", "Flores", "Gómez", "Morales", "Vásquez", "Jiménez", "Reyes",
            "Díaz", "Torres", "Gutiérrez", "Ruiz", "Mejía", "Castillo", "Álvarez", "Zelaya",
            "Velásquez", "Ortiz", "Chávez", "Villalobos", "Benítez", "Escobar"]
STRIP = str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU")


def person(rng):
    given = " ".join(rng.sample(GIVEN, rng.choice([1, 2, 2])))
    surnames = " ".join(rng.sample(SURNAMES, 2))
    dob = f"{rng.randint(1950, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return [given, surnames, dob, rng.choice("FM")]


def corrupt(rng, rec):
    given, surnames, dob, sex = rec
    for _ in range(rng.randint(1, 3)):
        e = rng.randrange(6)
        if e == 0:
            given, surnames = given.translate(STRIP), surnames.translate(STRIP)
        elif e == 1:
            surnames = surnames.replace("v", "b").replace("z", "s").replace("ll", "y")
        elif e == 2:
            given = given.split(" ")[0]
        elif e == 3:
            surnames = surnames.split(" ")[0]
        elif e == 4:
            y, m, d = dob.split("-")
            dob = f"{y}-{d}-{m}" if int(d) <= 12 else f"{int(y) + rng.choice([-1, 1])}-{m}-{d}"
        else:
            surnames = " ".join(reversed(surnames.split(" ")))
    return [given, surnames, dob, sex]


def write_records(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "given", "surnames", "dob", "sex"])
        w.writerows(rows)


def read_encodings(path):
    from bitarray import bitarray
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            b = bitarray(endian="big")
            b.frombytes(base64.b64decode(row["encoding"]))
            out.append(b)
    return out


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return "?", set()
    model = re.search(r"model name\s*:\s*(.*)", text)
    flags = set(re.search(r"flags\s*:\s*(.*)", text).group(1).split())
    return (model.group(1) if model else "?"), flags


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--enlace", required=True, help="an enlace binary (encodes the records)")
    ap.add_argument("--dice-bench", required=True, help="the release build of the dice_bench example")
    ap.add_argument("--n", type=int, default=20000, help="records per side")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--work", help="keep the files here (default: a temporary directory)")
    args = ap.parse_args()

    import anonlink
    from anonlink.similarities import dice_coefficient_accelerated

    work = args.work or tempfile.mkdtemp(prefix="pprl-bench-")
    os.makedirs(work, exist_ok=True)
    rng = random.Random(args.seed)
    a_rows = [[f"A{i}"] + person(rng) for i in range(args.n)]
    b_rows = [[f"B{i}"] + (corrupt(rng, a_rows[i][1:]) if i % 2 == 0 else person(rng)) for i in range(args.n)]
    rng.shuffle(b_rows)
    write_records(os.path.join(work, "a.csv"), a_rows)
    write_records(os.path.join(work, "b.csv"), b_rows)
    with open(os.path.join(work, "key"), "w") as f:
        f.write("benchmark secret, not for real use\n")
    for side in "ab":
        subprocess.run([args.enlace, "pprl", "encode", os.path.join(work, f"{side}.csv"), "--id-column", "id",
                        "--map", "given=given_names", "--map", "surnames=surnames", "--map", "dob=birth_date",
                        "--map", "sex=sex", "--secret-file", os.path.join(work, "key"),
                        "--output", os.path.join(work, f"{side}.enc.csv")], check=True)
    a_enc, b_enc = os.path.join(work, "a.enc.csv"), os.path.join(work, "b.enc.csv")
    a, b = read_encodings(a_enc), read_encodings(b_enc)
    comparisons = len(a) * len(b)

    model, flags = cpu_flags()
    print(f"CPU: {model}; {os.cpu_count()} cores; "
          + ", ".join(f"{f}={'yes' if f in flags else 'no'}" for f in ["popcnt", "avx2", "avx512f", "avx512_vpopcntdq"]))
    print(f"anonlink {anonlink.__version__}, Python {platform.python_version()}; {len(a)} x {len(b)} "
          f"= {comparisons:,} comparisons of {len(a[0])}-bit encodings at threshold {args.threshold}")

    best_wall, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(args.repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = dice_coefficient_accelerated([a, b], args.threshold)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    sims, (ia, ib) = result
    anon_pairs = {(int(x), int(y)): float(s) for s, x, y in zip(sims, ia, ib)}
    anon_rate = comparisons / best_wall
    print(f"anonlink dice_coefficient_accelerated: {best_wall:.3f} s wall, {best_cpu:.3f} s CPU: "
          f"{anon_rate / 1e6:.1f} M/s wall, {comparisons / best_cpu / 1e6:.1f} M/s per CPU-second; "
          f"{len(anon_pairs)} pairs")

    pairs_file = os.path.join(work, "enlace-pairs.csv")
    out = subprocess.run([args.dice_bench, a_enc, b_enc, "--threshold", str(args.threshold), "--repeat",
                          str(args.repeat), "--write-pairs", pairs_file],
                         check=True, capture_output=True, text=True).stdout
    print("dice_bench (enlace-pprl):")
    print(out, end="")
    ours = {}
    with open(pairs_file, newline="") as f:
        for row in csv.DictReader(f):
            ours[(int(row["a"]), int(row["b"]))] = float(row["similarity"])
    same = ours.keys() == anon_pairs.keys() and all(abs(ours[k] - anon_pairs[k]) < 1e-9 for k in ours)
    print(f"same pairs and similarities as anonlink: {'yes' if same else 'NO'} ({len(ours)} pairs)")
    anon_cpu_rate = comparisons / best_cpu
    for line in out.splitlines():
        m = re.match(r"(\S+)\s+threads 1: .*?\(\s*([\d.]+) M/s per thread\)(?:,\s*([\d.]+) M/s per CPU-second)?", line)
        if m:
            ratio = f"{m.group(1):<17} {float(m.group(2)) * 1e6 / anon_rate:5.1f} x anonlink (wall)"
            if m.group(3):
                ratio += f", {float(m.group(3)) * 1e6 / anon_cpu_rate:5.1f} x per CPU-second"
            print("  " + ratio)
    print(f"files in {work}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
