//! The OpenAPI document. Handlers with their own paths carry
//! `#[utoipa::path]`; the generic admin handlers are registered through
//! `Registry`, which adds each route and its documented operations in the
//! same call, so the document is generated from what is actually routed.
//! A test compares it with the committed `openapi.json`.

use axum::Router;
use axum::routing::{MethodRouter, get};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Schema, Type};
use utoipa::{OpenApi as _, ToSchema};

use crate::admin::{Listed, Resource};

use super::AppState;
use super::admin as handlers;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "ScaiKey",
        description = "Multi-tenant OAuth 2.0 / OpenID Connect provider, SCIM server and directory sync."
    ),
    paths(
        super::ops::health,
        super::ops::ready,
        super::ops::metrics,
        super::ops::openapi_json,
        super::oauth::jwks_all,
        super::oauth::platform_discovery,
        super::oauth::platform_token,
        super::oauth::platform_jwks,
        super::oauth::tenant_discovery,
        super::oauth::tenant_token,
        super::oauth::tenant_jwks,
        super::oauth::tenant_register,
        super::oidc::authorize_h,
        super::oidc::login_page,
        super::federation::start,
        super::federation::callback,
        super::federation::saml_metadata,
        super::federation::saml_acs,
        super::federation::saml_continue,
        super::oidc::login_submit,
        super::account::login_passkey,
        super::account::account_page,
        super::account::account_submit,
        super::account::account_passkey,
        super::device::device_authorization,
        super::device::device_page,
        super::device::device_submit,
        super::oidc::userinfo_h,
        super::oidc::introspect_h,
        super::oidc::revoke_h,
        super::oidc::logout_h,
    ),
    components(schemas(crate::domain::group::Member, crate::domain::group::NewMember))
)]
struct BaseDoc;

pub struct Registry {
    pub router: Router<AppState>,
    pub doc: OpenApi,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            router: Router::new(),
            doc: OpenApi::new(utoipa::openapi::Info::new("admin", "1"), utoipa::openapi::Paths::new()),
        }
    }
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn envelope(inner: RefOr<Schema>, list: bool) -> RefOr<Schema> {
    let data: RefOr<Schema> =
        if list { utoipa::openapi::schema::ArrayBuilder::new().items(inner).into() } else { inner };
    let mut b = ObjectBuilder::new().property("data", data).required("data");
    if list {
        b = b.property(
            "next_cursor",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])),
        );
    }
    b.into()
}

fn json_response(description: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(schema)).build())
        .build()
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    json_response(description, schema_ref("ErrorEnvelope"))
}

fn path_param(name: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(utoipa::openapi::Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn query_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn body(schema: &str) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content("application/json", ContentBuilder::new().schema(Some(schema_ref(schema))).build())
        .required(Some(utoipa::openapi::Required::True))
        .build()
}

fn op(tag: &str, id: String, summary: String) -> OperationBuilder {
    OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(id))
        .summary(Some(summary))
        .security(utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()))
        .response("401", error_response("missing or invalid bearer token"))
        .response("403", error_response("the token lacks the scope or role"))
}

impl Registry {
    fn add_schema<T: ToSchema>(&mut self) {
        let components = self.doc.components.get_or_insert_with(Default::default);
        let mut nested = Vec::new();
        T::schemas(&mut nested);
        for (name, schema) in nested {
            components.schemas.insert(name, schema);
        }
        components.schemas.insert(T::name().into_owned(), T::schema());
    }

    fn route(&mut self, path: &str, method: MethodRouter<AppState>) {
        let router = std::mem::take(&mut self.router);
        self.router = router.route(path, method);
    }

    fn document(&mut self, path: &str, method: HttpMethod, operation: OperationBuilder) {
        self.doc.paths.add_path_operation(format!("/api/v1/admin{path}"), vec![method], operation.build());
    }

