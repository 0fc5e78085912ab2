//! The seeded generator of synthetic cases, written in batches straight to the store.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use enlace_domain::case::{
    Case, CaseNumber, CaseParts, Category, LegalBasis, NotAcceptedReason, Protection, Subtype, Vulnerability,
};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::{CaseId, PersonId, TransitionId};
use enlace_domain::parts::*;
use enlace_domain::person::{
    Birth, DocumentKind, IdentityDocument, LanguageCode, LongText, Name, Person, PersonData, Sex, ShortText,
};
use enlace_domain::post::{Post, PostCode};
use enlace_domain::record::Transition;
use enlace_domain::user::User;
use enlace_domain::workflow::Status;

use super::names::*;
use crate::{App, AppError, audit, event};

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub cases: u64,
    pub seed: u64,
    /// Cases per transaction.
    pub batch: usize,
    /// Only cases of these states' nationals (a federated node's); empty: every member state.
    pub owners: Vec<CountryCode>,
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|x| x.1).sum();
    let mut r = rng.u32(0..total);
    for (x, w) in items {
        if r < *w {
            return *x;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

const OWNERS: &[(&str, u32)] = &[
    ("MX", 30),
    ("GT", 22),
    ("HN", 22),
    ("SV", 13),
    ("NI", 4),
    ("DO", 4),
    ("CR", 1),
    ("PA", 1),
    ("BZ", 1),
    ("US", 1),
    ("CA", 1),
];

fn hosts(owner: &str) -> &'static [(&'static str, u32)] {
    match owner {
        "MX" => &[("US", 88), ("CA", 7), ("GT", 3), ("BZ", 2)],
        "GT" | "HN" | "SV" => &[("MX", 52), ("US", 44), ("GT", 2), ("CA", 2)],
        "NI" => &[("CR", 60), ("US", 25), ("PA", 10), ("MX", 5)],
        "DO" => &[("US", 75), ("PR", 15), ("PA", 5), ("MX", 5)],
        "US" => &[("MX", 70), ("CA", 10), ("GT", 10), ("CR", 10)],
        "CA" => &[("US", 60), ("MX", 30), ("CR", 10)],
        _ => &[("US", 50), ("MX", 50)],
    }
}

/// (subtype, weight, category, alternative category, share of the alternative in %).
const SUBTYPES: &[(Subtype, u32, Category, Category, u32)] = &[
    (Subtype::Detention, 22, Category::Migration, Category::Criminal, 30),
    (Subtype::Documentation, 14, Category::Administrative, Category::Administrative, 0),
    (Subtype::UnaccompaniedChild, 10, Category::Migration, Category::HumanRights, 20),
    (Subtype::ReturnReception, 8, Category::Migration, Category::Migration, 0),
    (Subtype::Destitution, 7, Category::HumanRights, Category::Administrative, 20),
    (Subtype::Whereabouts, 6, Category::HumanRights, Category::Migration, 20),
    (Subtype::CrimeVictim, 6, Category::Criminal, Category::HumanRights, 30),
    (Subtype::UnpaidWages, 6, Category::Labour, Category::Labour, 0),
    (Subtype::DeathRepatriation, 5, Category::CivilFamily, Category::HumanRights, 10),
    (Subtype::MedicalEmergency, 5, Category::HumanRights, Category::CivilFamily, 10),
    (Subtype::WorkInjury, 3, Category::Labour, Category::Labour, 0),
    (Subtype::ChildCustody, 3, Category::CivilFamily, Category::CivilFamily, 0),
    (Subtype::TraffickingVictim, 2, Category::Criminal, Category::HumanRights, 40),
    (Subtype::CrisisEvacuation, 1, Category::HumanRights, Category::HumanRights, 0),
];

const CLOSED_FLOW: &[Status] = &[
    Status::Intake,
    Status::ProtectionAccepted,
    Status::Assessment,
    Status::ActionPlan,
    Status::InProgress,
    Status::Resolved,
    Status::Closed,
];

