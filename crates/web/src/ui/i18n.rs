//! The interface's languages: Fluent messages (es, en, fr), language negotiation, and dates and
//! numbers in the user's locale.

use std::fmt::Display;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    Es,
    En,
    Fr,
}

/// The Fluent sources, embedded in the binary.
pub const SOURCES: [(Locale, &str); 3] = [
    (Locale::Es, include_str!("../../locales/es.ftl")),
    (Locale::En, include_str!("../../locales/en.ftl")),
    (Locale::Fr, include_str!("../../locales/fr.ftl")),
];

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::Es, Locale::En, Locale::Fr];
    /// Spanish: the language of most of the network's posts.
    pub const DEFAULT: Locale = Locale::Es;

    pub fn code(self) -> &'static str {
        match self {
            Locale::Es => "es",
            Locale::En => "en",
            Locale::Fr => "fr",
        }
    }

    /// The language's own name, for the switcher.
    pub fn own_name(self) -> &'static str {
        match self {
            Locale::Es => "Español",
            Locale::En => "English",
            Locale::Fr => "Français",
        }
    }

    pub fn parse(s: &str) -> Option<Locale> {
        let primary = s.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "es" => Some(Locale::Es),
            "en" => Some(Locale::En),
            "fr" => Some(Locale::Fr),
            _ => None,
        }
    }

    /// The best of our languages for an `Accept-Language` header (by quality, then order).
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(f32, usize, Locale)> = None;
        for (i, part) in header.split(',').enumerate() {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            if let Some(l) = Locale::parse(tag)
                && best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi))
            {
                best = Some((q, i, l));
            }
        }
        best.map(|(_, _, l)| l)
    }

    fn index(self) -> usize {
        match self {
            Locale::Es => 0,
            Locale::En => 1,
            Locale::Fr => 2,
        }
    }
}

static BUNDLES: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(locale, src)| {
            let res =
                FluentResource::try_new(src.to_string()).expect("the embedded Fluent files parse (tested)");
            let lang: unic_langid::LanguageIdentifier = locale.code().parse().expect("language tag");
            let mut b = FluentBundle::new_concurrent(vec![lang]);
            // Bidi isolation marks would end up inside HTML attributes and test assertions.
            b.set_use_isolating(false);
            b.add_resource(res).expect("no duplicate messages (tested)");
            b
        })
        .collect()
});

/// The message ids of one language's Fluent file.
pub fn message_ids(src: &str) -> Vec<String> {
    let res = FluentResource::try_new(src.to_string()).unwrap_or_else(|(r, _)| r);
    res.entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect()
}

/// Parse errors of a Fluent source, for the tests.
pub fn parse_errors(src: &str) -> Vec<String> {
    match FluentResource::try_new(src.to_string()) {
        Ok(_) => Vec::new(),
        Err((_, errs)) => errs.iter().map(|e| format!("{e:?}")).collect(),
    }
}

/// Translations and formats for one request.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub locale: Locale,
}

impl Tr {
    pub fn new(locale: Locale) -> Tr {
        Tr { locale }
    }

