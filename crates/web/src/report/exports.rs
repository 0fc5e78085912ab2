//! The documents of the two exports that are not statistics: a case list (what the case list
//! page shows, for a supervisor's meeting or a ministry's request) and a subject access
//! export (everything the node holds about a person, for their access request). Both are
//! [`Document`]s, so they print and open in a spreadsheet the way the GRCM report does.

use chrono::{DateTime, Utc};
use enlace_app::cases::{CaseFilter, LIST_EXPORT_MAX};
use enlace_app::subject_access::{SubjectAccessExport, SubjectCase};
use enlace_domain::case::CaseSummary;

use super::document::{Block, Document, Section, TextTable};
use crate::ui::cases::{consent_rows, facts, person_name, timeline};
use crate::ui::i18n::Tr;

/// What a case-list export's filter asked for, a line per criterion, in the reader's words.
fn filter_lines(tr: Tr, f: &CaseFilter) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut push = |k: &str, v: String| {
        if !v.is_empty() {
            lines.push((tr.t(k), v));
        }
    };
    push("list-search", f.q.clone().unwrap_or_default());
    push("list-status", f.statuses.iter().map(|s| tr.label("status", s)).collect::<Vec<_>>().join(", "));
    push("case-category", f.category.map(|c| tr.label("category", c)).unwrap_or_default());
    push("case-subtype", f.subtype.map(|s| tr.label("subtype", s)).unwrap_or_default());
    push("case-post", f.post.as_ref().map(|p| p.to_string()).unwrap_or_default());
    push("case-flags", f.vulnerabilities.iter().map(|v| tr.label("vuln", v)).collect::<Vec<_>>().join(", "));
    let day = |t: &Option<DateTime<Utc>>| t.map(|t| tr.date(&t.date_naive())).unwrap_or_default();
    push("export-opened-from", day(&f.opened_from));
    push("export-opened-to", day(&f.opened_to));
    push("export-updated-from", day(&f.updated_from));
    push("export-updated-to", day(&f.updated_to));
    if f.assigned_officer.is_some() {
        push("list-only-mine", tr.t("yes"));
    }
    if f.first_contact_overdue {
        push("list-only-overdue", tr.t("yes"));
    }
    push("export-follow-up-due", f.follow_up_due.map(|d| tr.date(&d)).unwrap_or_default());
    lines
}

/// The cases of a list export as a document: what was asked and when, then one table.
pub fn case_list(tr: Tr, filter: &CaseFilter, rows: &[CaseSummary], generated: DateTime<Utc>) -> Document {
    let title = tr.t("export-cases-title");
    let mut front = vec![
        (tr.t("export-generated"), tr.datetime(&generated)),
        (tr.t("export-rows"), tr.num(rows.len() as i64)),
    ];
    let criteria = filter_lines(tr, filter);
    if criteria.is_empty() {
        front.push((tr.t("export-filter"), tr.t("export-filter-none")));
    }
    let mut front = vec![Block::Facts { title: String::new(), lines: front }];
    if !criteria.is_empty() {
        front.push(Block::Facts { title: tr.t("export-filter"), lines: criteria });
    }
    if rows.len() >= LIST_EXPORT_MAX {
        front.push(Block::Text(tr.t1("export-limit", "max", tr.num(LIST_EXPORT_MAX as i64))));
    }
    let table = TextTable {
        caption: String::new(),
        columns: [
            "list-number",
            "list-person",
            "list-status",
            "case-category",
            "case-subtype",
            "case-flags",
            "list-post",
            "list-opened",
            "export-updated",
        ]
        .iter()
        .map(|k| tr.t(k))
        .collect(),
        rows: rows
            .iter()
            .map(|c| {
                let status = tr.label("status", c.status);
                vec![
                    c.number.to_string(),
                    if c.restricted { tr.t("list-name-withheld") } else { c.person_name.clone() },
                    if c.first_contact_overdue {
                        format!("{status} ({})", tr.t("list-overdue"))
                    } else {
                        status
                    },
                    tr.label("category", c.category),
                    tr.label("subtype", c.subtype),
                    c.vulnerabilities.iter().map(|v| tr.label("vuln", v)).collect::<Vec<_>>().join(", "),
                    c.post.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                    tr.date(&c.opened_at.date_naive()),
                    tr.date(&c.updated_at.date_naive()),
                ]
            })
            .collect(),
        empty: tr.t("list-empty"),
    };
    Document {
        footer: format!("{title} · {}", tr.datetime(&generated)),
        title,
        lang: tr.locale.code().into(),
        front,
        sections: vec![Section {
            heading: tr.t("list-results"),
            sheet: tr.t("list-results"),
            blocks: vec![Block::Table(table)],
        }],
        page_per_section: false,
    }
}