fn name(s: &str) -> Name {
    Name::parse(s).expect("name lists hold valid names")
}

fn short(s: &str) -> ShortText {
    ShortText::parse(s).expect("short text")
}

struct Ctx {
    posts: HashMap<(CountryCode, CountryCode), Vec<PostCode>>,
    supervisors: HashMap<CountryCode, User>,
    officers: HashMap<PostCode, User>,
    fallback: User,
    now: DateTime<Utc>,
    /// The owners to draw from, with their weights.
    owners: Vec<(&'static str, u32)>,
}

fn person(rng: &mut fastrand::Rng, owner: CountryCode, child: bool, today: NaiveDate) -> (PersonData, u32) {
    let female = rng.u32(0..100) < if child { 30 } else { 35 };
    let given_list = if female { GIVEN_FEMALE } else { GIVEN_MALE };
    let mut given = Vec::new();
    loop {
        let g = pick(rng, given_list);
        if !g.starts_with(|c: char| c.is_lowercase()) {
            given.push(name(g));
            break;
        }
    }
    if rng.u32(0..100) < 65 {
        let second = pick(rng, given_list);
        if second != given[0].as_str() {
            given.push(name(second));
        }
    }
    let mut surnames = Vec::new();
    let first = if rng.u32(0..100) < 4 { pick(rng, PARTICLE_SURNAMES) } else { pick(rng, SURNAMES) };
    surnames.push(name(first));
    if rng.u32(0..100) < 92 {
        surnames.push(name(pick(rng, SURNAMES)));
    }
    let age = if child {
        rng.u32(6..18).max(rng.u32(10..18))
    } else {
        let a = 18 + rng.u32(0..25) + rng.u32(0..25);
        if rng.u32(0..100) < 4 { a + 20 } else { a }
    };
    let birth_year = chrono::Datelike::year(&today) - age as i32;
    let birth = match rng.u32(0..100) {
        0..60 => Birth::Date {
            date: NaiveDate::from_ymd_opt(birth_year, rng.u32(1..13), rng.u32(1..29)).unwrap_or(today),
        },
        60..80 => Birth::Year { year: birth_year },
        80..92 => Birth::EstimatedAge {
            min_years: age.saturating_sub(1) as u8,
            max_years: (age + 2) as u8,
            estimated_on: today,
        },
        _ => Birth::Unknown,
    };
    let places: Vec<(&str, &str, u32)> =
        BIRTHPLACES.iter().filter(|(s, ..)| *s == owner.as_str()).map(|(_, c, d, w)| (*c, *d, *w)).collect();
    let birth_place = if places.is_empty() {
        None
    } else {
        let items: Vec<((&str, &str), u32)> = places.iter().map(|(c, d, w)| ((*c, *d), *w)).collect();
        let (c, d) = pick(rng, &items);
        Some(short(&format!("{c}, {d}")))
    };
    let mut languages = vec![LanguageCode::parse("es").expect("es")];
    let mut interpreter_needed = false;
    if owner.as_str() == "GT" && rng.u32(0..100) < 20 || owner.as_str() == "MX" && rng.u32(0..100) < 5 {
        let langs: Vec<(&str, u32)> = INDIGENOUS_LANGUAGES
            .iter()
            .filter(|(_, _, s, _)| *s == owner.as_str())
            .map(|(code, _, _, w)| (*code, *w))
            .collect();
        if !langs.is_empty() {
            languages.insert(0, LanguageCode::parse(pick(rng, &langs)).expect("language code"));
            interpreter_needed = rng.bool();
        }
    }
    let documents = if rng.u32(0..100) < 60 {
        let kind = if rng.bool() { DocumentKind::Passport } else { DocumentKind::NationalId };
        let number = match kind {
            DocumentKind::Passport => {
                format!("{}{:07}", (b'A' + rng.u8(0..26)) as char, rng.u32(0..10_000_000))
            }
            _ => format!("{:04}{}{:05}", rng.u32(100..1900), birth_year, rng.u32(0..100_000)),
        };
        vec![IdentityDocument { kind, number: short(&number), issuing_state: owner }]
    } else {
        Vec::new()
    };
    let data = PersonData {
        given_names: given,
        surnames,
        aliases: Vec::new(),
        sex: if female { Sex::Female } else { Sex::Male },
        birth,
        birth_place,
        birth_state: Some(owner),
        nationalities: vec![owner],
        documents,
        languages,
        interpreter_needed,
        father_name: None,
        mother_name: None,
    };
    (data, age)
}

fn gen_case(rng: &mut fastrand::Rng, ctx: &Ctx) -> (Case, Vec<Transition>) {
    let owner = CountryCode::parse(pick(rng, &ctx.owners)).expect("owner");
    let host = CountryCode::parse(pick(rng, hosts(owner.as_str()))).expect("host");
    let subtypes: Vec<(usize, u32)> = SUBTYPES.iter().enumerate().map(|(i, s)| (i, s.1)).collect();
    let (subtype, _, cat, alt, alt_share) = SUBTYPES[pick(rng, &subtypes)];
    let category = if rng.u32(0..100) < alt_share { alt } else { cat };
    let child = subtype == Subtype::UnaccompaniedChild
        || (subtype == Subtype::ReturnReception && rng.u32(0..100) < 25);
    let today = ctx.now.date_naive();
    // Opened within the last three years, more recent more often.
    let age_days = (rng.f64() * rng.f64() * 3.0 * 365.0) as i64;
    let opened_at = ctx.now - Duration::days(age_days) - Duration::minutes(rng.i64(0..1440));
    let (person, age) = person(rng, owner, child, opened_at.date_naive().min(today));
    let female = person.sex == Sex::Female;

    let mut flags = Vec::new();
    if subtype == Subtype::UnaccompaniedChild {
        flags.push(if rng.u32(0..100) < 80 {
            Vulnerability::UnaccompaniedChild
        } else {
            Vulnerability::SeparatedChild
        });
    }
    if subtype == Subtype::TraffickingVictim {
        flags.push(Vulnerability::TraffickingVictim);
    }
    if subtype == Subtype::CrimeVictim && host.as_str() == "MX" {
        flags.push(Vulnerability::CrimeVictimOnRoute);
    }
    if person.languages.len() > 1 {
        flags.push(Vulnerability::IndigenousLanguage);
    }
    let mut maybe = |p: u32, v: Vulnerability, flags: &mut Vec<Vulnerability>| {
        if rng.u32(0..1000) < p {
            flags.push(v);
        }
    };
    maybe(50, Vulnerability::AsylumSeeker, &mut flags);
    maybe(20, Vulnerability::Disability, &mut flags);
    maybe(25, Vulnerability::SeriousIllness, &mut flags);
    if female && (15..45).contains(&age) {
        maybe(60, Vulnerability::Pregnant, &mut flags);
        maybe(40, Vulnerability::GenderBasedViolence, &mut flags);
    }
    if age >= 60 {
        flags.push(Vulnerability::OlderPerson);
    }
    flags.sort();
    flags.dedup();

    // Older cases are more often finished.
    let closed_share = (age_days * 100 / 400).min(90) as u32;
    let status = if rng.u32(0..100) < closed_share {
        if rng.u32(0..100) < 90 { Status::Closed } else { Status::Resolved }
    } else {
        pick(
            rng,
            &[
                (Status::Intake, 8),
                (Status::ProtectionAccepted, 6),
                (Status::Assessment, 8),
                (Status::ActionPlan, 8),
                (Status::InProgress, 40),
                (Status::AwaitingAuthority, 18),
                (Status::Referred, 5),
                (Status::Resolved, 7),
            ],
        )
    };
    let protection = if subtype == Subtype::DeathRepatriation {
        Protection::NotPossible { reason: NotAcceptedReason::Deceased }
    } else if child {
        Protection::NotPossible { reason: NotAcceptedReason::Child }
    } else if status == Status::Intake {
        Protection::Pending
    } else {
        Protection::Accepted { at: opened_at + Duration::minutes(rng.i64(5..240)) }
    };
    let mut parts = CaseParts::default();
    let h = |x: i64| Duration::minutes(x);
    match subtype {
        Subtype::Detention => {
            let detained_at = opened_at - h(rng.i64(60..72 * 60));
            let notice = detained_at + h(rng.i64(60..48 * 60));
            let contacted = status != Status::Intake || rng.u32(0..100) < 30;
            let contact = notice + h(rng.i64(30..40 * 60));
            parts.detention = Some(Detention {
                detained_at,
                place: short(if host.as_str() == "MX" {
                    "Estación migratoria Siglo XXI, Tapachula"
                } else {
                    "ICE Processing Center"
                }),
                authority: Some(short(if host.as_str() == "MX" {
                    "Instituto Nacional de Migración"
                } else {
                    "Immigration and Customs Enforcement"
                })),
                identified_as_foreign_at: Some(detained_at + h(rng.i64(1..120))),
                informed_of_right_at: if rng.u32(0..100) < 70 {
                    Some(detained_at + h(rng.i64(30..600)))
                } else {
                    None
                },
                notification_requested: rng.u32(0..100) < 60,
                notification_mandatory: false,
                notice_sent_at: Some(notice - h(rng.i64(0..60))),
                notice_received_at: Some(notice),
                first_contact_at: if contacted { Some(contact.min(ctx.now)) } else { None },
                first_visit_at: if contacted && rng.bool() {
                    Some((contact + h(rng.i64(60..96 * 60))).min(ctx.now))
                } else {
                    None
                },
                detainee_opposes_action: rng.u32(0..100) < 2,
            });
        }
        Subtype::UnaccompaniedChild => {
            let assessed = status != Status::Intake && rng.u32(0..100) < 80;
            let bia_date = opened_at.date_naive() + Duration::days(rng.i64(1..10));
            let bia_date = bia_date.min(today);
            parts.child = Some(ChildRecord {
                accompaniment: if flags.contains(&Vulnerability::SeparatedChild) { Accompaniment::Separated } else { Accompaniment::Unaccompanied },
                guardian: None,
                best_interest: assessed.then(|| BestInterestAssessment {
                    date: bia_date,
                    author: short("Oficial de protección de la infancia"),
                    conclusions: LongText::parse("Se recomienda la reunificación familiar con acompañamiento de la autoridad de protección.").expect("text"),
                }),
                family_tracing: if assessed { FamilyTracing::Located } else { FamilyTracing::InProgress },
                host_protection_authority: Some(short(if host.as_str() == "MX" { "DIF / Procuraduría de Protección de NNA" } else { "Office of Refugee Resettlement" })),
                home_protection_authority: Some(short(match owner.as_str() {
                    "HN" => "DINAF",
                    "GT" => "Procuraduría General de la Nación",
                    "SV" => "CONNA / ISNA",
                    _ => "Autoridad de protección de la niñez",
                })),
                return_plan: (assessed && matches!(status, Status::Resolved | Status::Closed)).then(|| ReturnPlan {
                    date: bia_date + Duration::days(rng.i64(3..30)),
                    route: if rng.u32(0..100) < 70 { Route::Land } else { Route::Air },
                    receiving_authority: short("Centro de atención al migrante retornado"),
                }),
                child_views: None,
            });
        }
        Subtype::DeathRepatriation => {
            let d = opened_at.date_naive() - Duration::days(rng.i64(0..10));
            parts.death = Some(DeathRecord {
                date_of_death: d,
                place: short(if host.as_str() == "MX" {
                    "Tapachula, Chiapas"
                } else {
                    "Pima County, Arizona"
                }),
                cause: None,
                remains_status: if rng.u32(0..100) < 85 {
                    RemainsStatus::Identified
                } else {
                    RemainsStatus::Unidentified
                },
                remains_location: Some(short("Servicio médico forense")),
                repatriation: if status == Status::Closed {
                    Repatriation::Completed
                } else {
                    Repatriation::Requested
                },
                family_notified_at: Some(opened_at),
            });
        }
        Subtype::Whereabouts => {
            parts.missing = Some(MissingReport {
                reported_by: if rng.u32(0..100) < 75 { Reporter::Family } else { Reporter::CivilSociety },
                reporter_name: None,
                reporter_contact: None,
                last_seen_date: Some(opened_at.date_naive() - Duration::days(rng.i64(3..200))),
                last_seen_place: Some(short(fastrand_choice::<&str>(
                    rng,
                    &[
                        "Tenosique, Tabasco",
                        "Coatzacoalcos, Veracruz",
                        "Reynosa, Tamaulipas",
                        "Sonoyta, Sonora",
                        "Altar, Sonora",
                    ],
                ))),
                route: Some(short("Ruta del Golfo")),
                physical_description: None,
            });
        }
        Subtype::UnpaidWages | Subtype::WorkInjury => {
            let (sector, employer) = {
                let items: Vec<((&str, &str), u32)> =
                    EMPLOYERS.iter().map(|(s, e, w)| ((*s, *e), *w)).collect();
                pick(rng, &items)
            };
            parts.labour = Some(LabourRecord {
                employer: Some(short(employer)),
                recruiter: None,
                permit_type: Some(short(if host.as_str() == "US" { "H-2A" } else { "Permiso de trabajo" })),
                sector: Some(short(sector)),
                claim_type: if subtype == Subtype::UnpaidWages {
                    ClaimType::UnpaidWages
                } else {
                    ClaimType::WorkInjury
                },
                amount_owed: (subtype == Subtype::UnpaidWages)
                    .then(|| Money { minor_units: rng.i64(20_000..900_000), currency: "USD".into() }),
                authority_seized: None,
            });
        }
        _ => {}
    }
    let post =
        ctx.posts.get(&(owner, host)).and_then(|v| (!v.is_empty()).then(|| v[rng.usize(0..v.len())].clone()));
    let officer = post.as_ref().and_then(|p| ctx.officers.get(p));
    let creator = officer.or_else(|| ctx.supervisors.get(&owner)).unwrap_or(&ctx.fallback);
    let closed_at =
        (status == Status::Closed).then(|| (opened_at + Duration::days(rng.i64(5..120))).min(ctx.now));
    let updated_at = closed_at.unwrap_or_else(|| (opened_at + Duration::days(rng.i64(0..30))).min(ctx.now));
    let case = Case {
        id: CaseId(uuid::Uuid::now_v7()),
        number: CaseNumber { state: owner, year: chrono::Datelike::year(&opened_at), seq: 0 },
        version: 1,
        owner_state: owner,
        assisting_state: None,
        post,
        host_state: host,
        category,
        subtype,
        vulnerabilities: flags,
        status,
        assigned_officer: officer.map(|u| u.id),
        protection,
        legal_basis: if child || subtype == Subtype::DeathRepatriation {
            LegalBasis::VitalInterest
        } else {
            LegalBasis::ConsularFunction
        },
        narrative: None,
        person_id: PersonId(uuid::Uuid::now_v7()),
        person,
        person_version: 1,
        parts,
        opened_at: enlace_store::truncate(opened_at),
        updated_at: enlace_store::truncate(updated_at),
        closed_at: closed_at.map(enlace_store::truncate),
        created_by: creator.id,
    };
    // The recorded path to the current status.
    let path: Vec<Status> = match status {
        Status::Closed | Status::Resolved => {
            CLOSED_FLOW.iter().copied().take_while(|s| *s != status).chain([status]).collect()
        }
        Status::AwaitingAuthority | Status::Referred => {
            CLOSED_FLOW[..5].iter().copied().chain([status]).collect()
        }
        s => CLOSED_FLOW.iter().copied().take_while(|x| *x != s).chain([s]).collect(),
    };
    let step = (case.updated_at - case.opened_at) / path.len().max(1) as i32;
    let transitions = path
        .iter()
        .enumerate()
        .map(|(i, s)| Transition {
            id: TransitionId(uuid::Uuid::now_v7()),
            case_id: case.id,
            from: if i == 0 { None } else { Some(path[i - 1]) },
            to: *s,
            reason: (*s == Status::Closed).then(|| "Caso concluido".to_string()),
            actor: creator.id,
            at: case.opened_at + step * i as i32,
        })
        .collect();
    (case, transitions)
}

fn fastrand_choice<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(0..items.len())]
}