    fn format(&self, id: &str, args: Option<&FluentArgs>) -> String {
        let bundle = &BUNDLES[self.locale.index()];
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::warn!(id, locale = self.locale.code(), "missing message");
            return id.to_string();
        };
        let mut errors = Vec::new();
        let s = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(id, ?errors, "message formatting");
        }
        s.into_owned()
    }

    /// A message.
    pub fn t(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// A message with one argument.
    pub fn t1(&self, id: &str, name: &str, value: impl Display) -> String {
        let mut args = FluentArgs::new();
        args.set(name, FluentValue::from(value.to_string()));
        self.format(id, Some(&args))
    }

    /// A message with one number argument (for plurals).
    pub fn tn(&self, id: &str, name: &str, n: i64) -> String {
        let mut args = FluentArgs::new();
        args.set(name, FluentValue::from(n));
        self.format(id, Some(&args))
    }

    /// The label of a value of a closed set: message `{prefix}-{value}`.
    pub fn label(&self, prefix: &str, value: impl Display) -> String {
        self.t(&format!("{prefix}-{value}"))
    }

    /// A whole number with the locale's digit grouping.
    pub fn num(&self, n: i64) -> String {
        let sep = match self.locale {
            // Mexico and Central America group with commas, as English does.
            Locale::Es | Locale::En => ",",
            Locale::Fr => "\u{202f}",
        };
        group_digits(n, sep)
    }

    /// A calendar day.
    pub fn date(&self, d: &NaiveDate) -> String {
        match self.locale {
            Locale::Es | Locale::Fr => d.format("%d/%m/%Y").to_string(),
            Locale::En => d.format("%b %-d, %Y").to_string(),
        }
    }

    /// A moment, in UTC (posts do not carry a time zone yet).
    pub fn datetime(&self, t: &DateTime<Utc>) -> String {
        format!("{} {} UTC", self.date(&t.date_naive()), t.format("%H:%M"))
    }

    /// A state's name in this language (the code when unknown).
    pub fn country(&self, code: &enlace_domain::country::CountryCode) -> String {
        let c = code.info();
        match self.locale {
            Locale::Es => c.name_es,
            Locale::En => c.name_en,
            Locale::Fr => c.name_fr,
        }
        .to_string()
    }

    pub fn opt_date(&self, d: &Option<NaiveDate>) -> String {
        d.as_ref().map(|d| self.date(d)).unwrap_or_default()
    }

    pub fn opt_datetime(&self, t: &Option<DateTime<Utc>>) -> String {
        t.as_ref().map(|t| self.datetime(t)).unwrap_or_default()
    }
}

