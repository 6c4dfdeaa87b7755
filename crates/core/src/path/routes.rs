//! The routes of one tool, looked up by method and path.

use std::cmp::Reverse;

use crate::path::{PathTemplate, SafePath};

/// Routes of one tool: (method, template) → `T`. The template with the most literal
/// segments wins. Config rejects two templates of the same shape for one method, but
/// different shapes can still overlap (`/a/{x}/c` and `/a/b/{y}` both match `/a/b/c`),
/// so the order is total: then the template whose literals come first from the left,
/// then a single-segment parameter over a rest parameter, then declaration order.
#[derive(Debug, Clone)]
pub struct RouteTable<T> {
    // INVARIANT: sorted by precedence, greatest first, so the first match wins.
    routes: Vec<Entry<T>>,
}

#[derive(Debug, Clone)]
struct Entry<T> {
    method: String,
    template: PathTemplate,
    value: T,
}

impl<T> RouteTable<T> {
    /// `routes` are (uppercase method, template, value).
    pub fn new(routes: Vec<(String, PathTemplate, T)>) -> Self {
        let mut routes: Vec<Entry<T>> = routes
            .into_iter()
            .map(|(method, template, value)| Entry {
                method,
                template,
                value,
            })
            .collect();
        // Stable, so declaration order breaks the remaining ties.
        routes.sort_by_cached_key(|entry| Reverse(entry.template.precedence()));
        Self { routes }
    }

    /// The value of the most specific route for `method` (uppercase) and `path`.
    pub fn lookup(&self, method: &str, path: &SafePath<'_>) -> Option<&T> {
        self.routes
            .iter()
            .find(|entry| entry.method == method && entry.template.matches(path))
            .map(|entry| &entry.value)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}
