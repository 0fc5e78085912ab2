//! Cases: numbering, storage, search and listing.

use chrono::{DateTime, Utc};
use enlace_domain::audit::AuditEvent;
use enlace_domain::case::{Case, CaseNumber, CaseSummary, Category, Subtype, Vulnerability};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::{CaseId, PersonId, UserId};
use enlace_domain::person::Person;
use enlace_domain::post::PostCode;
use enlace_domain::record::Transition;
use enlace_domain::stat_facts::StatFacts;
use enlace_domain::workflow::Status;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::row::{RowExt, json, parse, parse_opt, to_json};
use crate::{Backend, Db, Inserts, StoreError, Tx, Val, bind_vals, on_read, on_tx};

/// Takes the next case sequence number of a state and year from the counters table.
/// The row lock it takes serialises concurrent creations for that state and year only. On
/// SQLite the writer holds the row for its whole batch and writes it back once before the
/// commit (`SqliteTx::flush`).
///
/// `then_audit`: the transaction will append to the audit log. On PostgreSQL the same statement
/// then also locks and reads the audit head (after the counter row), so that the case's event
/// can go with its INSERTs ([`insert_new_case`]): a registration holds the counter row for two
/// round trips (the INSERTs, the commit) whether audited or not. (SQLite's writer holds both
/// rows for its batch anyway.)
pub async fn next_seq(
    tx: &mut Tx,
    state: CountryCode,
    year: i32,
    then_audit: bool,
) -> Result<i64, StoreError> {
    const NEXT: &str = "INSERT INTO case_counters (owner_state, year, last_seq) VALUES ($1, $2, 1)
         ON CONFLICT (owner_state, year) DO UPDATE SET last_seq = case_counters.last_seq + 1
         RETURNING last_seq";
    match tx {
        Tx::Sqlite(t) => {
            if let Some((_, last, dirty)) =
                t.held.counters.iter_mut().find(|((s, y), _, _)| s == state.as_str() && *y == year)
            {
                *last += 1;
                *dirty = true;
                return Ok(*last);
            }
            let seq: i64 =
                sqlx::query_scalar(NEXT).bind(state.as_str()).bind(year as i64).fetch_one(&mut *t.tx).await?;
            t.held.counters.push(((state.as_str().to_string(), year), seq, false));
            Ok(seq)
        }
        Tx::Postgres(t) if then_audit && t.audit_head.is_none() => {
            let sql = format!("WITH {} {NEXT}, {}", crate::audit::LOCK_HEAD_CTE, crate::audit::HEAD_COLUMNS);
            let (seq, pos, hash): (i64, i64, String) = sqlx::query_as(AssertSqlSafe(sql))
                .bind(state.as_str())
                .bind(year as i64)
                .fetch_one(&mut *t.tx)
                .await?;
            crate::audit::pg_head_locked(t, pos, hash);
            Ok(seq)
        }
        Tx::Postgres(t) => {
            Ok(sqlx::query_scalar(NEXT).bind(state.as_str()).bind(year as i64).fetch_one(&mut *t.tx).await?)
        }
    }
}

fn first_contact_due(c: &Case) -> Option<DateTime<Utc>> {
    c.parts.first_contact_pending_due()
}

/// Inserts a case and its search terms.
pub async fn insert_case(tx: &mut Tx, c: &Case) -> Result<(), StoreError> {
    let mut ins = Inserts::default();
    push_case(&mut ins, c);
    ins.execute(tx).await
}

/// Inserts a new case in one round trip: its person when the person is new, the case, its
/// search terms, its first transition and, when given, its audit event.
pub async fn insert_new_case(
    tx: &mut Tx,
    c: &Case,
    new_person: Option<&Person>,
    first: &Transition,
    event: Option<&AuditEvent>,
) -> Result<(), StoreError> {
    let mut ins = Inserts::default();
    if let Some(p) = new_person {
        crate::persons::push_person(&mut ins, p, c.opened_at);
    }
    push_case(&mut ins, c);
    crate::records::push_transition(&mut ins, first);
    if let Some(e) = event {
        crate::audit::append_with(tx, &mut ins, e).await?;
    }
    ins.execute(tx).await
}

/// The INSERTs of a case row and its search terms.
fn push_case(ins: &mut Inserts, c: &Case) {
    let v = [
        Val::Uuid(c.id.0),
        Val::Text(c.owner_state.as_str().into()),
        Val::Int(c.number.year as i64),
        Val::Int(c.number.seq),
        Val::Int(c.version),
        Val::OptText(c.post.as_ref().map(|p| p.as_str().to_string())),
        Val::OptText(c.assisting_state.map(|s| s.as_str().to_string())),
        Val::Text(c.host_state.as_str().into()),
        Val::Text(c.category.as_str().into()),
        Val::Text(c.subtype.as_str().into()),
        Val::Int(Vulnerability::mask(&c.vulnerabilities)),
        Val::Text(c.status.as_str().into()),
        Val::OptUuid(c.assigned_officer.map(|u| u.0)),
        Val::Text(to_json(&c.protection)),
        Val::Text(c.legal_basis.as_str().into()),
        Val::OptText(c.narrative.as_ref().map(|n| n.as_str().to_string())),
        Val::Uuid(c.person_id.0),
        Val::Text(c.person.full_name()),
        Val::Text(to_json(&c.parts)),
        Val::OptTs(first_contact_due(c)),
        Val::Ts(c.opened_at),
        Val::Ts(c.updated_at),
        Val::OptTs(c.closed_at),
        Val::Uuid(c.created_by.0),
    ];
    let marks: Vec<String> = v.into_iter().map(|v| ins.arg(v)).collect();
    ins.push(format!(
        "INSERT INTO cases (id, owner_state, year, seq, version, post, assisting_state, host_state, category,
            subtype, vuln_mask, status, assigned_officer, protection, legal_basis, narrative, person_id,
            person_name, parts, first_contact_due_at, opened_at, updated_at, closed_at, created_by)
         VALUES ({})",
        marks.join(", ")
    ));
    push_terms(
        ins,
        &marks[0],
        c.owner_state,
        c.post.as_ref(),
        &enlace_domain::case::search_terms(&c.number, &c.person),
    );
    push_facts(ins, c);
}

