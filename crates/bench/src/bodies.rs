//! Realistic, varied request bodies and searches: new cases as an officer would register them
//! (names with accents and particles, a mix of subtypes with their parts), and the list
//! queries a supervisor runs.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

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

fn one<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(0..items.len())]
}

pub const GIVEN_FEMALE: &[(&str, u32)] = &[
    ("María", 900),
    ("Ana", 400),
    ("Rosa", 250),
    ("Juana", 220),
    ("Margarita", 150),
    ("Carmen", 140),
    ("Guadalupe", 120),
    ("Teresa", 120),
    ("Gabriela", 100),
    ("Dulce", 60),
    ("Yesenia", 60),
    ("Xiomara", 30),
];

pub const GIVEN_MALE: &[(&str, u32)] = &[
    ("José", 900),
    ("Juan", 700),
    ("Luis", 400),
    ("Carlos", 380),
    ("Jorge", 300),
    ("Francisco", 280),
    ("Miguel", 260),
    ("Jesús", 220),
    ("Kevin", 150),
    ("Marvin", 120),
    ("Josué", 100),
    ("Edwin", 90),
    ("Wilmer", 60),
];

pub const SURNAMES: &[(&str, u32)] = &[
    ("Hernández", 1000),
    ("García", 950),
    ("Martínez", 800),
    ("López", 800),
    ("González", 750),
    ("Pérez", 700),
    ("Rodríguez", 650),
    ("Sánchez", 600),
    ("Ramírez", 580),
    ("Cruz", 500),
    ("Flores", 480),
    ("Gómez", 470),
    ("Reyes", 400),
    ("Morales", 380),
    ("Mejía", 300),
    ("Orellana", 120),
    ("Caal", 60),
    ("de la Cruz", 60),
    ("de León", 50),
];

fn places(state: &str) -> &'static [&'static str] {
    match state {
        "HN" => &[
            "San Pedro Sula, Cortés",
            "Tegucigalpa, Francisco Morazán",
            "Choloma, Cortés",
            "La Ceiba, Atlántida",
            "Juticalpa, Olancho",
        ],
        "GT" => &["Huehuetenango, Huehuetenango", "Cobán, Alta Verapaz", "Quetzaltenango, Quetzaltenango"],
        "SV" => &["San Miguel, San Miguel", "Usulután, Usulután", "Santa Ana, Santa Ana"],
        "MX" => &["Apatzingán, Michoacán", "Oaxaca de Juárez, Oaxaca", "Zacatecas, Zacatecas"],
        _ => &[],
    }
}

/// (post, its host state) of a state's posts used by the generator; no post is also drawn.
fn posts(state: &str) -> &'static [(&'static str, &'static str)] {
    match state {
        "HN" => {
            &[("HN-TAPACHULA", "MX"), ("HN-HOUSTON", "US"), ("HN-LOS-ANGELES", "US"), ("HN-MONTERREY", "MX")]
        }
        "GT" => &[("GT-TAPACHULA", "MX")],
        "SV" => &[("SV-TAPACHULA", "MX")],
        "MX" => &[("MX-HOUSTON", "US")],
        _ => &[],
    }
}

fn person(rng: &mut fastrand::Rng, state: &str, child: bool, today: NaiveDate) -> (Value, u32, bool) {
    let female = rng.u32(0..100) < if child { 30 } else { 35 };
    let list = if female { GIVEN_FEMALE } else { GIVEN_MALE };
    let mut given = vec![pick(rng, list)];
    if rng.u32(0..100) < 65 {
        let g = pick(rng, list);
        if g != given[0] {
            given.push(g);
        }
    }
    let mut surnames = vec![pick(rng, SURNAMES)];
    if rng.u32(0..100) < 92 {
        surnames.push(pick(rng, SURNAMES));
    }
    let age = if child { rng.u32(10..17) } else { 18 + rng.u32(0..25) + rng.u32(0..25) };
    let year = today.year() - age as i32;
    let birth = match rng.u32(0..100) {
        0..60 => json!({"kind": "date", "date": NaiveDate::from_ymd_opt(year, rng.u32(1..13), rng.u32(1..29))
            .unwrap_or(today).to_string()}),
        60..80 => json!({"kind": "year", "year": year}),
        80..92 => {
            json!({"kind": "estimated_age", "min_years": age - 1, "max_years": age + 1, "estimated_on": today.to_string()})
        }
        _ => json!({"kind": "unknown"}),
    };
    let mut p = json!({
        "given_names": given,
        "surnames": surnames,
        "sex": if female { "female" } else { "male" },
        "birth": birth,
        "nationalities": [state],
        "languages": ["es"],
    });
    let pl = places(state);
    if !pl.is_empty() {
        p["birth_place"] = json!(one(rng, pl));
        p["birth_state"] = json!(state);
    }
    let mut indigenous = false;
    if state == "GT" && rng.u32(0..100) < 20 {
        p["languages"] = json!([one(rng, &["quc", "mam", "kek", "cak"]), "es"]);
        p["interpreter_needed"] = json!(rng.bool());
        indigenous = true;
    }
    if rng.u32(0..100) < 60 {
        p["documents"] = if rng.bool() {
            json!([{"kind": "passport", "number": format!("{}{:07}", (b'A' + rng.u8(0..26)) as char, rng.u32(0..10_000_000)), "issuing_state": state}])
        } else {
            json!([{"kind": "national_id", "number": format!("{:04}{}{:05}", rng.u32(100..1900), year, rng.u32(0..100_000)), "issuing_state": state}])
        };
    }
    (p, age, indigenous)
}