    fn collection_docs<R: Listed + ToSchema>(&mut self) -> (String, String) {
        self.add_schema::<R>();
        let collection = format!("/{}", R::PATH);
        let item = format!("/{}/{{id}}", R::PATH);
        let name = R::name().into_owned();
        let mut list = op(R::PATH, format!("list_{}", R::KIND), format!("List {}", R::PATH))
            .parameter(query_param("limit", "page size, 1 to 200 (default 50)"))
            .parameter(query_param("cursor", "next_cursor of the previous page"))
            .response("200", json_response("one page", envelope(schema_ref(&name), true)));
        for f in R::FILTERS {
            list = list.parameter(query_param(f, R::filter_doc(f)));
        }
        self.document(&collection, HttpMethod::Get, list);
        let get_op = op(R::PATH, format!("get_{}", R::KIND), format!("Read one of {}", R::PATH))
            .parameter(path_param("id"))
            .response("200", json_response("the object", envelope(schema_ref(&name), false)))
            .response("404", error_response("no such object in the caller's authority"));
        self.document(&item, HttpMethod::Get, get_op);
        (collection, item)
    }

    /// GET list, POST create, GET/DELETE one, and PATCH when `patchable`.
    pub fn crud<R>(&mut self, patchable: bool)
    where
        R: Resource + ToSchema,
        R::Create: ToSchema,
        R::Patch: ToSchema,
    {
        let (collection, item) = self.collection_docs::<R>();
        self.add_schema::<R::Create>();
        let name = R::name().into_owned();
        let create_op = op(R::PATH, format!("create_{}", R::KIND), format!("Create one of {}", R::PATH))
            .request_body(Some(body(&R::Create::name())))
            .response(
                "201",
                json_response("created; secrets, if any, are shown only here", envelope(schema_ref(&name), false)),
            )
            .response("400", error_response("malformed JSON or unknown fields"))
            .response("409", error_response("conflicts with an existing object"))
            .response("413", error_response("body too large"))
            .response("422", error_response("invalid fields (details) or a partner limit"));
        self.document(&collection, HttpMethod::Post, create_op);
        self.route(&collection, get(handlers::list::<R>).post(handlers::create::<R>));
        let delete_op = op(R::PATH, format!("delete_{}", R::KIND), format!("Delete one of {}", R::PATH))
            .parameter(path_param("id"))
            .response("204", ResponseBuilder::new().description("deleted").build())
            .response("404", error_response("no such object in the caller's authority"));
        self.document(&item, HttpMethod::Delete, delete_op);
        let mut item_route = get(handlers::read::<R>).delete(handlers::remove::<R>);
        if patchable {
            self.add_schema::<R::Patch>();
            let patch_op = op(R::PATH, format!("update_{}", R::KIND), format!("Change one of {}", R::PATH))
                .parameter(path_param("id"))
                .request_body(Some(body(&R::Patch::name())))
                .response("200", json_response("the changed object", envelope(schema_ref(&name), false)))
                .response("404", error_response("no such object in the caller's authority"))
                .response("422", error_response("invalid fields"));
            self.document(&item, HttpMethod::Patch, patch_op);
            item_route = item_route.patch(handlers::update::<R>);
        }
        self.route(&item, item_route);
    }

    pub fn read_only<R: Listed + ToSchema>(&mut self) {
        let (collection, item) = self.collection_docs::<R>();
        self.route(&collection, get(handlers::list::<R>));
        self.route(&item, get(handlers::read::<R>));
    }

