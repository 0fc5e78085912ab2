//! The `enlace` binary end to end: every command run as a child process against a fresh
//! database, on SQLite (`--data-dir`) and on PostgreSQL (`--database-url`).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use enlace_app::auth::Credentials;
use enlace_app::cases::CaseFilter;
use enlace_app::{App, Db, Settings};
use serde_json::{Value, json};

use crate::harness::{Backend, TestDb, fresh_db};

const BIN: &str = env!("CARGO_BIN_EXE_enlace");
const PW: &str = "una clave de prueba";
/// The password of the users these tests create.
pub(crate) const PW_FOR_TESTS: &str = PW;

/// What a run of the binary left behind.
pub(crate) struct Out {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Out {
    pub(crate) fn ok(&self) -> bool {
        self.code == Some(0)
    }
    #[track_caller]
    pub(crate) fn assert_ok(&self, what: &str) -> &Self {
        assert!(
            self.ok(),
            "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
    #[track_caller]
    pub(crate) fn assert_failed(&self, what: &str) -> &Self {
        assert!(
            !self.ok() && self.code.is_some(),
            "{what}: expected a non-zero exit, got {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
    /// The last line starting with `error:` (the CLI's one-line failure message).
    fn error_line(&self) -> &str {
        self.stderr.lines().rev().find(|l| l.starts_with("error:")).unwrap_or("")
    }
}

fn run_raw(args: &[&str], stdin: Option<&[u8]>, cwd: Option<&Path>) -> Out {
    run_raw_env(args, stdin, cwd, &[], Duration::from_secs(3600))
}

/// Runs the binary; one still running after `limit` is killed and reported so.
fn run_raw_env(
    args: &[&str],
    stdin: Option<&[u8]>,
    cwd: Option<&Path>,
    env: &[(&str, &str)],
    limit: Duration,
) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.envs(env.iter().copied());
    cmd.args(args)
        .env_remove("ENLACE_DATABASE_URL")
        .env_remove("ENLACE_DATA_DIR")
        .env_remove("ENLACE_LISTEN")
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().expect("spawn enlace");
    if let Some(input) = stdin {
        let mut s = child.stdin.take().expect("stdin");
        // The command may refuse its arguments and exit before reading its input.
        match s.write_all(input) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.expect("write stdin"),
        }
        drop(s);
    }
    // A command that should have stopped (a refused setting) and did not is killed, and
    // reported as such, rather than hanging the run.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for enlace"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let out = rx.recv().expect("the killed command's output").expect("wait for enlace");
            return Out {
                code: None,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: format!(
                    "(still running after {limit:?}: killed)\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            };
        }
    };
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `enlace serve` running as a child process.
pub(crate) struct Server {
    child: std::process::Child,
    pub(crate) base: String,
    log: Vec<String>,
    rx: std::sync::mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Stops the server as an operator would (SIGTERM: it finishes what is in flight) and
    /// returns its log lines.
    pub(crate) fn stop(mut self) -> Vec<String> {
        #[cfg(unix)]
        unsafe {
            unsafe extern "C" {
                fn kill(pid: i32, sig: i32) -> i32;
            }
            kill(self.child.id() as i32, 15);
        }
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.log.extend(self.rx.try_iter());
        std::mem::take(&mut self.log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh node's database, and a runtime to look into it between commands.
pub(crate) struct Node {
    db: TestDb,
    rt: tokio::runtime::Runtime,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

impl Node {
    pub(crate) fn new(backend: Backend) -> Option<Node> {
        let rt = runtime();
        let db = rt.block_on(fresh_db(backend))?;
        Some(Node { db, rt })
    }

    /// The node's data directory (its SQLite file and key).
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.db.dir.path().join("data")
    }

    /// Runs a future on this node's runtime.
    pub(crate) fn run_async<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// The arguments that point a command at this node's database.
    pub(crate) fn db_args(&self) -> Vec<String> {
        let mut v = vec!["--data-dir".to_string(), self.db.dir.path().join("data").display().to_string()];
        if let Some(url) = &self.db.url {
            v.push("--database-url".into());
            v.push(url.clone());
        }
        v
    }

    /// Runs `enlace ARGS --data-dir … [--database-url …]`.
    pub(crate) fn run(&self, args: &[&str]) -> Out {
        self.run_with_stdin(args, None)
    }

    /// Runs a command that should end at once (a refusal) with these environment variables;
    /// killed after a minute.
    pub(crate) fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        self.run_on_db(args, None, env, Duration::from_secs(60))
    }

    fn run_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Out {
        self.run_on_db(args, stdin, &[], Duration::from_secs(3600))
    }

    /// Runs with this node's database options after `args`, in its directory.
    fn run_on_db(&self, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)], limit: Duration) -> Out {
        let db = self.db_args();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(db.iter().map(String::as_str));
        run_raw_env(&all, stdin, Some(self.db.dir.path()), env, limit)
    }

    pub(crate) fn create_user(&self, username: &str, role: &str, state: &str, post: Option<&str>) -> Out {
        let mut args = vec![
            "admin",
            "create-user",
            "--username",
            username,
            "--role",
            role,
            "--state",
            state,
            "--password-stdin",
        ];
        if let Some(p) = post {
            args.extend(["--post", p]);
        }
        self.run_with_stdin(&args, Some(format!("{PW}\n").as_bytes()))
    }

    /// A protection supervisor of HN named `sup.hn` with the sensitive-data permission, who
    /// imports (and reads back every case, child cases included) in these tests.
    pub(crate) fn with_importer(self) -> Self {
        let args = [
            "admin",
            "create-user",
            "--username",
            "sup.hn",
            "--role",
            "protection_supervisor",
            "--state",
            "HN",
            "--sensitive-access",
            "--password-stdin",
        ];
        self.run_with_stdin(&args, Some(format!("{PW}\n").as_bytes())).assert_ok("create sup.hn");
        self
    }

    fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.db.dir.path().join(name);
        std::fs::write(&p, content).expect("write file");
        p
    }

    fn import(&self, file: &Path, extra: &[&str]) -> Out {
        let f = file.display().to_string();
        let mut args = vec!["import", "cases", f.as_str(), "--user", "sup.hn"];
        args.extend(extra);
        self.run(&args)
    }

    /// `export cases` to standard output, parsed.
    fn export(&self, extra: &[&str]) -> (Vec<String>, Vec<HashMap<String, String>>) {
        let mut args = vec!["export", "cases"];
        args.extend(extra);
        let out = self.run(&args);
        out.assert_ok("export cases");
        parse_csv(&out.stdout)
    }

    /// Runs `f` with an App open on this node's database, then closes it.
    pub(crate) fn inspect<T>(&self, f: impl AsyncFnOnce(&App) -> T) -> T {
        self.rt.block_on(async {
            let db = Db::connect(self.db.url.as_deref(), &self.db.dir.path().join("data"))
                .await
                .expect("connect to the node's database");
            let app = App::new(db, Settings::default());
            let v = f(&app).await;
            app.flush_audit().await.expect("flush read events");
            app.db().close().await;
            v
        })
    }

    /// Starts `enlace serve` on this node's database (127.0.0.1, a free port), JSON logs,
    /// with `env`; returns once it listens.
    pub(crate) fn serve(&self, env: &[(&str, &str)]) -> Server {
        use std::io::BufRead;
        let mut args: Vec<String> = vec!["serve".into(), "--listen".into(), "127.0.0.1:0".into()];
        args.extend(self.db_args());
        let mut child = Command::new(BIN)
            .args(&args)
            .envs(env.iter().copied())
            .env("ENLACE_LOG_FORMAT", "json")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stderr = child.stderr.take().expect("stderr");
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        let addr = loop {
            let line = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the server starts");
            log.push(line.clone());
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if let Some(a) = v["fields"]["address"].as_str() {
                break a.to_string();
            }
        };
        Server { child, base: format!("http://{addr}"), log, rx, reader: Some(reader) }
    }

    /// Whether this node's database is PostgreSQL.
    pub(crate) fn backend(&self) -> crate::harness::Backend {
        if self.db.url.is_some() {
            crate::harness::Backend::Postgres
        } else {
            crate::harness::Backend::Sqlite
        }
    }

    pub(crate) fn count_cases(&self) -> i64 {
        self.inspect(async |app| app.count_cases().await.expect("count"))
    }

    fn audit_actions(&self) -> Vec<String> {
        self.inspect(async |app| {
            enlace_store::audit::events_after(app.db(), 0, 1_000_000)
                .await
                .expect("audit")
                .into_iter()
                .map(|e| e.event.action)
                .collect()
        })
    }

    /// Every case sup.hn can see, as the API would show it (JSON), in number order.
    fn cases_as_json(&self) -> Vec<Value> {
        self.inspect(async |app| {
            let actor = app.actor_for("sup.hn").await.expect("sup.hn");
            let page =
                app.list_cases(&actor, CaseFilter { limit: 1000, ..Default::default() }).await.expect("list");
            let mut out = Vec::new();
            for s in page.items {
                let v = app.get_case(&actor, s.id).await.expect("get");
                out.push(serde_json::to_value(&v).expect("json"));
            }
            out.sort_by_key(|c| c["number"].as_str().unwrap().to_string());
            out
        })
    }

    fn search(&self, q: &str) -> Vec<String> {
        self.inspect(async |app| {
            let actor = app.actor_for("sup.hn").await.expect("sup.hn");
            let page = app
                .list_cases(&actor, CaseFilter { q: Some(q.into()), limit: 1000, ..Default::default() })
                .await
                .expect("search");
            page.items.into_iter().map(|s| s.person_name).collect()
        })
    }

    fn user_exists(&self, username: &str) -> bool {
        self.inspect(async |app| {
            enlace_store::users::find_user_credentials(app.db(), username).await.expect("find").is_some()
        })
    }

    fn can_log_in(&self, username: &str, password: &str) -> bool {
        self.inspect(async |app| {
            app.login(Credentials { username: username.into(), password: password.into(), totp: None }, None)
                .await
                .is_ok()
        })
    }
}

fn parse_csv(s: &str) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(s.as_bytes());
    let header: Vec<String> = r.headers().expect("header").iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.expect("row");
            header.iter().cloned().zip(rec.iter().map(String::from)).collect::<HashMap<_, _>>()
        })
        .collect();
    (header, rows)
}

