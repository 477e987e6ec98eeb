//! A secret form rendered from a flat field schema (the MCP form-schema subset: string,
//! number, integer, boolean and enum fields with title, description, required, min/max
//! length or value, and string format), shown only to the signed-in user the pending
//! belongs to (`Interaction<T, SessionUser>`), submitted by POST with an anti-forgery token
//! bound to the pending and the browser session (`oob::http::AntiForgery`), validated on the
//! server, and stored under the pending's namespace. The secret is never echoed: not on
//! success, not when validation fails.
//!
//! Run: `cargo run -p oob-examples --bin secret_form`, sign in as alice at the URL it prints,
//! fill in the form. It serves until Ctrl-C or SIGTERM.
//! Non-interactive: `cargo run -p oob-examples --bin secret_form -- --selftest`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use oob::http::{
    AntiForgery, Interaction, InteractionRejection, Interactions, SessionUser, interaction_headers,
};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Outcome, Spec};
use oob_examples::{
    BoxError, Mode, OpenStore, between, bind, client, ensure, ensure_interaction_headers, escape,
    page, print_when_done, scratch_dir, sign_in, spawn_server, with_sign_in,
};
use serde::{Deserialize, Serialize};

mod schema;
mod selftest;

use schema::{Field, Format, Kind, Value, validate};
use selftest::selftest;

/// What the tool call asks for: a titled form.
#[derive(Debug, Clone, Serialize, Deserialize, OobPayload)]
#[oob(kind = "secret_form", route = "/oob/form/{id}", ttl = "15m")]
struct SecretForm {
    title: String,
    fields: Vec<Field>,
}

/// Where pendings live: SQLite in a scratch file (durable across restarts). The one-line
/// switch to the in-process store: `type Store = oob::store::MemoryStore<SecretForm>;`
type Store = oob::store::SqliteStore<SecretForm>;

type Oob = Manager<SecretForm, Store, FromVerifiedSubject>;

#[derive(Clone)]
struct App {
    oob: Oob,
    vault: MemoryVault<BTreeMap<String, Value>>,
    forms: AntiForgery,
}

/// The pending, checked to belong to the user signed in on this browser.
type Owned = Interaction<SecretForm, SessionUser>;

impl FromRef<App> for Interactions<SecretForm> {
    fn from_ref(app: &App) -> Self {
        app.oob.interactions()
    }
}

