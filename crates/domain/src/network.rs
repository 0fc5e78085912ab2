//! The network's own work (issue 8): its meetings, the agreements each meeting takes (numbered
//! as in its report, with who is responsible, by when, and how it is going) and the events
//! its members announce. None of it is about a person. Pure: callers pass `today`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::country::CountryCode;
use crate::error::ValidationErrors;
use crate::person::{LongText, ShortText};

crate::str_enum! {
    /// The network's working languages.
    pub enum Lang {
        Es = "es",
        En = "en",
        Fr = "fr",
    }
}

/// A title in the network's languages: the original, and translations where there are some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"es": "Campaña regional sobre migración de niñez", "en": "Regional campaign on child migration",
    "fr": "Campagne régionale sur la migration des enfants"}))]
pub struct Titles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub es: Option<ShortText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<ShortText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fr: Option<ShortText>,
}

impl Titles {
    /// The title in `lang`, else in Spanish, English, French (the first there is).
    pub fn get(&self, lang: Lang) -> &str {
        let want = match lang {
            Lang::Es => &self.es,
            Lang::En => &self.en,
            Lang::Fr => &self.fr,
        };
        [want, &self.es, &self.en, &self.fr].into_iter().flatten().next().map(|t| t.as_str()).unwrap_or("")
    }

    fn check(&self, field: &str, e: &mut ValidationErrors) {
        if self.es.is_none() && self.en.is_none() && self.fr.is_none() {
            e.push(field, "give the title in at least one language (es, en or fr)");
        }
    }
}

/// Who an agreement names as responsible: a member state, or a body (the Technical
/// Secretariat, IOM, SICA, a civil-society network).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Party {
    #[schema(value_type = String, example = "HN")]
    State(CountryCode),
    #[schema(value_type = String, example = "OIM")]
    Body(ShortText),
}

impl Party {
    pub fn state(&self) -> Option<CountryCode> {
        match self {
            Party::State(c) => Some(*c),
            Party::Body(_) => None,
        }
    }
}

crate::str_enum! {
    /// How an agreement is going.
    pub enum AgreementStatus {
        Open = "open",
        InProgress = "in_progress",
        Done = "done",
        /// Taken off the agenda (item 4 of the 2016 report).
        Withdrawn = "withdrawn",
    }
}

impl AgreementStatus {
    /// Still to be acted on.
    pub fn is_pending(self) -> bool {
        matches!(self, AgreementStatus::Open | AgreementStatus::InProgress)
    }
}

/// A meeting of the network (or one it takes part in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": {"es": "Reunión de la Red de Funcionarios de Enlace de Protección Consular"},
    "starts_on": "2016-06-08", "place": "Tegucigalpa, Honduras",
    "states": ["CA", "CR", "SV", "US", "GT", "HN", "MX", "PA", "DO"]}))]
pub struct MeetingData {
    pub title: Titles,
    pub starts_on: NaiveDate,
    /// For a meeting of several days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_on: Option<NaiveDate>,
    pub place: ShortText,
    /// The participating states.
    #[schema(value_type = Vec<String>)]
    pub states: Vec<CountryCode>,
    /// The agenda, item by item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agenda: Vec<ShortText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<LongText>,
}

impl MeetingData {
    pub fn validate(&self) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        self.title.check("title", &mut e);
        if self.ends_on.is_some_and(|end| end < self.starts_on) {
            e.push("ends_on", "is before the meeting starts");
        }
        if self.states.is_empty() {
            e.push("states", "name at least one participating state");
        }
        if let Some(dup) = self.states.iter().enumerate().find(|(i, s)| self.states[..*i].contains(s)) {
            e.push("states", format!("{} is listed twice", dup.1));
        }
        if self.agenda.len() > 100 {
            e.push("agenda", "at most 100 items");
        }
        e
    }
}

/// An agreement as its meeting took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"number": 6, "title": {"es": "Nota conceptual: lineamientos para personas trabajadoras migrantes",
    "en": "Concept note: guidelines for migrant workers"},
    "text": "Se solicitará, a través de la ST, que Nicaragua se pronuncie si desea retomar la iniciativa.",
    "responsible": [{"state": "NI"}, {"body": "ST"}], "due_on": "2016-11-15", "status": "open"}))]