const SUBTYPES: &[(&str, u32)] = &[
    ("detention", 22),
    ("documentation", 14),
    ("unaccompanied_child", 10),
    ("return_reception", 8),
    ("destitution", 7),
    ("whereabouts", 6),
    ("crime_victim", 6),
    ("unpaid_wages", 6),
    ("death_repatriation", 5),
    ("medical_emergency", 5),
    ("work_injury", 3),
    ("child_custody", 3),
    ("trafficking_victim", 2),
    ("crisis_evacuation", 1),
];

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A new case registered by a supervisor of `state` (who owns it).
pub fn new_case(rng: &mut fastrand::Rng, state: &str) -> Value {
    // A minute of slack: the server rejects times more than five minutes in its future only.
    let now = Utc::now() - Duration::minutes(1);
    let today = now.date_naive();
    let subtype = pick(rng, SUBTYPES);
    let child = subtype == "unaccompanied_child";
    let (person, age, indigenous) = person(rng, state, child, today);
    let female = person["sex"] == "female";
    let post = posts(state);
    let (post, host) = if !post.is_empty() && rng.u32(0..100) < 80 {
        let (p, h) = post[rng.usize(0..post.len())];
        (Some(p), h)
    } else {
        (None, if rng.bool() { "US" } else { "MX" })
    };
    let category = match subtype {
        "detention" if rng.u32(0..100) < 30 => "criminal",
        "detention" | "unaccompanied_child" | "return_reception" => "migration",
        "documentation" => "administrative",
        "destitution" | "whereabouts" | "medical_emergency" | "crisis_evacuation" => "human_rights",
        "crime_victim" | "trafficking_victim" => "criminal",
        "unpaid_wages" | "work_injury" => "labour",
        _ => "civil_family",
    };
    let mut flags: Vec<&str> = Vec::new();
    match subtype {
        "unaccompanied_child" => flags.push("unaccompanied_child"),
        "trafficking_victim" => flags.push("trafficking_victim"),
        "crime_victim" if host == "MX" => flags.push("crime_victim_on_route"),
        _ => {}
    }
    if indigenous {
        flags.push("indigenous_language");
    }
    if rng.u32(0..1000) < 50 {
        flags.push("asylum_seeker");
    }
    if female && (15..45).contains(&age) && rng.u32(0..1000) < 60 {
        flags.push("pregnant");
    }
    if age >= 60 {
        flags.push("older_person");
    }
    let (protection, legal_basis) = match subtype {
        "unaccompanied_child" => (json!({"state": "not_possible", "reason": "child"}), "vital_interest"),
        "death_repatriation" => (json!({"state": "not_possible", "reason": "deceased"}), "vital_interest"),
        _ if rng.u32(0..100) < 40 => {
            (json!({"state": "accepted", "at": iso(now - Duration::minutes(rng.i64(1..120)))}), "consent")
        }
        _ => (json!({"state": "pending"}), "consular_function"),
    };
    let mut body = json!({
        "person": person,
        "host_state": host,
        "category": category,
        "subtype": subtype,
        "vulnerabilities": flags,
        "protection": protection,
        "legal_basis": legal_basis,
    });
    if let Some(p) = post {
        body["post"] = json!(p);
    }
    if rng.u32(0..100) < 50 {
        body["narrative"] = json!(one(
            rng,
            &[
                "Persona localizada por la autoridad migratoria; se solicita entrevista consular.",
                "La familia reporta la situación por teléfono al consulado; se abre expediente.",
                "Atención en ventanilla: la persona solicita orientación y acompañamiento.",
                "Caso remitido por una organización de la sociedad civil de la red regional.",
            ]
        ));
    }
    let mins = |m: i64| Duration::minutes(m);
    match subtype {
        "detention" => {
            let detained = now - mins(rng.i64(120..72 * 60));
            let span = (now - detained).num_minutes();
            let notice = detained + mins(rng.i64(30..span / 2));
            let mut d = json!({
                "detained_at": iso(detained),
                "place": if host == "MX" { "Estación migratoria Siglo XXI, Tapachula" } else { "ICE Processing Center" },
                "authority": if host == "MX" { "Instituto Nacional de Migración" } else { "Immigration and Customs Enforcement" },
                "identified_as_foreign_at": iso(detained + mins(rng.i64(1..30))),
                "notification_requested": rng.u32(0..100) < 60,
                "notice_sent_at": iso(notice),
                "notice_received_at": iso(notice + mins(rng.i64(0..20))),
            });
            if rng.u32(0..100) < 70 {
                d["informed_of_right_at"] = json!(iso(detained + mins(rng.i64(10..30))));
            }
            if rng.bool() {
                d["first_contact_at"] = json!(iso(notice + mins(rng.i64(20..(span / 2).max(21)))));
            }
            body["detention"] = d;
        }
        "unaccompanied_child" => {
            body["child"] = json!({
                "accompaniment": "unaccompanied",
                "family_tracing": "in_progress",
                "host_protection_authority": if host == "MX" { "DIF / Procuraduría de Protección de NNA" } else { "Office of Refugee Resettlement" },
            });
        }
        "whereabouts" => {
            body["missing"] = json!({
                "reported_by": if rng.u32(0..100) < 75 { "family" } else { "civil_society" },
                "last_seen_date": (today - Duration::days(rng.i64(3..200))).to_string(),
                "last_seen_place": one(rng, &["Tenosique, Tabasco", "Coatzacoalcos, Veracruz", "Reynosa, Tamaulipas", "Altar, Sonora"]),
                "route": "Ruta del Golfo",
            });
        }
        "unpaid_wages" | "work_injury" => {
            let mut l = json!({
                "employer": one(rng, &["Agrícola Los Pinos S.A. de C.V.", "Southern Farms LLC", "Construcciones del Norte"]),
                "sector": one(rng, &["agriculture", "construction", "hospitality"]),
                "permit_type": if host == "US" { "H-2A" } else { "Permiso de trabajo" },
                "claim_type": subtype,
            });
            if subtype == "unpaid_wages" {
                l["amount_owed"] = json!({"minor_units": rng.i64(20_000..900_000), "currency": "USD"});
            }
            body["labour"] = l;
        }
        "death_repatriation" => {
            body["death"] = json!({
                "date_of_death": (today - Duration::days(rng.i64(1..10))).to_string(),
                "place": if host == "MX" { "Tapachula, Chiapas" } else { "Pima County, Arizona" },
                "remains_status": "identified",
                "remains_location": "Servicio médico forense",
                "repatriation": "requested",
                "family_notified_at": iso(now - mins(rng.i64(5..600))),
            });
        }
        _ => {}
    }
    body
}