/// The columns docs/csv.md documents: (the export-only ones in front, the import ones).
fn documented_columns() -> (Vec<String>, Vec<String>) {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/csv.md")).expect("docs/csv.md");
    let ticked = |s: &str| -> Vec<String> {
        s.split('`').enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, t)| t.to_string()).collect()
    };
    let front =
        ticked(doc.lines().find(|l| l.contains("An export adds, in front")).expect("export sentence"));
    let mut import = Vec::new();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split('|').nth(1).unwrap();
        import.extend(ticked(first_cell));
    }
    assert_eq!(front.len(), 6, "{front:?}");
    assert!(import.len() >= 20, "{import:?}");
    (front, import)
}

/// Runs a test body on a fresh SQLite node and a fresh PostgreSQL node (skipped, like the
/// harness, when PostgreSQL is not there and not required).
macro_rules! cli_both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    if let Some(node) = super::Node::new($crate::harness::Backend::Sqlite) {
                        super::$name(node);
                    }
                }
                #[test]
                fn postgres() {
                    if let Some(node) = super::Node::new($crate::harness::Backend::Postgres) {
                        super::$name(node);
                    }
                }
            }
        )+
    };
}
pub(crate) use cli_both;

cli_both!(
    migrate_twice_is_fine,
    create_user_reads_the_password_from_stdin_and_checks_its_input,
    demo_data_then_export_gives_the_documented_columns,
    import_of_a_valid_file_writes_every_row,
    import_with_bad_rows_imports_nothing_and_names_each_problem,
    import_skip_invalid_imports_the_good_rows_and_writes_the_report,
    import_refuses_broken_files_as_a_whole,
    import_needs_an_account_that_may_register_the_cases,
    import_errors_name_the_columns_of_the_file,
    import_line_numbers_follow_quoted_newlines,
    import_line_numbers_are_right_for_crlf_files,
    export_import_round_trip_into_a_fresh_node,
    report_grcm_writes_the_suppressed_tables_in_the_chosen_language,
);

