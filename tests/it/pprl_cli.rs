//! `enlace pprl encode` and `enlace pprl match` end to end, run as child processes.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_enlace");
const SECRET: &str = "compartido-entre-HN-y-GT-2026";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn enlace(args: &[&str]) -> Run {
    let out =
        Command::new(BIN).args(args).env("NO_COLOR", "1").stdin(Stdio::null()).output().expect("run enlace");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    #[track_caller]
    fn ok(self, what: &str) -> Self {
        assert_eq!(self.code, Some(0), "{what}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Asserts a clean failure whose `error:` line contains every one of `words`.
    #[track_caller]
    fn fails_with(self, what: &str, words: &[&str]) {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "{what}: expected a non-zero exit, got {:?}\n{}",
            self.code,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{what}: panicked\n{}", self.stderr);
        let line = self.stderr.lines().rev().find(|l| l.starts_with("error:")).unwrap_or("");
        for w in words {
            assert!(line.contains(w), "{what}: `{w}` not in the error line {line:?}\n{}", self.stderr);
        }
        assert!(
            !self.stderr.contains(SECRET) && !self.stdout.contains(SECRET),
            "{what}: the secret was printed"
        );
    }
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let files = Files { dir: tempfile::tempdir().expect("temp dir") };
        files.write("key", format!("{SECRET}\n").as_bytes());
        files
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write test file");
        s(&p)
    }
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

const LEFT: &str = "\
folio,nombres,apellidos,nacimiento,sexo
HN-1,María José,Gutiérrez Hernández,1990-05-14,F
HN-2,Juan Carlos,Ramírez López,1985-11-02,M
HN-3,Ana Lucía,Pérez Castillo,2001-01-30,F
HN-4,José Luis,Martínez Flores,1978-07-09,M
HN-5,Rosa Elena,Vásquez Mejía,1995-03-21,F
";

/// Typos, dropped names and accents, another date format; GT-9 and GT-8 are other people.
const RIGHT: &str = "\
id,given,surnames,dob,sex
GT-9,Pedro,Alvarado Cruz,1969-12-01,M
GT-1,Maria,Gutierres Hernandez,14/05/1990,F
GT-2,Juan Carlos,Ramires Lopez,1985-11-02,M
GT-8,Ana María,Pérez Morales,1999-06-30,F
GT-3,Ana Lucia,Perez Castillo,20010130,F
GT-4,Jose Luis,Martinez Flores,1978-07-09,M
";

fn encode(files: &Files, name: &str, csv: &str, id: &str, cols: [&str; 4], key: &str) -> Run {
    let input = files.write(&format!("{name}.csv"), csv.as_bytes());
    let out = s(&files.path(&format!("{name}.enc.csv")));
    let maps: Vec<String> = cols
        .iter()
        .zip(["given_names", "surnames", "birth_date", "sex"])
        .map(|(c, r)| format!("{c}={r}"))
        .collect();
    let key = s(&files.path(key));
    let mut args = vec!["pprl", "encode", input.as_str(), "--id-column", id, "--secret-file", &key];
    for m in &maps {
        args.extend(["--map", m.as_str()]);
    }
    args.extend(["--output", out.as_str()]);
    enlace(&args)
}

/// Rows of a match output: (a_id, b_id, similarity).
fn pairs(csv: &str) -> Vec<(String, String, f64)> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("a_id,b_id,similarity"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[2].parse().expect("similarity"))
        })
        .collect()
}

fn encode_both(files: &Files) {
    let a = encode(files, "a", LEFT, "folio", ["nombres", "apellidos", "nacimiento", "sexo"], "key")
        .ok("encode A");
    assert!(a.stderr.contains("encoded 5 records as 1024-bit filters"), "{}", a.stderr);
    assert!(a.stderr.contains("fill: mean"), "{}", a.stderr);
    encode(files, "b", RIGHT, "id", ["given", "surnames", "dob", "sex"], "key").ok("encode B");
}

