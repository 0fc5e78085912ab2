//! `enlace link` end to end: the real binary on small CSV files.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_enlace");

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn link(args: &[&str]) -> Run {
    let out =
        Command::new(BIN).arg("link").args(args).env("NO_COLOR", "1").output().expect("run enlace link");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write csv");
    p
}

const MAPS: &[&str] = &[
    "--map",
    "nombres=given_names",
    "--map",
    "apellidos=surnames",
    "--map",
    "nacimiento=birth_date",
    "--map",
    "sexo=sex",
];

/// Six records: three of them the same woman, two the same man, one alone; plus filler people
/// so the model has something to train on.
fn people() -> String {
    let mut s = String::from("id,nombres,apellidos,nacimiento,sexo,grupo\n");
    s.push_str("a1,María José,Gutiérrez Hernández,1990-03-07,F,A\n");
    s.push_str("a2,MARIA,GUTIERRES,07/03/1990,F,A\n");
    s.push_str("a3,Ma. José,Gutierrez Hernandez,19900703,F,A\n");
    s.push_str("b1,Juan Carlos,Ximénez López,1985-11-20,M,B\n");
    s.push_str("b2,Juan,Jiménez López,20/11/1985,M,B\n");
    s.push_str("c1,Pedro,Fernández Ramos,1970-01-15,M,C\n");
    let given = ["Ana", "Luis", "Rosa", "Jorge", "Elena", "Mario", "Sofía", "Raúl", "Irma", "Hugo"];
    let surnames =
        ["Pérez", "López", "Cruz", "Flores", "Torres", "Reyes", "Morales", "Ortiz", "Castro", "Rivas"];
    // 100 distinct people: no two share given name and first surname.
    for i in 0..100usize {
        let g = given[i % 10];
        let s1 = surnames[(i / 10) % 10];
        let s2 = surnames[(i * 7 + 3) % 10];
        let sex = if i % 2 == 0 { "F" } else { "M" };
        s.push_str(&format!(
            "f{i},{g},{s1} {s2},{}-{:02}-{:02},{sex},F{i}\n",
            1950 + i % 50,
            1 + i % 12,
            1 + i % 28
        ));
    }
    s
}

fn pairs(csv: &str) -> Vec<(String, String, f64)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[2].parse().expect("probability"))
        })
        .collect()
}

fn has(pairs: &[(String, String, f64)], a: &str, b: &str) -> bool {
    pairs.iter().any(|(l, r, _)| (l == a && r == b) || (l == b && r == a))
}

#[test]
fn deduplicates_one_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "personas.csv", people().as_bytes());
    let mut args = vec![f.to_str().expect("path"), "--id-column", "id", "--truth-column", "grupo"];
    args.extend_from_slice(MAPS);
    let r = link(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.starts_with("left_id,right_id,probability"), "{}", r.stdout);
    let p = pairs(&r.stdout);
    for (a, b) in [("a1", "a2"), ("a1", "a3"), ("a2", "a3"), ("b1", "b2")] {
        assert!(has(&p, a, b), "{a}-{b} missing:\n{}\n{}", r.stdout, r.stderr);
    }
    assert!(!has(&p, "c1", "a1") && !p.iter().any(|(l, r, _)| l == "c1" || r == "c1"), "{}", r.stdout);
    assert!(p.iter().all(|(_, _, x)| *x >= 0.5 && *x <= 1.0));
    assert!(r.stderr.contains("pairs compared:") && r.stderr.contains("blocking recall"), "{}", r.stderr);
    assert!(r.stderr.contains("time:"), "{}", r.stderr);
}