/// `--help` of the binary and of every subcommand, found by walking the help itself.
#[test]
fn help_of_every_subcommand_exits_zero() {
    fn commands_of(help: &str) -> Vec<String> {
        let mut in_commands = false;
        let mut out = Vec::new();
        for line in help.lines() {
            if line.trim_end() == "Commands:" {
                in_commands = true;
                continue;
            }
            if in_commands {
                if line.trim().is_empty() || !line.starts_with("  ") {
                    break;
                }
                let name = line.split_whitespace().next().unwrap();
                if name != "help" {
                    out.push(name.to_string());
                }
            }
        }
        out
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut leaves: Vec<String> = Vec::new();
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = run_raw(&args, None, None);
        let shown = path.join(" ");
        out.assert_ok(&format!("enlace {shown} --help"));
        assert!(out.stdout.contains("Usage: enlace"), "enlace {shown} --help: {}", out.stdout);
        if !path.is_empty() {
            assert!(out.stdout.contains(&format!("Usage: enlace {shown}")), "{}", out.stdout);
            // `enlace help PATH` says the same.
            let mut h = vec!["help"];
            h.extend(path.iter().map(String::as_str));
            let via_help = run_raw(&h, None, None);
            via_help.assert_ok(&format!("enlace help {shown}"));
            assert_eq!(via_help.stdout, out.stdout, "enlace help {shown}");
        }
        let subs = commands_of(&out.stdout);
        if subs.is_empty() {
            leaves.push(shown.clone());
            // Every command that works on a node can be pointed at either database (`link`
            // and `pprl` work on files only).
            // The demo network keeps one SQLite file per node by design; `fed` commands other
            // than install-directory work on key and directory files.
            let files_only = matches!(path.first().map(String::as_str), Some("pprl" | "link" | "demo"))
                || (path.first().is_some_and(|c| c == "fed")
                    && path.get(1).is_some_and(|c| c != "install-directory"));
            if !files_only {
                assert!(out.stdout.contains("--data-dir"), "{shown}: {}", out.stdout);
                assert!(out.stdout.contains("--database-url"), "{shown}: {}", out.stdout);
            }
        }
        seen.insert(shown);
        for s in subs {
            let mut p = path.clone();
            p.push(s);
            todo.push(p);
        }
    }
    for expected in [
        "serve",
        "demo",
        "migrate",
        "admin",
        "admin create-user",
        "demo-data",
        "import",
        "import cases",
        "export",
        "export cases",
        "pprl encode",
        "pprl match",
        "link",
    ] {
        assert!(seen.contains(expected), "no help for {expected}: saw {seen:?}");
    }
    assert!(leaves.len() >= 7, "{leaves:?}");
    let v = run_raw(&["--version"], None, None);
    v.assert_ok("--version");
    assert!(v.stdout.starts_with("enlace "), "{}", v.stdout);
    // A misspelt command is an error, not a silent success.
    run_raw(&["migrat"], None, None).assert_failed("unknown subcommand");
}

fn migrate_twice_is_fine(node: Node) {
    let first = node.run(&["migrate"]);
    first.assert_ok("first migrate");
    assert!(first.stderr.contains("database is up to date"), "{}", first.stderr);
    let second = node.run(&["migrate"]);
    second.assert_ok("second migrate");
    assert!(second.stderr.contains("database is up to date"), "{}", second.stderr);
    // The node is usable afterwards: empty, and ready.
    assert_eq!(node.count_cases(), 0);
    node.inspect(async |app| app.ready().await.expect("ready after two migrations"));
    // A bad database URL is a clear failure, not a panic.
    let out = run_raw(&["migrate", "--database-url", "mysql://localhost/x"], None, Some(node.db.dir.path()));
    out.assert_failed("unsupported URL");
    assert!(out.error_line().contains("database"), "{}", out.stderr);
}

fn create_user_reads_the_password_from_stdin_and_checks_its_input(node: Node) {
    let out = node.create_user("sup.hn", "protection_supervisor", "HN", None);
    out.assert_ok("create a supervisor");
    assert!(out.stdout.contains("created user sup.hn"), "{}", out.stdout);
    assert!(node.can_log_in("sup.hn", PW), "the password read from stdin (without its newline) works");
    assert!(!node.can_log_in("sup.hn", "otra clave distinta"));

    // An unknown role names the role and lists the real ones.
    let out = node.create_user("boss.hn", "boss", "HN", None);
    out.assert_failed("unknown role");
    let msg = out.error_line();
    assert!(msg.contains("\"boss\""), "names the role: {}", out.stderr);
    assert!(msg.contains("protection_supervisor"), "lists the roles: {}", out.stderr);
    assert!(!node.user_exists("boss.hn"));

    // A short password.
    let out = node.run_with_stdin(
        &[
            "admin",
            "create-user",
            "--username",
            "short.pw",
            "--role",
            "auditor",
            "--state",
            "HN",
            "--password-stdin",
        ],
        Some(b"corta\n"),
    );
    out.assert_failed("short password");
    assert!(out.error_line().contains("password"), "{}", out.stderr);
    assert!(out.error_line().contains("10"), "says how long: {}", out.stderr);
    assert!(!node.user_exists("short.pw"));

    // No password at all on stdin.
    let out = node.run_with_stdin(
        &[
            "admin",
            "create-user",
            "--username",
            "no.pw",
            "--role",
            "auditor",
            "--state",
            "HN",
            "--password-stdin",
        ],
        Some(b""),
    );
    out.assert_failed("empty stdin");
    assert!(out.error_line().contains("password"), "{}", out.stderr);
    assert!(!node.user_exists("no.pw"));

    // --password-stdin is required: passwords never go on the command line.
    let out =
        node.run(&["admin", "create-user", "--username", "flag.less", "--role", "auditor", "--state", "HN"]);
    out.assert_failed("without --password-stdin");
    assert!(out.stderr.contains("--password-stdin"), "{}", out.stderr);
    assert!(!node.user_exists("flag.less"));

    // A consular officer belongs to a post.
    let out = node.create_user("officer.nopost", "consular_officer", "HN", None);
    out.assert_failed("officer without a post");
    assert!(out.error_line().contains("post"), "{}", out.stderr);
    assert!(!node.user_exists("officer.nopost"));
    // ... of their own state.
    let out = node.create_user("officer.wrongpost", "consular_officer", "HN", Some("GT-TAPACHULA"));
    out.assert_failed("officer at another state's post");
    assert!(out.error_line().contains("GT-TAPACHULA"), "{}", out.stderr);
    assert!(!node.user_exists("officer.wrongpost"));
    // ... that exists.
    let out = node.create_user("officer.nowhere", "consular_officer", "HN", Some("HN-NOWHERE"));
    out.assert_failed("officer at an unknown post");
    assert!(!node.user_exists("officer.nowhere"));
    // With a post of their state it works.
    node.create_user("officer.tap", "consular_officer", "HN", Some("HN-TAPACHULA"))
        .assert_ok("officer with post");
    assert!(node.can_log_in("officer.tap", PW));

    // An unknown state.
    let out = node.create_user("nobody.xx", "auditor", "XX", None);
    out.assert_failed("unknown state");
    assert!(!node.user_exists("nobody.xx"));

    // A taken user name: refused, and the existing account is untouched.
    let out = node.run_with_stdin(
        &[
            "admin",
            "create-user",
            "--username",
            "sup.hn",
            "--role",
            "auditor",
            "--state",
            "HN",
            "--password-stdin",
        ],
        Some(b"una clave completamente nueva\n"),
    );
    out.assert_failed("taken user name");
    assert!(out.error_line().contains("taken"), "{}", out.stderr);
    assert!(node.can_log_in("sup.hn", PW), "the first account keeps its password");
    assert!(!node.can_log_in("sup.hn", "una clave completamente nueva"));

    // Exactly the two good accounts were created, each audited.
    let creates = node.audit_actions().iter().filter(|a| *a == "user.create").count();
    assert_eq!(creates, 2);
}

