use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

#[test]
fn override_and_rewrite_headers_are_refused_in_any_case_and_with_underscores() {
    for name in [
        "x-http-method-override",
        "X-HTTP-Method-Override",
        "x_http_method_override",
        "X-Http_Method",
        "x-method-override",
        "X-Original-URL",
        "x_rewrite_url",
        "upgrade",
        "Upgrade",
    ] {
        assert!(
            matches!(judge(name, None), Verdict::Refuse(_)),
            "{name} not refused"
        );
    }
}

#[test]
fn gatehouse_forwarding_hop_by_hop_and_secret_variants_are_stripped() {
    for name in [
        "gatehouse-agent",
        "Gatehouse_Agent",
        "GATEHOUSE_WORKFLOW",
        "gatehouse-confirmation",
        "forwarded",
        "X_Forwarded_For",
        "x-forwarded-host",
        "x-real-ip",
        "X_Real_IP",
        "transfer_encoding",
        "http2-settings",
        "authorization",
        "Authorization",
        "x-api-key",
        "X_API_KEY",
        "host",
    ] {
        assert_eq!(judge(name, Some("x-api-key")), Verdict::Strip, "{name}");
    }
}

#[test]
fn ordinary_headers_are_kept() {
    for name in [
        "content-type",
        "accept",
        "x-request-id",
        "user-agent",
        "x-api-key",
        "gatehouse",
        "x-forwarded",
    ] {
        assert_eq!(judge(name, None), Verdict::Keep, "{name}");
    }
}

#[test]
fn a_method_parameter_is_found_in_any_spelling() {
    for query in [
        "_method=DELETE",
        "a=1&_method=PUT",
        "_METHOD=put",
        "%5fmethod=DELETE",
        "%5Fmethod",
    ] {
        assert!(has_method_param(query), "{query}");
    }
    for query in ["method=DELETE", "x_method=1", "a=_method", "_methods=1", ""] {
        assert!(!has_method_param(query), "{query}");
    }
}

/// The table in docs/configuration.md, between its markers: `(header, treatment)` rows.
fn documented() -> BTreeSet<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("<!-- headers:begin -->").unwrap();
    let end = text.find("<!-- headers:end -->").unwrap();
    text[start..end]
        .lines()
        .filter(|line| line.starts_with('|'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_owned(), (*cells.get(2)?).to_owned()))
        })
        .collect()
}

#[test]
fn the_documented_header_table_is_exactly_what_the_code_does() {
    let code: BTreeSet<(String, String)> = table()
        .into_iter()
        .map(|(name, treatment)| (name, treatment.as_str().to_owned()))
        .collect();
    assert_eq!(documented(), code);
}

proptest! {
    /// Folding is total: a name judged anything but `Keep` stays so in any case or
    /// `-`/`_` spelling, and judging never panics.
    #[test]
    fn verdicts_do_not_depend_on_case_or_underscores(
        index in 0usize..40,
        flips in proptest::collection::vec(any::<bool>(), 40),
    ) {
        let names: Vec<&str> = REFUSED.iter().map(|(name, _)| *name)
            .chain(HOP_BY_HOP).chain(STRIPPED).chain(REPLACED).collect();
        let name = names[index % names.len()];
        let varied: String = name.chars().zip(flips.iter().cycle()).map(|(c, &flip)| match (c, flip) {
            ('-', true) => '_',
            (c, true) => c.to_ascii_uppercase(),
            (c, false) => c,
        }).collect();
        prop_assert_eq!(judge(&varied, None), judge(name, None));
        prop_assert_ne!(judge(name, None), Verdict::Keep);
    }

    #[test]
    fn judging_any_name_never_panics(name in ".{0,64}", secret in proptest::option::of("[a-z-]{1,16}")) {
        let _ = judge(&name, secret.as_deref());
        let _ = has_method_param(&name);
    }
}
