//! HTML building blocks for the console, through maud: markup is written in `html!`
//! templates checked at compile time, and every value spliced into them is escaped by
//! type (a `&str` or `String` is text; only [`maud::PreEscaped`] is markup, and it appears
//! here for the stylesheet literal alone). So call content, agent names and store data
//! cannot become markup by accident. The page frame, its inline stylesheet, and table
//! helpers. No JavaScript is ever emitted, and the CSP forbids it anyway.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// A whole page. `signed_in` (operator name, CSRF token) adds who is signed in and a
/// sign-out button.
pub(crate) fn page(title: &str, signed_in: Option<(&str, &str)>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Gatehouse" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/console" { "Gatehouse" }
                    @if let Some((operator, csrf)) = signed_in {
                        span.who {
                            "signed in as " b { (operator) }
                            form method="post" action="/console/logout" {
                                (csrf_field(csrf))
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
    .into_string()
}

/// The hidden form field carrying the session's CSRF token.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// A table: `headings` are literals, each row's cells are markup.
pub(crate) fn table(headings: &[&str], rows: &[Vec<Markup>], empty: &str) -> Markup {
    html! {
        @if rows.is_empty() {
            p.empty { (empty) }
        } @else {
            div.scroll {
                table {
                    thead { tr { @for heading in headings { th { (heading) } } } }
                    tbody {
                        @for row in rows {
                            tr { @for cell in row { td { (cell) } } }
                        }
                    }
                }
            }
        }
    }
}

/// A definition list of `(label, value)` pairs.
pub(crate) fn fields(pairs: &[(&str, Markup)]) -> Markup {
    html! {
        dl { @for (label, value) in pairs { dt { (label) } dd { (value) } } }
    }
}

/// Text in a `<code>` element.
pub(crate) fn code(text: &str) -> Markup {
    html! { code { (text) } }
}

/// An optional value, or a dash.
pub(crate) fn or_dash(text: Option<&str>) -> Markup {
    html! { (text.unwrap_or("–")) }
}

/// Text as markup (escaped), for a table cell or field value.
pub(crate) fn text(text: &str) -> Markup {
    html! { (text) }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for Unix seconds.
pub(crate) fn utc(secs: i64) -> String {
    gatehouse_core::clock::UnixTime::from_secs(secs).utc_text()
}

/// A status word as a coloured badge; `status` is one of our own status names.
pub(crate) fn badge(status: &str) -> Markup {
    let class = match status {
        "pending" | "paused" | "confirm" => "warn",
        "approved" | "executing" | "done" | "active" | "allow" => "ok",
        "denied" | "expired" | "cancelled" | "ended" | "deny" | "error" => "bad",
        _ => "plain",
    };
    html! { span class={ "badge " (class) } { (status) } }
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
.muted{color:#57606a}\
ol.tail{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 8px 8px 40px;margin:0;font-size:13px}\
ol.tail li{padding:2px 0;border-bottom:1px solid #eaeef2}\
form.filters input{width:auto;max-width:160px;margin-right:6px}\
form.filters label{display:inline;margin:0 6px 0 0}form.filters input#agent{max-width:360px}\
form.filters select{font:inherit;padding:5px 6px;border:1px solid #d0d7de;border-radius:6px;margin-right:6px}\
.scroll.chart{padding:8px;margin:12px 0}svg.chart{display:block;max-width:100%;height:auto}\
details{margin:12px 0}summary{cursor:pointer;font-weight:600;margin-bottom:8px}";