fn demo_data_then_export_gives_the_documented_columns(node: Node) {
    let out = node.run(&["demo-data", "--cases", "50"]);
    out.assert_ok("demo-data");
    assert!(out.stderr.contains("generated 50 cases"), "{}", out.stderr);
    assert_eq!(node.count_cases(), 50);

    let export = node.run(&["export", "cases"]);
    export.assert_ok("export");
    assert!(export.stderr.contains("exported 50 cases"), "{}", export.stderr);
    let (header, rows) = parse_csv(&export.stdout);
    assert_eq!(rows.len(), 50, "50 data rows");
    assert_eq!(export.stdout.lines().next().map(|l| l.split(',').count()), Some(header.len()));
    let (front, import) = documented_columns();
    assert_eq!(header[..front.len()], front[..], "the export-only columns come first");
    let rest: Vec<String> = header[front.len()..].to_vec();
    let rest_set: BTreeSet<&String> = rest.iter().collect();
    assert_eq!(rest_set.len(), rest.len(), "no column twice: {header:?}");
    assert_eq!(rest_set, import.iter().collect::<BTreeSet<_>>(), "the documented import columns");

    let numbers: BTreeSet<&str> = rows.iter().map(|r| r["number"].as_str()).collect();
    assert_eq!(numbers.len(), 50, "unique numbers");
    let ids: BTreeSet<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), 50, "unique ids");
    for r in &rows {
        assert!(r["number"].starts_with(&format!("{}-", r["owner_state"])), "{r:?}");
        assert!(!r["status"].is_empty() && !r["opened_at"].is_empty() && !r["sex"].is_empty(), "{r:?}");
        assert!(!r["given_names"].is_empty() || !r["surnames"].is_empty(), "every person has a name: {r:?}");
        if !r["parts"].is_empty() {
            let parts: Value = serde_json::from_str(&r["parts"]).expect("parts is JSON");
            assert!(parts.is_object(), "{parts}");
        }
    }

    // --output writes the same CSV to a file.
    let path = node.db.dir.path().join("export.csv");
    let p = path.display().to_string();
    node.run(&["export", "cases", "--output", &p]).assert_ok("export --output");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), export.stdout);

    // --state HN gives exactly the HN rows.
    let (_, hn) = node.export(&["--state", "HN"]);
    let expected = rows.iter().filter(|r| r["owner_state"] == "HN").count();
    assert!(expected > 0, "the demo data has HN cases");
    assert_eq!(hn.len(), expected);
    assert!(hn.iter().all(|r| r["owner_state"] == "HN"));

    // Exports are audited.
    assert!(node.audit_actions().iter().filter(|a| *a == "case.export").count() >= 3);
}

/// A file using most columns, with a byte-order mark, quoted commas, quotes and newlines.
fn valid_file() -> Vec<u8> {
    let child = json!({"child": {"accompaniment": "unaccompanied", "family_tracing": "in_progress",
        "host_protection_authority": "DIF Chiapas"}})
    .to_string()
    .replace('"', "\"\"");
    let detention = json!({"detention": {"detained_at": "2026-01-03T08:00:00Z",
        "place": "Estación migratoria Siglo XXI", "notice_received_at": "2026-01-04T09:00:00Z"}})
    .to_string()
    .replace('"', "\"\"");
    let mut s = String::from("\u{feff}");
    s.push_str(
        "owner_state,post,host_state,category,subtype,vulnerabilities,protection,protection_accepted_at,\
legal_basis,given_names,surnames,sex,birth_date,birth_year,age_min,age_max,age_estimated_on,birth_place,\
birth_state,nationalities,document_kind,document_number,document_state,languages,interpreter_needed,\
narrative,parts\n",
    );
    s.push_str(&format!(
        "HN,HN-TAPACHULA,MX,migration,unaccompanied_child,unaccompanied_child;indigenous_language,child,,\
vital_interest,Kevin;Josué,de la Cruz;Hernández,male,2014-03-02,,,,,\"San Pedro Sula, Cortés\",HN,HN,\
passport,F1234567,HN,quc;es,true,\"Localizado en la central de autobuses.\nDijo: \"\"viajo solo\"\".\",\"{child}\"\n"
    ));
    s.push_str(&format!(
        ",,MX,criminal,detention,,accepted,2026-01-04T10:00:00Z,consular_function,María,Gutiérrez,Female,,\
1990,,,,,,HN;GT,,,,es,false,,\"{detention}\"\n"
    ));
    s.push_str(
        ",,GT,labour,unpaid_wages,stateless,pending,,consent,,Pérez,unknown,,,30,35,2026-01-10,,,,,,,,,,\n",
    );
    s.into_bytes()
}