/// The INSERT (or replacement) of a case's row of statistical facts.
fn push_facts(ins: &mut Inserts, c: &Case) {
    let v = [
        Val::Text(c.owner_state.as_str().into()),
        Val::Ts(c.opened_at),
        Val::Uuid(c.id.0),
        Val::OptTs(c.closed_at),
        Val::Text(pack_facts(c)),
    ];
    let marks: Vec<String> = v.into_iter().map(|v| ins.arg(v)).collect();
    // A case's state and opening time never change, so its key does not either.
    ins.push(format!(
        "INSERT INTO case_facts (owner_state, opened_at, case_id, closed_at, facts) VALUES ({})
         ON CONFLICT (owner_state, opened_at, case_id) DO UPDATE SET closed_at = excluded.closed_at,
             facts = excluded.facts",
        marks.join(", ")
    ));
}

/// Separates the packed values; none of them can hold it (codes, names of closed sets,
/// RFC 3339 times).
const SEP: char = '|';

fn ts_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A case's values for statistics in one text: the case's own dimension columns and its
/// [`StatFacts`], `|`-separated, in the order [`unpack_facts`] reads.
fn pack_facts(c: &Case) -> String {
    let f = StatFacts::of(c);
    let opt_ts = |t: Option<DateTime<Utc>>| t.map(ts_text).unwrap_or_default();
    [
        c.post.as_ref().map(|p| p.as_str().to_string()).unwrap_or_default(),
        c.host_state.as_str().to_string(),
        c.category.as_str().to_string(),
        c.subtype.as_str().to_string(),
        Vulnerability::mask(&c.vulnerabilities).to_string(),
        c.status.as_str().to_string(),
        ts_text(c.opened_at),
        opt_ts(c.closed_at),
        f.nationality.as_str().to_string(),
        f.sex.to_string(),
        f.age_band.to_string(),
        if f.unaccompanied { "1" } else { "0" }.to_string(),
        f.return_date.map(|d| d.to_string()).unwrap_or_default(),
        f.return_route.unwrap_or_default(),
        opt_ts(f.art36_learned_at),
        opt_ts(f.art36_contact_at),
    ]
    .join("|")
}

/// Reads what [`pack_facts`] wrote.
fn unpack_facts(s: &str) -> Result<StatsRow<'_>, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("case_facts: {what} in {s:?}"));
    let mut v = [""; 16];
    let mut parts = s.split(SEP);
    for slot in v.iter_mut() {
        *slot = parts.next().ok_or_else(|| bad("16 values expected"))?;
    }
    if parts.next().is_some() {
        return Err(bad("16 values expected"));
    }
    fn opt(x: &str) -> Option<&str> {
        (!x.is_empty()).then_some(x)
    }
    let ts =
        |x: &str| DateTime::parse_from_rfc3339(x).map(|t| t.with_timezone(&Utc)).map_err(|_| bad("a time"));
    let opt_ts = |x: &str| if x.is_empty() { Ok(None) } else { ts(x).map(Some) };
    Ok(StatsRow {
        post: opt(v[0]),
        host_state: v[1],
        category: v[2],
        subtype: v[3],
        vuln_mask: v[4].parse().map_err(|_| bad("vuln_mask"))?,
        status: v[5],
        opened_at: ts(v[6])?,
        closed_at: opt_ts(v[7])?,
        nationality: v[8],
        sex: v[9],
        age_band: v[10],
        unaccompanied: v[11] == "1",
        return_date: if v[12].is_empty() {
            None
        } else {
            Some(v[12].parse().map_err(|_| bad("return_date"))?)
        },
        return_route: opt(v[13]),
        art36_learned_at: opt_ts(v[14])?,
        art36_contact_at: opt_ts(v[15])?,
    })
}

/// Writes a case's statistical facts again (after a change of the case or of its person).
pub async fn put_facts(tx: &mut Tx, c: &Case) -> Result<(), StoreError> {
    let mut ins = Inserts::default();
    push_facts(&mut ins, c);
    ins.execute(tx).await
}

/// Writes again the statistical facts of every case of a person (after the person changed).
pub async fn refresh_facts_of_person(tx: &mut Tx, person: PersonId) -> Result<(), StoreError> {
    for id in case_ids_of_person(tx, person).await? {
        if let Some(c) = get_case_tx(tx, id).await? {
            put_facts(tx, &c).await?;
        }
    }
    Ok(())
}