pub struct AgreementData {
    /// Its number in the meeting's report (1 to 999), unique within the meeting.
    pub number: u16,
    pub title: Titles,
    /// The agreement's text, in the language the report was written in.
    pub text: LongText,
    pub responsible: Vec<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<NaiveDate>,
    pub status: AgreementStatus,
}

impl AgreementData {
    /// Checks the agreement against its meeting: a due date cannot come before the meeting
    /// that set it.
    pub fn validate(&self, meeting: &MeetingData) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        if !(1..=999).contains(&self.number) {
            e.push("number", "must be between 1 and 999");
        }
        self.title.check("title", &mut e);
        if self.due_on.is_some_and(|d| d < meeting.starts_on) {
            e.push("due_on", "is before the meeting that took the agreement");
        }
        e
    }

    /// Past its due date and still pending.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.status.is_pending() && self.due_on.is_some_and(|d| d < today)
    }

    /// Names `state` as responsible.
    pub fn names(&self, state: CountryCode) -> bool {
        self.responsible.iter().any(|p| p.state() == Some(state))
    }
}

/// A note on how an agreement is going, by a state or the Technical Secretariat, possibly
/// moving its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Nicaragua confirmó que no retomará la iniciativa; Honduras la presentará.",
    "status": "in_progress"}))]
pub struct FollowUpData {
    pub text: LongText,
    /// The agreement's new status, when the note changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AgreementStatus>,
}

/// A follow-up note as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FollowUp {
    pub at: DateTime<Utc>,
    /// Who wrote it: a user's name and their state.
    pub author: String,
    #[schema(value_type = Option<String>)]
    pub state: Option<CountryCode>,
    #[serde(flatten)]
    pub data: FollowUpData,
}

/// An event the network's members announce (a forum, a workshop, a meeting of another body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": {"es": "Tercer Foro Global Consular", "en": "Third Global Consular Forum",
    "fr": "Troisième Forum consulaire mondial"}, "starts_on": "2016-10-25", "ends_on": "2016-10-27",
    "place": "Seúl, República de Corea", "announced_by": {"state": "CA"}}))]
pub struct EventData {
    pub title: Titles,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub place: ShortText,
    pub announced_by: Party,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LongText>,
}

impl EventData {
    pub fn validate(&self) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        self.title.check("title", &mut e);
        if self.ends_on < self.starts_on {
            e.push("ends_on", "is before the event starts");
        }
        if (self.ends_on - self.starts_on).num_days() > 366 {
            e.push("ends_on", "an event lasts at most a year");
        }
        e
    }
}

crate::str_enum! {
    /// What a directory entry is.
    pub enum ContactFunction {
        /// The state's liaison officer in the network.
        Liaison = "liaison",
        /// The liaison officer's alternate.
        Alternate = "alternate",
        /// The contact point of one of the state's consular posts.
        Post = "post",
    }
}

/// An entry of the network's directory: a state's liaison officer or alternate, or the
/// contact point of one of its posts. Each state keeps its own entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"state": "HN", "function": "liaison", "name": "Punto focal de protección consular",
    "position": "Dirección General de Protección al Hondureño Migrante", "email": "enlace@example.hn",
    "phone": "+504 2234-0000", "languages": ["es", "en"]}))]
pub struct ContactData {
    #[schema(value_type = String)]
    pub state: CountryCode,
    pub function: ContactFunction,
    pub name: ShortText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<ShortText>,
    /// The post, for a post's contact point (one of the state's posts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub post: Option<crate::post::PostCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<ShortText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<ShortText>,
    #[serde(default)]
    pub languages: Vec<Lang>,
}

