//! HTML building blocks for the console: the one escaping function every piece of call
//! content goes through, the page frame with its inline stylesheet, and table helpers.
//! No JavaScript is ever emitted, and the CSP forbids it anyway.

use std::fmt::Write;

/// Escapes `&<>"'` so `text` is inert both as element content and inside a quoted
/// attribute. Everything that did not come from this module's own literals goes through here.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A whole page: `title` is text (escaped here), `body` is HTML built from escaped parts.
/// `signed_in` (operator name, CSRF token) adds who is signed in and a sign-out button.
pub(crate) fn page(title: &str, signed_in: Option<(&str, &str)>, body: &str) -> String {
    let title = escape(title);
    let header = match signed_in {
        Some((operator, csrf)) => format!(
            "<header><a class=\"brand\" href=\"/console\">Gatehouse</a>\
             <span class=\"who\">signed in as <b>{}</b>\
             <form method=\"post\" action=\"/console/logout\">{}\
             <button type=\"submit\" class=\"link\">Sign out</button></form></span></header>",
            escape(operator),
            csrf_field(csrf)
        ),
        None => "<header><a class=\"brand\" href=\"/console\">Gatehouse</a></header>".to_owned(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Gatehouse</title><style>{STYLE}</style></head>\
         <body>{header}<main>{body}</main></body></html>\n"
    )
}

/// The hidden form field carrying the session's CSRF token.
pub(crate) fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    )
}

/// A table: `headings` are literals, each row's cells are HTML already escaped.
pub(crate) fn table(headings: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"empty\">{}</p>", escape(empty));
    }
    let mut html = String::from("<div class=\"scroll\"><table><thead><tr>");
    for heading in headings {
        let _ = write!(html, "<th>{}</th>", escape(heading));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{cell}</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    html
}

/// A definition list of `(label, HTML value)` pairs.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let mut html = String::from("<dl>");
    for (label, value) in pairs {
        let _ = write!(html, "<dt>{}</dt><dd>{value}</dd>", escape(label));
    }
    html.push_str("</dl>");
    html
}

/// Text in a `<code>` element, escaped.
pub(crate) fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// An optional value, escaped, or a dash.
pub(crate) fn or_dash(text: Option<&str>) -> String {
    text.map_or_else(|| "–".to_owned(), escape)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for Unix seconds.
pub(crate) fn utc(secs: i64) -> String {
    gatehouse_core::clock::UnixTime::from_secs(secs).utc_text()
}

/// A status word as a coloured badge; `status` is one of our own status names.
pub(crate) fn badge(status: &str) -> String {
    let class = match status {
        "pending" | "paused" | "confirm" => "warn",
        "approved" | "executing" | "done" | "active" | "allow" => "ok",
        "denied" | "expired" | "cancelled" | "ended" | "deny" | "error" => "bad",
        _ => "plain",
    };
    format!("<span class=\"badge {class}\">{}</span>", escape(status))
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;background:#f6f8fa}\
header{display:flex;align-items:center;justify-content:space-between;padding:10px 24px;background:#24292f;color:#fff}\
header a.brand{color:#fff;font-weight:600;text-decoration:none;font-size:16px}\
header .who{display:flex;gap:12px;align-items:center}\
header form{margin:0}\
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}\
h1{font-size:20px;margin:8px 0 16px}h2{font-size:16px;margin:24px 0 8px}\
a{color:#0969da}\
.scroll{overflow-x:auto;background:#fff;border:1px solid #d0d7de;border-radius:6px}\
table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}\
th{background:#f6f8fa;font-weight:600;white-space:nowrap}\
tbody tr:last-child td{border-bottom:0}\
td{overflow-wrap:break-word}\
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\
pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;overflow-wrap:anywhere;\
background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px;margin:4px 0;max-height:360px;overflow:auto}\
dl{display:grid;grid-template-columns:max-content minmax(0,1fr) max-content minmax(0,1fr);gap:4px 16px;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:0}\
dt{font-weight:600;color:#57606a}\
@media (max-width:800px){dl{grid-template-columns:max-content minmax(0,1fr)}}dd{margin:0;overflow-wrap:anywhere}\
.badge{display:inline-block;white-space:nowrap;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600}\
.ok{background:#dafbe1;color:#116329}.warn{background:#fff8c5;color:#7d4e00}.bad{background:#ffebe9;color:#a40e26}.plain{background:#eaeef2}\
.flash{padding:8px 12px;border-radius:6px;margin:0 0 12px}\
.flash.ok{border:1px solid #4ac26b}.flash.bad{border:1px solid #ff8182}\
.empty{color:#57606a;font-style:italic}\
form.decide{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin-top:16px}\
label{display:block;font-weight:600;margin-bottom:4px}\
input[type=text],input[type=password]{width:100%;max-width:480px;padding:6px 8px;border:1px solid #d0d7de;border-radius:6px;font:inherit}\
button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid #d0d7de;background:#f6f8fa;cursor:pointer;margin:8px 8px 0 0}\
button.approve{background:#1f883d;color:#fff;border-color:#1a7f37}\
button.deny{background:#cf222e;color:#fff;border-color:#a40e26}\
button.link{background:none;border:0;color:#fff;text-decoration:underline;margin:0;padding:0}\
.login{max-width:420px;margin:48px auto;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:20px 24px}\
.muted{color:#57606a}";
