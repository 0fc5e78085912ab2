//! The network workspace's demo data: the meeting of 8 June 2016 in Tegucigalpa from which the
//! project comes, its nine participating states and its eleven agreements transcribed from the
//! report (in Spanish, the original, with English and French titles), and the events it
//! mentions. Statuses are those the report gives: acknowledgements done at the meeting, item 4
//! taken off the agenda, the rest open.

use chrono::NaiveDate;
use enlace_domain::country::CountryCode;
use enlace_domain::network::{
    AgreementData, AgreementStatus, ContactData, ContactFunction, EventData, GroupData, Lang,
    LibraryItemData, LibraryKind, MeetingData, Party, TaskData, Titles,
};
use enlace_domain::person::{LongText, ShortText};

use crate::{Actor, App, AppError};

fn short(s: &str) -> ShortText {
    ShortText::parse(s).expect("demo text")
}

fn titles(es: &str, en: &str, fr: &str) -> Titles {
    Titles { es: Some(short(es)), en: Some(short(en)), fr: Some(short(fr)) }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("demo date")
}

fn state(c: &str) -> Party {
    Party::State(CountryCode::parse(c).expect("demo state"))
}

fn body(b: &str) -> Party {
    Party::Body(short(b))
}

const ST: &str = "Secretaría Técnica de la CRM";

/// The meeting.
pub fn meeting_2016() -> MeetingData {
    MeetingData {
        title: titles(
            "Reunión de la Red de Funcionarios de Enlace de Protección Consular",
            "Meeting of the Network of Consular Protection Liaison Officers",
            "Réunion du Réseau des fonctionnaires de liaison pour la protection consulaire",
        ),
        starts_on: day(2016, 6, 8),
        ends_on: None,
        place: short("Tegucigalpa, Honduras"),
        states: ["CA", "CR", "SV", "US", "GT", "HN", "MX", "PA", "DO"]
            .iter()
            .map(|c| CountryCode::parse(c).expect("demo state"))
            .collect(),
        // The subjects of the report's points, in its order.
        agenda: [
            "Informes sobre nuevos esfuerzos y buenas prácticas en protección y servicios consulares",
            "Taller de Intercambio y Buenas Prácticas de Atención Consular para Niñas, Niños y Adolescentes \
             Migrantes No Acompañados",
            "Memorándum de Entendimiento de la Red de Protección Consular y Asistencia Humanitaria en México",
            "Propuesta de Acuerdo de Cooperación Regional de Costa Rica",
            "Diálogo sobre flujos migratorios de cubanos y extracontinentales",
            "Nota conceptual sobre lineamientos de protección consular a personas trabajadoras migrantes",
            "Presentación de la RROCM",
            "Campaña regional de comunicación sobre migración de niñas, niños y adolescentes",
            "Plataforma regional de registros de casos de protección consular",
            "Presentación de la Secretaría General del SICA al GRCM",
            "Tercer Foro Global Consular",
        ]
        .iter()
        .map(|t| short(t))
        .collect(),
        summary: Some(
            LongText::parse(
                "Reunión ordinaria, previa a la reunión del Grupo Regional de Consulta sobre Migración (GRCM). \
                 La Red somete a consideración del GRCM su informe.",
            )
            .expect("demo text"),
        ),
    }
}