/// Generates `opts.cases` synthetic cases, `opts.batch` per transaction. The same seed gives
/// the same people and cases. `progress` gets the number written so far.
pub async fn generate_cases(
    app: &App,
    opts: &GenerateOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, AppError> {
    let (supervisors, officers) = app.demo_staff().await?;
    let fallback = supervisors.values().next().cloned().ok_or_else(|| {
        AppError::Rule(
            "no supervisor account exists to attribute demo cases to; create the demo users first".into(),
        )
    })?;
    let mut posts: HashMap<(CountryCode, CountryCode), Vec<PostCode>> = HashMap::new();
    for p in enlace_store::users::list_posts(app.db(), None).await?.into_iter().chain(Post::seeded()) {
        let v = posts.entry((p.state, p.host_state)).or_default();
        if !v.contains(&p.code) {
            v.push(p.code);
        }
    }
    let owners: Vec<(&'static str, u32)> = OWNERS
        .iter()
        .copied()
        .filter(|(s, _)| opts.owners.is_empty() || opts.owners.iter().any(|o| o.as_str() == *s))
        .collect();
    if owners.is_empty() {
        return Err(AppError::Rule("no member state among the owners asked for".into()));
    }
    let ctx = Ctx { posts, supervisors, officers, fallback, now: enlace_store::now(), owners };
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut written = 0u64;
    // PostgreSQL plans a foreign key's check once per connection and keeps the plan until the
    // table's statistics change; a plan made while `cases` was empty scans the whole table for
    // every check, so without autovacuum a bulk load slows down quadratically. Statistics
    // refreshed each time the load doubles keep the plans on the indexes.
    let mut analyze_at = 1_000u64;
    while written < opts.cases {
        let n = (opts.cases - written).min(opts.batch as u64) as usize;
        let batch: Vec<(Case, Vec<Transition>)> = (0..n).map(|_| gen_case(&mut rng, &ctx)).collect();
        let batch = std::sync::Arc::new(batch);
        app.db()
            .write(move |tx| {
                let batch = batch.clone();
                Box::pin(async move {
                    for (case, transitions) in batch.iter() {
                        let mut case = case.clone();
                        case.number.seq =
                            enlace_store::cases::next_seq(tx, case.owner_state, case.number.year, true)
                                .await?;
                        let p = Person { id: case.person_id, version: 1, data: case.person.clone() };
                        // Stamped with the time of writing, not the case's (past) opening:
                        // the node's background jobs follow persons in that order.
                        enlace_store::persons::insert_person(tx, &p, enlace_store::now()).await?;
                        enlace_store::cases::insert_case(tx, &case).await?;
                        for t in transitions {
                            enlace_store::records::insert_transition(tx, t).await?;
                        }
                    }
                    audit(
                        tx,
                        event(None, "demo.generate", "case", None, serde_json::json!({"cases": batch.len()})),
                    )
                    .await
                })
            })
            .await?;
        written += n as u64;
        if written >= analyze_at
            && written < opts.cases
            && app.db().backend() == enlace_store::Backend::Postgres
        {
            app.db().analyze(true).await?;
            analyze_at = written * 2;
        }
        progress(written);
    }
    // The new persons' blocking keys, so they can be found as candidates at once.
    app.catch_up_person_keys(true).await?;
    // Fresh statistics, so the planner knows the new shape of the data.
    app.db().analyze(true).await?;
    Ok(written)
}
