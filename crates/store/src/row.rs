//! Typed column access that reads the same on SQLite and PostgreSQL rows.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::StoreError;

pub(crate) trait RowExt {
    fn uuid(&self, col: &str) -> Result<Uuid, StoreError>;
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, StoreError>;
    fn text(&self, col: &str) -> Result<String, StoreError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    fn float(&self, col: &str) -> Result<f64, StoreError>;
    fn ts(&self, col: &str) -> Result<DateTime<Utc>, StoreError>;
    fn opt_ts(&self, col: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    fn opt_date(&self, col: &str) -> Result<Option<chrono::NaiveDate>, StoreError>;
    fn boolean(&self, col: &str) -> Result<bool, StoreError>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError>;
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn uuid(&self, col: &str) -> Result<Uuid, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn text(&self, col: &str) -> Result<String, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn int(&self, col: &str) -> Result<i64, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn float(&self, col: &str) -> Result<f64, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn ts(&self, col: &str) -> Result<DateTime<Utc>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_ts(&self, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_date(&self, col: &str) -> Result<Option<chrono::NaiveDate>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn boolean(&self, col: &str) -> Result<bool, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
                Ok(self.try_get(col)?)
            }
        }
    };
}

impl_row_ext!(sqlx::sqlite::SqliteRow);
impl_row_ext!(sqlx::postgres::PgRow);

/// Parses a stored value with a domain parser, reporting the column on failure.
pub(crate) fn parse<T, E: std::fmt::Display>(
    col: &str,
    raw: &str,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    f(raw).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn parse_opt<T>(col: &str, raw: &str, f: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
    f(raw).ok_or_else(|| StoreError::Corrupt(format!("{col}: unexpected value {raw:?}")))
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(col: &str, raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain values serialise")
}