/// The eleven agreements, as the report numbers them.
pub fn agreements_2016() -> Vec<AgreementData> {
    let a = |number: u16, title: Titles, text: &str, responsible: Vec<Party>, due_on, status| AgreementData {
        number,
        title,
        text: LongText::parse(text).expect("demo text"),
        responsible,
        due_on,
        status,
    };
    use AgreementStatus::{Done, Open, Withdrawn};
    vec![
        a(
            1,
            titles(
                "Informes sobre nuevos esfuerzos y buenas prácticas",
                "Reports on new efforts and good practices",
                "Rapports sur les nouveaux efforts et les bonnes pratiques",
            ),
            "Agradecer a Costa Rica, Honduras, Canadá, México, República Dominicana Estados Unidos de América, \
             El Salvador, Guatemala, Panamá por sus informes sobre los nuevos esfuerzos y buenas prácticas en \
             materia de protección y servicios consulares.",
            ["CR", "HN", "CA", "MX", "DO", "US", "SV", "GT", "PA"].iter().map(|c| state(c)).collect(),
            None,
            Done,
        ),
        a(
            2,
            titles(
                "Taller sobre atención consular a niñez migrante no acompañada",
                "Workshop on consular care for unaccompanied migrant children",
                "Atelier sur l'assistance consulaire aux enfants migrants non accompagnés",
            ),
            "Agradecer a México por su presentación sobre el Taller de Intercambio y Buenas Prácticas de \
             Atención Consular para Niñas, Niños y Adolescentes Migrantes No Acompañados, donde se compartieron \
             las experiencias de los países del Triángulo Norte, a fin de contar con herramientas especializadas, \
             identificación de obstáculos y posibles soluciones.",
            vec![state("MX")],
            None,
            Done,
        ),
        a(
            3,
            titles(
                "Memorándum de Entendimiento de la Red de Protección Consular en México",
                "Memorandum of Understanding on the Consular Protection Network in Mexico",
                "Mémorandum d'accord sur le réseau de protection consulaire au Mexique",
            ),
            "Tomar nota de lo informado por Honduras respecto a la aprobación del Memorándum de Entendimiento \
             entre los Gobiernos de las Repúblicas de Guatemala, El Salvador, Honduras, Nicaragua y República \
             Dominicana para el Establecimiento de una Red de Protección Consular y Asistencia Humanitaria \
             Centroamericana y de la República Dominicana en los Estados Unidos Mexicanos. Honduras informó a la \
             Red que el documento ya fue remitido al Sistema de Integración Centroamericana (SICA), lo cual fue \
             reconocido por la Secretaria General del SICA.",
            vec![state("HN")],
            None,
            Done,
        ),
        a(
            4,
            titles(
                "Propuesta de Acuerdo de Cooperación Regional para la Protección de los Derechos Humanos de las \
                 Personas Migrantes",
                "Proposed Regional Cooperation Agreement on the Human Rights of Migrants",
                "Projet d'accord de coopération régionale sur les droits humains des personnes migrantes",
            ),
            "Sobre la propuesta de Costa Rica para un eventual Acuerdo de Cooperación Regional para la Protección \
             de los Derechos Humanos de las Personas Migrantes de los Países Miembros de la CRM, Costa Rica informó \
             que todavía no ha realizado el estudio de la aplicación de la propuesta por cambio de autoridades; \
             razón por la cual, se solicita sacarlo de la agenda para posteriormente notificar a la Secretaría \
             Técnica de la CRM su adhesión a la misma. En este sentido, Estados Unidos solicitó revisar el título \
             de la propuesta del Memorándum antes referido.",
            vec![state("CR"), state("US")],
            None,
            Withdrawn,
        ),
        a(
            5,
            titles(
                "Diálogo sobre flujos migratorios de cubanos y extracontinentales",
                "Dialogue on migration flows of Cubans and extra-continental migrants",
                "Dialogue sur les flux migratoires de Cubains et d'extracontinentaux",
            ),
            "En relación con el diálogo sobre flujos migratorios de cubanos y extra continentales, México \
             profundizará en el Grupo Regional de Consulta.",
            vec![state("MX")],
            None,
            Open,
        ),
        a(
            6,
            titles(
                "Nota conceptual: taller sobre lineamientos de protección consular a personas trabajadoras migrantes",
                "Concept note: workshop on guidelines for the consular protection of migrant workers",
                "Note conceptuelle : atelier sur des lignes directrices de protection consulaire des travailleurs \
                 migrants",
            ),
            "Sobre la nota conceptual para un posible taller con el objetivo de elaborar lineamientos generales \
             para la protección consular a las personas trabajadoras migrantes, se solicitará, a través de la ST, \
             que Nicaragua se pronuncie si desea retomar la iniciativa. Honduras ofrece presentar la nota \
             conceptual ante la Reunión Viceministerial en noviembre 2016, si así fuese el caso.",
            vec![state("NI"), body(ST), state("HN")],
            Some(day(2016, 11, 30)),
            Open,
        ),
        a(
            7,
            titles(
                "Presentación de la RROCM sobre la Red Consular",
                "RROCM presentation on the Consular Network",
                "Présentation de la RROCM sur le réseau consulaire",
            ),
            "Agradecer a la RROCM por su presentación donde resaltó la importancia de la Red Consular y su \
             necesidad de fortalecimiento.",
            vec![body("RROCM")],
            None,
            Done,
        ),
        a(
            8,
            titles(
                "Campaña regional de comunicación sobre migración de niñas, niños y adolescentes",
                "Regional communication campaign on the migration of children and adolescents",
                "Campagne régionale de communication sur la migration des enfants et des adolescents",
            ),
            "Reafirmar el interés de los Países Miembros de la CRM de realizar una campaña regional de \
             comunicación sobre migración de niñas, niños y adolescentes. A tal fin, la OIM, en coordinación con \
             la ST y los puntos de enlace a delegar por los gobiernos y otros sectores interesados, conformarán un \
             grupo para realizar esta iniciativa. Los Países Miembros interesados y la Sociedad Civil, a través \
             de la RROCM, que cuentan con campañas informativas en esta temática, ofrecieron compartir las mismas \
             para estos efectos antes de la reunión del GRCM en noviembre de 2016.",
            vec![body("OIM"), body(ST), body("RROCM")],
            Some(day(2016, 11, 30)),
            Open,
        ),
        a(
            9,
            titles(
                "Plataforma regional de registros de casos de protección consular",
                "Regional platform of consular protection case records",
                "Plateforme régionale de registres de dossiers de protection consulaire",
            ),
            "En relación con el diálogo sobre la posibilidad de abrir un espacio de intercambio de buenas \
             prácticas para avanzar hacia una plataforma regional de registros de casos de protección consular, \
             OIM solicita a los Países Miembros interesados redefinir el alcance deseado con esta iniciativa.",
            vec![body("OIM")],
            None,
            Open,
        ),
        a(
            10,
            titles(
                "Presentación de la Secretaría General del SICA al GRCM",
                "Presentation by the SICA General Secretariat to the GRCM",
                "Présentation du Secrétariat général du SICA au GRCM",
            ),
            "Los Países Miembros solicitaron a la Secretaría General del SICA realizar una presentación al GRCM, \
             el jueves 9 de junio del presente, sobre sus iniciativas en materia migratoria.",
            vec![body("Secretaría General del SICA")],
            Some(day(2016, 6, 9)),
            Open,
        ),
        a(
            11,
            titles(
                "Tercer Foro Global Consular",
                "Third Global Consular Forum",
                "Troisième Forum consulaire mondial",
            ),
            "Canadá compartió con los Países Miembros información sobre el Tercer Foro Global Consular a \
             realizarse en Corea del Sur del 25 al 27 de octubre 2016, en el cual se abordarán temas de protección \
             consular.",
            vec![state("CA")],
            None,
            Done,
        ),
    ]
}