impl ContactData {
    pub fn validate(&self) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        match (&self.function, &self.post) {
            (ContactFunction::Post, None) => e.push("post", "a post's contact point names its post"),
            (ContactFunction::Post, Some(p)) if p.state() != self.state => {
                e.push("post", format!("{p} is not a post of {}", self.state))
            }
            (ContactFunction::Liaison | ContactFunction::Alternate, Some(_)) => {
                e.push("post", "only a post's contact point names a post")
            }
            _ => {}
        }
        if let Some(m) = &self.email {
            let m = m.as_str();
            let ok = m.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
            }) && !m.contains(char::is_whitespace)
                && m.matches('@').count() == 1;
            if !ok {
                e.push("email", "is not an e-mail address");
            }
        }
        if let Some(p) = &self.phone
            && !p.as_str().chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            e.push("phone", "may hold digits, spaces and + - ( ) . only");
        }
        e
    }
}

/// A working group of the network (the regional campaign on migrant children of item 8, with
/// IOM, the Technical Secretariat, the states' contact points and civil society).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": {"es": "Campaña regional sobre migración de niñez"},
    "purpose": "Preparar la campaña regional de comunicación.",
    "members": [{"body": "OIM"}, {"body": "Secretaría Técnica de la CRM"}, {"state": "HN"}]}))]
pub struct GroupData {
    pub title: Titles,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<LongText>,
    /// Member states and organisations.
    pub members: Vec<Party>,
    /// The agreement the group comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<uuid::Uuid>,
}

impl GroupData {
    pub fn validate(&self) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        self.title.check("title", &mut e);
        if self.members.is_empty() {
            e.push("members", "name at least one member");
        }
        if self.members.iter().enumerate().any(|(i, m)| self.members[..i].contains(m)) {
            e.push("members", "a member is listed twice");
        }
        e
    }

    pub fn has_member(&self, state: CountryCode) -> bool {
        self.members.iter().any(|p| p.state() == Some(state))
    }
}

/// A task of a working group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": {"es": "Compartir las campañas informativas existentes"},
    "responsible": [{"body": "RROCM"}, {"state": "MX"}], "due_on": "2016-11-30", "status": "open"}))]
pub struct TaskData {
    pub title: Titles,
    pub responsible: Vec<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<NaiveDate>,
    pub status: AgreementStatus,
}

impl TaskData {
    pub fn validate(&self) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        self.title.check("title", &mut e);
        e
    }

    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.status.is_pending() && self.due_on.is_some_and(|d| d < today)
    }
}

/// A task as kept, with its id within the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: uuid::Uuid,
    #[serde(flatten)]
    pub data: TaskData,
    pub updated_at: DateTime<Utc>,
}

crate::str_enum! {
    /// What a library item is.
    pub enum LibraryKind {
        GoodPractice = "good_practice",
        Protocol = "protocol",
        Guideline = "guideline",
        ConceptNote = "concept_note",
        CampaignMaterial = "campaign_material",
        Report = "report",
    }
}

/// An item of the network's library: a good practice, a protocol, a guideline, a concept note,
/// campaign material, a report. Network-wide, or visible to some states only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": {"es": "Protocolo de atención consular a niñez migrante no acompañada"},
    "summary": "Pasos para la protección consular de niñas, niños y adolescentes no acompañados.",
    "kind": "protocol", "state": "MX", "topic": "niñez migrante", "audience": "personal consular",
    "language": "es", "date": "2016-05-20", "visible_to": []}))]
pub struct LibraryItemData {
    pub title: Titles,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<LongText>,
    pub kind: LibraryKind,
    /// The state that shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<CountryCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<ShortText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<ShortText>,
    /// The language it is written in.
    pub language: Lang,
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting: Option<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<uuid::Uuid>,
    /// The working group it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<uuid::Uuid>,
    /// The states that see it; empty: the whole network.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub visible_to: Vec<CountryCode>,
}

