//! Conversions between Rust values and SQLite columns shared by every table.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use gatehouse_core::ids::DecisionId;
use rusqlite::Row;
use rusqlite::types::{FromSqlError, Type};

/// Counters and limits beyond `i64::MAX` cannot occur in practice (9 exabytes, or
/// 292,000 years of microseconds), and a budget that large is unlimited either way;
/// clamping keeps the record rather than refusing it over an impossible value.
pub(super) fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The error for a stored text column that does not read back as its type.
pub(super) fn invalid(index: usize, detail: String) -> rusqlite::Error {
    let source = FromSqlError::Other(detail.into());
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(source))
}

/// A list of names (policy ids) as the text of a JSON array of strings.
pub(super) fn string_list_json<T: Deref<Target = str>>(items: &[T]) -> String {
    // Building a `Value` cannot fail, unlike serializing an arbitrary `T`.
    let items = items
        .iter()
        .map(|item| serde_json::Value::String(item.to_string()));
    serde_json::Value::Array(items.collect()).to_string()
}

/// Reads a list written by [`string_list_json`].
pub(super) fn string_list<T: From<String>>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Vec<T>> {
    let text: String = row.get(index)?;
    let items: Vec<String> = serde_json::from_str(&text)
        .map_err(|error| invalid(index, format!("bad policy list `{text}`: {error}")))?;
    Ok(items.into_iter().map(T::from).collect())
}

/// Reads a member of a closed set (a status, checkpoint or tier) stored as its text: a
/// text the set does not name is an error, never a default.
pub(super) fn closed<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    let text: String = row.get(index)?;
    text.parse()
        .map_err(|error: T::Err| invalid(index, error.to_string()))
}

/// Reads a decision id stored as its text.
pub(super) fn decision_id(row: &Row<'_>, index: usize) -> rusqlite::Result<DecisionId> {
    let text: String = row.get(index)?;
    DecisionId::parse(&text).ok_or_else(|| invalid(index, format!("bad decision id `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_lists_survive_quotes_and_unicode() {
        let items = vec!["a\"b".to_owned(), "ü\\n".to_owned(), String::new()];
        let json = string_list_json(&items);
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, items);
    }

    #[test]
    fn a_stored_name_outside_its_set_is_an_error_not_a_default() {
        use gatehouse_core::approval::ApprovalStatus;
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let read = |text: &str| {
            conn.query_row("SELECT ?1", [text], |row| closed::<ApprovalStatus>(row, 0))
        };
        assert_eq!(read("executing").unwrap(), ApprovalStatus::Executing);
        let error = read("Pending").unwrap_err().to_string();
        assert!(
            error.contains("unknown approval status `Pending`"),
            "{error}"
        );
    }

    #[test]
    fn counters_clamp_instead_of_failing() {
        assert_eq!(clamp(u64::MAX), i64::MAX);
        assert_eq!(clamp(i64::MAX as u64 + 1), i64::MAX);
        assert_eq!(clamp(42), 42);
    }
}