fn import_of_a_valid_file_writes_every_row(node: Node) {
    let node = node.with_importer();
    let f = node.file("valid.csv", &valid_file());
    let out = node.import(&f, &[]);
    out.assert_ok("import a valid file");
    assert!(out.stderr.contains("imported 3 of 3 rows"), "{}", out.stderr);
    assert_eq!(node.count_cases(), 3);

    let cases = node.cases_as_json();
    assert_eq!(cases.len(), 3);
    let year = chrono::Utc::now().format("%Y").to_string();
    let numbers: Vec<&str> = cases.iter().map(|c| c["number"].as_str().unwrap()).collect();
    assert_eq!(
        numbers,
        [format!("HN-{year}-000001"), format!("HN-{year}-000002"), format!("HN-{year}-000003")]
    );
    let (a, b, c) = (&cases[0], &cases[1], &cases[2]);

    assert_eq!(a["status"], "intake");
    assert_eq!(a["owner_state"], "HN");
    assert_eq!(a["post"], "HN-TAPACHULA");
    assert_eq!(a["host_state"], "MX");
    assert_eq!(a["category"], "migration");
    assert_eq!(a["subtype"], "unaccompanied_child");
    assert_eq!(a["vulnerabilities"], json!(["unaccompanied_child", "indigenous_language"]));
    assert_eq!(a["protection"], json!({"state": "not_possible", "reason": "child"}));
    assert_eq!(a["legal_basis"], "vital_interest");
    let p = &a["person"];
    assert_eq!(p["given_names"], json!(["Kevin", "Josué"]));
    assert_eq!(p["surnames"], json!(["de la Cruz", "Hernández"]));
    assert_eq!(p["sex"], "male");
    assert_eq!(p["birth"], json!({"kind": "date", "date": "2014-03-02"}));
    assert_eq!(p["birth_place"], "San Pedro Sula, Cortés");
    assert_eq!(p["birth_state"], "HN");
    assert_eq!(p["nationalities"], json!(["HN"]));
    assert_eq!(p["documents"], json!([{"kind": "passport", "number": "F1234567", "issuing_state": "HN"}]));
    assert_eq!(p["languages"], json!(["quc", "es"]));
    assert_eq!(p["interpreter_needed"], true);
    assert_eq!(a["narrative"], "Localizado en la central de autobuses.\nDijo: \"viajo solo\".");
    assert_eq!(a["child"]["accompaniment"], "unaccompanied");
    assert_eq!(a["child"]["host_protection_authority"], "DIF Chiapas");

    assert_eq!(b["owner_state"], "HN", "defaults to the importer's state");
    assert_eq!(b["post"], Value::Null, "the importer has no post");
    assert_eq!(b["protection"]["state"], "accepted");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(b["protection"]["at"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339("2026-01-04T10:00:00Z").unwrap()
    );
    assert_eq!(b["person"]["sex"], "female", "sex is case-insensitive");
    assert_eq!(b["person"]["birth"], json!({"kind": "year", "year": 1990}));
    assert_eq!(b["person"]["nationalities"], json!(["HN", "GT"]));
    assert_eq!(b["detention"]["place"], "Estación migratoria Siglo XXI");

    assert_eq!(c["person"]["given_names"], json!([]));
    assert_eq!(c["person"]["nationalities"], json!([]), "a stateless person");
    assert_eq!(
        c["person"]["birth"],
        json!({"kind": "estimated_age", "min_years": 30, "max_years": 35, "estimated_on": "2026-01-10"})
    );
    assert_eq!(c["vulnerabilities"], json!(["stateless"]));
    assert_eq!(c["protection"], json!({"state": "pending"}));

    // Imported cases are searchable like any other.
    assert_eq!(node.search("hernandez").len(), 1);
    assert_eq!(node.search("gutierrez").len(), 1);
    assert_eq!(node.search("f1234567").len(), 1);
    // Audited: each case, and the import itself.
    let actions = node.audit_actions();
    assert_eq!(actions.iter().filter(|a| *a == "case.create").count(), 3);
    assert_eq!(actions.iter().filter(|a| *a == "case.import").count(), 1);
}

const BAD_HEADER: &str =
    "host_state,category,subtype,legal_basis,sex,given_names,surnames,birth_date,nationalities,owner_state";

/// Lines 2 and 7 are good; 3 to 6 each have one problem.
fn file_with_bad_rows() -> Vec<u8> {
    format!(
        "{BAD_HEADER}\n\
MX,migration,documentation,consent,female,Ana,Lopera,1990-01-02,HN,HN\n\
MX,kidnapping,documentation,consent,female,Berta,Mejía,1990-01-02,HN,HN\n\
MX,migration,documentation,consent,female,Carla,Núñez,2999-01-01,HN,HN\n\
,migration,documentation,consent,female,Dora,Paz,1990-01-02,HN,HN\n\
MX,migration,documentation,consent,female,Elena,Ruiz,1990-01-02,GT,HN\n\
MX,migration,documentation,consent,male,Fabio,Soto,1990-01-02,HN,HN\n"
    )
    .into_bytes()
}

fn import_with_bad_rows_imports_nothing_and_names_each_problem(node: Node) {
    let node = node.with_importer();
    let before = node.audit_actions().len();
    let f = node.file("bad.csv", &file_with_bad_rows());
    let report = node.db.dir.path().join("report.csv");
    let r = report.display().to_string();
    let out = node.import(&f, &["--report", &r]);
    out.assert_failed("a file with bad rows");
    let e = &out.stderr;
    assert!(e.contains("line 3, column category: \"kidnapping\" is not a category"), "{e}");
    // The future birth date is reported on line 4 (which column it names: see
    // import_errors_name_the_columns_of_the_file).
    assert!(e.contains("line 4, column ") && e.contains("is in the future"), "{e}");
    assert!(e.contains("line 5, column host_state: is required"), "{e}");
    assert!(e.contains("line 6, column owner_state: HN is not among the person's nationalities"), "{e}");
    for good in ["line 2", "line 7"] {
        assert!(!e.contains(&format!("{good},")) && !e.contains(&format!("{good}:")), "{good} is fine: {e}");
    }
    let msg = out.error_line();
    assert!(msg.contains("4 invalid row(s)") && msg.contains("nothing was imported"), "{e}");
    // Nothing was written: no case, no audit event.
    assert_eq!(node.count_cases(), 0);
    assert_eq!(node.audit_actions().len(), before);
    // The report was still written, for the person fixing the file.
    let (h, rows) = parse_csv(&std::fs::read_to_string(&report).expect("report written"));
    assert_eq!(h, ["line", "column", "reason"]);
    let lines: Vec<&str> = rows.iter().map(|r| r["line"].as_str()).collect();
    assert_eq!(lines, ["3", "4", "5", "6"]);
}

fn import_skip_invalid_imports_the_good_rows_and_writes_the_report(node: Node) {
    let node = node.with_importer();
    let f = node.file("bad.csv", &file_with_bad_rows());
    let report = node.db.dir.path().join("r.csv");
    let r = report.display().to_string();
    let out = node.import(&f, &["--skip-invalid", "--report", &r]);
    out.assert_ok("--skip-invalid");
    assert!(out.stderr.contains("imported 2 of 6 rows (4 invalid rows skipped)"), "{}", out.stderr);
    assert!(out.stderr.contains("line 3, column category:"), "still reported: {}", out.stderr);
    assert_eq!(node.count_cases(), 2);
    let mut names = node.search("lopera");
    names.extend(node.search("soto"));
    assert_eq!(names, ["Ana Lopera", "Fabio Soto"]);
    for bad in ["mejia", "nunez", "paz", "ruiz"] {
        assert!(node.search(bad).is_empty(), "{bad} was not imported");
    }
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(text.starts_with("line,column,reason\n"), "{text}");
    let (_, rows) = parse_csv(&text);
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r["line"].as_str(), r["column"].as_str())).collect();
    assert_eq!(got.len(), 4, "{text}");
    assert_eq!(got[0], ("3", "category"));
    assert_eq!(got[1].0, "4");
    assert_eq!(got[2], ("5", "host_state"));
    assert_eq!(got[3], ("6", "owner_state"));
    assert!(rows[0]["reason"].contains("kidnapping"), "{text}");
    assert_eq!(rows[2]["reason"], "is required");
    assert!(rows[1]["reason"].contains("future"), "{text}");
    let actions = node.audit_actions();
    assert_eq!(actions.iter().filter(|a| *a == "case.create").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "case.import").count(), 1);
}