/// The events the report announces.
pub fn events_2016() -> Vec<EventData> {
    vec![
        EventData {
            title: titles(
                "Presentación de la Secretaría General del SICA al GRCM",
                "Presentation by the SICA General Secretariat to the GRCM",
                "Présentation du Secrétariat général du SICA au GRCM",
            ),
            starts_on: day(2016, 6, 9),
            ends_on: day(2016, 6, 9),
            place: short("Tegucigalpa, Honduras"),
            announced_by: body(ST),
            description: Some(
                LongText::parse(
                    "Iniciativas del SICA en materia migratoria (punto 10 del informe de la Red).",
                )
                .expect("demo text"),
            ),
        },
        EventData {
            title: titles(
                "Tercer Foro Global Consular",
                "Third Global Consular Forum",
                "Troisième Forum consulaire mondial",
            ),
            starts_on: day(2016, 10, 25),
            ends_on: day(2016, 10, 27),
            place: short("República de Corea"),
            announced_by: state("CA"),
            description: Some(
                LongText::parse(
                    "Se abordarán temas de protección consular (punto 11 del informe de la Red).",
                )
                .expect("demo text"),
            ),
        },
    ]
}

/// The library's demo items: the workshop on unaccompanied children Mexico presented (item 2)
/// and the concept note on migrant workers (item 6), linked to the meeting and agreements.
pub fn library_2016(
    meeting: uuid::Uuid,
    agreements: &std::collections::HashMap<u16, uuid::Uuid>,
) -> Vec<LibraryItemData> {
    vec![
        LibraryItemData {
            title: titles(
                "Buenas prácticas de atención consular a niñas, niños y adolescentes migrantes no acompañados",
                "Good practices in consular care for unaccompanied migrant children and adolescents",
                "Bonnes pratiques d'assistance consulaire aux enfants et adolescents migrants non accompagnés",
            ),
            summary: Some(
                LongText::parse(
                    "Taller de Intercambio y Buenas Prácticas de Atención Consular para Niñas, Niños y Adolescentes \
                     Migrantes No Acompañados: experiencias de los países del Triángulo Norte, herramientas \
                     especializadas, identificación de obstáculos y posibles soluciones.",
                )
                .expect("demo text"),
            ),
            kind: LibraryKind::GoodPractice,
            state: Some(CountryCode::parse("MX").expect("demo state")),
            topic: Some(short("niñez migrante no acompañada")),
            audience: Some(short("personal consular")),
            language: Lang::Es,
            date: day(2016, 6, 8),
            meeting: Some(meeting),
            agreement: agreements.get(&2).copied(),
            group: None,
            visible_to: Vec::new(),
        },
        LibraryItemData {
            title: titles(
                "Nota conceptual: lineamientos generales para la protección consular a personas trabajadoras migrantes",
                "Concept note: general guidelines for the consular protection of migrant workers",
                "Note conceptuelle : lignes directrices pour la protection consulaire des travailleurs migrants",
            ),
            summary: Some(
                LongText::parse("Propuesta de taller para elaborar lineamientos generales de protección consular laboral.")
                    .expect("demo text"),
            ),
            kind: LibraryKind::ConceptNote,
            state: None,
            topic: Some(short("personas trabajadoras migrantes")),
            audience: None,
            language: Lang::Es,
            date: day(2016, 6, 8),
            meeting: Some(meeting),
            agreement: agreements.get(&6).copied(),
            group: None,
            visible_to: Vec::new(),
        },
    ]
}