/// Cases stored without statistical facts (by a version before them), after `after` in id
/// order, at most `limit`.
pub async fn cases_without_facts(
    db: &Db,
    after: Option<CaseId>,
    limit: i64,
) -> Result<Vec<CaseId>, StoreError> {
    let after = after.map(|c| c.0).unwrap_or(Uuid::nil());
    let ids: Vec<Uuid> = on_read!(db, p => sqlx::query_scalar(
        "SELECT c.id FROM cases c LEFT JOIN case_facts f ON f.case_id = c.id
         WHERE c.id > $1 AND f.case_id IS NULL ORDER BY c.id LIMIT $2")
        .bind(after).bind(limit).fetch_all(p).await?);
    Ok(ids.into_iter().map(CaseId).collect())
}

/// Writes every mutable column of `c` if the stored version is `c.version`, and bumps the
/// version. Returns false when the version did not match (the caller answers 409).
pub async fn update_case(tx: &mut Tx, c: &Case) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query(
        "UPDATE cases SET version = version + 1, post = $1, assisting_state = $2, host_state = $3,
            category = $4, subtype = $5, vuln_mask = $6, status = $7, assigned_officer = $8,
            protection = $9, legal_basis = $10, narrative = $11, parts = $12, first_contact_due_at = $13,
            updated_at = $14, closed_at = $15
         WHERE id = $16 AND version = $17")
        .bind(c.post.as_ref().map(|p| p.as_str().to_string()))
        .bind(c.assisting_state.map(|s| s.as_str().to_string())).bind(c.host_state.as_str())
        .bind(c.category.as_str()).bind(c.subtype.as_str()).bind(Vulnerability::mask(&c.vulnerabilities))
        .bind(c.status.as_str()).bind(c.assigned_officer.map(|u| u.0)).bind(to_json(&c.protection))
        .bind(c.legal_basis.as_str()).bind(c.narrative.as_ref().map(|n| n.as_str().to_string()))
        .bind(to_json(&c.parts)).bind(first_contact_due(c)).bind(c.updated_at).bind(c.closed_at)
        .bind(c.id.0).bind(c.version)
        .execute(&mut *conn).await?.rows_affected());
    if n == 1 {
        put_facts(tx, c).await?;
        // The search terms carry the post (an officer's search reads them by post).
        on_tx!(tx, conn => sqlx::query(
            "UPDATE case_search SET post = $1 WHERE case_id = $2 AND post IS DISTINCT FROM $1")
            .bind(c.post.as_ref().map(|p| p.as_str().to_string())).bind(c.id.0)
            .execute(&mut *conn).await.map(|_| ())?);
    }
    Ok(n == 1)
}

/// Replaces a case's search terms (each carries the case's post, as stored).
pub async fn set_terms(
    tx: &mut Tx,
    id: CaseId,
    owner: CountryCode,
    terms: &[String],
) -> Result<(), StoreError> {
    let post: Option<String> = on_tx!(tx, c => {
        sqlx::query("DELETE FROM case_search WHERE case_id = $1").bind(id.0).execute(&mut *c).await?;
        sqlx::query_scalar("SELECT post FROM cases WHERE id = $1").bind(id.0).fetch_optional(&mut *c).await?.flatten()
    });
    let post = post
        .map(|p| PostCode::parse(&p))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("post: {e}")))?;
    let mut ins = Inserts::default();
    let id = ins.arg(Val::Uuid(id.0));
    push_terms(&mut ins, &id, owner, post.as_ref(), terms);
    ins.execute(tx).await
}

/// The INSERT of search terms (de-duplicated by the caller) of the case whose id is bound to
/// the placeholder `id`.
fn push_terms(ins: &mut Inserts, id: &str, owner: CountryCode, post: Option<&PostCode>, terms: &[String]) {
    if terms.is_empty() {
        return;
    }
    let owner = ins.arg(Val::Text(owner.as_str().into()));
    let post = ins.arg(Val::OptText(post.map(|p| p.as_str().to_string())));
    let values: Vec<String> =
        terms.iter().map(|t| format!("({owner}, {}, {id}, {post})", ins.arg(Val::Text(t.clone())))).collect();
    ins.push(format!(
        "INSERT INTO case_search (owner_state, term, case_id, post) VALUES {} ON CONFLICT DO NOTHING",
        values.join(", ")
    ));
}

pub async fn case_ids_of_person(tx: &mut Tx, person: PersonId) -> Result<Vec<CaseId>, StoreError> {
    let ids: Vec<Uuid> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM cases WHERE person_id = $1")
        .bind(person.0).fetch_all(&mut *c).await?);
    Ok(ids.into_iter().map(CaseId).collect())
}

const CASE_SELECT: &str = "SELECT c.id, c.owner_state, c.year, c.seq, c.version, c.post, c.assisting_state, c.host_state, c.category, c.subtype, c.vuln_mask, c.status, c.assigned_officer, c.protection, c.legal_basis, c.narrative, c.person_id, c.person_name, c.parts, c.first_contact_due_at, c.opened_at, c.updated_at, c.closed_at, c.created_by, p.data AS person_data, p.version AS person_version FROM cases c JOIN persons p ON p.id = c.person_id";

fn number_from_row(r: &impl RowExt) -> Result<CaseNumber, StoreError> {
    Ok(CaseNumber {
        state: parse("owner_state", &r.text("owner_state")?, CountryCode::parse)?,
        year: r.int("year")? as i32,
        seq: r.int("seq")?,
    })
}

fn opt_state(r: &impl RowExt, col: &str) -> Result<Option<CountryCode>, StoreError> {
    r.opt_text(col)?.map(|s| parse(col, &s, CountryCode::parse)).transpose()
}

fn opt_post(r: &impl RowExt) -> Result<Option<PostCode>, StoreError> {
    r.opt_text("post")?.map(|s| parse("post", &s, PostCode::parse)).transpose()
}

fn case_from_row(r: &impl RowExt) -> Result<Case, StoreError> {
    let number = number_from_row(r)?;
    Ok(Case {
        id: CaseId(r.uuid("id")?),
        owner_state: number.state,
        number,
        version: r.int("version")?,
        post: opt_post(r)?,
        assisting_state: opt_state(r, "assisting_state")?,
        host_state: parse("host_state", &r.text("host_state")?, CountryCode::parse)?,
        category: parse_opt("category", &r.text("category")?, Category::parse)?,
        subtype: parse_opt("subtype", &r.text("subtype")?, Subtype::parse)?,
        vulnerabilities: Vulnerability::from_mask(r.int("vuln_mask")?),
        status: parse_opt("status", &r.text("status")?, Status::parse)?,
        assigned_officer: r.opt_uuid("assigned_officer")?.map(UserId),
        protection: json("protection", &r.text("protection")?)?,
        legal_basis: parse_opt(
            "legal_basis",
            &r.text("legal_basis")?,
            enlace_domain::case::LegalBasis::parse,
        )?,
        narrative: r
            .opt_text("narrative")?
            .map(|n| parse("narrative", &n, enlace_domain::person::LongText::parse))
            .transpose()?,
        person_id: PersonId(r.uuid("person_id")?),
        person: json("person_data", &r.text("person_data")?)?,
        person_version: r.int("person_version")?,
        parts: json("parts", &r.text("parts")?)?,
        opened_at: r.ts("opened_at")?,
        updated_at: r.ts("updated_at")?,
        closed_at: r.opt_ts("closed_at")?,
        created_by: UserId(r.uuid("created_by")?),
    })
}