#[test]
fn encode_then_match_finds_the_true_pairs_first() {
    let files = Files::new();
    encode_both(&files);
    let enc = std::fs::read_to_string(files.path("a.enc.csv")).unwrap();
    let mut lines = enc.lines();
    assert_eq!(lines.next(), Some("id,encoding"));
    let first = lines.next().unwrap();
    assert!(first.starts_with("HN-1,") && first.len() == "HN-1,".len() + 172, "{first}");
    assert!(!enc.contains("María") && !enc.contains("Gutierrez"));

    let (a, b) = (s(&files.path("a.enc.csv")), s(&files.path("b.enc.csv")));
    let run = enlace(&["pprl", "match", &a, &b, "--threshold", "0.6"]).ok("match");
    assert!(run.stderr.contains("compared 5 x 6 = 30 pairs"), "{}", run.stderr);
    let got = pairs(&run.stdout);
    let truth: HashMap<&str, &str> =
        [("HN-1", "GT-1"), ("HN-2", "GT-2"), ("HN-3", "GT-3"), ("HN-4", "GT-4")].into();
    // Ordered by A's records; for each, its true match comes first, and similarities decrease.
    let order: Vec<&str> = got.iter().map(|p| p.0.as_str()).collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|id| LEFT.find(&format!("\n{id},")).unwrap());
    assert_eq!(order, sorted);
    for (a_id, b_id) in &truth {
        let mine: Vec<&(String, String, f64)> = got.iter().filter(|p| p.0 == *a_id).collect();
        assert!(!mine.is_empty(), "{a_id} has no candidate: {got:?}");
        assert_eq!(mine[0].1, *b_id, "{a_id}: {mine:?}");
        assert!(mine.windows(2).all(|w| w[0].2 >= w[1].2), "{mine:?}");
        assert!(mine[0].2 >= 0.75, "{a_id}: {mine:?}");
    }
    assert!(got.iter().all(|p| p.0 != "HN-5"), "HN-5 has no counterpart: {got:?}");
    // Only spelling and date format differ for HN-4: a near-perfect score, above the typos.
    let sim = |a: &str| got.iter().find(|p| p.0 == a).unwrap().2;
    assert!(sim("HN-4") > 0.95 && sim("HN-4") > sim("HN-1"), "{got:?}");

    // One-to-one: exactly the true pairs.
    let run = enlace(&["pprl", "match", &a, &b, "--threshold", "0.6", "--one-to-one"]).ok("one-to-one");
    let got: BTreeSet<(String, String)> = pairs(&run.stdout).into_iter().map(|p| (p.0, p.1)).collect();
    let want: BTreeSet<(String, String)> =
        truth.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(got, want);

    // Top-1 at threshold 0 keeps one candidate for every record of A, written to a file.
    let out = s(&files.path("top1.csv"));
    enlace(&["pprl", "match", &a, &b, "--threshold", "0", "--top-k", "1", "--output", &out]).ok("top-k");
    let top: Vec<(String, String, f64)> = pairs(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(top.len(), 5);
    for (a_id, b_id) in &truth {
        assert!(top.iter().any(|p| p.0 == *a_id && p.1 == *b_id), "{top:?}");
    }
}

#[test]
fn another_secret_gives_unrelated_encodings() {
    let files = Files::new();
    files.write("other-key", b"a different secret, same length");
    encode(&files, "a", LEFT, "folio", ["nombres", "apellidos", "nacimiento", "sexo"], "key").ok("A");
    encode(&files, "b", RIGHT, "id", ["given", "surnames", "dob", "sex"], "other-key").ok("B");
    let (a, b) = (s(&files.path("a.enc.csv")), s(&files.path("b.enc.csv")));
    let run = enlace(&["pprl", "match", &a, &b, "--threshold", "0.75"]).ok("match");
    assert_eq!(pairs(&run.stdout), vec![], "{}", run.stdout);
}

