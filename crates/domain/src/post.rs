//! Consular posts: consulates and embassy consular sections.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::country::CountryCode;
pub use crate::post_data::{POSTS, PostSeed};

/// A post's code: the owning state, a dash, then upper-case letters, digits and dashes,
/// e.g. `GT-TAPACHULA` or `HN-EMB-MX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[schema(value_type = String, example = "GT-TAPACHULA")]
pub struct PostCode(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "\"{0}\" is not a post code (expected a state code, a dash and 2 to 40 of A-Z, 0-9 or -, e.g. GT-TAPACHULA)"
)]
pub struct BadPostCode(pub String);

impl PostCode {
    pub fn parse(s: &str) -> Result<Self, BadPostCode> {
        let up = s.trim().to_ascii_uppercase();
        let bad = || BadPostCode(s.to_string());
        let (state, rest) = up.split_once('-').ok_or_else(bad)?;
        CountryCode::parse(state).map_err(|_| bad())?;
        if state.len() != 2
            || !(2..=40).contains(&rest.len())
            || !rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad());
        }
        Ok(PostCode(up))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The state the post belongs to (the prefix of its code).
    pub fn state(&self) -> CountryCode {
        CountryCode::parse(&self.0[..2]).expect("checked at parse")
    }
}

impl std::fmt::Display for PostCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for PostCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PostCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    ConsulateGeneral,
    Consulate,
    EmbassySection,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::ConsulateGeneral => "consulate_general",
            PostKind::Consulate => "consulate",
            PostKind::EmbassySection => "embassy_section",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [PostKind::ConsulateGeneral, PostKind::Consulate, PostKind::EmbassySection]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A consular post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Post {
    pub code: PostCode,
    /// The state the post belongs to.
    pub state: CountryCode,
    pub kind: PostKind,
    /// The state where the post is.
    pub host_state: CountryCode,
    pub city: String,
    /// The consular district in plain words.
    pub district: String,
}

impl Post {
    /// The seeded posts, parsed. Panics only if the seed table is wrong (a unit test checks it).
    pub fn seeded() -> Vec<Post> {
        POSTS
            .iter()
            .map(|p| Post {
                code: PostCode::parse(p.code).expect("seed post code"),
                state: CountryCode::parse(p.state).expect("seed post state"),
                kind: PostKind::parse(p.kind).expect("seed post kind"),
                host_state: CountryCode::parse(p.host_state).expect("seed host state"),
                city: p.city.to_string(),
                district: p.district.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_posts_are_valid_and_unique() {
        let posts = Post::seeded();
        assert!(posts.len() > 50);
        let mut codes: Vec<_> = posts.iter().map(|p| p.code.clone()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), posts.len());
        for p in &posts {
            assert_eq!(p.code.state(), p.state, "{} prefix must be its state", p.code);
        }
        assert!(posts.iter().any(|p| p.code.as_str() == "GT-TAPACHULA"));
    }

    #[test]
    fn post_code_parsing() {
        assert_eq!(PostCode::parse("gt-tapachula").unwrap().as_str(), "GT-TAPACHULA");
        assert!(PostCode::parse("GT").is_err());
        assert!(PostCode::parse("ZZ-FOO").is_err());
        assert!(PostCode::parse("GT-ÑU").is_err());
        assert!(PostCode::parse("GT-A B").is_err());
    }
}
