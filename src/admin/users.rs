//! Users in the admin API: reads here, writes through `crate::directory::users`
//! (normalization, policy, limits, the wider-admin rule, audit and events).

use serde_json::Value;

use crate::app::Services;
use crate::directory;
use crate::domain::identifier;
use crate::domain::user::{User, UserAttributes};
use crate::store::entity::Filter;
use crate::store::{Arg, Tx};

use super::{AdminError, Created, Ctx, Listed, Resource};

impl Listed for User {
    const PATH: &'static str = "users";
    const KIND: &'static str = "user";
    const FILTERS: &'static [&'static str] = &["tenant_id", "status", "user_name", "email"];

    /// User names and emails match case-insensitively, as sign-in compares
    /// them, through indexes that serve any scope (migration 0017).
    fn filter(key: &str, value: &str) -> Option<Filter> {
        match key {
            "user_name" => Some(("user_name_lower", Arg::from(identifier::username_key(value)))),
            "email" => Some(("lower(email)", Arg::from(value.to_lowercase()))),
            _ => super::column_equals(Self::FILTERS, key, value),
        }
    }

    fn filter_doc(key: &str) -> &'static str {
        match key {
            "user_name" | "email" => "only objects with this value, compared case-insensitively",
            _ => "only objects with this value",
        }
    }

    async fn detail(&self, svc: &Services, tx: &mut Tx) -> Result<Value, AdminError> {
        let mut v = self.view(svc);
        let identities = tx.identities_of(&self.id).await?;
        if let Value::Object(m) = &mut v {
            m.insert("identities".into(), serde_json::to_value(identities).unwrap_or(Value::Array(vec![])));
        }
        Ok(v)
    }
}

impl Resource for User {
    type Create = UserAttributes;
    type Patch = UserAttributes;

    async fn create(ctx: &Ctx<'_>, tx: &mut Tx, input: UserAttributes) -> Result<Created<Self>, AdminError> {
        Ok(Created::new(directory::users::create(tx, &ctx.writer(), input).await?))
    }

    async fn update(ctx: &Ctx<'_>, tx: &mut Tx, id: &str, input: UserAttributes) -> Result<Self, AdminError> {
        directory::users::update(tx, &ctx.writer(), id, input, None).await
    }

    async fn delete(ctx: &Ctx<'_>, tx: &mut Tx, id: &str) -> Result<(), AdminError> {
        directory::users::delete(tx, &ctx.writer(), id, None).await
    }
}