#[test]
fn links_two_files_one_to_one_with_a_saved_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let left = write(dir.path(), "left.csv", people().as_bytes());
    let right = write(
        dir.path(),
        "right.csv",
        "id,nombres,apellidos,nacimiento,sexo\nr1,Maria,Gutierres,1990,F\nr2,JUAN,XIMENEZ,1985-11-20,M\nr3,Zoe,Nadie,no sé,F\n"
            .as_bytes(),
    );
    let out = dir.path().join("pairs.csv");
    let model = dir.path().join("model.json");
    // Train on the left file alone and save the model.
    let mut args = vec![left.to_str().unwrap(), "--id-column", "id", "--save-model", model.to_str().unwrap()];
    args.extend_from_slice(MAPS);
    assert_eq!(link(&args).code, Some(0));
    assert!(std::fs::read_to_string(&model).unwrap().contains("\"prior\""));
    let mut args = vec![
        left.to_str().unwrap(),
        right.to_str().unwrap(),
        "--id-column",
        "id",
        "--one-to-one",
        "--min-probability",
        "0.3",
        "--model",
        model.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(MAPS);
    let r = link(&args);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("left_id,right_id,probability"));
    let p = pairs(&csv);
    assert!(p.iter().any(|(l, r, _)| r == "r2" && l.starts_with('b')), "{csv}");
    assert!(p.iter().any(|(l, r, _)| r == "r1" && l.starts_with('a')), "{csv}");
    let rights: Vec<&String> = p.iter().map(|x| &x.1).collect();
    let lefts: Vec<&String> = p.iter().map(|x| &x.0).collect();
    assert!(rights.iter().enumerate().all(|(i, x)| !rights[..i].contains(x)), "one-to-one: {csv}");
    assert!(lefts.iter().enumerate().all(|(i, x)| !lefts[..i].contains(x)), "one-to-one: {csv}");
    // "no sé" is not a date: counted, not fatal.
    assert!(r.stderr.contains("counted as missing): 1"), "{}", r.stderr);
    // A model trained with other roles is refused.
    let mut args = vec![left.to_str().unwrap(), "--id-column", "id", "--model", model.to_str().unwrap()];
    args.extend_from_slice(&MAPS[..4]);
    let r = link(&args);
    assert_ne!(r.code, Some(0));
    assert!(r.stderr.contains("other roles"), "{}", r.stderr);
}

/// Runs with bad input: a non-zero exit, an `error:` line that says what is wrong, no panic.
fn refuses(files: &[(&str, &[u8])], extra: &[&str], maps: &[&str], expect: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths: Vec<String> =
        files.iter().map(|(n, c)| write(dir.path(), n, c).to_str().expect("path").to_string()).collect();
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    args.extend_from_slice(maps);
    let r = link(&args);
    assert!(r.code.is_some_and(|c| c != 0), "expected failure for {expect}: {:?}\n{}", r.code, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or("");
    assert!(line.contains(expect), "expected {expect:?} in the error line, got:\n{}", r.stderr);
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let good = people();
    let id = ["--id-column", "id"];
    refuses(&[("p.csv", good.as_bytes())], &id, &["--map", "nombre=given_names"], "no column \"nombre\"");
    refuses(&[("p.csv", good.as_bytes())], &["--id-column", "ident"], MAPS, "no column \"ident\"");
    refuses(
        &[("p.csv", good.as_bytes())],
        &id,
        &["--map", "nombres=first_name"],
        "unknown role \"first_name\"",
    );
    refuses(&[("p.csv", good.as_bytes())], &id, &["--map", "nombres"], "expected COLUMN=ROLE");
    refuses(&[("p.csv", b"")], &id, MAPS, "empty");
    refuses(&[("p.csv", b"id,nombres,apellidos,nacimiento,sexo\n")], &id, MAPS, "no records");
    let mut broken = b"id,nombres,apellidos,nacimiento,sexo\n1,Mar".to_vec();
    broken.extend_from_slice(&[0xC3, 0x28]);
    broken.extend_from_slice(b"a,Lopez,1990-01-01,F\n");
    refuses(&[("p.csv", &broken)], &id, MAPS, "not valid UTF-8");
    refuses(
        &[("p.csv", b"id,nombres,apellidos,nacimiento,sexo\n1,Ana,Lopez,1990-01-01,F\n2,Ana,Lopez\n")],
        &id,
        MAPS,
        "the row has 3 fields but the header has 5",
    );
    // The right file is checked too.
    refuses(
        &[("l.csv", good.as_bytes()), ("r.csv", b"id,nombres\n1,Ana\n")],
        &id,
        MAPS,
        "r.csv: no column \"apellidos\"",
    );
    refuses(
        &[("p.csv", good.as_bytes())],
        &["--id-column", "id", "--min-probability", "2"],
        MAPS,
        "between 0 and 1",
    );
    refuses(
        &[("p.csv", good.as_bytes())],
        &["--id-column", "id", "--model", "/nonexistent/model.json"],
        MAPS,
        "cannot read",
    );
}