#[test]
fn hardened_encodings_still_link() {
    let files = Files::new();
    for hardening in ["balance", "xor-fold"] {
        for (name, csv, id, cols) in [
            ("a", LEFT, "folio", ["nombres", "apellidos", "nacimiento", "sexo"]),
            ("b", RIGHT, "id", ["given", "surnames", "dob", "sex"]),
        ] {
            let input = files.write(&format!("{name}.csv"), csv.as_bytes());
            let out = s(&files.path(&format!("{name}.enc.csv")));
            let key = s(&files.path("key"));
            let maps: Vec<String> = cols
                .iter()
                .zip(["given_names", "surnames", "birth_date", "sex"])
                .map(|(c, r)| format!("{c}={r}"))
                .collect();
            let mut args = vec!["pprl", "encode", &input, "--id-column", id, "--secret-file", &key];
            for m in &maps {
                args.extend(["--map", m.as_str()]);
            }
            args.extend(["--hardening", hardening, "--bits", "2048", "--output", &out]);
            enlace(&args).ok(hardening);
        }
        let (a, b) = (s(&files.path("a.enc.csv")), s(&files.path("b.enc.csv")));
        let run = enlace(&["pprl", "match", &a, &b, "--threshold", "0.5", "--one-to-one"]).ok(hardening);
        let got: BTreeSet<(String, String)> = pairs(&run.stdout).into_iter().map(|p| (p.0, p.1)).collect();
        for (x, y) in [("HN-1", "GT-1"), ("HN-2", "GT-2"), ("HN-3", "GT-3"), ("HN-4", "GT-4")] {
            assert!(got.contains(&(x.to_string(), y.to_string())), "{hardening}: {got:?}");
        }
    }
}

#[test]
fn bad_encode_input_is_refused_clearly() {
    let files = Files::new();
    let key = s(&files.path("key"));
    let good = files.write("good.csv", LEFT.as_bytes());
    let run_on = |input: &str, extra: &[&str]| {
        let mut args = vec!["pprl", "encode", input, "--id-column", "folio", "--map", "nombres=given_names"];
        args.extend(extra);
        if !extra.contains(&"--secret-file") {
            args.extend(["--secret-file", key.as_str()]);
        }
        enlace(&args)
    };
    run_on(&good, &[]).ok("the baseline works");
    let bom = files.write("bom.csv", format!("\u{feff}{LEFT}").as_bytes());
    run_on(&bom, &[]).ok("a byte order mark is not part of the first column's name");

    let mut args =
        vec!["pprl", "encode", good.as_str(), "--id-column", "nope", "--map", "nombres=given_names"];
    args.extend(["--secret-file", key.as_str()]);
    enlace(&args).fails_with("missing id column", &["column `nope` not found", "folio, nombres"]);
    run_on(&good, &["--map", "apodo=text"])
        .fails_with("missing mapped column", &["column `apodo` not found"]);
    run_on(&good, &["--map", "apellidos=surname"])
        .fails_with("unknown role", &["unknown role `surname`", "surnames"]);
    run_on(&good, &["--map", "apellidos"]).fails_with("no role", &["expected COLUMN=ROLE"]);
    run_on(&good, &["--bits", "1000"]).fails_with("bad bits", &["1000 bits", "multiple of 64"]);
    run_on(&good, &["--hashes", "nombres=0"]).fails_with("zero hashes", &["hashes 0"]);

    let empty = files.write("empty.csv", b"");
    run_on(&empty, &[]).fails_with("empty file", &["is empty"]);
    let header_only = files.write("header.csv", b"folio,nombres\n");
    run_on(&header_only, &[]).fails_with("no records", &["no records"]);
    let broken = files.write("broken.csv", b"folio,nombres\nHN-1,Mar\xeda\n");
    run_on(&broken, &[]).fails_with("broken UTF-8", &["line 2", "not valid UTF-8"]);
    let ragged = files.write("ragged.csv", b"folio,nombres\nHN-1,Ana\nHN-2,Rosa,extra\n");
    run_on(&ragged, &[]).fails_with("ragged row", &["line 3", "ragged row", "3 fields", "header has 2"]);
    let dup = files.write("dup.csv", b"folio,nombres\nHN-1,Ana\nHN-1,Rosa\n");
    let partial = s(&files.path("partial.enc.csv"));
    run_on(&dup, &["--output", &partial]).fails_with("duplicate id", &["line 3", "duplicate id `HN-1`"]);
    assert!(!files.path("partial.enc.csv").exists(), "a failed run leaves no output file");
    let no_id = files.write(
        "no-id.csv",
        b"folio,nombres
HN-1,Ana
 ,Rosa
",
    );
    run_on(&no_id, &[]).fails_with("empty id", &["line 3", "empty id"]);
    run_on(&s(&files.path("absent.csv")), &[]).fails_with("missing input", &["cannot read", "absent.csv"]);

    let missing_key = s(&files.path("no-such-key"));
    run_on(&good, &["--secret-file", &missing_key])
        .fails_with("missing secret", &["secret file", "no-such-key"]);
    let empty_key = files.write("empty-key", b" \n");
    run_on(&good, &["--secret-file", &empty_key]).fails_with("empty secret", &["secret file", "is empty"]);
    let short_key = files.write("short-key", b"abc\n");
    run_on(&good, &["--secret-file", &short_key]).fails_with("short secret", &["too short"]);
}