fn import_refuses_broken_files_as_a_whole(node: Node) {
    let node = node.with_importer();
    let before = node.audit_actions().len();
    let h = "host_state,category,subtype,legal_basis,sex,given_names,surnames,nationalities";
    let g = "MX,migration,documentation,consent,female,Ana,López,HN";
    let mut utf8 = format!("{h}\n{g}\n{g}\n").into_bytes();
    utf8.extend_from_slice(b"MX,migration,documentation,consent,female,\xff\xffAna,L\xf3pez,HN\n");
    utf8.extend_from_slice(format!("{g}\n").as_bytes());
    let files: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("utf8.csv", utf8, vec!["line 4", "UTF-8"]),
        (
            "ragged.csv",
            format!("{h}\n{g}\nMX,migration,documentation,consent,female,Ana\n{g}\n").into_bytes(),
            vec!["line 3", "6 fields", "8"],
        ),
        (
            "unknown.csv",
            format!("{h},colour\n{g},red\n").into_bytes(),
            vec!["line 1", "unknown column", "colour"],
        ),
        ("twice.csv", format!("{h},sex\n{g},male\n").into_bytes(), vec!["line 1", "sex", "twice"]),
        (
            "missing.csv",
            "category,subtype,legal_basis,sex\nmigration,documentation,consent,female\n".as_bytes().to_vec(),
            vec!["line 1", "host_state", "missing"],
        ),
        ("header-only.csv", format!("{h}\n").into_bytes(), vec!["no rows"]),
        ("empty.csv", Vec::new(), vec!["empty"]),
    ];
    for (name, content, expect) in files {
        let f = node.file(name, &content);
        for extra in [&[][..], &["--skip-invalid"][..]] {
            let out = node.import(&f, extra);
            out.assert_failed(&format!("{name} {extra:?}"));
            let msg = out.error_line();
            for e in &expect {
                assert!(msg.contains(e), "{name} {extra:?}: expected {e:?} in {msg:?}\n{}", out.stderr);
            }
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            assert_eq!(node.count_cases(), 0, "{name} {extra:?}: nothing imported");
        }
    }
    assert_eq!(node.audit_actions().len(), before, "nothing audited as imported");
    // A file that is not there.
    let out = node.import(&node.db.dir.path().join("nope.csv"), &[]);
    out.assert_failed("missing file");
    assert!(out.error_line().contains("nope.csv"), "{}", out.stderr);
}

fn import_needs_an_account_that_may_register_the_cases(node: Node) {
    let node = node.with_importer();
    node.create_user("auditor.hn", "auditor", "HN", None).assert_ok("auditor");
    let good = "host_state,category,subtype,legal_basis,sex,given_names,nationalities,owner_state\n\
MX,migration,documentation,consent,female,Ana,HN,HN\n";
    let f = node.file("good.csv", good.as_bytes());
    // --user is required, and must be an account.
    let fs = f.display().to_string();
    node.run(&["import", "cases", &fs]).assert_failed("without --user");
    let out = node.run(&["import", "cases", &fs, "--user", "nobody"]);
    out.assert_failed("unknown user");
    assert!(out.error_line().contains("user"), "{}", out.stderr);
    // An auditor does not register cases.
    let out = node.run(&["import", "cases", &fs, "--user", "auditor.hn"]);
    out.assert_failed("auditor");
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);
    assert_eq!(node.count_cases(), 0);
    // A Honduran supervisor does not register Guatemalan cases.
    let gt = "host_state,category,subtype,legal_basis,sex,given_names,nationalities,owner_state\n\
MX,migration,documentation,consent,female,Ana,HN,HN\n\
MX,migration,documentation,consent,female,Gloria,GT,GT\n";
    let f = node.file("gt.csv", gt.as_bytes());
    let out = node.import(&f, &[]);
    out.assert_failed("another state's cases");
    assert!(out.stderr.contains("line 3, column owner_state:"), "{}", out.stderr);
    assert!(!out.stderr.contains("line 2"), "{}", out.stderr);
    assert_eq!(node.count_cases(), 0);
    // The good file, by the right account, imports.
    node.import(&node.file("good2.csv", good.as_bytes()), &[]).assert_ok("good import");
    assert_eq!(node.count_cases(), 1);
}