/// The form, every schema string escaped; non-secret values refilled (escaped), secret
/// ones never.
fn render(
    form: &SecretForm,
    csrf: &str,
    refill: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> Html<String> {
    let mut body = String::from("<form method=post>");
    let _ = write!(
        body,
        "<input type=hidden name={} value=\"{}\">",
        AntiForgery::FIELD,
        escape(csrf)
    );
    for f in &form.fields {
        let name = escape(&f.name);
        let req = if f.required { " required" } else { "" };
        let _ = write!(body, "<label for=\"f-{name}\">{}</label>", escape(&f.title));
        if let Some(d) = &f.description {
            let _ = write!(body, "<small>{}</small><br>", escape(d));
        }
        let old = match &f.kind {
            Kind::String { secret: true, .. } => String::new(),
            _ => escape(refill.get(&f.name).map_or("", String::as_str)),
        };
        match &f.kind {
            Kind::String {
                min_length,
                max_length,
                format,
                secret,
            } => {
                let ty = match (secret, format) {
                    (true, _) => "password",
                    (_, Some(Format::Email)) => "email",
                    (_, Some(Format::Uri)) => "url",
                    (_, Some(Format::Date)) => "date",
                    (_, Some(Format::DateTime)) => "datetime-local",
                    _ => "text",
                };
                let min = min_length.map_or(String::new(), |m| format!(" minlength={m}"));
                let max = max_length.map_or(String::new(), |m| format!(" maxlength={m}"));
                let _ = write!(
                    body,
                    "<input id=\"f-{name}\" name=\"{name}\" type={ty} value=\"{old}\" autocomplete=off{min}{max}{req}>"
                );
            }
            Kind::Number { .. } | Kind::Integer { .. } => {
                let step = if matches!(f.kind, Kind::Integer { .. }) {
                    "1"
                } else {
                    "any"
                };
                let _ = write!(
                    body,
                    "<input id=\"f-{name}\" name=\"{name}\" type=number step={step} value=\"{old}\"{req}>"
                );
            }
            Kind::Boolean => {
                let checked = if old == "on" || old == "true" {
                    " checked"
                } else {
                    ""
                };
                let _ = write!(
                    body,
                    "<input id=\"f-{name}\" name=\"{name}\" type=checkbox{checked}>"
                );
            }
            Kind::Enum { options } => {
                let _ = write!(body, "<select id=\"f-{name}\" name=\"{name}\"{req}>");
                for o in options {
                    let o = escape(o);
                    let sel = if o == old { " selected" } else { "" };
                    let _ = write!(body, "<option value=\"{o}\"{sel}>{o}</option>");
                }
                body.push_str("</select>");
            }
        }
        if let Some(e) = errors.get(&f.name) {
            let _ = write!(body, "<p class=error>{}</p>", escape(e));
        }
    }
    body.push_str("<p><button>Save</button></p></form>");
    page(&form.title, &body)
}

async fn show(State(app): State<App>, ix: Owned) -> Html<String> {
    render(
        ix.data(),
        &app.forms.token(&ix),
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
}

async fn submit(
    State(app): State<App>,
    ix: Owned,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Result<Response, InteractionRejection> {
    // Refused with a page that says to reload (403) unless the form came from this
    // pending's page in this browser session.
    app.forms
        .verify(&ix, form.get(AntiForgery::FIELD).map_or("", String::as_str))?;
    match validate(&ix.data().fields, &form) {
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(ix.data(), &app.forms.token(&ix), &form, &errors),
        )
            .into_response()),
        Ok(values) => {
            // The persist step is `'static`: it owns a handle on the vault. The completion
            // runs in a task of its own, so a browser that goes away mid-way does not lose
            // the secret. A second submit (double click, reload, second tab) gets the
            // library's "already done" page, with a success status.
            let (oob, pending, writer) = (app.oob.clone(), ix.into_pending(), app.vault.clone());
            oob_examples::detached(async move {
                oob.complete_with(pending, async move |token| {
                    writer.put(&token, "database", values).await
                })
                .await
            })
            .await?;
            Ok(page(
                "Saved",
                "<p id=saved>Saved. You can close this tab and go back to the assistant.</p>",
            )
            .into_response())
        }
    }
}

fn schema() -> SecretForm {
    let s = |min, max, format, secret| Kind::String {
        min_length: min,
        max_length: max,
        format,
        secret,
    };
    let field = |name: &str, title: &str, description: Option<&str>, required, kind| Field {
        name: name.into(),
        title: title.into(),
        description: description.map(Into::into),
        required,
        kind,
    };
    SecretForm {
        title: "Connect <your> database".into(),
        fields: vec![
            field(
                "password",
                "Password",
                Some("Stored for your account only."),
                true,
                s(Some(12), Some(128), None, true),
            ),
            field(
                "contact",
                "Contact e-mail",
                None,
                true,
                s(None, Some(254), Some(Format::Email), false),
            ),
            field(
                "host",
                "Host URL",
                None,
                false,
                s(None, Some(2048), Some(Format::Uri), false),
            ),
            field(
                "port",
                "Port",
                None,
                true,
                Kind::Integer {
                    minimum: Some(1),
                    maximum: Some(65535),
                },
            ),
            field(
                "timeout",
                "Timeout (s)",
                None,
                false,
                Kind::Number {
                    minimum: Some(0.5),
                    maximum: Some(60.0),
                },
            ),
            field("read_only", "Read only", None, false, Kind::Boolean),
            field(
                "region",
                "Region",
                Some("Where the database runs"),
                true,
                Kind::Enum {
                    options: vec!["eu".into(), "us".into(), "\"ap\"".into()],
                },
            ),
            field(
                "rotate_on",
                "Rotate on",
                None,
                false,
                s(None, None, Some(Format::Date), false),
            ),
            field(
                "valid_until",
                "Valid until",
                None,
                false,
                s(None, None, Some(Format::DateTime), false),
            ),
        ],
    }
}

async fn ask(
    oob: &Oob,
    vault: &MemoryVault<BTreeMap<String, Value>>,
    caller: VerifiedSubject,
) -> Result<
    (
        String,
        tokio::task::JoinHandle<Result<BTreeMap<String, Value>, BoxError>>,
    ),
    BoxError,
> {
    let pending = oob.create(&caller, Spec::new(schema())).await?;
    let (oob, vault, id) = (oob.clone(), vault.clone(), pending.id());
    let wait = tokio::spawn(async move {
        match oob.wait(id, Duration::from_secs(900)).await? {
            // The tool call reads with its own caller's capability.
            Outcome::Completed(_) => Ok(vault
                .get(&oob.caller(&caller)?, "database")
                .await?
                .ok_or("completed without values")?),
            other => Err(format!("unexpected outcome {other:?}").into()),
        }
    });
    Ok((pending.callback_url(), wait))
}

async fn run(mode: Mode) -> Result<(), BoxError> {
    // Removed when `run` returns: after the self-test, Ctrl-C or SIGTERM.
    let dir = scratch_dir("secret-form")?;
    let (listener, base) = bind().await?;
    let oob: Oob = Manager::builder()
        .store(Store::open_in(dir.path())?)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base)?)
        .build();
    let vault = MemoryVault::new();
    let app = App {
        oob: oob.clone(),
        vault: vault.clone(),
        forms: AntiForgery::generate()?,
    };
    let router = Router::new()
        .route(SecretForm::ROUTE, get(show).post(submit))
        .layer(interaction_headers())
        .with_state(app);
    let server = spawn_server(listener, with_sign_in(router));
    if mode == Mode::Selftest {
        return selftest(&base, &oob, &vault).await;
    }
    let (url, call) = ask(&oob, &vault, VerifiedSubject::new(Namespace::new("alice")?)).await?;
    println!("open {url}\n(sign in as alice when asked; Ctrl-C or SIGTERM to stop)");
    print_when_done(call, |values| {
        format!("tool call finished with {} fields", values.len())
    });
    server.await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(mode) = oob_examples::mode("secret_form") else {
        return ExitCode::from(2);
    };
    oob_examples::exit("secret_form", run(mode).await)
}