#[test]
fn bad_match_input_is_refused_clearly() {
    let files = Files::new();
    encode_both(&files);
    let (a, b) = (s(&files.path("a.enc.csv")), s(&files.path("b.enc.csv")));
    let good = std::fs::read_to_string(&a).unwrap();
    let first_line = good.lines().nth(1).unwrap().to_string();
    let m = |x: &str, y: &str, extra: &[&str]| {
        let mut args = vec!["pprl", "match", x, y];
        args.extend(extra);
        enlace(&args)
    };
    m(&a, &b, &[]).ok("the baseline works");

    let bad64 =
        files.write("bad64.csv", format!("id,encoding\n{first_line}\nX-1,@@not base64@@\n").as_bytes());
    m(&bad64, &b, &[]).fails_with("bad base64", &["bad64.csv line 3", "invalid base64"]);
    let short = files.write("short.csv", format!("id,encoding\n{first_line}\nX-1,AAAA\n").as_bytes());
    m(&short, &b, &[]).fails_with("lengths within a file", &["short.csv line 3", "24 bits", "1024"]);
    let small = files.write("small.csv", b"id,encoding\nX-1,AAAAAAAAAAA=\n");
    m(&a, &small, &[]).fails_with("lengths across files", &["differ in length", "1024", "64"]);
    let empty = files.write("empty.csv", b"");
    m(&a, &empty, &[]).fails_with("empty file", &["empty.csv is empty"]);
    let header = files.write("header.csv", b"id,encoding\n");
    m(&header, &b, &[]).fails_with("header only", &["no records"]);
    let wrong = files.write("wrong.csv", b"folio,nombres\nHN-1,Ana\n");
    m(&wrong, &b, &[]).fails_with("not encodings", &["expected the header `id,encoding`"]);
    let ragged = files.write("ragged.csv", format!("id,encoding\n{first_line},x\n").as_bytes());
    m(&ragged, &b, &[]).fails_with("ragged", &["ragged row"]);
    let broken = files.write("broken.csv", b"id,encoding\nHN-\xff,AAAAAAAAAAA=\n");
    m(&broken, &b, &[]).fails_with("broken UTF-8", &["not valid UTF-8"]);
    m(&a, &b, &["--threshold", "1.5"]).fails_with("threshold", &["threshold 1.5"]);
    m(&a, &b, &["--top-k", "0"]).fails_with("top-k", &["top-k"]);
}
