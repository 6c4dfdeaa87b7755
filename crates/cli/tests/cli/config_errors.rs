//! Bad configuration exits 64 with every problem, each naming file, field and line.

use crate::{check_after, example, gatehouse};

#[test]
fn the_quickstart_example_is_valid() {
    let (_dir, example) = example();
    let config = example.join("gatehouse.toml");
    let output = gatehouse(&["policy", "check", "--config", config.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        "ok: 5 policies, 1 agents, 2 tools, 1 MCP servers, 11 intents"
    );
}

#[test]
fn an_unknown_field_is_an_error_with_its_line() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace(
            "audience = \"gatehouse\"",
            "audience = \"gatehouse\"\ncolour = \"red\"",
        )
    });
    assert_eq!(code, 64);
    assert!(stderr.contains("gatehouse.toml:4"), "{stderr}");
    assert!(stderr.contains("unknown field `colour`"), "{stderr}");
}

#[test]
fn a_dangling_segment_names_the_field_and_line() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replacen("segment = \"data\"\nauth", "segment = \"dta\"\nauth", 1)
    });
    assert_eq!(code, 64);
    assert!(
        stderr.contains("gatehouse.toml:41: `tools.tickets.segment`: unknown segment `dta`"),
        "{stderr}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace("task_classes = [\"triage\"]", "task_classes = [\"triag\"]")
            .replace(
                "\"ticket.delete\", \"ticket.escalate\"",
                "\"ticket.purge\", \"ticket.escalate\"",
            )
    });
    assert_eq!(code, 64);
    assert!(stderr.contains("unknown task class `triag`"), "{stderr}");
    assert!(
        stderr.contains("unknown intent `ticket.purge`: no tool route or MCP mapping names it"),
        "{stderr}"
    );
}

#[test]
fn a_missing_secret_stops_start_up() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace(
            "secret_file = \"secrets/tickets.secret\"",
            "secret_env = \"GATEHOUSE_TEST_UNSET_SECRET\"",
        )
    });
    assert_eq!(code, 64);
    assert!(
        stderr.contains("`tools.tickets.auth.secret_env`: environment variable `GATEHOUSE_TEST_UNSET_SECRET` is not set or empty"),
        "{stderr}"
    );
}

#[test]
fn a_bad_url_and_a_bad_route_template_are_errors() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace(
            "url = \"http://127.0.0.1:8090\"",
            "url = \"ftp://tickets.internal\"",
        )
        .replace(
            "path = \"/tickets/{id}\", intent = \"ticket.read\"",
            "path = \"/tickets/../{id}\", intent = \"ticket.read\"",
        )
    });
    assert_eq!(code, 64);
    assert!(stderr.contains("`tools.tickets.url`"), "{stderr}");
    assert!(
        stderr.contains("`tools.tickets.routes[2].path`: invalid path template"),
        "{stderr}"
    );
}

#[test]
fn a_policy_that_fails_schema_validation_names_its_file_and_line() {
    let (code, stderr) = check_after("policies/triage.cedar", |text| {
        text.replace(
            "  resource in Gatehouse::Segment::\"data\"\n);",
            "  resource in Gatehouse::Segment::\"data\"\n) when { principal.clearance > 3 };",
        )
    });
    assert_eq!(code, 64);
    assert!(stderr.contains("triage.cedar"), "{stderr}");
    assert!(stderr.contains("clearance"), "{stderr}");
}

#[test]
fn a_policy_that_does_not_parse_is_an_error() {
    let (code, stderr) = check_after("policies/triage.cedar", |text| {
        text.replace("forbid (", "forbid (((")
    });
    assert_eq!(code, 64);
    assert!(stderr.contains("triage.cedar:"), "{stderr}");
}

#[test]
fn serve_with_a_bad_config_exits_64_before_binding_any_port() {
    let (_dir, example) = example();
    let port = free_port();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
            .replace(
                "audience = \"gatehouse\"",
                "audience = \"gatehouse\"\nbogus = 1",
            )
    });
    let config = example.join("gatehouse.toml");
    let output = gatehouse(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(64));
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn tls_files_and_client_certificates_name_their_fields() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace(
            "audience = \"gatehouse\"",
            "audience = \"gatehouse\"\n\
             data_tls = { cert_file = \"missing.pem\", key_file = \"gatehouse.toml\", client_auth = \"always\" }\n\
             control_tls = { cert_file = \"a.pem\", key_file = \"b.pem\", client_ca_file = \"ca.pem\" }",
        )
    });
    assert_eq!(code, 64);
    for expected in [
        "`gateway.data_tls.cert_file`: cannot read",
        "`gateway.data_tls.key_file`: ",
        "holds no PEM PRIVATE KEY",
        "`gateway.data_tls.client_auth`: needs `client_ca_file`",
        "`gateway.control_tls.client_ca_file`: only the data plane takes client certificates",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

#[test]
fn a_ca_file_needs_an_https_tool() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replacen(
            "segment = \"data\"\nauth",
            "segment = \"data\"\nca_file = \"gatehouse.toml\"\nauth",
            1,
        )
    });
    assert_eq!(code, 64);
    assert!(
        stderr.contains("`tools.tickets.ca_file`: only an `https://` URL takes a `ca_file`"),
        "{stderr}"
    );
}