/// The shapes of list query a supervisor runs; each is reported separately.
pub const LIST_SHAPES: &[&str] = &[
    "q=<surname>&status=in_progress",
    "q=<given> <surname>",
    "category=migration&subtype=detention&sort=-updated_at",
    "vulnerabilities=unaccompanied_child&q=<given>",
    "overdue=true",
    "q=<surname> <surname>&sort=-updated_at",
    "q=<surname>&category=<category>&status=<open statuses>",
];

fn given(rng: &mut fastrand::Rng) -> &'static str {
    if rng.bool() { pick(rng, GIVEN_FEMALE) } else { pick(rng, GIVEN_MALE) }
}

fn surname(rng: &mut fastrand::Rng) -> &'static str {
    // Single-word surnames: the search takes words, and particles alone match too much.
    loop {
        let s = pick(rng, SURNAMES);
        if !s.contains(' ') {
            return s;
        }
    }
}

/// One list query: (shape index, query pairs). Names are sent as typed (accents, capitals).
pub fn list_query(rng: &mut fastrand::Rng) -> (usize, Vec<(&'static str, String)>) {
    let shape = rng.usize(0..LIST_SHAPES.len());
    let q = match shape {
        0 => vec![("q", surname(rng).to_string()), ("status", "in_progress".into())],
        1 => vec![("q", format!("{} {}", given(rng), surname(rng)))],
        2 => vec![
            ("category", "migration".into()),
            ("subtype", "detention".into()),
            ("sort", "-updated_at".into()),
        ],
        3 => vec![("vulnerabilities", "unaccompanied_child".into()), ("q", given(rng).to_string())],
        4 => vec![("overdue", "true".into())],
        5 => vec![("q", format!("{} {}", surname(rng), surname(rng))), ("sort", "-updated_at".into())],
        _ => vec![
            ("q", surname(rng).to_string()),
            (
                "category",
                one(rng, &["migration", "human_rights", "criminal", "labour", "administrative"]).into(),
            ),
            ("status", "intake,assessment,action_plan,in_progress,awaiting_authority".into()),
        ],
    };
    let mut q = q;
    q.push(("limit", "50".into()));
    (shape, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_vary_and_are_json_objects() {
        let mut rng = fastrand::Rng::with_seed(1);
        let mut subtypes = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let b = new_case(&mut rng, "HN");
            assert!(b["person"]["given_names"].as_array().is_some_and(|a| !a.is_empty()));
            subtypes.insert(b["subtype"].as_str().unwrap().to_string());
        }
        assert!(subtypes.len() >= 10, "{subtypes:?}");
    }
}