fn group_digits(n: i64, sep: &str) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(Locale::from_accept_language("fr-CA,fr;q=0.9,en;q=0.8"), Some(Locale::Fr));
        assert_eq!(Locale::from_accept_language("de-DE,en;q=0.5,es;q=0.7"), Some(Locale::Es));
        assert_eq!(Locale::from_accept_language("de-DE"), None);
        assert_eq!(Locale::from_accept_language("es;q=0,en"), Some(Locale::En));
    }

    #[test]
    fn numbers_and_dates_follow_the_locale() {
        assert_eq!(Tr::new(Locale::En).num(1234567), "1,234,567");
        assert_eq!(Tr::new(Locale::Fr).num(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(Tr::new(Locale::Es).num(-999), "-999");
        let d = NaiveDate::from_ymd_opt(2016, 6, 8).unwrap();
        assert_eq!(Tr::new(Locale::Es).date(&d), "08/06/2016");
        assert_eq!(Tr::new(Locale::En).date(&d), "Jun 8, 2016");
    }

    #[test]
    fn every_language_has_every_message() {
        let sets: Vec<(Locale, std::collections::BTreeSet<String>)> =
            SOURCES.iter().map(|(l, s)| (*l, message_ids(s).into_iter().collect())).collect();
        for (l, src) in SOURCES {
            assert!(parse_errors(src).is_empty(), "{}: {:?}", l.code(), parse_errors(src));
        }
        for (a, ids_a) in &sets {
            for (b, ids_b) in &sets {
                let missing: Vec<_> = ids_a.difference(ids_b).collect();
                assert!(missing.is_empty(), "in {} but not in {}: {missing:?}", a.code(), b.code());
            }
        }
    }

    #[test]
    fn no_message_is_left_untranslated_by_accident() {
        // Same text in English and Spanish or French is allowed only for names and codes.
        let en: std::collections::HashMap<String, String> = message_ids(SOURCES[1].1)
            .into_iter()
            .map(|id| (id.clone(), Tr::new(Locale::En).t(&id)))
            .collect();
        let mut same = Vec::new();
        for l in [Locale::Es, Locale::Fr] {
            for (id, text) in &en {
                if text.chars().filter(|c| c.is_alphabetic()).count() > 12 && Tr::new(l).t(id) == *text {
                    same.push(format!("{}:{id}", l.code()));
                }
            }
        }
        assert!(same.is_empty(), "copied from English: {same:?}");
    }

    /// String literals of the page code that look like message ids but are not: input types,
    /// header names, form values, and the prefix of labels.
    const NOT_MESSAGES: &[&str] = &[
        "datetime-local",
        "hx-request",
        "protection-not-possible",
        "grant-sensitive",
        "revoke-sensitive",
        "reset-mfa",
        "match-status",
        "agreement-status",
        "contact-function",
        "library-kind",
        "library-text",
        "link-side",
        "link-basis",
        "link-decision",
    ];

    /// Every message the templates and page code ask for by a literal id exists (in English,
    /// hence, by the test above, in every language); so do the labels of every closed set.
    #[test]
    fn every_message_used_exists() {
        let ids: std::collections::BTreeSet<String> = message_ids(SOURCES[1].1).into_iter().collect();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = Vec::new();
        let mut scan = |text: &str, openers: &[&str]| {
            for opener in openers {
                for part in text.split(opener).skip(1) {
                    let id: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                    if part[id.len()..].starts_with('"') && !id.is_empty() {
                        used.push(id);
                    }
                }
            }
        };
        for sub in ["templates", "src/ui"] {
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
                scan(&text, &["c.t(\"", ".t(\"", ".t1(\"", ".tn(\"", "\", \"", "(\""]);
            }
        }
        // Only ids that look like ours (lower-case words joined by hyphens) are checked.
        let missing: Vec<_> = used
            .into_iter()
            .filter(|id| {
                id.contains('-')
                    && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
            .filter(|id| !ids.contains(id))
            .filter(|id| id.len() > 1 && !NOT_MESSAGES.contains(&id.as_str()))
            .collect();
        assert!(missing.is_empty(), "messages used but not in en.ftl: {missing:?}");
        use enlace_domain::case::{Category, Subtype, Vulnerability};
        use enlace_domain::workflow::Status;
        let mut labels: Vec<String> = Vec::new();
        labels.extend(Status::ALL.iter().map(|v| format!("status-{v}")));
        labels.extend(Category::ALL.iter().map(|v| format!("category-{v}")));
        labels.extend(Subtype::ALL.iter().map(|v| format!("subtype-{v}")));
        labels.extend(Vulnerability::ALL.iter().map(|v| format!("vuln-{v}")));
        labels.extend(enlace_domain::record::ActionKind::ALL.iter().map(|v| format!("action-{v}")));
        labels.extend(enlace_domain::role::Role::ALL.iter().map(|v| format!("role-{v}")));
        labels.extend(enlace_domain::parts::ConsentScope::ALL.iter().map(|v| format!("scope-{v}")));
        labels.extend(enlace_domain::parts::ConsentGiver::ALL.iter().map(|v| format!("giver-{v}")));
        labels.extend(enlace_domain::case::LegalBasis::ALL.iter().map(|v| format!("basis-{v}")));
        labels
            .extend(enlace_domain::retention::RetentionAction::ALL.iter().map(|v| format!("retention-{v}")));
        labels.extend(enlace_app::matching::FIELDS.iter().map(|v| format!("lfield-{v}")));
        labels.extend(
            enlace_app::matching::level_names()
                .into_iter()
                .chain(["missing"])
                .map(super::super::matches::level_id),
        );
        labels.extend(
            enlace_domain::network::AgreementStatus::ALL.iter().map(|v| format!("agreement-status-{v}")),
        );
        labels.extend(enlace_domain::network::TextStatus::ALL.iter().map(|v| format!("library-text-{v}")));
        labels.extend(enlace_domain::disclosure::Purpose::ALL.iter().map(|v| format!("purpose-{v}")));
        labels.extend(enlace_domain::disclosure::RecipientKind::ALL.iter().map(|v| format!("rkind-{v}")));
        labels.extend(["likely", "possible", "no_link"].iter().map(|v| format!("band-{v}")));
        labels.extend(["pending", "same", "not_same"].iter().map(|v| format!("match-status-{v}")));
        let missing: Vec<_> = labels.iter().filter(|id| !ids.contains(*id)).collect();
        assert!(missing.is_empty(), "labels missing: {missing:?}");
    }
}
