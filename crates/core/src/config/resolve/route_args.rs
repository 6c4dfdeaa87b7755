//! The typed arguments of HTTP routes: each read from a path parameter, a query
//! parameter or a top-level JSON body field, and typed as MCP arguments are, so policy
//! reads `context.args` the same way on both faces.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::config::raw::RawRouteArg;
use crate::config::resolve::Resolver;
use crate::config::resolve::mcp::{is_arg_name, parse_arg_spec};
use crate::config::{ArgSource, ArgSpec};
use crate::path::PathTemplate;

/// A route's declared arguments: their types, and where each is read from.
pub(super) type RouteArgs = (BTreeMap<String, ArgSpec>, BTreeMap<String, ArgSource>);

impl Resolver<'_> {
    pub(super) fn route_args(
        &mut self,
        field: &str,
        raw: &BTreeMap<String, RawRouteArg>,
        template: Option<&PathTemplate>,
    ) -> RouteArgs {
        let mut specs = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for (name, arg) in raw {
            let arg_field = format!("{field}.args.{name}");
            if !is_arg_name(name) {
                let message = "argument names start with a letter or `_`, then letters, digits or `_` (Cedar attribute names)";
                self.error_at_field(&arg_field, message);
                continue;
            }
            let Some((source, kind)) = self.arg_source(&arg_field, arg) else {
                continue;
            };
            let Some(spec) = self.route_arg_spec(&arg_field, name, source, kind, template) else {
                continue;
            };
            specs.insert(name.clone(), spec);
            sources.insert(name.clone(), source);
        }
        (specs, sources)
    }

    fn arg_source<'r>(
        &mut self,
        field: &str,
        raw: &'r RawRouteArg,
    ) -> Option<(ArgSource, &'r Spanned<String>)> {
        match (&raw.path, &raw.query, &raw.body) {
            (Some(kind), None, None) => Some((ArgSource::Path, kind)),
            (None, Some(kind), None) => Some((ArgSource::Query, kind)),
            (None, None, Some(kind)) => Some((ArgSource::Body, kind)),
            _ => {
                let message =
                    "set exactly one of `path`, `query` or `body` (its value is the argument type)";
                self.error_at_field(field, message);
                None
            }
        }
    }

    fn route_arg_spec(
        &mut self,
        field: &str,
        name: &str,
        source: ArgSource,
        kind: &Spanned<String>,
        template: Option<&PathTemplate>,
    ) -> Option<ArgSpec> {
        let Some(spec) = parse_arg_spec(kind.get_ref()) else {
            let message = format!(
                "unknown argument type `{}` (expected `string`, `path`, `long`, `bool` or `set<string>`, optionally ending in `?`)",
                kind.get_ref()
            );
            self.error_at(field, kind, message);
            return None;
        };
        let problem = match source {
            ArgSource::Path if template.is_some_and(|template| !template.has_param(name)) => {
                Some(format!("the route's path has no `{{{name}}}` parameter"))
            }
            ArgSource::Path if !spec.required => {
                Some("a path parameter is always present: drop the `?`".to_owned())
            }
            ArgSource::Path if spec.kind == crate::config::ArgKind::StringSet => {
                Some("a path parameter is one value, not a `set<string>`".to_owned())
            }
            _ => None,
        };
        if let Some(message) = problem {
            self.error_at(field, kind, message);
            return None;
        }
        Some(spec)
    }
}