fn summary_from_row(r: &impl RowExt, now: DateTime<Utc>) -> Result<CaseSummary, StoreError> {
    let number = number_from_row(r)?;
    Ok(CaseSummary {
        id: CaseId(r.uuid("id")?),
        owner_state: number.state,
        number,
        post: opt_post(r)?,
        host_state: parse("host_state", &r.text("host_state")?, CountryCode::parse)?,
        category: parse_opt("category", &r.text("category")?, Category::parse)?,
        subtype: parse_opt("subtype", &r.text("subtype")?, Subtype::parse)?,
        vulnerabilities: Vulnerability::from_mask(r.int("vuln_mask")?),
        status: parse_opt("status", &r.text("status")?, Status::parse)?,
        person_name: r.text("person_name")?,
        assigned_officer: r.opt_uuid("assigned_officer")?.map(UserId),
        opened_at: r.ts("opened_at")?,
        updated_at: r.ts("updated_at")?,
        first_contact_overdue: r.opt_ts("first_contact_due_at")?.is_some_and(|d| d < now),
        restricted: false,
    })
}

pub async fn get_case(db: &Db, id: CaseId) -> Result<Option<Case>, StoreError> {
    let sql = AssertSqlSafe(format!("{CASE_SELECT} WHERE c.id = $1"));
    on_read!(db, p => {
        let row = sqlx::query(sql).bind(id.0).fetch_optional(p).await?;
        row.as_ref().map(case_from_row).transpose()
    })
}

/// The live (not anonymised) cases about a person.
pub async fn cases_of_person(db: &Db, person: PersonId) -> Result<Vec<Case>, StoreError> {
    let sql = AssertSqlSafe(format!("{CASE_SELECT} WHERE c.person_id = $1 AND c.anonymised_at IS NULL"));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(person.0).fetch_all(p).await?;
        rows.iter().map(case_from_row).collect()
    })
}

/// A page of the open missing-person cases (subtype `whereabouts`), by id after `after`.
pub async fn open_missing_cases(db: &Db, after: Option<CaseId>, limit: i64) -> Result<Vec<Case>, StoreError> {
    let sql = AssertSqlSafe(format!(
        "{CASE_SELECT} WHERE c.subtype = 'whereabouts' AND c.status <> 'closed' AND c.anonymised_at IS NULL
         AND c.id > $1 ORDER BY c.id LIMIT $2"
    ));
    let after = after.map(|c| c.0).unwrap_or(Uuid::nil());
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(after).bind(limit).fetch_all(p).await?;
        rows.iter().map(case_from_row).collect()
    })
}

pub async fn get_case_tx(tx: &mut Tx, id: CaseId) -> Result<Option<Case>, StoreError> {
    let sql = AssertSqlSafe(format!("{CASE_SELECT} WHERE c.id = $1"));
    on_tx!(tx, c => {
        let row = sqlx::query(sql).bind(id.0).fetch_optional(&mut *c).await?;
        row.as_ref().map(case_from_row).transpose()
    })
}

pub async fn get_case_by_number(db: &Db, n: &CaseNumber) -> Result<Option<Case>, StoreError> {
    let sql = AssertSqlSafe(format!("{CASE_SELECT} WHERE c.owner_state = $1 AND c.year = $2 AND c.seq = $3"));
    on_read!(db, p => {
        let row = sqlx::query(sql).bind(n.state.as_str()).bind(n.year as i64).bind(n.seq).fetch_optional(p).await?;
        row.as_ref().map(case_from_row).transpose()
    })
}

/// Which cases a reader may see. Built by the application layer from the user's role; the
/// store only turns it into SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every case on the node (system jobs only).
    All,
    /// Cases owned by, or assisted by a post of, one of these states.
    States(Vec<CountryCode>),
    /// Cases worked by one of these posts, or assigned to this user.
    Posts { posts: Vec<PostCode>, user: UserId },
    /// No case at all.
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseSort {
    #[default]
    Opened,
    Updated,
    Number,
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Time(DateTime<Utc>, Uuid),
    Number(CaseNumber),
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = match self {
            Cursor::Time(t, id) => format!("t|{}|{id}", t.timestamp_micros()),
            Cursor::Number(n) => format!("n|{n}"),
        };
        raw.bytes().map(|b| format!("{b:02x}")).collect()
    }
    pub fn decode(s: &str) -> Result<Cursor, String> {
        let bad = || "is not a cursor returned by this API".to_string();
        if !s.len().is_multiple_of(2) || s.len() > 200 {
            return Err(bad());
        }
        let bytes: Result<Vec<u8>, _> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16))
            .collect();
        let raw = String::from_utf8(bytes.map_err(|_| bad())?).map_err(|_| bad())?;
        let mut it = raw.split('|');
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some("t"), Some(t), Some(id), None) => {
                let micros: i64 = t.parse().map_err(|_| bad())?;
                let t = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
                Ok(Cursor::Time(t, Uuid::parse_str(id).map_err(|_| bad())?))
            }
            (Some("n"), Some(n), None, None) => Ok(Cursor::Number(CaseNumber::parse(n).map_err(|_| bad())?)),
            _ => Err(bad()),
        }
    }
}