/// Who asked for a subject access export, and on what ground (the request's own words).
pub struct Requested<'a> {
    pub by: &'a str,
    pub legal_instrument: &'a str,
}

/// A subject access export as a document: the request and the person, then a section per
/// case (its summary, timeline, consents, documents and earlier disclosures), each on its
/// own pages.
pub fn subject_access(tr: Tr, x: &SubjectAccessExport, req: &Requested) -> Document {
    let title = tr.t("sa-title");
    let name = person_name(&x.person.data);
    let front = vec![
        Block::Facts {
            title: String::new(),
            lines: vec![
                (tr.t("case-person"), name.clone()),
                (tr.t("sa-requested-by"), req.by.to_string()),
                (tr.t("sa-legal-instrument"), req.legal_instrument.to_string()),
                (tr.t("export-generated"), tr.datetime(&x.generated_at)),
                (
                    tr.t("sa-cases"),
                    x.cases.iter().map(|c| c.case.case.number.to_string()).collect::<Vec<_>>().join(", "),
                ),
            ],
        },
        Block::Text(tr.t("sa-intro")),
    ];
    Document {
        footer: format!("{title} · {name} · {}", tr.datetime(&x.generated_at)),
        title,
        lang: tr.locale.code().into(),
        front,
        sections: x.cases.iter().map(|c| case_section(tr, c)).collect(),
        page_per_section: true,
    }
}

fn case_section(tr: Tr, sc: &SubjectCase) -> Section {
    let c = &sc.case.case;
    let mut blocks: Vec<Block> = vec![Block::Facts {
        title: String::new(),
        lines: vec![(tr.t("list-status"), tr.label("status", c.status))],
    }];
    blocks
        .extend(facts(tr, c, &sc.case).into_iter().map(|f| Block::Facts { title: f.title, lines: f.lines }));
    let table = |caption: &str, columns: &[&str], rows: Vec<Vec<String>>, empty: &str| {
        Block::Table(TextTable {
            caption: tr.t(caption),
            columns: columns.iter().map(|k| tr.t(k)).collect(),
            rows,
            empty: tr.t(empty),
        })
    };
    blocks.push(table(
        "case-timeline",
        &["sa-when", "sa-what", "sa-details"],
        timeline(tr, &sc.transitions, &sc.actions)
            .into_iter()
            .map(|e| {
                let details = [e.text, e.follow_up].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>();
                vec![e.when, e.kind, details.join(" — ")]
            })
            .collect(),
        "case-timeline-empty",
    ));
    blocks.push(table(
        "case-consents",
        &["consent-scope", "sa-recipient", "consent-given-by", "sa-given", "sa-withdrawn"],
        consent_rows(tr, &sc.consents)
            .into_iter()
            .map(|k| vec![k.scope, k.recipient, k.giver, k.given, k.withdrawn])
            .collect(),
        "case-consents-empty",
    ));
    blocks.push(table(
        "case-documents",
        &["sa-file", "sa-type", "sa-size", "sa-added"],
        sc.attachments
            .iter()
            .map(|a| {
                vec![
                    a.filename.clone(),
                    a.content_type.clone(),
                    tr.t1("size-kb", "kb", tr.num((a.size + 1023) / 1024)),
                    tr.datetime(&a.created_at),
                ]
            })
            .collect(),
        "case-documents-empty",
    ));
    if !sc.attachments.is_empty() {
        blocks.push(Block::Text(tr.t("sa-files-note")));
    }
    blocks.push(table(
        "sa-disclosures",
        &["sa-when", "sa-purpose", "sa-recipient", "sa-legal-instrument"],
        sc.disclosures
            .iter()
            .map(|d| {
                vec![
                    tr.datetime(&d.at),
                    tr.label("purpose", d.purpose),
                    format!("{} ({})", d.recipient, tr.label("rkind", d.recipient_kind)),
                    d.legal_instrument.clone(),
                ]
            })
            .collect(),
        "sa-disclosures-empty",
    ));
    let number = c.number.to_string();
    Section { heading: tr.t1("sa-case", "number", &number), sheet: number, blocks }
}