impl LibraryItemData {
    pub fn validate(&self, today: NaiveDate) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        self.title.check("title", &mut e);
        if self.date > today {
            e.push("date", "is in the future");
        }
        if self.visible_to.iter().enumerate().any(|(i, s)| self.visible_to[..i].contains(s)) {
            e.push("visible_to", "a state is listed twice");
        }
        e
    }

    /// Whether users of `state` see it (the state that shares it always does).
    pub fn visible(&self, state: CountryCode) -> bool {
        self.visible_to.is_empty() || self.visible_to.contains(&state) || self.state == Some(state)
    }

    /// The text the search reads: titles, summary, topic and audience.
    pub fn searchable_text(&self) -> String {
        let t = &self.title;
        [&t.es, &t.en, &t.fr, &self.topic, &self.audience]
            .into_iter()
            .flatten()
            .map(|x| x.as_str())
            .chain(self.summary.as_ref().map(|s| s.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The words of `text` as the library's search keeps them: each folded (no accents, lower
/// case) and, beside it, its Spanish, English and French stems, so that "campañas" finds
/// "campaña" and "niñez" finds "ninez". Pure.
pub fn search_terms(text: &str) -> std::collections::BTreeSet<String> {
    use rust_stemmers::{Algorithm, Stemmer};
    let stemmers = [
        Stemmer::create(Algorithm::Spanish),
        Stemmer::create(Algorithm::English),
        Stemmer::create(Algorithm::French),
    ];
    let mut out = std::collections::BTreeSet::new();
    for w in crate::text::fold(text).split(' ').filter(|w| w.chars().count() >= 2) {
        out.insert(w.to_string());
        for s in &stemmers {
            let st = s.stem(w);
            if st.chars().count() >= 2 {
                out.insert(st.into_owned());
            }
        }
    }
    out
}

/// A query as the search reads it: for each word, the forms any of which an item's terms must
/// hold (the word folded, and its stems). Pure.
pub fn query_terms(q: &str) -> Vec<Vec<String>> {
    crate::text::fold(q)
        .split(' ')
        .filter(|w| w.chars().count() >= 2)
        .map(|w| search_terms(w).into_iter().collect())
        .collect()
}

crate::str_enum! {
    /// The kinds of file the library takes.
    pub enum FileKind {
        Pdf = "pdf",
        Docx = "docx",
        Png = "png",
        Jpeg = "jpeg",
    }
}

/// The media type of a Word document (Office Open XML).
pub const DOCX_MEDIA_TYPE: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

impl FileKind {
    pub fn media_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => DOCX_MEDIA_TYPE,
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
        }
    }

    /// The kind a media type names (parameters such as `; charset=` ignored).
    pub fn from_media_type(ct: &str) -> Option<FileKind> {
        let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        FileKind::ALL.iter().copied().find(|k| k.media_type() == ct)
    }

    /// Whether the kind holds text worth extracting (images do not).
    pub fn has_text(self) -> bool {
        matches!(self, FileKind::Pdf | FileKind::Docx)
    }
}

/// Largest file of the library, in bytes (as a case's attachment).
pub const LIBRARY_FILE_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Files travel to the other nodes in parts of this size (a signed message is at most 4 MiB,
/// and a part is sent in base64).
pub const LIBRARY_FILE_PART_BYTES: usize = 1024 * 1024;
/// Most files one item holds.
pub const LIBRARY_FILES_PER_ITEM: usize = 10;
/// Most text kept from one file for the search (the rest is not indexed).
pub const LIBRARY_TEXT_MAX_BYTES: usize = 1_000_000;

/// What the bytes of a file are, read from their first bytes: a PDF, a PNG, a JPEG, or a ZIP
/// container (a Word document is one; whether it is a Word document takes opening it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Pdf,
    Png,
    Jpeg,
    Zip,
    Other,
}

impl Sniffed {
    pub fn of(bytes: &[u8]) -> Sniffed {
        // A PDF may have a little junk before its header (the specification's readers accept
        // it within the first 1024 bytes); the others start with their signature.
        let head = &bytes[..bytes.len().min(1024)];
        if head.windows(5).any(|w| w == b"%PDF-") {
            Sniffed::Pdf
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Sniffed::Png
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Sniffed::Jpeg
        } else if bytes.starts_with(b"PK\x03\x04") {
            Sniffed::Zip
        } else {
            Sniffed::Other
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Sniffed::Pdf => "a PDF",
            Sniffed::Png => "a PNG image",
            Sniffed::Jpeg => "a JPEG image",
            Sniffed::Zip => "a ZIP archive",
            Sniffed::Other => "none of the allowed types",
        }
    }
}

/// Checks an upload to the library: an allowed type, not empty, not over the limit, and bytes
/// that are what the claimed type says (a Word document's inside is checked when it is opened).
/// Returns the kind.
pub fn check_library_file(claimed: &str, bytes: &[u8]) -> Result<FileKind, String> {
    let allowed = || FileKind::ALL.iter().map(|k| k.media_type()).collect::<Vec<_>>().join(", ");
    let kind = FileKind::from_media_type(claimed).ok_or_else(|| {
        let ct = claimed.split(';').next().unwrap_or("").trim();
        format!("this type of file is not allowed in the library: \"{ct}\" (allowed: {})", allowed())
    })?;
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() > LIBRARY_FILE_MAX_BYTES {
        return Err(format!("the file is larger than {} MiB", LIBRARY_FILE_MAX_BYTES / 1024 / 1024));
    }
    let sniffed = Sniffed::of(bytes);
    let matches = matches!(
        (kind, sniffed),
        (FileKind::Pdf, Sniffed::Pdf)
            | (FileKind::Png, Sniffed::Png)
            | (FileKind::Jpeg, Sniffed::Jpeg)
            | (FileKind::Docx, Sniffed::Zip)
    );
    if !matches {
        return Err(format!(
            "the file's content is not what it says it is: it says {}, it is {}",
            kind.media_type(),
            sniffed.describe()
        ));
    }
    Ok(kind)
}

/// How many parts a file of `size` bytes travels in.
pub fn part_count(size: usize) -> usize {
    size.div_ceil(LIBRARY_FILE_PART_BYTES).max(1)
}

crate::str_enum! {
    /// Whether a file's text is in the search.
    pub enum TextStatus {
        /// Its text was extracted and is searched.
        Indexed = "indexed",
        /// It holds no text to search (an image, a scanned document).
        NoText = "no_text",
        /// It could not be read; it is kept, and not searched.
        Unparseable = "unparseable",
    }
}

/// Extracted text as the library keeps it: runs of white space made one space, at most
/// [`LIBRARY_TEXT_MAX_BYTES`] (cut at a character's boundary). Pure.
pub fn keep_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(LIBRARY_TEXT_MAX_BYTES));
    for w in raw.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if out.len() + w.len() + 1 > LIBRARY_TEXT_MAX_BYTES {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// A file of a library item: what it is and whether its text is searched (the bytes are
/// fetched on their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LibraryFile {
    pub id: uuid::Uuid,
    pub item: uuid::Uuid,
    pub filename: String,
    pub kind: FileKind,
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// How many parts it travels in between nodes.
    pub parts: i64,
    pub text_status: TextStatus,
    /// Why the text could not be read, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_note: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl LibraryFile {
    /// Whether the description holds together (as received from another node): a known kind
    /// with its media type, a size within the limit, the parts that size takes, a SHA-256.
    pub fn check(&self) -> Result<(), String> {
        if self.content_type != self.kind.media_type() {
            return Err(format!("a {} file is {}", self.kind, self.kind.media_type()));
        }
        if self.size <= 0 || self.size as usize > LIBRARY_FILE_MAX_BYTES {
            return Err(format!("size {} is out of range", self.size));
        }
        if self.parts != part_count(self.size as usize) as i64 {
            return Err(format!(
                "{} bytes travel in {} parts, not {}",
                self.size,
                part_count(self.size as usize),
                self.parts
            ));
        }
        if self.sha256.len() != 64
            || !self.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err("sha256 is not 64 lower-case hex digits".into());
        }
        crate::record::clean_filename(&self.filename).map(|_| ())
    }
}