/// The working group of item 8: IOM with the Technical Secretariat, the contact points the
/// governments delegate and civil society through the RROCM.
pub fn campaign_group(agreement: Option<uuid::Uuid>) -> GroupData {
    GroupData {
        title: titles(
            "Grupo de la campaña regional sobre migración de niñas, niños y adolescentes",
            "Working group on the regional campaign on child migration",
            "Groupe de travail sur la campagne régionale relative à la migration des enfants",
        ),
        purpose: Some(
            LongText::parse(
                "Realizar la campaña regional de comunicación sobre migración de niñas, niños y adolescentes \
                 (punto 8 del informe de la Red): la OIM, en coordinación con la ST y los puntos de enlace a \
                 delegar por los gobiernos y otros sectores interesados.",
            )
            .expect("demo text"),
        ),
        members: vec![body("OIM"), body(ST), body("RROCM")],
        agreement,
    }
}

/// The campaign material item 8 asks the RROCM to share, filed with the campaign's group.
pub fn campaign_material(
    meeting: uuid::Uuid,
    agreement: Option<uuid::Uuid>,
    group: uuid::Uuid,
) -> LibraryItemData {
    LibraryItemData {
        title: titles(
            "Campañas informativas existentes sobre migración de niñas, niños y adolescentes",
            "Existing information campaigns on child migration",
            "Campagnes d'information existantes sur la migration des enfants",
        ),
        summary: Some(
            LongText::parse(
                "Recopilación de las campañas de comunicación de los gobiernos y de la sociedad civil, para \
                 preparar la campaña regional (punto 8).",
            )
            .expect("demo text"),
        ),
        kind: LibraryKind::CampaignMaterial,
        state: None,
        topic: Some(short("campaña regional")),
        audience: Some(short("público general")),
        language: Lang::Es,
        date: day(2016, 6, 8),
        meeting: Some(meeting),
        agreement,
        group: Some(group),
        visible_to: Vec::new(),
    }
}

