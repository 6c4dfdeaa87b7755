//! Outbound notifications: a JSON POST to the configured webhook (`http://` or
//! `https://`, verified like any upstream), with a `text` member that Slack-style
//! incoming webhooks display. Sent in the background through the shared upstream client;
//! a failure is logged, never blocks a call.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::approval::Approval;
use gatehouse_core::config::UpstreamUrl;
use gatehouse_core::workflow::{BudgetKind, Workflow};
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;

use crate::body::full;
use crate::upstream::{Origin, UpstreamClient};

/// Sends notifications, if a webhook is configured.
#[derive(Debug, Clone)]
pub struct Notifier {
    webhook: Option<Arc<Webhook>>,
}

#[derive(Debug)]
struct Webhook {
    origin: Origin,
    client: UpstreamClient,
}

impl Notifier {
    pub fn new(url: Option<&UpstreamUrl>, client: &UpstreamClient) -> Self {
        Self {
            webhook: url.map(|url| {
                Arc::new(Webhook {
                    origin: Origin::new(url),
                    client: client.clone(),
                })
            }),
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
        let Some(webhook) = self.webhook.clone() else {
            return;
        };
        tokio::spawn(async move {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            match webhook.post_json(bytes).await {
                Ok(status) if status.is_success() => {}
                Ok(status) => tracing::warn!(%status, "notification webhook refused"),
                Err(error) => tracing::warn!(%error, "notification webhook unreachable"),
            }
        });
    }
}

impl Webhook {
    /// One POST, answered within 30 seconds; the reply's body is read and dropped.
    async fn post_json(&self, body: Vec<u8>) -> Result<StatusCode, String> {
        let url = self.origin.url();
        let request = self
            .origin
            .request(Method::POST, "")
            .header(header::CONTENT_TYPE, "application/json")
            .body(full(body))
            .map_err(|error| format!("cannot build a request to `{url}`: {error}"))?;
        let sent = self.client.send_to(&self.origin, request);
        let response = tokio::time::timeout(Duration::from_secs(30), sent)
            .await
            .map_err(|_| format!("`{url}` did not answer within 30 s"))?
            .map_err(|error| format!("`{url}`: {}", crate::problem::error_chain(&error)))?;
        let status = response.status();
        // Read to the end, so the connection goes back to the pool.
        let _ = response.into_body().collect().await;
        Ok(status)
    }
}
