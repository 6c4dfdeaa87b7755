//! Conversions between Rust values and SQLite columns shared by every table.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_clamp_instead_of_failing() {
        assert_eq!(clamp(u64::MAX), i64::MAX);
        assert_eq!(clamp(i64::MAX as u64 + 1), i64::MAX);
        assert_eq!(clamp(42), 42);
    }
}