/// docs/csv.md: each problem is reported as `line N, column C: reason`: C is a column of the
/// file, so the person fixing it can find the cell, also for rules checked on the whole case.
fn import_errors_name_the_columns_of_the_file(node: Node) {
    let node = node.with_importer();
    let detention = json!({"detention": {"detained_at": "2026-01-02T00:00:00Z", "place": "X",
        "notice_received_at": "2026-01-01T00:00:00Z"}})
    .to_string()
    .replace('"', "\"\"");
    let header = "host_state,category,subtype,legal_basis,sex,given_names,surnames,birth_date,protection,protection_accepted_at,parts";
    let content = format!(
        "{header}\n\
MX,migration,documentation,consent,female,Ana,López,2999-01-01,,,\n\
MX,migration,documentation,consent,female,Ana,López,,accepted,2999-01-01T00:00:00Z,\n\
MX,migration,documentation,consent,female,,,,,,\n\
MX,migration,detention,consent,female,Ana,López,,,,\"{detention}\"\n"
    );
    let f = node.file("cols.csv", content.as_bytes());
    let report = node.db.dir.path().join("cols-report.csv");
    let r = report.display().to_string();
    let out = node.import(&f, &["--report", &r]);
    out.assert_failed("bad rows");
    assert_eq!(node.count_cases(), 0);
    let (_, rows) = parse_csv(&std::fs::read_to_string(&report).expect("report"));
    let columns: BTreeSet<&str> = header.split(',').collect();
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r["line"].as_str(), r["column"].as_str())).collect();
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), ["2", "3", "4", "5"], "{got:?}");
    for (line, col) in &got {
        assert!(columns.contains(col), "line {line}: column {col:?} is not a column of the file {columns:?}");
    }
    assert_eq!(
        got,
        [("2", "birth_date"), ("3", "protection_accepted_at"), ("4", "given_names"), ("5", "parts")]
    );
    assert!(out.stderr.contains("line 2, column birth_date: is in the future"), "{}", out.stderr);
}

fn import_line_numbers_follow_quoted_newlines(node: Node) {
    let node = node.with_importer();
    let content = "host_state,category,subtype,legal_basis,sex,given_names,narrative\n\
MX,migration,documentation,consent,female,Ana,\"una\ndos\ntres\"\n\
MX,migration,documentation,consent,female,Ana,x\n\
MX,bogus,documentation,consent,female,Ana,x\n";
    let out = node.import(&node.file("ml.csv", content.as_bytes()), &[]);
    out.assert_failed("bad row");
    assert!(out.stderr.contains("line 6, column category:"), "header 1, rows at 2-4, 5, 6: {}", out.stderr);
    assert_eq!(node.count_cases(), 0);
}

/// CRLF is the RFC 4180 line end, and what spreadsheets on Windows write.
fn import_line_numbers_are_right_for_crlf_files(node: Node) {
    let node = node.with_importer();
    let content = "host_state,category,subtype,legal_basis,sex,given_names,narrative\r\n\
MX,migration,documentation,consent,female,Ana,x\r\n\
MX,migration,documentation,consent,female,Ana,x\r\n\
MX,bogus,documentation,consent,female,Ana,x\r\n";
    let out = node.import(&node.file("crlf.csv", content.as_bytes()), &[]);
    out.assert_failed("bad row");
    assert!(out.stderr.contains("line 4, column category:"), "the bad row is line 4: {}", out.stderr);
    let ragged = "host_state,category,subtype,legal_basis,sex,given_names,narrative\r\n\
MX,migration,documentation,consent,female,Ana,x\r\n\
MX,migration,documentation,consent,female,Ana,x\r\n\
MX,migration\r\n";
    let out = node.import(&node.file("crlf-ragged.csv", ragged.as_bytes()), &[]);
    out.assert_failed("ragged row");
    assert!(out.error_line().contains("line 4:"), "the short row is line 4: {}", out.stderr);
    assert_eq!(node.count_cases(), 0);
}

/// The rows of an export projected on the import columns, `parts` as JSON, sorted.
fn comparable(rows: &[HashMap<String, String>], import: &[String]) -> Vec<Vec<(String, Value)>> {
    let mut out: Vec<Vec<(String, Value)>> = rows
        .iter()
        .map(|r| {
            import
                .iter()
                .map(|c| {
                    let v = &r[c];
                    let v = if c == "parts" && !v.is_empty() {
                        serde_json::from_str(v).expect("parts JSON")
                    } else {
                        Value::String(v.clone())
                    };
                    (c.clone(), v)
                })
                .collect()
        })
        .collect();
    out.sort_by_key(|r| serde_json::to_string(r).unwrap());
    out
}

fn round_trip(source: &Node, target: &Node) {
    source.run(&["demo-data", "--cases", "300"]).assert_ok("demo-data");
    let exported = source.db.dir.path().join("hn.csv");
    let e = exported.display().to_string();
    source.run(&["export", "cases", "--state", "HN", "--output", &e]).assert_ok("export HN");
    let (_, before) = parse_csv(&std::fs::read_to_string(&exported).unwrap());
    assert!(before.len() >= 30, "enough HN cases to mean something: {}", before.len());
    // The sample exercises what must survive.
    assert!(before.iter().any(|r| !r["vulnerabilities"].is_empty()));
    assert!(before.iter().any(|r| r["vulnerabilities"].contains(';')));
    assert!(before.iter().filter(|r| !r["parts"].is_empty()).count() >= 5);
    assert!(before.iter().any(|r| r["surnames"].contains(' ') || r["given_names"].contains(' ')));
    assert!(before.iter().map(|r| &r["subtype"]).collect::<BTreeSet<_>>().len() >= 5);
    assert!(before.iter().any(|r| r["status"] != "intake"));

    let out = target.import(&exported, &[]);
    out.assert_ok("import the export");
    assert!(out.stderr.contains(&format!("imported {n} of {n} rows", n = before.len())), "{}", out.stderr);
    let (_, after) = target.export(&[]);
    assert_eq!(after.len(), before.len());
    let (_, import_cols) = documented_columns();
    let (b, a) = (comparable(&before, &import_cols), comparable(&after, &import_cols));
    for (x, y) in b.iter().zip(&a) {
        assert_eq!(x, y, "a row changed in the round trip");
    }
    assert_eq!(b, a);
    // The explicit promises: names, categories, subtypes, vulnerabilities, parts.
    let key = |r: &HashMap<String, String>| {
        (
            r["given_names"].clone(),
            r["surnames"].clone(),
            r["category"].clone(),
            r["subtype"].clone(),
            r["vulnerabilities"].clone(),
            if r["parts"].is_empty() {
                Value::Null
            } else {
                serde_json::from_str::<Value>(&r["parts"]).unwrap()
            }
            .to_string(),
        )
    };
    let mut kb: Vec<_> = before.iter().map(key).collect();
    let mut ka: Vec<_> = after.iter().map(key).collect();
    kb.sort();
    ka.sort();
    assert_eq!(kb, ka);
    // The target node assigned its own numbers and started every case at intake.
    assert!(after.iter().all(|r| r["status"] == "intake"));
    let ids_before: BTreeSet<&str> = before.iter().map(|r| r["id"].as_str()).collect();
    assert!(after.iter().all(|r| !ids_before.contains(r["id"].as_str())), "new ids");
    let year = chrono::Utc::now().format("%Y").to_string();
    let mut numbers: Vec<&str> = after.iter().map(|r| r["number"].as_str()).collect();
    numbers.sort();
    let expected: Vec<String> = (1..=after.len()).map(|i| format!("HN-{year}-{i:06}")).collect();
    assert_eq!(numbers, expected);
}