#[test]
fn a_zero_event_retention_names_the_field() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace(
            "audience = \"gatehouse\"",
            "audience = \"gatehouse\"\nevent_retention_days = 0",
        )
    });
    assert_eq!(code, 64);
    assert!(
        stderr.contains("`gateway.event_retention_days`: must be between 1 and 36500"),
        "{stderr}"
    );
}

#[test]
fn every_refused_field_is_reported_at_once_with_its_line() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace(
            "audience = \"gatehouse\"",
            "audience = \"gatehouse\"\ncolour = \"red\"",
        )
        .replace("ttl_minutes = 60", "ttl_minutes = \"sixty\"")
        .replace("description = \"data-plane APIs\"", "descripton = \"typo\"")
        .replace("[approvals]\n", "[approvals]\nwait_forever = true\n")
    });
    assert_eq!(code, 64);
    let problems = stderr
        .lines()
        .filter(|line| line.contains("gatehouse.toml:"));
    assert_eq!(problems.count(), 4, "{stderr}");
    assert!(
        stderr.contains("gatehouse.toml:4: unknown field `colour`"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `descripton`"), "{stderr}");
    assert!(
        stderr.contains("invalid type: string \"sixty\""),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `wait_forever`"), "{stderr}");
}

#[test]
fn a_syntax_error_is_reported_once_without_a_cascade() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace("audience = \"gatehouse\"", "audience = \"gatehouse")
    });
    assert_eq!(code, 64);
    assert!(stderr.contains("gatehouse.toml:3"), "{stderr}");
}

/// `policy check` on the example after declaring `args` on the `ticket.read` route and
/// adding `policy` to the triage policies.
fn check_with_route_args(args: &str, policy: &str) -> (i32, String) {
    let (_dir, example) = example();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace(
            r#"intent = "ticket.read", data_class = "internal" }"#,
            &format!(r#"intent = "ticket.read", data_class = "internal", args = {args} }}"#),
        )
    });
    crate::rewrite(&example.join("policies/triage.cedar"), |text| {
        format!("{text}\n{policy}\n")
    });
    let config = example.join("gatehouse.toml");
    let output = gatehouse(&["policy", "check", "--config", config.to_str().unwrap()]);
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const READS_ID: &str = r#"forbid (principal, action == Gatehouse::Action::"ticket.read", resource)
when { context.args.id == "vault" };"#;

const READS_OWNER: &str = r#"forbid (principal, action == Gatehouse::Action::"ticket.read", resource)
when { context.args.owner == "vault" };"#;

#[test]
fn a_policy_may_read_a_declared_route_argument() {
    let (code, stderr) = check_with_route_args(r#"{ id = { path = "string" } }"#, READS_ID);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_policy_reading_an_undeclared_route_argument_fails_the_check() {
    let (code, stderr) = check_with_route_args(r#"{ id = { path = "string" } }"#, READS_OWNER);
    assert_eq!(code, 64);
    assert!(stderr.contains("triage.cedar"), "{stderr}");
    assert!(stderr.contains("owner"), "{stderr}");
    // A route without `args` has no `context.args` at all.
    let (code, stderr) = check_with_route_args("{}", READS_ID);
    assert_eq!(code, 64, "{stderr}");
}

#[test]
fn route_argument_mistakes_name_their_field() {
    let field = "tools.tickets.routes[2].args";
    for (args, message) in [
        (
            r#"{ owner = { path = "string" } }"#,
            "the route's path has no `{owner}` parameter",
        ),
        (
            r#"{ id = { path = "string", query = "string" } }"#,
            "set exactly one of `path`, `query` or `body`",
        ),
        (
            r#"{ id = { query = "number" } }"#,
            "unknown argument type `number`",
        ),
        (r#"{ id = { path = "string?" } }"#, "always present"),
        (
            r#"{ id = { header = "string" } }"#,
            "unknown field `header`",
        ),
    ] {
        let (code, stderr) = check_with_route_args(args, "");
        assert_eq!(code, 64, "{args}: {stderr}");
        assert!(stderr.contains(message), "{args}: {stderr}");
        if !message.starts_with("unknown field") {
            assert!(stderr.contains(field), "{args}: {stderr}");
        }
    }
}

#[test]
fn routes_sharing_an_intent_declare_the_same_args() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace(
            r#"intent = "ticket.read", data_class = "internal" },"#,
            r#"intent = "ticket.read", data_class = "internal", args = { id = { path = "long" } } },
  { method = "HEAD", path = "/tickets/{id}", intent = "ticket.read", data_class = "internal" },"#,
        )
    });
    assert_eq!(code, 64);
    assert!(
        stderr.contains("`tools.tickets.routes[3].args`: intent `ticket.read` declares other `args` on another route"),
        "{stderr}"
    );
}