/// The task item 8 sets: sharing the campaigns that exist before the GRCM of November 2016.
pub fn campaign_task() -> TaskData {
    TaskData {
        title: titles(
            "Compartir las campañas informativas existentes antes de la reunión del GRCM",
            "Share the existing information campaigns before the GRCM meeting",
            "Partager les campagnes d'information existantes avant la réunion du GRCM",
        ),
        responsible: vec![body("RROCM")],
        due_on: Some(day(2016, 11, 30)),
        status: AgreementStatus::Open,
    }
}

/// A state's demo directory entry: its liaison function, not a real person.
pub fn demo_contact(state: CountryCode) -> ContactData {
    let code = state.as_str().to_lowercase();
    ContactData {
        state,
        function: ContactFunction::Liaison,
        name: short(&format!("Punto focal de protección consular ({})", state.info().name_es)),
        position: Some(short("Red de Funcionarios de Enlace de Protección Consular (demo)")),
        post: None,
        email: Some(short(&format!("enlace.{code}@example.org"))),
        phone: None,
        languages: if state.as_str() == "CA" { vec![Lang::En, Lang::Fr] } else { vec![Lang::Es, Lang::En] },
    }
}

impl App {
    /// Loads the workspace's demo data through the normal use cases, as `actor` (the Technical
    /// Secretariat), unless the workspace already holds a meeting. Returns whether it did.
    pub async fn seed_network_demo(&self, actor: &Actor) -> Result<bool, AppError> {
        if enlace_store::network::has_meetings(self.db()).await? {
            return Ok(false);
        }
        let m = self.create_meeting(actor, meeting_2016()).await?;
        let mut campaign = None;
        let mut ids = std::collections::HashMap::new();
        for a in agreements_2016() {
            let v = self.create_agreement(actor, m.id, a).await?;
            if v.data.number == 8 {
                campaign = Some(v.id);
            }
            ids.insert(v.data.number, v.id);
        }
        for item in library_2016(m.id, &ids) {
            self.edit_workspace(actor, crate::network::Edit::Library { id: None, data: item }).await?;
        }
        // Item 8: the group for the regional campaign, with the task the report gives it.
        let group = crate::network::Edit::Group { id: None, data: campaign_group(campaign) };
        if let crate::network::Recorded::Group(g) = self.edit_workspace(actor, group).await? {
            let task = crate::network::Edit::Task { group: g.id, id: None, data: campaign_task() };
            self.edit_workspace(actor, task).await?;
            let item = campaign_material(m.id, campaign, g.id);
            self.edit_workspace(actor, crate::network::Edit::Library { id: None, data: item }).await?;
        }
        for e in events_2016() {
            self.create_event(actor, e).await?;
        }
        Ok(true)
    }
}