/// Filters of a case list. Empty means "any".
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub owner_state: Option<CountryCode>,
    pub post: Option<PostCode>,
    pub category: Option<Category>,
    pub subtype: Option<Subtype>,
    pub statuses: Vec<Status>,
    /// Cases carrying all of these flags.
    pub vulnerabilities: Vec<Vulnerability>,
    pub opened_from: Option<DateTime<Utc>>,
    pub opened_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    pub assigned_officer: Option<UserId>,
    /// Only detentions whose first consular contact is overdue at `now`.
    pub first_contact_overdue: bool,
    /// Only cases whose latest action asks for a follow-up on or before this day.
    pub follow_up_due: Option<chrono::NaiveDate>,
    /// Free text: a case number, or words of the person's names (accent- and case-insensitive,
    /// each word matching as a prefix).
    pub q: Option<String>,
    pub sort: CaseSort,
    pub descending: bool,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

struct Sql {
    text: String,
    vals: Vec<Val>,
}

impl Sql {
    fn arg(&mut self, v: Val) -> String {
        self.vals.push(v);
        format!("${}", self.vals.len())
    }
}

fn scope_sql(sql: &mut Sql, scope: &Scope) {
    match scope {
        Scope::All => {}
        Scope::Nothing => sql.text.push_str(" AND 1 = 0"),
        Scope::States(states) => {
            let list: Vec<String> = states.iter().map(|s| sql.arg(Val::Text(s.as_str().into()))).collect();
            let list = list.join(", ");
            sql.text.push_str(&format!(" AND (c.owner_state IN ({list}) OR c.assisting_state IN ({list}))"));
        }
        Scope::Posts { posts, user } => {
            let mut cond: Vec<String> = Vec::new();
            if !posts.is_empty() {
                let list: Vec<String> = posts.iter().map(|p| sql.arg(Val::Text(p.as_str().into()))).collect();
                cond.push(format!("c.post IN ({})", list.join(", ")));
            }
            cond.push(format!("c.assigned_officer = {}", sql.arg(Val::Uuid(user.0))));
            sql.text.push_str(&format!(" AND ({})", cond.join(" OR ")));
        }
    }
}

fn filter_sql(sql: &mut Sql, f: &CaseFilter, now: DateTime<Utc>) {
    let eq = |sql: &mut Sql, col: &str, v: Val| {
        let a = sql.arg(v);
        sql.text.push_str(&format!(" AND {col} = {a}"));
    };
    if let Some(s) = f.owner_state {
        eq(sql, "c.owner_state", Val::Text(s.as_str().into()));
    }
    if let Some(p) = &f.post {
        eq(sql, "c.post", Val::Text(p.as_str().into()));
    }
    if let Some(c) = f.category {
        eq(sql, "c.category", Val::Text(c.as_str().into()));
    }
    if let Some(s) = f.subtype {
        eq(sql, "c.subtype", Val::Text(s.as_str().into()));
    }
    if let Some(u) = f.assigned_officer {
        eq(sql, "c.assigned_officer", Val::Uuid(u.0));
    }
    // Statuses as literals: they come from a closed enum (never from the request's text), and
    // a literal `status = 'referred'` is what lets both planners use that status's partial
    // index (migration 0010), as with the flags below.
    match f.statuses.as_slice() {
        [] => {}
        [one] => sql.text.push_str(&format!(" AND c.status = '{}'", one.as_str())),
        many => {
            let list: Vec<String> = many.iter().map(|s| format!("'{}'", s.as_str())).collect();
            sql.text.push_str(&format!(" AND c.status IN ({})", list.join(", ")));
        }
    }
    // One condition per flag, with the bit as a literal: each is the predicate of that flag's
    // partial index (migration 0004), which both planners use only for an identical term.
    for v in &f.vulnerabilities {
        sql.text.push_str(&format!(" AND (c.vuln_mask & {}) <> 0", v.bit()));
    }
    let range = |sql: &mut Sql, col: &str, op: &str, v: Option<DateTime<Utc>>| {
        if let Some(t) = v {
            let a = sql.arg(Val::Ts(t));
            sql.text.push_str(&format!(" AND {col} {op} {a}"));
        }
    };
    range(sql, "c.opened_at", ">=", f.opened_from);
    range(sql, "c.opened_at", "<", f.opened_to);
    range(sql, "c.updated_at", ">=", f.updated_from);
    range(sql, "c.updated_at", "<", f.updated_to);
    if f.first_contact_overdue {
        let a = sql.arg(Val::Ts(now));
        sql.text
            .push_str(&format!(" AND c.first_contact_due_at IS NOT NULL AND c.first_contact_due_at < {a}"));
    }
    if let Some(d) = f.follow_up_due {
        let a = sql.arg(Val::Date(d));
        sql.text.push_str(&format!(
            // Driven by the partial index of follow-up dates (migration 0006): few actions
            // carry one, so the cases are found from them rather than checked one by one.
            " AND c.id IN (SELECT a.case_id FROM actions a WHERE a.follow_up_on IS NOT NULL
                 AND a.follow_up_on <= {a}
                 AND NOT EXISTS (SELECT 1 FROM actions b WHERE b.case_id = a.case_id
                                 AND b.created_at > a.created_at))"
        ));
    }
    if let Some(n) = f.q.as_deref().and_then(|q| CaseNumber::parse(q).ok()) {
        let (a, b, c) = (
            sql.arg(Val::Text(n.state.as_str().into())),
            sql.arg(Val::Int(n.year as i64)),
            sql.arg(Val::Int(n.seq)),
        );
        sql.text.push_str(&format!(" AND c.owner_state = {a} AND c.year = {b} AND c.seq = {c}"));
    }
}

/// A search word found in fewer of a state's cases than this drives the query: its cases are
/// read from the search index, checked and sorted. When every word is more common, cases are
/// read in page order and each is checked for the words, which stops after one page.
const DRIVING_TERM_MAX: i64 = 5000;

