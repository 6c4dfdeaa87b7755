//! The bundled example tool the quickstart and benchmarks run behind the gateway: a tiny
//! in-memory record service (`POST /{collection}`, `GET /{collection}`,
//! `GET|DELETE /{collection}/{id}`, `POST /{collection}/{id}/{action}`) that insists on
//! its own upstream secret, so the quickstart shows the gateway injecting it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use gatehouse_gateway::body::ResponseBody;
use gatehouse_gateway::problem::json_response;

const MAX_BODY: usize = 64 * 1024;

/// One example tool instance.
#[derive(Debug)]
pub struct ExampleTool {
    name: String,
    /// The exact `Authorization` value it requires, if any.
    expected_auth: Option<String>,
    records: Mutex<BTreeMap<(String, u64), serde_json::Value>>,
    next_id: AtomicU64,
}

impl ExampleTool {
    pub fn new(name: &str, bearer_secret: Option<&str>) -> Self {
        Self {
            name: name.to_owned(),
            expected_auth: bearer_secret.map(|secret| format!("Bearer {secret}")),
            records: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    pub async fn handle(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        if !self.authorized(&request) {
            return reply(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"error": "missing or wrong upstream credential"}),
            );
        }
        let path = request.uri().path().to_owned();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (request.method().clone(), parts.as_slice()) {
            (Method::POST, [collection]) => {
                let collection = (*collection).to_owned();
                let body = read_json(request).await;
                self.create(collection, body)
            }
            (Method::GET, [collection]) => self.list(collection),
            (Method::GET, [collection, id]) => self.read(collection, id),
            (Method::DELETE, [collection, id]) => self.delete(collection, id),
            (Method::POST, [collection, id, action]) => self.act(collection, id, action),
            _ => reply(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "no such endpoint"}),
            ),
        }
    }

    fn authorized<B>(&self, request: &Request<B>) -> bool {
        let Some(expected) = &self.expected_auth else {
            return true;
        };
        request
            .headers()
            .get(http::header::AUTHORIZATION)
            .is_some_and(|value| value.as_bytes() == expected.as_bytes())
    }

    fn create(
        &self,
        collection: String,
        body: Option<serde_json::Value>,
    ) -> Response<ResponseBody> {
        let Some(mut record) = body.filter(serde_json::Value::is_object) else {
            return reply(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"error": "expected a JSON object"}),
            );
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(object) = record.as_object_mut() {
            object.insert("id".into(), id.into());
            object.insert("tool".into(), self.name.clone().into());
        }
        if let Ok(mut records) = self.records.lock() {
            records.insert((collection, id), record.clone());
        }
        reply(StatusCode::CREATED, &record)
    }

    fn list(&self, collection: &str) -> Response<ResponseBody> {
        let Ok(records) = self.records.lock() else {
            return unavailable();
        };
        let items: Vec<_> = records
            .iter()
            .filter(|((name, _), _)| name == collection)
            .map(|(_, record)| record.clone())
            .collect();
        reply(StatusCode::OK, &serde_json::json!({ collection: items }))
    }

    fn read(&self, collection: &str, id: &str) -> Response<ResponseBody> {
        let Ok(id) = id.parse::<u64>() else {
            return not_found();
        };
        let Ok(records) = self.records.lock() else {
            return unavailable();
        };
        match records.get(&(collection.to_owned(), id)) {
            Some(record) => reply(StatusCode::OK, record),
            // Benchmarks read a fixed record without creating it first.
            None if id == 0 => reply(
                StatusCode::OK,
                &serde_json::json!({"id": 0, "title": "example", "tool": self.name}),
            ),
            None => not_found(),
        }
    }

    /// Marks the record with the action done to it (e.g. `escalate`) and returns it.
    fn act(&self, collection: &str, id: &str, action: &str) -> Response<ResponseBody> {
        let Ok(id) = id.parse::<u64>() else {
            return not_found();
        };
        let Ok(mut records) = self.records.lock() else {
            return unavailable();
        };
        let Some(record) = records.get_mut(&(collection.to_owned(), id)) else {
            return not_found();
        };
        if let Some(object) = record.as_object_mut() {
            object.insert("last_action".into(), action.into());
        }
        reply(StatusCode::OK, record)
    }

    fn delete(&self, collection: &str, id: &str) -> Response<ResponseBody> {
        let Ok(id) = id.parse::<u64>() else {
            return not_found();
        };
        let Ok(mut records) = self.records.lock() else {
            return unavailable();
        };
        match records.remove(&(collection.to_owned(), id)) {
            Some(_) => reply(StatusCode::NO_CONTENT, &serde_json::Value::Null),
            None => not_found(),
        }
    }
}

async fn read_json(request: Request<Incoming>) -> Option<serde_json::Value> {
    let bytes: Bytes = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .ok()?
        .to_bytes();
    serde_json::from_slice(&bytes).ok()
}

fn reply(status: StatusCode, value: &serde_json::Value) -> Response<ResponseBody> {
    json_response(status, value, "application/json")
}

fn not_found() -> Response<ResponseBody> {
    reply(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not found"}),
    )
}

fn unavailable() -> Response<ResponseBody> {
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({"error": "unavailable"}),
    )
}
