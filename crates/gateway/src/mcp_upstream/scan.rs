//! Finds the top-level `"id"` of a JSON-RPC message too large to keep, byte by byte and
//! in constant memory, so an oversize stdio reply fails its own request with `TooLarge`
//! rather than leaving it to time out. Only top-level integer ids are looked for: those
//! are the only ids Gatehouse sends upstream.

/// A streaming scan for a top-level `"id": <digits>`.
#[derive(Debug, Default)]
pub(super) struct IdScanner {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Inside a string that could still be the top-level key `id`: bytes matched so far.
    key: Option<usize>,
    state: State,
    found: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy)]
enum State {
    #[default]
    Idle,
    /// Read the string `"id"` at the top level: a `:` makes it a key.
    AfterId,
    AfterColon,
    Digits(i64),
}

impl IdScanner {
    pub(super) fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.in_string {
                self.string_byte(byte);
            } else {
                self.structural_byte(byte);
            }
        }
    }

    /// The id, if a top-level integer `id` was seen.
    pub(super) fn id(&self) -> Option<i64> {
        self.found
    }

    fn string_byte(&mut self, byte: u8) {
        if std::mem::take(&mut self.escaped) {
            self.key = None;
            return;
        }
        match byte {
            b'\\' => {
                self.escaped = true;
                self.key = None;
            }
            b'"' => {
                self.in_string = false;
                if self.key.take() == Some(2) {
                    self.state = State::AfterId;
                }
            }
            _ => {
                self.key = self
                    .key
                    .filter(|matched| b"id".get(*matched) == Some(&byte))
                    .map(|matched| matched + 1);
            }
        }
    }

    fn structural_byte(&mut self, byte: u8) {
        let whitespace = matches!(byte, b' ' | b'\t' | b'\r' | b'\n');
        self.state = match (self.state, byte) {
            (State::AfterId | State::AfterColon, _) if whitespace => self.state,
            (State::AfterId, b':') => State::AfterColon,
            (State::AfterColon, b'0'..=b'9') => State::Digits(i64::from(byte - b'0')),
            (State::Digits(value), b'0'..=b'9') => value
                .checked_mul(10)
                .and_then(|value| value.checked_add(i64::from(byte - b'0')))
                .map_or(State::Idle, State::Digits),
            (State::Digits(value), _) => {
                if self.depth == 1 {
                    self.found = Some(value);
                }
                State::Idle
            }
            _ => State::Idle,
        };
        match byte {
            b'"' => {
                self.in_string = true;
                self.key = (self.depth == 1).then_some(0);
            }
            b'{' | b'[' => self.depth = self.depth.saturating_add(1),
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_of(text: &str) -> Option<i64> {
        let mut scanner = IdScanner::default();
        // Byte by byte too, so state crossing chunk boundaries is exercised.
        for chunk in text.as_bytes().chunks(3) {
            scanner.feed(chunk);
        }
        scanner.id()
    }

    #[test]
    fn the_top_level_id_is_found_wherever_it_stands() {
        assert_eq!(id_of(r#"{"jsonrpc":"2.0","id":42,"result":{}}"#), Some(42));
        assert_eq!(
            id_of(r#"{"result":{"content":[{"id":7}]},"jsonrpc":"2.0","id" : 12345}"#),
            Some(12345)
        );
    }

    #[test]
    fn nested_ids_strings_and_escapes_do_not_fool_it() {
        assert_eq!(id_of(r#"{"result":{"id":7},"jsonrpc":"2.0"}"#), None);
        assert_eq!(id_of(r#"{"result":"\"id\":9","x":"id","y":1}"#), None);
        assert_eq!(id_of(r#"{"i\d":3}"#), None);
        assert_eq!(id_of(r#"{"id":"text"}"#), None);
        assert_eq!(id_of(r#"{"ids":5,"xid":6}"#), None);
        assert_eq!(id_of(r#"{"id":99999999999999999999999}"#), None);
    }
}