/// A word found in at most this many times as many cases as the driving word is intersected
/// with it instead of being checked case by case.
const INTERSECT_RATIO: i64 = 4;

/// One part of a scope: a condition served by one index range, and, for the part that selects
/// by owning state, the placeholders of those states (to drive a search from the index).
struct Branch {
    cond: String,
    owner_states: Option<String>,
    /// With `owner_states`, the placeholders of the posts the driving search reads (the search
    /// index carries each case's post).
    at_posts: Option<String>,
    /// Selects by assigned officer: read through the officer index.
    by_officer: bool,
    /// Selects cases a state assists: read through the assisting index (SQLite would
    /// rather read the post's every case and check each).
    assisted: bool,
}

impl Branch {
    /// A branch read by the planner's choice, checking each case it reads.
    fn new(cond: String) -> Self {
        Branch { cond, owner_states: None, at_posts: None, by_officer: false, assisted: false }
    }
}

/// The states of a post scope's posts.
fn post_states(posts: &[PostCode]) -> Vec<CountryCode> {
    let mut states: Vec<CountryCode> = posts.iter().map(PostCode::state).collect();
    states.sort();
    states.dedup();
    states
}

/// The scope as conditions whose results do not overlap. An `OR` across columns would make
/// both engines scan the whole table. `driven`: a search word drives the query (a post scope
/// is then split in two, its own cases searched from its state's index range).
fn scope_branches(sql: &mut Sql, scope: &Scope, driven: bool) -> Option<Vec<Branch>> {
    let list = |sql: &mut Sql, items: Vec<String>| -> String {
        items.into_iter().map(|v| sql.arg(Val::Text(v))).collect::<Vec<_>>().join(", ")
    };
    match scope {
        Scope::All => Some(vec![Branch::new(String::new())]),
        Scope::Nothing => None,
        Scope::States(states) if states.is_empty() => None,
        Scope::States(states) => {
            let l = list(sql, states.iter().map(|s| s.as_str().to_string()).collect());
            Some(vec![
                Branch {
                    owner_states: Some(l.clone()),
                    ..Branch::new(format!(" AND c.owner_state IN ({l})"))
                },
                Branch::new(format!(" AND c.assisting_state IN ({l}) AND c.owner_state NOT IN ({l})")),
            ])
        }
        Scope::Posts { posts, user } => {
            let u = sql.arg(Val::Uuid(user.0));
            if posts.is_empty() {
                return Some(vec![Branch {
                    by_officer: true,
                    ..Branch::new(format!(" AND c.assigned_officer = {u}"))
                }]);
            }
            let l = list(sql, posts.iter().map(|p| p.as_str().to_string()).collect());
            let elsewhere = Branch {
                by_officer: true,
                ..Branch::new(format!(
                    " AND c.assigned_officer = {u} AND (c.post IS NULL OR c.post NOT IN ({l}))"
                ))
            };
            if !driven {
                // Read in page order through the post index (or the officer index, whose
                // entries hold the post and status, for "my cases").
                return Some(vec![Branch::new(format!(" AND c.post IN ({l})")), elsewhere]);
            }
            // A post's cases are its state's own, or another state's that it assists (mutual
            // assistance). A case at a post of another state than its owner's always names
            // the post's state as assisting (`App::create_case`, `update_case`, handovers), so
            // the two are told apart by `assisting_state`: the own cases (none assisting) are
            // searched from the post's state's index range, keeping the entries at the post
            // (the index carries it, so a word common in the state but not at the post still
            // reads few cases), the assisted
            // ones (few) read through the assisting index. (An owner-state condition here
            // would lead SQLite to read the whole state's cases of a category instead of the
            // post's.)
            let s = list(sql, post_states(posts).iter().map(|s| s.as_str().to_string()).collect());
            Some(vec![
                Branch {
                    owner_states: Some(s.clone()),
                    at_posts: Some(l.clone()),
                    ..Branch::new(format!(" AND c.post IN ({l}) AND c.assisting_state IS NULL"))
                },
                Branch {
                    assisted: true,
                    ..Branch::new(format!(" AND c.assisting_state IN ({s}) AND c.post IN ({l})"))
                },
                elsewhere,
            ])
        }
    }
}

/// How many of these states' cases (at these posts, when there are any) have a term starting
/// with `word`, counted up to the limit.
async fn term_count(
    db: &Db,
    states: &[CountryCode],
    posts: &[PostCode],
    word: &str,
    cap: i64,
) -> Result<i64, StoreError> {
    let at_posts = if posts.is_empty() {
        String::new()
    } else {
        format!(" AND post IN ({})", crate::placeholders(4 + states.len(), posts.len()))
    };
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM case_search WHERE owner_state IN ({}) AND term >= $1 AND term < $2{at_posts} LIMIT $3) x",
        crate::placeholders(4, states.len())
    );
    on_read!(db, p => {
        let mut q = sqlx::query_scalar(AssertSqlSafe(sql)).bind(word).bind(format!("{word}\u{10FFFF}")).bind(cap);
        for s in states {
            q = q.bind(s.as_str());
        }
        for p in posts {
            q = q.bind(p.as_str());
        }
        Ok(q.fetch_one(p).await?)
    })
}

