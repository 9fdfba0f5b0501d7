//! Server-rendered pages (minijinja, HTML auto-escaped): the login steps, and
//! messages (errors, signed out). They work without JavaScript and take the
//! tenant's branding.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, context};

use crate::domain::settings::Branding;
use crate::login::LoginPage;

use super::request_id;

/// Templates are parsed once per process.
static ENV: std::sync::LazyLock<Environment<'static>> = std::sync::LazyLock::new(build_env);

fn env() -> &'static Environment<'static> {
    &ENV
}

fn build_env() -> Environment<'static> {
    let mut env = Environment::new();
    // Templates are compiled into the binary; a failure here is a build bug
    // caught by the page tests, so it degrades to a plain-text error.
    let _ = env.add_template("base.html", include_str!("templates/base.html"));
    let _ = env.add_template("login.html", include_str!("templates/login.html"));
    let _ = env.add_template("message.html", include_str!("templates/message.html"));
    let _ = env.add_template("account.html", include_str!("templates/account.html"));
    let _ = env.add_template("device.html", include_str!("templates/device.html"));
    env
}

fn finish(status: StatusCode, body: Result<String, minijinja::Error>) -> Response {
    let mut r = match body {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self' https: http:; frame-ancestors 'none'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn brand_color(b: &Branding) -> String {
    b.primary_color.clone().unwrap_or_else(|| "#2f5bd3".into())
}

pub fn login(page: &LoginPage, status: u16) -> Response {
    let body = env().get_template("login.html").and_then(|t| {
        t.render(context! {
            step => page.step,
            action => page.action,
            request_id => page.request_id,
            csrf_token => page.csrf_token,
            username => page.username,
            error => page.error,
            tenant_name => page.tenant_name,
            app_name => page.app_name,
            ask_tenant => page.ask_tenant,
            tenant_slug => page.tenant_slug,
            scopes => page.scopes,
            idps => page.idps,
            mfa => page.mfa,
            passkeys => page.passkeys,
            passkey_options => page.passkey_options,
            primary_color => brand_color(&page.branding),
            logo_url => page.branding.logo_url,
            request_ref => request_id::current(),
        })
    });
    finish(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
}

pub fn account(page: &crate::account::AccountPage) -> Response {
    let body = env().get_template("account.html").and_then(|t| {
        t.render(context! {
            page => page,
            tenant_name => page.tenant_name,
            primary_color => brand_color(&page.branding),
            logo_url => page.branding.logo_url,
            request_ref => request_id::current(),
        })
    });
    finish(StatusCode::OK, body)
}

pub fn device(
    issuer: &crate::oauth::Issuer,
    action: &str,
    user_code: &str,
    error: Option<&str>,
    status: u16,
) -> Response {
    let default = Branding::default();
    let b = issuer.tenant.as_ref().map(|t| &t.branding).unwrap_or(&default);
    let tenant_name = match &issuer.tenant {
        Some(t) => t.branding.display_name.clone().unwrap_or_else(|| t.name.clone()),
        None => "ScaiKey".into(),
    };
    let body = env().get_template("device.html").and_then(|t| {
        t.render(context! {
            action => action,
            user_code => user_code,
            error => error,
            tenant_name => tenant_name,
            primary_color => brand_color(b),
            logo_url => b.logo_url,
            request_ref => request_id::current(),
        })
    });
    finish(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
}

pub fn message(status: u16, heading: &str, message: &str, tenant_name: &str, branding: Option<&Branding>) -> Response {
    let default = Branding::default();
    let b = branding.unwrap_or(&default);
    let body = env().get_template("message.html").and_then(|t| {
        t.render(context! {
            heading => heading,
            message => message,
            tenant_name => tenant_name,
            primary_color => brand_color(b),
            logo_url => b.logo_url,
            request_ref => request_id::current(),
        })
    });
    finish(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_render_escaped() {
        let page = LoginPage {
            step: "password",
            action: "https://id.test/login".into(),
            request_id: "lrq_x".into(),
            csrf_token: "tok".into(),
            username: Some("<script>alert(1)</script>".into()),
            error: Some("The username or password is incorrect.".into()),
            tenant_name: "Acme".into(),
            app_name: "Wiki".into(),
            branding: Branding { primary_color: Some("#112233".into()), ..Default::default() },
            ask_tenant: false,
            tenant_slug: None,
            scopes: vec![],
            idps: vec![crate::login::IdpLink {
                id: "idp_1".into(),
                name: "Acme <SSO>".into(),
                href: "https://id.test/login/idp/idp_1?request=lrq_x".into(),
            }],
            mfa: None,
            passkeys: true,
            passkey_options: "https://id.test/login/passkey".into(),
        };
        let r = login(&page, 200);
        assert_eq!(r.status(), StatusCode::OK);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("name=\"csrf_token\" value=\"tok\""));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>alert"));
        assert!(html.contains("#112233"));
        assert!(html.contains(r#"<a class="idp" data-idp="idp_1""#) && html.contains("Acme &lt;SSO&gt;"));
        let consent = LoginPage { step: "consent", scopes: vec!["admin:write".into()], ..page };
        let body = axum::body::to_bytes(login(&consent, 200).into_body(), 1 << 20).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("Wiki") && html.contains("admin:write") && html.contains("value=\"allow\""));
        let m = message(400, "Sign-in failed", "bad <b>", "Acme", None);
        assert_eq!(m.status(), StatusCode::BAD_REQUEST);
    }
}
