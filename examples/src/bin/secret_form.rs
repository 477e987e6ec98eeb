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

/// String formats of the MCP form schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Format {
    Email,
    Uri,
    Date,
    DateTime,
}

/// A field's type and its constraints.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Kind {
    /// Text; `secret` renders a password input that is never refilled or echoed.
    String {
        min_length: Option<usize>,
        max_length: Option<usize>,
        format: Option<Format>,
        secret: bool,
    },
    Number {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Integer {
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    Boolean,
    Enum {
        options: Vec<String>,
    },
}

/// One field of the flat schema.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Field {
    name: String,
    title: String,
    description: Option<String>,
    required: bool,
    kind: Kind,
}

/// What the tool call asks for: a titled form.
#[derive(Debug, Clone, Serialize, Deserialize, OobPayload)]
#[oob(kind = "secret_form", route = "/oob/form/{id}", ttl = "15m")]
struct SecretForm {
    title: String,
    fields: Vec<Field>,
}

/// A validated value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Number(f64),
    Integer(i64),
    Bool(bool),
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

fn valid_format(format: Format, v: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let date = |s: &str| {
        let p: Vec<&str> = s.split('-').collect();
        p.len() == 3
            && p[0].len() == 4
            && p[1].len() == 2
            && p[2].len() == 2
            && p.iter().all(|x| digits(x))
    };
    match format {
        Format::Email => v.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && !v.contains(char::is_whitespace)
        }),
        Format::Uri => {
            (v.starts_with("https://") || v.starts_with("http://"))
                && !v.contains(char::is_whitespace)
        }
        Format::Date => date(v),
        // `YYYY-MM-DDTHH:MM`, as a browser's date-time picker sends it, or with `:SS` and
        // fractions.
        Format::DateTime => v.split_once('T').is_some_and(|(d, t)| {
            let hm: Vec<&str> = t.splitn(3, ':').collect();
            date(d)
                && hm.len() >= 2
                && hm[..2].iter().all(|x| x.len() == 2 && digits(x))
                && hm.get(2).is_none_or(|sec| {
                    let whole = sec.split('.').next().unwrap_or("");
                    whole.len() == 2 && digits(whole)
                })
        }),
    }
}

