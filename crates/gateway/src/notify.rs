//! Outbound notifications: a JSON POST to the configured webhook, with a `text` member
//! that Slack-style incoming webhooks display. Sent in the background; a failure is
//! logged, never blocks a call.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_core::approval::Approval;
use gatehouse_core::workflow::{BudgetKind, Workflow};
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Sends notifications, if a webhook is configured.
#[derive(Debug, Clone)]
pub struct Notifier {
    url: Option<Arc<str>>,
}

impl Notifier {
    pub fn new(url: Option<&str>) -> Self {
        Self {
            url: url.map(Arc::from),
        }
    }

    /// A workflow paused on an exhausted budget; tells its agent's owner.
    pub fn workflow_paused(&self, workflow: &Workflow, kind: BudgetKind, owner: Option<&str>) {
        let text = format!(
            "Gatehouse paused workflow `{}` of agent `{}`: its `{}` budget is spent ({} of {}). An operator may extend and resume it.",
            workflow.id,
            workflow.agent,
            kind.as_str(),
            workflow.usage.of(kind),
            workflow.budget.of(kind),
        );
        let body = serde_json::json!({
            "type": "workflow.paused",
            "text": text,
            "workflow": workflow.id.as_str(),
            "agent": workflow.agent.as_str(),
            "owner": owner,
            "budget": kind.as_str(),
            "usage": workflow.usage,
            "limits": workflow.budget,
        });
        self.send(body);
    }

    /// A call was parked for approval; approvers should look.
    pub fn approval_pending(&self, approval: &Approval, console: Option<&str>) {
        let link =
            console.map(|base| format!("{}/approvals/{}", base.trim_end_matches('/'), approval.id));
        let text = format!(
            "Gatehouse: agent `{}` asks to run `{}` on `{}` ({} {}). Approval `{}` needs {} approver(s){}",
            approval.agent,
            approval.call.intent,
            approval.call.tool,
            approval.call.method,
            approval.call.path,
            approval.id,
            approval.required,
            link.as_deref()
                .map(|link| format!(": {link}"))
                .unwrap_or_default(),
        );
        self.send(serde_json::json!({
            "type": "approval.pending",
            "text": text,
            "approval_id": approval.id,
            "agent": approval.agent,
            "workflow": approval.workflow,
            "intent": approval.call.intent,
            "tool": approval.call.tool,
            "link": link,
        }));
    }

    fn send(&self, body: serde_json::Value) {
        let Some(url) = self.url.clone() else { return };
        tokio::spawn(async move {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            match post_json(&url, bytes).await {
                Ok(status) if status.is_success() => {}
                Ok(status) => tracing::warn!(%status, "notification webhook refused"),
                Err(error) => tracing::warn!(%error, "notification webhook unreachable"),
            }
        });
    }
}

/// One POST, answered within 30 seconds; the reply's body is read and dropped.
async fn post_json(url: &str, body: Vec<u8>) -> Result<StatusCode, String> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| format!("invalid webhook URL `{url}`: {error}"))?;
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| format!("`{url}` did not answer within 30 s"))?
        .map_err(|error| error.to_string())?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    Ok(status)
}