    /// Operations routed by hand in `http::admin::routes`.
    pub fn extra_admin_operations(&mut self) {
        let members = op("groups", "list_group_members".into(), "List a group's direct members".into())
            .parameter(path_param("id"))
            .response("200", json_response("one page", envelope(schema_ref("Member"), true)));
        self.document("/groups/{id}/members", HttpMethod::Get, members);
        let add = op("groups", "add_group_member".into(), "Add a user or group to a group".into())
            .parameter(path_param("id"))
            .request_body(Some(body("NewMember")))
            .response("201", ResponseBuilder::new().description("added").build())
            .response("409", error_response("already a member, or the nesting would form a cycle"));
        self.document("/groups/{id}/members", HttpMethod::Post, add);
        let remove = op("groups", "remove_group_member".into(), "Remove a member from a group".into())
            .parameter(path_param("id"))
            .parameter(path_param("member_id"))
            .response("204", ResponseBuilder::new().description("removed").build());
        self.document("/groups/{id}/members/{member_id}", HttpMethod::Delete, remove);
        let rotate = op("applications", "rotate_application_secret".into(), "Replace the client secret".into())
            .parameter(path_param("id"))
            .response("200", ResponseBuilder::new().description("the new secret, shown once").build());
        self.document("/applications/{id}/secret", HttpMethod::Post, rotate);
        let rotate = op("applications", "rotate_webhook_secret".into(), "Replace the webhook signing secret".into())
            .parameter(path_param("id"))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("the new secret, shown once; the previous one signs too for 24 h")
                    .build(),
            );
        self.document("/applications/{id}/webhook-secret", HttpMethod::Post, rotate);
        let factors = op("users", "list_user_factors".into(), "A user's MFA factors and recovery codes left".into())
            .parameter(path_param("id"))
            .response("200", ResponseBuilder::new().description("factors (never their secrets)").build());
        self.document("/users/{id}/factors", HttpMethod::Get, factors);
        let reset = op("users", "reset_user_factors".into(), "Remove every MFA factor of a user".into())
            .parameter(path_param("id"))
            .response("200", ResponseBuilder::new().description("factors removed; the user enrolls again").build());
        self.document("/users/{id}/factors", HttpMethod::Delete, reset);
        self.add_schema::<crate::admin::webhooks::Replay>();
        let replay = op("applications", "replay_webhooks".into(), "Send the app's events from a seq again".into())
            .parameter(path_param("id"))
            .request_body(Some(body("Replay")))
            .response("202", ResponseBuilder::new().description("the deliveries queued").build());
        self.document("/applications/{id}/webhooks/replay", HttpMethod::Post, replay);
        let attempts = op("webhook-deliveries", "list_delivery_attempts".into(), "Every attempt at a delivery".into())
            .parameter(path_param("id"))
            .response("200", ResponseBuilder::new().description("attempts, oldest first").build());
        self.document("/webhook-deliveries/{id}/attempts", HttpMethod::Get, attempts);
        let redeliver = op("webhook-deliveries", "redeliver".into(), "Send a delivery's body again".into())
            .parameter(path_param("id"))
            .response("202", json_response("the new delivery", envelope(schema_ref("Delivery"), false)));
        self.document("/webhook-deliveries/{id}/redeliver", HttpMethod::Post, redeliver);
        self.add_schema::<crate::admin::misc::RotateKeys>();
        let keys = op("signing-keys", "rotate_signing_keys".into(), "Publish new signing keys (super admin)".into())
            .request_body(Some(body("RotateKeys")))
            .response(
                "201",
                json_response(
                    "the new keys, published now and signing after activate_in",
                    envelope(schema_ref("SigningKey"), true),
                ),
            );
        self.document("/signing-keys/rotate", HttpMethod::Post, keys);
    }
}

/// The whole document, as served at `/api/v1/openapi.json`.
pub fn document() -> OpenApi {
    let mut doc = BaseDoc::openapi();
    let mut reg = Registry::default();
    handlers::register(&mut reg);
    doc.merge(reg.doc);
    let components = doc.components.get_or_insert_with(Default::default);
    let error_body = ObjectBuilder::new()
        .property(
            "error",
            ObjectBuilder::new()
                .property("code", ObjectBuilder::new().schema_type(Type::String))
                .property("message", ObjectBuilder::new().schema_type(Type::String))
                .property("details", ObjectBuilder::new())
                .required("code")
                .required("message"),
        )
        .property("request_id", ObjectBuilder::new().schema_type(Type::String))
        .required("error");
    components.schemas.insert("ErrorEnvelope".into(), error_body.into());
    components.add_security_scheme(
        "bearer",
        utoipa::openapi::security::SecurityScheme::Http(utoipa::openapi::security::Http::new(
            utoipa::openapi::security::HttpAuthScheme::Bearer,
        )),
    );
    doc
}
