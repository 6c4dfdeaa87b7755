//! Newline-delimited reading with a bound: a stdio server cannot make Gatehouse buffer
//! more than the response limit for one line. An oversize line is read past, keeping
//! only what identifies it (its top-level `id`).

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::mcp_upstream::scan::IdScanner;

/// One read from a stream of lines.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// A line within the limit, without its `\n`.
    Complete(Vec<u8>),
    /// A line over the limit, dropped; its top-level integer `id`, if it had one.
    Oversize { id: Option<i64> },
    /// The stream ended.
    End,
}

#[derive(Debug)]
pub(super) struct Lines<R> {
    reader: BufReader<R>,
    limit: usize,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    pub(super) fn new(reader: R, limit: usize) -> Self {
        Self {
            reader: BufReader::new(reader),
            limit,
        }
    }

    /// The next line; a last line without `\n` still counts.
    pub(super) async fn next(&mut self) -> std::io::Result<Line> {
        let mut line = Vec::new();
        let mut oversize: Option<IdScanner> = None;
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(match oversize {
                    Some(scanner) => Line::Oversize { id: scanner.id() },
                    None if line.is_empty() => Line::End,
                    None => Line::Complete(line),
                });
            }
            let newline = available.iter().position(|byte| *byte == b'\n');
            let (part, _) = available.split_at(newline.unwrap_or(available.len()));
            match &mut oversize {
                Some(scanner) => scanner.feed(part),
                None if line.len() + part.len() > self.limit => {
                    let mut scanner = IdScanner::default();
                    scanner.feed(&line);
                    scanner.feed(part);
                    line = Vec::new();
                    oversize = Some(scanner);
                }
                None => line.extend_from_slice(part),
            }
            let used = part.len() + usize::from(newline.is_some());
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(match oversize {
                    Some(scanner) => Line::Oversize { id: scanner.id() },
                    None => Line::Complete(line),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], limit: usize) -> Vec<Line> {
        let mut lines = Lines::new(input, limit);
        let mut out = Vec::new();
        loop {
            let line = lines.next().await.unwrap();
            let end = line == Line::End;
            out.push(line);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn lines_split_at_newlines_and_the_last_one_needs_none() {
        assert_eq!(
            read_all(b"a\n\nbc\nd", 10).await,
            [
                Line::Complete(b"a".to_vec()),
                Line::Complete(Vec::new()),
                Line::Complete(b"bc".to_vec()),
                Line::Complete(b"d".to_vec()),
                Line::End
            ]
        );
    }

    #[tokio::test]
    async fn an_oversize_line_is_dropped_with_its_id_and_reading_goes_on() {
        let big = format!("{{\"result\":\"{}\",\"id\":5}}\nok\n", "x".repeat(100));
        assert_eq!(
            read_all(big.as_bytes(), 20).await,
            [
                Line::Oversize { id: Some(5) },
                Line::Complete(b"ok".to_vec()),
                Line::End
            ]
        );
        assert_eq!(
            read_all(b"0123456789abc", 5).await,
            [Line::Oversize { id: None }, Line::End]
        );
    }

    #[tokio::test]
    async fn a_line_at_the_limit_is_kept() {
        assert_eq!(
            read_all(b"12345\n", 5).await,
            [Line::Complete(b"12345".to_vec()), Line::End]
        );
    }
}