/// Events as an iCalendar file (RFC 5545): all-day events (the end date exclusive, as the
/// format wants), titles in `lang`, lines folded at 75 octets. `stamp` is when it is made.
pub fn ical<'a>(
    events: impl IntoIterator<Item = (uuid::Uuid, &'a EventData)>,
    lang: Lang,
    stamp: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        // Fold at 75 octets, never inside a character.
        let mut rest = s.as_str();
        let mut first = true;
        while !rest.is_empty() {
            let room = if first { 75 } else { 74 };
            let mut cut = rest.len().min(room);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            if !first {
                out.push(' ');
            }
            out.push_str(&rest[..cut]);
            out.push_str("\r\n");
            rest = &rest[cut..];
            first = false;
        }
    };
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//Enlace//Network events//ES".into());
    line("CALSCALE:GREGORIAN".into());
    for (id, e) in events {
        line("BEGIN:VEVENT".into());
        line(format!("UID:{id}@enlace"));
        line(format!("DTSTAMP:{}", stamp.format("%Y%m%dT%H%M%SZ")));
        line(format!("DTSTART;VALUE=DATE:{}", e.starts_on.format("%Y%m%d")));
        let end = e.ends_on.succ_opt().unwrap_or(e.ends_on);
        line(format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")));
        line(format!("SUMMARY:{}", ical_text(e.title.get(lang))));
        line(format!("LOCATION:{}", ical_text(e.place.as_str())));
        if let Some(d) = &e.description {
            line(format!("DESCRIPTION:{}", ical_text(d.as_str())));
        }
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

/// A TEXT value escaped as RFC 5545 §3.3.11 asks.
fn ical_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(s: &str) -> ShortText {
        ShortText::parse(s).unwrap()
    }

    fn meeting() -> MeetingData {
        MeetingData {
            title: Titles { es: Some(short("Reunión de la Red")), en: None, fr: None },
            starts_on: NaiveDate::from_ymd_opt(2016, 6, 8).unwrap(),
            ends_on: None,
            place: short("Tegucigalpa, Honduras"),
            states: vec![CountryCode::parse("HN").unwrap(), CountryCode::parse("MX").unwrap()],
            agenda: Vec::new(),
            summary: None,
        }
    }

    #[test]
    fn titles_fall_back_to_the_original() {
        let t = Titles { es: Some(short("Campaña")), en: None, fr: Some(short("Campagne")) };
        assert_eq!(t.get(Lang::Fr), "Campagne");
        assert_eq!(t.get(Lang::En), "Campaña");
        let none = Titles { es: None, en: None, fr: None };
        let mut m = meeting();
        m.title = none;
        assert_eq!(m.validate().0[0].field, "title");
    }

    #[test]
    fn dates_out_of_order_are_refused() {
        let mut m = meeting();
        assert!(m.validate().is_empty());
        m.ends_on = NaiveDate::from_ymd_opt(2016, 6, 7);
        m.states.push(CountryCode::parse("HN").unwrap());
        let fields: Vec<String> = m.validate().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["ends_on", "states"]);
        let a = AgreementData {
            number: 6,
            title: Titles { es: Some(short("Nota conceptual")), en: None, fr: None },
            text: LongText::parse("Que Nicaragua se pronuncie.").unwrap(),
            responsible: vec![Party::State(CountryCode::parse("NI").unwrap()), Party::Body(short("ST"))],
            due_on: NaiveDate::from_ymd_opt(2016, 1, 1),
            status: AgreementStatus::Open,
        };
        assert_eq!(a.validate(&meeting()).0[0].message, "is before the meeting that took the agreement");
        assert!(a.names(CountryCode::parse("NI").unwrap()));
        assert!(!a.names(CountryCode::parse("HN").unwrap()));
        assert!(a.overdue(NaiveDate::from_ymd_opt(2016, 2, 1).unwrap()));
        let done = AgreementData { status: AgreementStatus::Done, ..a };
        assert!(!done.overdue(NaiveDate::from_ymd_opt(2016, 2, 1).unwrap()));
    }

    #[test]
    fn contacts_are_checked() {
        let hn = CountryCode::parse("HN").unwrap();
        let mut c = ContactData {
            state: hn,
            function: ContactFunction::Liaison,
            name: short("Punto focal"),
            position: None,
            post: None,
            email: Some(short("enlace@example.hn")),
            phone: Some(short("+504 2234-0000")),
            languages: vec![Lang::Es],
        };
        assert!(c.validate().is_empty());
        c.function = ContactFunction::Post;
        assert_eq!(c.validate().0[0].field, "post");
        c.post = Some(crate::post::PostCode::parse("GT-TAPACHULA").unwrap());
        assert_eq!(c.validate().0[0].message, "GT-TAPACHULA is not a post of HN");
        c.post = Some(crate::post::PostCode::parse("HN-TAPACHULA").unwrap());
        c.email = Some(short("enlace at example"));
        c.phone = Some(short("llamar al 2234"));
        let fields: Vec<String> = c.validate().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "phone"]);
    }

    #[test]
    fn the_search_ignores_accents_capitals_and_endings() {
        let item = search_terms("Protección consular de la NIÑEZ migrante; campañas informativas");
        let finds = |q: &str| query_terms(q).iter().all(|forms| forms.iter().any(|f| item.contains(f)));
        assert!(finds("proteccion consular"));
        assert!(finds("ninez"));
        assert!(finds("Niñez"));
        assert!(finds("campaña"), "singular finds plural");
        assert!(finds("informativa"));
        assert!(!finds("trabajadores"));
        assert!(!finds("proteccion laboral"), "every word must be there");
        assert!(query_terms("a ; !").is_empty(), "nothing to look for");
    }

    #[test]
    fn library_items_are_checked_and_seen_by_their_states() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let hn = CountryCode::parse("HN").unwrap();
        let gt = CountryCode::parse("GT").unwrap();
        let mut item = LibraryItemData {
            title: Titles { es: Some(short("Protocolo")), en: None, fr: None },
            summary: None,
            kind: LibraryKind::Protocol,
            state: Some(hn),
            topic: None,
            audience: None,
            language: Lang::Es,
            date: NaiveDate::from_ymd_opt(2016, 5, 20).unwrap(),
            meeting: None,
            agreement: None,
            group: None,
            visible_to: vec![],
        };
        assert!(item.validate(today).is_empty());
        assert!(item.visible(gt));
        item.visible_to = vec![CountryCode::parse("MX").unwrap()];
        assert!(!item.visible(gt) && item.visible(hn), "the sharing state always sees it");
        item.date = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        item.visible_to.push(CountryCode::parse("MX").unwrap());
        let fields: Vec<String> = item.validate(today).0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["date", "visible_to"]);
    }

    #[test]
    fn events_become_an_icalendar_file() {
        let e = EventData {
            title: Titles {
                es: Some(short("Tercer Foro Global Consular")),
                en: Some(short("Third Global Consular Forum")),
                fr: None,
            },
            starts_on: NaiveDate::from_ymd_opt(2016, 10, 25).unwrap(),
            ends_on: NaiveDate::from_ymd_opt(2016, 10, 27).unwrap(),
            place: short("Seúl; República de Corea"),
            announced_by: Party::State(CountryCode::parse("CA").unwrap()),
            description: Some(LongText::parse(&"Temas de protección consular, ".repeat(8)).unwrap()),
        };
        let mut bad = e.clone();
        bad.ends_on = NaiveDate::from_ymd_opt(2016, 10, 24).unwrap();
        assert_eq!(bad.validate().0[0].field, "ends_on");
        let id = uuid::Uuid::nil();
        let stamp = DateTime::parse_from_rfc3339("2026-12-05T10:00:00Z").unwrap().with_timezone(&Utc);
        let ics = ical([(id, &e)], Lang::En, stamp);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.contains("DTSTART;VALUE=DATE:20161025\r\n"));
        assert!(ics.contains("DTEND;VALUE=DATE:20161028\r\n"), "the end is exclusive");
        assert!(ics.contains("SUMMARY:Third Global Consular Forum\r\n"));
        assert!(ics.contains("LOCATION:Seúl\\; República de Corea\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "a line longer than 75 octets: {l:?}");
        }
        // Unfolded, the description is whole.
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&ical_text(e.description.as_ref().unwrap().as_str())));
    }

    #[test]
    fn library_files_are_what_they_claim_to_be() {
        let pdf = b"%PDF-1.7\n...".to_vec();
        let png = b"\x89PNG\r\n\x1a\n....".to_vec();
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0];
        let zip = b"PK\x03\x04rest".to_vec();
        assert_eq!(check_library_file("application/pdf", &pdf), Ok(FileKind::Pdf));
        assert_eq!(check_library_file("image/PNG; x=y", &png), Ok(FileKind::Png));
        assert_eq!(check_library_file("image/jpeg", &jpeg), Ok(FileKind::Jpeg));
        assert_eq!(check_library_file(DOCX_MEDIA_TYPE, &zip), Ok(FileKind::Docx));
        // Lying about the type.
        let e = check_library_file("application/pdf", &png).unwrap_err();
        assert!(e.contains("application/pdf") && e.contains("PNG"), "{e}");
        let e = check_library_file("image/png", b"MZ\x90\x00 an executable").unwrap_err();
        assert!(e.contains("none of the allowed types"), "{e}");
        assert!(check_library_file(DOCX_MEDIA_TYPE, &pdf).is_err());
        // Not allowed, empty, too large.
        let e = check_library_file("application/x-msdownload", &pdf).unwrap_err();
        assert!(
            e.contains("not allowed") && e.contains("x-msdownload") && e.contains("application/pdf"),
            "{e}"
        );
        assert!(check_library_file("text/plain", b"hola").is_err());
        assert_eq!(check_library_file("application/pdf", b""), Err("the file is empty".into()));
        let mut big = b"%PDF-".to_vec();
        big.resize(LIBRARY_FILE_MAX_BYTES + 1, b' ');
        assert!(check_library_file("application/pdf", &big).unwrap_err().contains("larger"));
        big.truncate(LIBRARY_FILE_MAX_BYTES);
        assert!(check_library_file("application/pdf", &big).is_ok());
    }

    #[test]
    fn parts_and_kept_text() {
        assert_eq!(part_count(1), 1);
        assert_eq!(part_count(LIBRARY_FILE_PART_BYTES), 1);
        assert_eq!(part_count(LIBRARY_FILE_PART_BYTES + 1), 2);
        assert_eq!(part_count(LIBRARY_FILE_MAX_BYTES), 10);
        assert_eq!(keep_text("  Protección\n\n consular\t\u{0}niñez  "), "Protección consular niñez");
        let long = "palabra ".repeat(LIBRARY_TEXT_MAX_BYTES / 4);
        let kept = keep_text(&long);
        assert!(kept.len() <= LIBRARY_TEXT_MAX_BYTES && kept.len() > LIBRARY_TEXT_MAX_BYTES - 10);
        assert!(kept.ends_with("palabra"));
        let accents = "ñ".repeat(LIBRARY_TEXT_MAX_BYTES);
        // One word too long for the limit is left out whole rather than cut in a character.
        assert_eq!(keep_text(&accents), "");
    }

    #[test]
    fn a_received_file_description_must_hold_together() {
        let f = LibraryFile {
            id: uuid::Uuid::nil(),
            item: uuid::Uuid::nil(),
            filename: "protocolo.pdf".into(),
            kind: FileKind::Pdf,
            content_type: "application/pdf".into(),
            size: 1500,
            sha256: "a".repeat(64),
            parts: 1,
            text_status: TextStatus::Indexed,
            text_note: None,
            created_at: Utc::now(),
        };
        assert_eq!(f.check(), Ok(()));
        assert!(LibraryFile { content_type: "image/png".into(), ..f.clone() }.check().is_err());
        assert!(LibraryFile { parts: 2, ..f.clone() }.check().is_err());
        assert!(
            LibraryFile { size: (LIBRARY_FILE_MAX_BYTES + 1) as i64, parts: 11, ..f.clone() }
                .check()
                .is_err()
        );
        assert!(LibraryFile { sha256: "A".repeat(64), ..f.clone() }.check().is_err());
        assert!(LibraryFile { filename: "../".into(), ..f.clone() }.check().is_err());
    }
}
