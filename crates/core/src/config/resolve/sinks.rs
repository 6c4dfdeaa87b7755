//! `[[sinks]]` → typed sinks: unique names, a known kind with exactly its fields, valid
//! URLs, bounded batches, secrets read now.

use std::collections::BTreeSet;

use toml::Spanned;

use crate::config::UpstreamUrl;
use crate::config::raw::RawSink;
use crate::config::resolve::Resolver;
use crate::config::resolve::tools::parse_upstream_url;
use crate::config::sink::{Sink, SinkKind};

/// The most events one delivery may carry.
const MAX_BATCH: u32 = 10_000;
/// Events per write for the file and stdout sinks.
const LOCAL_BATCH: u32 = 1024;
const DEFAULT_BATCH: u32 = 256;
const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
const DEFAULT_KEEP: u32 = 5;

impl Resolver<'_> {
    pub(super) fn sinks(&mut self, raw: &[RawSink]) -> Vec<Sink> {
        let mut names = BTreeSet::new();
        raw.iter()
            .enumerate()
            .filter_map(|(index, sink)| {
                let field = format!("sinks[{index}]");
                self.sink_name(&field, &sink.name, &mut names);
                self.sink(&field, sink)
            })
            .collect()
    }

    fn sink_name(&mut self, field: &str, name: &Spanned<String>, names: &mut BTreeSet<String>) {
        let text = name.get_ref();
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte));
        if !valid {
            let message = format!("`{text}` is not a sink name (1 to 64 of `a-z A-Z 0-9 - _ .`)");
            self.error_at(&format!("{field}.name"), name, message);
        } else if !names.insert(text.clone()) {
            let message = format!("sink `{text}` is defined twice");
            self.error_at(&format!("{field}.name"), name, message);
        }
    }

    fn sink(&mut self, field: &str, raw: &RawSink) -> Option<Sink> {
        let kind = raw.kind.get_ref().as_str();
        let allowed: &[&str] = match kind {
            "file" => &["path", "max_bytes", "keep"],
            "stdout" => &[],
            "webhook" => &["url", "batch", "auth", "ca_file"],
            "otlp" => &["endpoint", "traces", "batch", "auth", "ca_file"],
            _ => {
                let message =
                    format!("unknown sink kind `{kind}` (`file`, `stdout`, `webhook` or `otlp`)");
                self.error_at(&format!("{field}.kind"), &raw.kind, message);
                return None;
            }
        };
        self.refuse_foreign_fields(field, kind, raw, allowed);
        let (kind, batch) = match kind {
            "file" => (self.file_sink(field, raw)?, LOCAL_BATCH),
            "stdout" => (SinkKind::Stdout, LOCAL_BATCH),
            "webhook" => {
                let url = self.required_url(field, "url", raw.url.as_ref())?;
                let url = self.upstream_ca(field, url, raw.ca_file.as_ref());
                let auth = self.sink_auth(field, raw);
                (
                    SinkKind::Webhook { url, auth },
                    self.batch(field, raw.batch),
                )
            }
            _ => {
                let endpoint = self.required_url(field, "endpoint", raw.endpoint.as_ref())?;
                let endpoint = self.upstream_ca(field, endpoint, raw.ca_file.as_ref());
                let kind = SinkKind::Otlp {
                    endpoint,
                    auth: self.sink_auth(field, raw),
                    traces: raw.traces.unwrap_or(false),
                };
                (kind, self.batch(field, raw.batch))
            }
        };
        Some(Sink {
            name: raw.name.get_ref().clone(),
            kind,
            batch,
        })
    }

    /// A field set for another kind of sink is a mistake, not something to ignore.
    fn refuse_foreign_fields(&mut self, field: &str, kind: &str, raw: &RawSink, allowed: &[&str]) {
        let set = [
            ("path", raw.path.is_some()),
            ("max_bytes", raw.max_bytes.is_some()),
            ("keep", raw.keep.is_some()),
            ("url", raw.url.is_some()),
            ("endpoint", raw.endpoint.is_some()),
            ("traces", raw.traces.is_some()),
            ("batch", raw.batch.is_some()),
            ("auth", raw.auth.is_some()),
            ("ca_file", raw.ca_file.is_some()),
        ];
        for (name, present) in set {
            if present && !allowed.contains(&name) {
                let message = format!("`{name}` does not apply to a `{kind}` sink");
                self.error_at_field(&format!("{field}.{name}"), message);
            }
        }
    }

    fn file_sink(&mut self, field: &str, raw: &RawSink) -> Option<SinkKind> {
        let Some(path) = &raw.path else {
            self.error_at_field(&format!("{field}.path"), "a `file` sink needs a `path`");
            return None;
        };
        let max_bytes = raw.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        if max_bytes < 4096 {
            self.error_at_field(&format!("{field}.max_bytes"), "must be at least 4096");
        }
        Some(SinkKind::File {
            path: self.path(path),
            max_bytes,
            keep: raw.keep.unwrap_or(DEFAULT_KEEP),
        })
    }

    fn sink_auth(&mut self, field: &str, raw: &RawSink) -> Option<crate::config::UpstreamAuth> {
        raw.auth
            .as_ref()
            .and_then(|auth| self.upstream_auth(field, auth))
    }

    fn batch(&mut self, field: &str, batch: Option<u32>) -> u32 {
        let batch = batch.unwrap_or(DEFAULT_BATCH);
        if batch == 0 || batch > MAX_BATCH {
            self.error_at_field(
                &format!("{field}.batch"),
                format!("must be between 1 and {MAX_BATCH}"),
            );
        }
        batch.clamp(1, MAX_BATCH)
    }

    fn required_url(
        &mut self,
        field: &str,
        name: &str,
        raw: Option<&Spanned<String>>,
    ) -> Option<UpstreamUrl> {
        let field = format!("{field}.{name}");
        let Some(raw) = raw else {
            self.error_at_field(&field, format!("this kind of sink needs `{name}`"));
            return None;
        };
        let parsed = parse_upstream_url(raw.get_ref());
        if parsed.is_none() {
            let message = format!(
                "`{}` is not an `http[s]://host:port[/path]` URL (no query, no fragment)",
                raw.get_ref()
            );
            self.error_at(&field, raw, message);
        }
        parsed
    }
}
