//! MCP agents: AI agents that act for a user, with their own scope ceiling.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;
use super::application::is_valid_scope;
use super::user::nullable;
use super::validate::{FieldError, Problems};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct McpAgent {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub name: String,
    pub description: Option<String>,
    /// The user the agent acts for.
    pub user_id: String,
    pub application_id: Option<String>,
    #[sqlx(json)]
    pub allowed_scopes: Vec<String>,
    /// `active`, or `suspended` (also spelled `disabled`): its tokens stop working at once.
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The agent's secret for the token endpoint (shown once at creation).
    #[serde(skip)]
    pub secret_hash: Option<String>,
    /// Seconds an agent's token lives at most (60 to 86400).
    pub max_token_lifetime: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMcpAgent {
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub user_id: String,
    pub application_id: Option<String>,
    #[serde(default)]
    pub allowed_scopes: Vec<String>,
    pub max_token_lifetime: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct McpAgentPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub allowed_scopes: Option<Vec<String>>,
    pub status: Option<String>,
    pub max_token_lifetime: Option<i64>,
}

impl McpAgent {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut p = Problems::default();
        p.name("name", &self.name, 200);
        p.optional_text("description", self.description.as_deref(), 1024);
        p.id("user_id", &self.user_id, "usr");
        if let Some(a) = &self.application_id {
            p.id("application_id", a, "app");
        }
        for (i, s) in self.allowed_scopes.iter().enumerate() {
            p.check(is_valid_scope(s), &format!("allowed_scopes[{i}]"), "is not a valid scope");
        }
        p.check(
            matches!(self.status.as_str(), "active" | "suspended" | "disabled"),
            "status",
            "must be active or suspended",
        );
        p.check((60..=86_400).contains(&self.max_token_lifetime), "max_token_lifetime", "must be 60 to 86400 seconds");
        p.into_result()
    }
}