#[test]
fn sinks_are_checked_field_by_field() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        format!(
            "{text}\n[[sinks]]\nname = \"siem\"\nkind = \"webhook\"\nurl = \"https://siem.example?x=1\"\npath = \"x.jsonl\"\n\n[[sinks]]\nname = \"siem\"\nkind = \"kafka\"\n\n[[sinks]]\nname = \"otel\"\nkind = \"otlp\"\nbatch = 0\n\n[[sinks]]\nname = \"out\"\nkind = \"stdout\"\nca_file = \"ca.pem\"\n"
        )
    });
    assert_eq!(code, 64);
    for expected in [
        "`sinks[0].url`: `https://siem.example?x=1` is not an `http[s]://host:port[/path]` URL",
        "`sinks[0].path`: `path` does not apply to a `webhook` sink",
        "`sinks[1].name`: sink `siem` is defined twice",
        "`sinks[1].kind`: unknown sink kind `kafka`",
        "`sinks[2].endpoint`: this kind of sink needs `endpoint`",
        "`sinks[3].ca_file`: `ca_file` does not apply to a `stdout` sink",
    ] {
        assert!(stderr.contains(expected), "no `{expected}` in:\n{stderr}");
    }
}

#[test]
fn an_unknown_sink_field_is_an_error() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        format!("{text}\n[[sinks]]\nname = \"out\"\nkind = \"stdout\"\ncolour = \"red\"\n")
    });
    assert_eq!(code, 64);
    assert!(stderr.contains("unknown field `colour`"), "{stderr}");
}

#[test]
fn discovery_outside_observe_mode_is_refused_naming_the_fix() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace("[tools.tickets]\n", "[tools.tickets]\ndiscover = true\n")
    });
    assert_eq!(code, 64);
    assert!(
        stderr.contains(
            "`tools.tickets.discover`: discovery forwards calls that match no route, so it is \
             only allowed in observe mode: set `enforce = false` on the tool or its segment"
        ),
        "{stderr}"
    );
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replace(
            "[tools.tickets]\n",
            "[tools.tickets]\ndiscover = true\nenforce = false\n",
        )
    });
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn response_risk_settings_name_only_classes_and_detectors_that_exist() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        let mut text = text
            .replacen(
                r#"intent = "ticket.create", data_class = "internal" }"#,
                r#"intent = "ticket.create", data_class = "internal", scan = ["awz"] }"#,
                1,
            )
            .replacen(
                "[task_classes.triage]\n",
                "[task_classes.triage]\nmax_data_class = \"sekret\"\n",
                1,
            );
        text.push_str(
            "\n[risk]\nclasses = [\"public\", \"internal\", \"internal\"]\n\n[[risk.detectors]]\nname = \"aws\"\nkind = \"aws-key\"\nclass = \"secret\"\n",
        );
        text
    });
    assert_eq!(code, 64);
    for expected in [
        "`internal` is listed twice",
        "unknown detector kind `aws-key`",
        "unknown detector `awz` (define it under [[risk.detectors]])",
        "data class `sekret` is not listed in `[risk] classes`",
    ] {
        assert!(stderr.contains(expected), "no `{expected}` in {stderr}");
    }
}

#[test]
fn only_a_websocket_upgrade_on_a_get_route_is_accepted() {
    let (code, stderr) = check_after("gatehouse.toml", |text| {
        text.replacen(
            "intent = \"ticket.list\", data_class = \"internal\" }",
            "intent = \"ticket.list\", data_class = \"internal\", upgrade = [\"h2c\"] }",
            1,
        )
        .replacen(
            "intent = \"ticket.create\", data_class = \"internal\" }",
            "intent = \"ticket.create\", data_class = \"internal\", upgrade = [\"websocket\"] }",
            1,
        )
    });
    assert_eq!(code, 64);
    for expected in [
        "`h2c` is never let through",
        "a WebSocket upgrade is a `GET`",
    ] {
        assert!(stderr.contains(expected), "no `{expected}` in:\n{stderr}");
    }
}