/// The search condition of one branch. With a driving word (and a branch that selects by
/// owning state), the matching case ids are found inside the search index alone: the driving
/// word's entries, intersected with those of the words in `intersect` (about as common) and
/// each checked for the other words. Otherwise each case read is checked.
fn search_sql(
    sql: &mut Sql,
    words: &[String],
    driver: Option<usize>,
    intersect: &[usize],
    branch: &Branch,
) -> String {
    let ranges: Vec<(String, String)> = words
        .iter()
        .map(|w| (sql.arg(Val::Text(w.clone())), sql.arg(Val::Text(format!("{w}\u{10FFFF}")))))
        .collect();
    let exists = |alias: &str, outer: &str, (a, b): &(String, String)| {
        format!(
            " AND EXISTS (SELECT 1 FROM case_search {alias} WHERE {alias}.case_id = {outer} AND {alias}.term >= {a} AND {alias}.term < {b})"
        )
    };
    match (&branch.owner_states, driver) {
        (Some(states), Some(d)) => {
            let at_posts =
                branch.at_posts.as_ref().map(|p| format!(" AND s.post IN ({p})")).unwrap_or_default();
            let range = |(a, b): &(String, String)| {
                format!(
                    "SELECT s.case_id FROM case_search s WHERE s.owner_state IN ({states}) AND s.term >= {a} AND s.term < {b}{at_posts}"
                )
            };
            let mut inner = range(&ranges[d]);
            for i in intersect {
                inner.push_str(" INTERSECT ");
                inner.push_str(&range(&ranges[*i]));
            }
            let mut checks = String::new();
            for (i, r) in ranges.iter().enumerate().filter(|(i, _)| *i != d && !intersect.contains(i)) {
                checks.push_str(&exists(&format!("s{i}"), "d.case_id", r));
            }
            format!(" AND c.id IN (SELECT d.case_id FROM ({inner}) d WHERE 1 = 1{checks})")
        }
        _ => ranges.iter().enumerate().map(|(i, r)| exists(&format!("t{i}"), "c.id", r)).collect(),
    }
}

/// One page of cases the scope allows, and the cursor of the next page if there is one.
pub async fn list_cases(
    db: &Db,
    scope: &Scope,
    f: &CaseFilter,
    now: DateTime<Utc>,
) -> Result<(Vec<CaseSummary>, Option<Cursor>), StoreError> {
    let words: Vec<String> = match f.q.as_deref().map(str::trim) {
        Some(q) if !q.is_empty() && CaseNumber::parse(q).is_err() => {
            enlace_domain::text::tokens(q).into_iter().take(8).collect()
        }
        _ => Vec::new(),
    };
    // The rarest word within the scope's states drives the query when it is rare enough. With
    // several words, their intersection is usually small, and reading the rarest word's
    // entries beats scanning cases in page order until a page of matches is found.
    let mut driver = None;
    let mut intersect: Vec<usize> = Vec::new();
    // A post scope's search is driven like a state's, its words counted in its posts' states:
    // without a driving word its cases are read in page order and checked one by one, which
    // for a rare word reads the whole post.
    // An officer's words are counted at their posts (the search index carries each case's
    // post): a surname common in the state can still be rare at one post.
    let (search_states, search_posts): (Vec<CountryCode>, &[PostCode]) = match scope {
        Scope::States(states) if !words.is_empty() => (states.clone(), &[]),
        Scope::Posts { posts, .. } if !words.is_empty() => (post_states(posts), posts),
        _ => (Vec::new(), &[]),
    };
    if !search_states.is_empty() {
        let states = &search_states;
        let mut best = if words.len() > 1 { DRIVING_TERM_MAX * 8 } else { DRIVING_TERM_MAX };
        // Exact counts where the count stayed under the cap in force when it was taken.
        let mut counts: Vec<Option<i64>> = Vec::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            let n = term_count(db, states, search_posts, w, best).await?;
            counts.push((n < best).then_some(n));
            if n < best {
                best = n;
                driver = Some(i);
            }
        }
        // Words about as common as the driving one are intersected with it (reading both
        // index ranges in order) rather than checked case by case: for two common names
        // ("maria lopez", ~10,000 cases each) that halves the time of random probes.
        if let Some(d) = driver {
            let cap = best * INTERSECT_RATIO + 1;
            let mut with = Vec::new();
            for (i, w) in words.iter().enumerate().filter(|(i, _)| *i != d) {
                let n = match counts[i] {
                    Some(n) => n,
                    None => term_count(db, states, search_posts, w, cap).await?,
                };
                if n < cap {
                    with.push(i);
                }
            }
            intersect = with;
        }
    }
    let mut sql = Sql { text: String::new(), vals: Vec::new() };
    let Some(branches) = scope_branches(&mut sql, scope, driver.is_some()) else {
        return Ok((Vec::new(), None));
    };
    filter_sql(&mut sql, f, now);
    let filters = std::mem::take(&mut sql.text);
    let (cmp, dir) = if f.descending { ("<", "DESC") } else { (">", "ASC") };
    let time_col = match f.sort {
        CaseSort::Updated => "updated_at",
        _ => "opened_at",
    };
    let cursor = match (&f.cursor, f.sort) {
        (Some(Cursor::Number(n)), CaseSort::Number) => {
            let (a, b, c) = (
                sql.arg(Val::Text(n.state.as_str().into())),
                sql.arg(Val::Int(n.year as i64)),
                sql.arg(Val::Int(n.seq)),
            );
            format!(" AND (c.owner_state, c.year, c.seq) {cmp} ({a}, {b}, {c})")
        }
        (Some(Cursor::Time(t, id)), CaseSort::Opened | CaseSort::Updated) => {
            let (a, b) = (sql.arg(Val::Ts(*t)), sql.arg(Val::Uuid(*id)));
            format!(" AND (c.{time_col}, c.id) {cmp} ({a}, {b})")
        }
        (Some(_), _) => return Err(StoreError::Corrupt("cursor does not match the sort order".into())),
        (None, _) => String::new(),
    };
    let order = |prefix: &str| match f.sort {
        CaseSort::Number => {
            format!(" ORDER BY {prefix}owner_state {dir}, {prefix}year {dir}, {prefix}seq {dir}")
        }
        _ => format!(" ORDER BY {prefix}{time_col} {dir}, {prefix}id {dir}"),
    };
    let limit = f.limit.clamp(1, 500);
    let lim = sql.arg(Val::Int(limit as i64 + 1));
    // An officer's cases (the list of "my cases", and the post scope's branch of cases
    // assigned to the officer elsewhere) are read through the officer index, in page order
    // with post and status checked inside it. SQLite cannot tell from a bound officer id that
    // most users have few cases (or none) and would rather scan a whole state in page order
    // (0.9 s at a million cases) or every contact deadline, so it is told; PostgreSQL plans
    // with the value.
    let select = |b: &Branch| {
        let hint = match (b.by_officer || f.assigned_officer.is_some(), b.assisted, db.backend()) {
            (true, _, Backend::Sqlite) => " INDEXED BY cases_officer",
            (false, true, Backend::Sqlite) => " INDEXED BY cases_assisting",
            _ => "",
        };
        format!(
            "SELECT c.id, c.owner_state, c.year, c.seq, c.post, c.host_state, c.category, c.subtype, \
             c.vuln_mask, c.status, c.person_name, c.assigned_officer, c.opened_at, c.updated_at, \
             c.first_contact_due_at FROM cases c{hint} WHERE 1 = 1"
        )
    };
    let mut parts: Vec<String> = Vec::new();
    for b in &branches {
        let search = search_sql(&mut sql, &words, driver, &intersect, b);
        parts.push(format!("{}{}{filters}{search}{cursor}{} LIMIT {lim}", select(b), b.cond, order("c.")));
    }
    sql.text = if parts.len() == 1 {
        parts.into_iter().next().expect("one branch")
    } else {
        let union =
            parts.iter().enumerate().map(|(i, p)| format!("SELECT * FROM ({p}) b{i}")).collect::<Vec<_>>();
        format!("SELECT * FROM ({}) u{} LIMIT {lim}", union.join(" UNION ALL "), order("u."))
    };

    let Sql { text, vals } = sql;
    let mut rows: Vec<CaseSummary> = on_read!(db, p => {
        let q = bind_vals!(sqlx::query(AssertSqlSafe(text)), &vals);
        let rows = q.fetch_all(p).await?;
        rows.iter().map(|r| summary_from_row(r, now)).collect::<Result<Vec<_>, _>>()?
    });
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|last| match f.sort {
            CaseSort::Number => Cursor::Number(last.number.clone()),
            CaseSort::Opened => Cursor::Time(last.opened_at, last.id.0),
            CaseSort::Updated => Cursor::Time(last.updated_at, last.id.0),
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// Full cases in id order after `after`, for exports.
pub async fn export_page(
    db: &Db,
    scope: &Scope,
    after: Option<CaseId>,
    limit: u32,
) -> Result<Vec<Case>, StoreError> {
    let mut sql = Sql { text: format!("{CASE_SELECT} WHERE 1 = 1"), vals: Vec::new() };
    scope_sql(&mut sql, scope);
    if let Some(a) = after {
        let x = sql.arg(Val::Uuid(a.0));
        sql.text.push_str(&format!(" AND c.id > {x}"));
    }
    let lim = sql.arg(Val::Int(limit as i64));
    sql.text.push_str(&format!(" ORDER BY c.id LIMIT {lim}"));
    let Sql { text, vals } = sql;
    on_read!(db, p => {
        let rows = bind_vals!(sqlx::query(AssertSqlSafe(text)), &vals).fetch_all(p).await?;
        rows.iter().map(case_from_row).collect()
    })
}

/// What statistics read of a case: its dimension columns and its parts and person as stored
/// (JSON text, which the caller reads only in part).
#[derive(Debug, Clone)]
pub struct StatsRow<'a> {
    pub post: Option<&'a str>,
    pub host_state: &'a str,
    pub category: &'a str,
    pub subtype: &'a str,
    pub vuln_mask: i64,
    pub status: &'a str,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub nationality: &'a str,
    pub sex: &'a str,
    pub age_band: &'a str,
    pub unaccompanied: bool,
    pub return_date: Option<chrono::NaiveDate>,
    pub return_route: Option<&'a str>,
    pub art36_learned_at: Option<DateTime<Utc>>,
    pub art36_contact_at: Option<DateTime<Utc>>,
}

