//! An incremental `text/event-stream` parser (WHATWG HTML, "server-sent events"), as
//! much of it as Streamable HTTP needs: lines end in CRLF, LF or a lone CR; an event is
//! the `data:` lines of one block joined by `\n`; comments, `event:`, `id:` and `retry:`
//! are read past (Gatehouse does not resume streams, so event ids are not kept).

/// Bytes in, complete events' data out. The caller bounds the total fed.
#[derive(Debug, Default)]
pub(super) struct EventStream {
    /// The current, unfinished line.
    line: Vec<u8>,
    /// The current event's data so far.
    data: Vec<u8>,
    /// Whether the current event has a `data` field (it may be empty).
    has_data: bool,
    /// The last chunk ended in CR: an LF opening the next chunk belongs to it.
    after_cr: bool,
}

impl EventStream {
    /// Feeds a chunk; returns the data of each event it completed, in order.
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut events = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::take(&mut self.after_cr);
            match byte {
                b'\n' if after_cr => {}
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut events);
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn end_line(&mut self, events: &mut Vec<Vec<u8>>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if std::mem::take(&mut self.has_data) {
                events.push(std::mem::take(&mut self.data));
            }
            return;
        }
        let (field, value) = match line.iter().position(|byte| *byte == b':') {
            Some(colon) => {
                let (field, rest) = line.split_at(colon);
                let value = rest.get(1..).unwrap_or_default();
                (field, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line.as_slice(), &[][..]),
        };
        // An empty field name is a comment (`: keep-alive`); other fields are not needed.
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<String> {
        let mut stream = EventStream::default();
        chunks
            .iter()
            .flat_map(|chunk| stream.feed(chunk))
            .map(|event| String::from_utf8(event).unwrap())
            .collect()
    }

    #[test]
    fn events_end_at_a_blank_line_and_join_their_data_lines() {
        let text = b"event: message\nid: 1\ndata: {\"a\":\ndata:1}\n\n: comment\n\ndata: x\n\n";
        assert_eq!(all(&[text]), ["{\"a\":\n1}", "x"]);
    }

    #[test]
    fn crlf_lone_cr_and_split_chunks_all_end_lines() {
        assert_eq!(
            all(&[b"data: a\r\n\r\ndata: b\r\rdata: c\n\n"]),
            ["a", "b", "c"]
        );
        assert_eq!(
            all(&[b"data: a\r", b"\n", b"\r", b"\ndata: b\n", b"\n"]),
            ["a", "b"]
        );
        assert_eq!(all(&[b"da", b"ta: spl", b"it\n", b"\n"]), ["split"]);
    }

    #[test]
    fn a_priming_event_has_empty_data_and_an_unfinished_event_is_not_emitted() {
        assert_eq!(all(&[b"id: 7\ndata:\n\ndata: half\n"]), [""]);
        assert!(all(&[b"id: 7\nretry: 10\n\n"]).is_empty());
    }
}