fn export_import_round_trip_into_a_fresh_node(node: Node) {
    let backend = if node.db.url.is_some() { Backend::Postgres } else { Backend::Sqlite };
    let target = Node::new(backend).expect("a second database").with_importer();
    round_trip(&node, &target);
}

/// An export from a SQLite node imports into a PostgreSQL node unchanged.
#[test]
fn round_trip_from_sqlite_to_postgres() {
    let source = Node::new(Backend::Sqlite).expect("sqlite");
    let Some(target) = Node::new(Backend::Postgres) else { return };
    round_trip(&source, &target.with_importer());
}

fn report_grcm_writes_the_suppressed_tables_in_the_chosen_language(node: Node) {
    node.run(&["demo-data", "--cases", "400"]).assert_ok("demo-data");
    let year = chrono::Datelike::year(&chrono::Utc::now()).to_string();
    let out_file = node.data_dir().join("grcm-hn.csv");
    let out = out_file.to_str().unwrap();
    let args = ["report", "grcm", "--period", &year, "--state", "HN", "--lang", "fr", "--output", out];
    node.run(&args).assert_ok("report grcm");
    let text = std::fs::read_to_string(&out_file).unwrap();
    let (header, rows) = parse_csv(&text);
    assert_eq!(header[0], "État", "{header:?}");
    assert!(header.contains(&"Effectif".to_string()), "{header:?}");
    assert!(rows.iter().any(|r| r["Tableau"] == "opened_nationality_category"), "{text}");
    let mut counted = 0;
    for r in &rows {
        assert_eq!(r["État"], "HN");
        match r["Effectif"].as_str() {
            "" => assert_eq!(r["Note"], "supprimé"),
            n if r["Tableau"] != "art36" => {
                let n: u64 = n.parse().unwrap();
                assert!(n == 0 || n >= 5, "a small count in the report: {r:?}");
                counted += 1;
            }
            _ => {}
        }
    }
    assert!(counted > 0, "some figures are shown: {text}");
    assert!(node.audit_actions().iter().any(|a| a == "stats.report"));
    // The same as a workbook, in Spanish: a sheet of notes, then a sheet per table.
    let book = node.data_dir().join("grcm-hn.xlsx");
    let args = [
        "report",
        "grcm",
        "--period",
        &year,
        "--state",
        "HN",
        "--format",
        "xlsx",
        "--output",
        book.to_str().unwrap(),
    ];
    node.run(&args).assert_ok("report grcm xlsx");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&book).unwrap()).expect("an XLSX is a zip");
    let sheets = (0..zip.len())
        .filter(|i| zip.by_index(*i).unwrap().name().unwrap().starts_with("xl/worksheets/sheet"))
        .count();
    let tables = rows
        .iter()
        .filter(|r| r["Tableau"] != "art36")
        .map(|r| r["Tableau"].clone())
        .collect::<BTreeSet<_>>();
    assert_eq!(sheets, tables.len() + 1, "notes and one sheet per table");
    let mut names = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/workbook.xml").unwrap(), &mut names).unwrap();
    assert!(names.contains("name=\"Notas\"") && names.contains("01 opened nationality category"), "{names}");
    let mut strings = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/sharedStrings.xml").unwrap(), &mut strings).unwrap();
    assert!(strings.contains("Casos abiertos") && strings.contains("Metodología"), "{strings}");
    // And as PDF in each language: valid (qpdf), with the localized title and a title per
    // table (pdftotext), no small count shown.
    for (lang, title, opened) in [
        (
            "es",
            "Informe para el GRCM: casos de protección consular",
            "Casos abiertos — Nacionalidad × Categoría",
        ),
        ("en", "GRCM report: consular protection cases", "Cases opened — Nationality × Category"),
        (
            "fr",
            "Rapport pour le GRCM : dossiers de protection consulaire",
            "Dossiers ouverts — Nationalité × Catégorie",
        ),
    ] {
        let file = node.data_dir().join(format!("grcm-hn-{lang}.pdf"));
        let args = [
            "report", "grcm", "--period", &year, "--state", "HN", "--format", "pdf", "--lang", lang,
            "--output",
        ];
        let mut args = args.to_vec();
        args.push(file.to_str().unwrap());
        let out = node.run(&args);
        out.assert_ok("report grcm pdf");
        assert!(
            out.stderr.contains("13 tables") || out.stderr.contains(" tables (figures"),
            "{}",
            out.stderr
        );
        let text = crate::harness::pdf_text(&std::fs::read(&file).unwrap());
        let flat = crate::harness::squeeze(&text);
        assert!(flat.contains(title), "{lang}: {text}");
        assert!(flat.contains(opened), "{lang}: {text}");
        let titles = text.lines().filter(|l| l.contains(" × ")).count();
        assert!(titles >= tables.len(), "{lang}: {titles} table titles for {} tables: {text}", tables.len());
        crate::harness::rows_with_suppression(&text, "Honduras");
    }
    // What cannot be reported is refused with a reason, and nothing is written.
    let other = node.data_dir().join("none.csv");
    let other_s = other.to_str().unwrap();
    let bad = [
        (vec!["--period", "2099-H1", "--state", "HN"], "has not started"),
        (vec!["--period", "2026-S1", "--state", "HN"], "is not a period"),
        (vec!["--period", &year, "--state", "HN", "--lang", "de"], "choose es, en or fr"),
        (vec!["--period", &year, "--state", "HN", "--format", "docx"], "choose csv, xlsx or pdf"),
        (vec!["--period", &year, "--format", "xlsx"], "no state has submitted figures"),
        (vec!["--period", &year, "--state", "H1"], "--state"),
        (vec!["--period", &year], "no state has submitted figures"),
    ];
    for (extra, why) in bad {
        let mut a = vec!["report", "grcm", "--output", other_s];
        a.extend(extra);
        let o = node.run(&a);
        o.assert_failed(why);
        assert!(o.stderr.contains(why), "{why}: {}", o.stderr);
        assert!(!other.exists());
    }
}