/// Every case of `state` that was open at some time in `[from, to)` (opened before `to`, not
/// closed before `from`), handed to `each` as it is read: statistics stream a period's cases
/// instead of holding them, and read only the columns they count by.
pub async fn for_each_active(
    db: &Db,
    state: CountryCode,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut each: impl FnMut(StatsRow<'_>) + Send,
) -> Result<u64, StoreError> {
    use futures_util::TryStreamExt;
    // Decoding a row costs sqlx more than SQLite spends scanning it (BENCHMARKS.md, session
    // 8), so the rows come packed (`facts`) and a month of openings at a time, one line each.
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT group_concat(facts, char(10)) FROM case_facts
             WHERE owner_state = $1 AND opened_at < $2 AND (closed_at IS NULL OR closed_at >= $3)
             GROUP BY substr(opened_at, 1, 7)"
        }
        Backend::Postgres => {
            "SELECT string_agg(facts, E'\\n') FROM case_facts
             WHERE owner_state = $1 AND opened_at < $2 AND (closed_at IS NULL OR closed_at >= $3)
             GROUP BY date_trunc('month', opened_at)"
        }
    };
    let mut n = 0;
    on_read!(db, p => {
        let mut rows = sqlx::query_scalar::<_, String>(sql).bind(state.as_str()).bind(to).bind(from).fetch(p);
        while let Some(chunk) = rows.try_next().await? {
            for facts in chunk.split('\n') {
                each(unpack_facts(facts)?);
                n += 1;
            }
        }
    });
    Ok(n)
}

pub async fn count_cases(db: &Db) -> Result<i64, StoreError> {
    on_read!(db, p => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM cases").fetch_one(p).await?))
}
