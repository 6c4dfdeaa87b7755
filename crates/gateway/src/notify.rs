//! Outbound notifications: a JSON POST to the configured webhook, with a `text` member
//! that Slack-style incoming webhooks display. Sent in the background; a failure is
//! logged, never blocks a call.

use std::sync::Arc;

use gatehouse_core::approval::Approval;
use gatehouse_core::workflow::{BudgetKind, Workflow};
use http::Method;

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
            let headers = [("content-type", "application/json")];
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            match crate::client::send(Method::POST, &url, &headers, bytes).await {
                Ok(reply) if reply.status.is_success() => {}
                Ok(reply) => tracing::warn!(status = %reply.status, "notification webhook refused"),
                Err(error) => tracing::warn!(%error, "notification webhook unreachable"),
            }
        });
    }
}
