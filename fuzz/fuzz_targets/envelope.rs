//! The federation envelope parser. Two inputs: any text as a compact JWS, and any header and
//! payload signed with a key the directory knows (so the checks past the signature are fed
//! too). Every refusal is an error value; never a panic.
#![no_main]
use std::sync::OnceLock;

use enlace_fed::directory::{Directory, Endpoint, KeyEntry, NodeEntry, NodeRole, TlsPin};
use enlace_fed::ids::{NodeId, StateCode};
use enlace_fed::keys::SigningKey;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    directory: Directory,
    key: SigningKey,
    me: NodeId,
    now: chrono::DateTime<chrono::Utc>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        let key = SigningKey::from_seed(&[7; 32]);
        let day = chrono::TimeDelta::days(1);
        let node = |id: &str, state: &str, key: &SigningKey| NodeEntry {
            id: NodeId::parse(id).expect("id"),
            states: [StateCode::parse(state).expect("state")].into(),
            endpoint: Endpoint::parse(&format!("https://{id}.example.org")).expect("endpoint"),
            tls_pin: TlsPin::of_spki(id.as_bytes()),
            keys: vec![KeyEntry::new(key.verifying_key(), now - day, now + day)],
            roles: [NodeRole::Node].into(),
            revoked_at: None,
        };
        let gt = SigningKey::from_seed(&[9; 32]);
        let directory = Directory {
            serial: 3,
            issued_at: now - day,
            expires_at: now + day,
            nodes: vec![node("hn", "HN", &key), node("gt", "GT", &gt)],
            field_subsets: enlace_app::fed::agreed_field_subsets(),
        };
        Fixture { directory, key, me: NodeId::parse("gt").expect("id"), now }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let skew = chrono::TimeDelta::minutes(5);
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if mode % 2 == 0 {
        let _ = enlace_fed::receive::verify_envelope(text, &f.directory, &f.me, None, f.now, skew);
        return;
    }
    // A header and a payload, signed with hn's key.
    let (head, payload) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(serde_json::Value::Object(header)) = serde_json::from_str::<serde_json::Value>(head) else { return };
    let compact = enlace_fed::jws::sign(&header, payload.as_bytes(), &f.key);
    let hn = NodeId::parse("hn").expect("id");
    let _ = enlace_fed::receive::verify_envelope(&compact, &f.directory, &f.me, Some(&hn), f.now, skew);
});