/// Validates the submitted fields against the schema: the values, or a message per field.
fn validate(
    fields: &[Field],
    form: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Value>, BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for f in fields {
        let raw = form.get(&f.name).map(|s| s.trim()).unwrap_or("");
        if let Kind::Boolean = f.kind {
            values.insert(f.name.clone(), Value::Bool(raw == "on" || raw == "true"));
            continue;
        }
        if raw.is_empty() {
            if f.required {
                errors.insert(f.name.clone(), "This field is required.".into());
            }
            continue;
        }
        let checked = match &f.kind {
            Kind::String {
                min_length,
                max_length,
                format,
                ..
            } => {
                let n = raw.chars().count();
                if min_length.is_some_and(|m| n < m) {
                    Err(format!("At least {} characters.", min_length.unwrap_or(0)))
                } else if max_length.is_some_and(|m| n > m) {
                    Err(format!("At most {} characters.", max_length.unwrap_or(0)))
                } else if format.is_some_and(|fmt| !valid_format(fmt, raw)) {
                    Err("This value has the wrong format.".into())
                } else {
                    Ok(Value::Text(raw.to_owned()))
                }
            }
            Kind::Number { minimum, maximum } => match raw.parse::<f64>() {
                Ok(x) if !x.is_finite() => Err("Enter a number.".into()),
                Ok(x) if minimum.is_some_and(|m| x < m) || maximum.is_some_and(|m| x > m) => {
                    Err("This number is out of range.".into())
                }
                Ok(x) => Ok(Value::Number(x)),
                Err(_) => Err("Enter a number.".into()),
            },
            Kind::Integer { minimum, maximum } => match raw.parse::<i64>() {
                Ok(x) if minimum.is_some_and(|m| x < m) || maximum.is_some_and(|m| x > m) => {
                    Err("This number is out of range.".into())
                }
                Ok(x) => Ok(Value::Integer(x)),
                Err(_) => Err("Enter a whole number.".into()),
            },
            Kind::Enum { options } => {
                if options.iter().any(|o| o == raw) {
                    Ok(Value::Text(raw.to_owned()))
                } else {
                    Err("Choose one of the options.".into())
                }
            }
            Kind::Boolean => Ok(Value::Bool(true)),
        };
        match checked {
            Ok(v) => {
                values.insert(f.name.clone(), v);
            }
            Err(e) => {
                errors.insert(f.name.clone(), e);
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
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

async fn selftest(
    base: &str,
    oob: &Oob,
    vault: &MemoryVault<BTreeMap<String, Value>>,
) -> Result<(), BoxError> {
    let c = client()?;
    let (url, call) = ask(oob, vault, VerifiedSubject::new(Namespace::new("alice")?)).await?;
    println!("open {url}");
    let res = c.get(&url).send().await?;
    ensure(res.status() == 403, "signed out: refused")?;
    ensure(res.text().await?.contains("/login?next="), "a sign-in link")?;
    let mallory = sign_in(&c, base, "mallory").await?;
    let res = c.get(&url).header("cookie", &mallory).send().await?;
    ensure(res.status() == 403, "another user: refused")?;
    let alice = sign_in(&c, base, "alice").await?;
    let res = c.get(&url).header("cookie", &alice).send().await?;
    ensure(res.status() == 200, "GET form")?;
    ensure_interaction_headers(&res)?;
    let html = res.text().await?;
    ensure(
        html.contains("Connect &lt;your&gt; database"),
        "the title is escaped",
    )?;
    ensure(!html.contains("<your>"), "no raw markup from the schema")?;
    ensure(
        html.contains("value=\"&quot;ap&quot;\""),
        "enum values are escaped",
    )?;
    ensure(
        html.contains("type=password"),
        "the secret is a password field",
    )?;
    let field = format!("name={} value=\"", AntiForgery::FIELD);
    let csrf = between(&html, &field, "\"").ok_or("no csrf")?.to_owned();

    let secret = "correct horse battery staple";
    let good = |csrf: &str| {
        vec![
            (AntiForgery::FIELD, csrf.to_owned()),
            ("password", secret.to_owned()),
            ("contact", "alice@example.com".to_owned()),
            ("port", "5432".to_owned()),
            ("timeout", "2.5".to_owned()),
            ("read_only", "on".to_owned()),
            ("region", "eu".to_owned()),
            // What a browser's date-time picker sends: no seconds.
            ("valid_until", "2030-01-02T03:04".to_owned()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace('@', "%40")))
            .collect::<Vec<_>>()
            .join("&");
        c.post(&url)
            .header("cookie", &alice)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let res = post(good("")).await?;
    ensure(res.status() == 403, "no anti-forgery token")?;
    let res = post(good(&"A".repeat(43))).await?;
    ensure(res.status() == 403, "a forged anti-forgery token")?;

    let mut bad = good(&csrf);
    bad[2].1 = "not-an-email".into();
    bad[3].1 = "70000".into();
    bad[6].1 = "mars".into();
    let res = post(bad).await?;
    ensure(
        res.status() == 422,
        format!("invalid values: {}", res.status()),
    )?;
    ensure_interaction_headers(&res)?;
    let html = res.text().await?;
    ensure(!html.contains(secret), "the secret is never echoed")?;
    ensure(
        html.contains("wrong format")
            && html.contains("out of range")
            && html.contains("Choose one"),
        "field errors shown",
    )?;
    ensure(
        html.contains("type=checkbox checked"),
        "a checked box stays checked",
    )?;
    let mut short = good(&csrf);
    short[1].1 = "short".into();
    let res = post(short).await?;
    ensure(res.status() == 422, "a too-short secret")?;

    let res = post(good(&csrf)).await?;
    ensure(
        res.status() == 200,
        format!("valid submit: {}", res.status()),
    )?;
    ensure_interaction_headers(&res)?;
    ensure(!res.text().await?.contains(secret), "not echoed on success")?;
    let values = call.await??;
    ensure(
        values.get("password") == Some(&Value::Text(secret.into())),
        "stored secret",
    )?;
    ensure(
        values.get("port") == Some(&Value::Integer(5432)),
        "stored port",
    )?;
    ensure(
        values.get("read_only") == Some(&Value::Bool(true)),
        "stored boolean",
    )?;
    ensure(
        vault
            .get(
                &oob.caller(&VerifiedSubject::new(Namespace::new("mallory")?))?,
                "database",
            )
            .await?
            .is_none(),
        "not under mallory",
    )?;
    let res = post(good(&csrf)).await?;
    ensure(res.status() == 200, "a replayed submit: success status")?;
    ensure(
        res.text().await?.contains("Already done"),
        "says it was saved",
    )?;
    let res = c.get(&url).header("cookie", &mallory).send().await?;
    ensure(res.status() == 403, "another user still learns nothing")?;
    println!(
        "selftest: owner only, validated, stored under alice only, never echoed, replay: already done"
    );
    Ok(())
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
