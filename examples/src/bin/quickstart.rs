//! The main job, end to end, over real HTTP and with no browser: a tool call needs an API key,
//! creates a pending interaction under its caller's namespace and hands out the callback URL;
//! "the user" signs in on the service's web side, opens it (GET the form: only the user the
//! pending belongs to gets it) and submits the key (POST, with an anti-forgery token bound to
//! the pending and the browser session); the handler completes the
//! pending with `complete_with`, which stores the key under the pending's namespace (and no
//! other) before it wakes the waiting tool call, which resumes with the key.
//!
//! Run: `cargo run -p oob-examples --bin quickstart` (exits 0 on success).
//! With a browser: `cargo run -p oob-examples --bin quickstart -- --serve`, open the URL it
//! prints and sign in as `alice@example.com`; it serves until Ctrl-C or SIGTERM.
//! `--selftest` is the default run.

use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::Html;
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
use tokio::sync::oneshot;

/// What the user is asked for: an API key for an upstream service.
#[derive(Debug, Clone, Serialize, Deserialize, OobPayload)]
#[oob(kind = "api_key", route = "/oob/api-key/{id}", ttl = "10m")]
struct ApiKeyRequest {
    service: String,
}

/// Where pendings live: SQLite in a scratch file (durable across restarts). The one-line
/// switch to the in-process store: `type Store = oob::store::MemoryStore<ApiKeyRequest>;`
type Store = oob::store::SqliteStore<ApiKeyRequest>;

type Oob = Manager<ApiKeyRequest, Store, FromVerifiedSubject>;

#[derive(Clone)]
struct App {
    oob: Oob,
    vault: MemoryVault<String>,
    forms: AntiForgery,
}

/// The pending, checked to belong to the user signed in on this browser (a `tower-sessions`
/// session; `oob::http::ExtensionUser` reads a `VerifiedSubject` your auth layer set).
type Owned = Interaction<ApiKeyRequest, SessionUser>;

impl FromRef<App> for Interactions<ApiKeyRequest> {
    fn from_ref(app: &App) -> Self {
        app.oob.interactions()
    }
}

#[derive(Deserialize)]
struct KeyForm {
    key: String,
    #[serde(default, rename = "oob_csrf")]
    csrf: String,
}

fn form_page(service: &str, csrf: &str, error: Option<&str>) -> Html<String> {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=error>{}</p>", escape(e))
    });
    page(
        "Connect an API key",
        &format!(
            "<p>Your assistant needs an API key for <b>{}</b>. It is stored for your account \
             only and never shown to the assistant or the model.</p>{error}\
             <form method=post><input type=hidden name={field} value=\"{csrf}\">\
             <label for=key>API key</label>\
             <input id=key name=key type=password autocomplete=off required>\
             <p><button>Save</button></p></form>",
            escape(service),
            field = AntiForgery::FIELD,
            csrf = escape(csrf),
        ),
    )
}

/// GET: the browser brings only the id; the extractor checks the signed-in user against the
/// pending's owner, then loads the open pending (403 for anyone else whatever its state;
/// 400, 404, 410 or "already done" for its owner otherwise).
async fn form(State(app): State<App>, ix: Owned) -> Html<String> {
    form_page(&ix.data().service, &app.forms.token(&ix), None)
}

/// POST: complete exactly once, storing the key under the pending's namespace before the
/// waiting tool call wakes.
async fn submit(
    State(app): State<App>,
    ix: Owned,
    axum::Form(f): axum::Form<KeyForm>,
) -> Result<(axum::http::StatusCode, Html<String>), InteractionRejection> {
    app.forms.verify(&ix, &f.csrf)?;
    let key = f.key.trim().to_owned();
    if key.is_empty() || key.len() > 4096 {
        return Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            form_page(
                &ix.data().service,
                &app.forms.token(&ix),
                Some("Please paste a key."),
            ),
        ));
    }
    // The persist step is `'static`: it owns a handle on the vault. The completion runs in
    // a task of its own, so a browser that goes away mid-way does not lose the key.
    let (oob, pending, writer) = (app.oob.clone(), ix.into_pending(), app.vault.clone());
    oob_examples::detached(async move {
        oob.complete_with(pending, async move |token| {
            writer.put(&token, "upstream", key).await
        })
        .await
    })
    .await?;
    Ok((
        axum::http::StatusCode::OK,
        page(
            "Saved",
            "<p id=saved>Saved. You can close this tab and go back to the assistant.</p>",
        ),
    ))
}

/// The tool call: needs a key for its caller; asks for one, hands the URL to the user (in an
/// MCP server: through URL-mode elicitation) and waits for the outcome.
async fn tool_call(
    oob: Oob,
    vault: MemoryVault<String>,
    caller: VerifiedSubject,
    show_url: oneshot::Sender<String>,
    patience: Duration,
) -> Result<String, BoxError> {
    // The caller's own capability: what reads its entries in the vault.
    let token = oob.caller(&caller)?;
    if let Some(key) = vault.get(&token, "upstream").await? {
        return Ok(key);
    }
    let pending = oob
        .create_or_join(
            &caller,
            Spec::new(ApiKeyRequest {
                service: "upstream".into(),
            })
            .alias("upstream"),
        )
        .await?
        .into_open()
        .ok_or("the user declined recently")?;
    println!("tool call: needs an API key; waiting for the user");
    let _ = show_url.send(pending.callback_url());
    match oob.wait(pending.id(), patience).await? {
        Outcome::Completed(_) => {
            let key = vault
                .get(&token, "upstream")
                .await?
                .ok_or("completed without a key")?;
            println!("tool call: resumed with the key");
            Ok(key)
        }
        other => Err(format!("the interaction ended without a key: {other:?}").into()),
    }
}

/// What a person with a browser does: sign in, open the URL, paste a key, submit.
async fn act_as_user(base: &str, url: &str) -> Result<(), BoxError> {
    let c = client()?;
    let res = c.get(url).send().await?;
    ensure(res.status() == 403, "signed out: asked to sign in")?;
    let cookie = sign_in(&c, base, "alice@example.com").await?;
    let res = c.get(url).header("cookie", &cookie).send().await?;
    ensure(res.status() == 200, format!("GET form: {}", res.status()))?;
    ensure_interaction_headers(&res)?;
    let html = res.text().await?;
    ensure(html.contains("name=key"), "the form has a key field")?;
    let field = format!("name={} value=\"", AntiForgery::FIELD);
    let csrf = between(&html, &field, "\"")
        .ok_or("no anti-forgery token")?
        .to_owned();
    println!("user: signed in, opened the form");

    let post = |key: &'static str| {
        c.post(url)
            .header("cookie", &cookie)
            .form(&[("key", key), (AntiForgery::FIELD, &csrf)])
            .send()
    };
    let res = post("sk-live-alice").await?;
    ensure(res.status() == 200, format!("POST key: {}", res.status()))?;
    ensure_interaction_headers(&res)?;
    ensure(
        !res.text().await?.contains("sk-live-alice"),
        "the key is never echoed",
    )?;
    println!("user: submitted the key");

    let res = post("sk-again").await?;
    ensure(
        res.status() == 200 && res.text().await?.contains("Already done"),
        "a second submit: already done",
    )?;
    Ok(())
}

async fn run(mode: Mode) -> Result<(), BoxError> {
    // Removed when `run` returns, also after Ctrl-C or SIGTERM.
    let dir = scratch_dir("quickstart")?;
    let (listener, base) = bind().await?;
    let oob: Oob = Manager::builder()
        .store(Store::open_in(dir.path())?)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base)?)
        .build();
    let _sweeper = oob.spawn_sweeper(Duration::from_secs(30));
    let vault = MemoryVault::<String>::new();
    let app = App {
        oob: oob.clone(),
        vault: vault.clone(),
        forms: AntiForgery::generate()?,
    };
    let router = Router::new()
        .route(ApiKeyRequest::ROUTE, get(form).post(submit))
        .layer(interaction_headers())
        .with_state(app);
    let server = spawn_server(listener, with_sign_in(router));
    println!("service: listening on {base}");

    // The caller as the MCP server's auth layer verified it.
    let alice = VerifiedSubject::new(Namespace::new("alice@example.com")?);
    let patience = match mode {
        Mode::Serve => Duration::from_secs(600),
        _ => Duration::from_secs(30),
    };
    let (show_url, url) = oneshot::channel();
    let call = tokio::spawn(tool_call(
        oob.clone(),
        vault.clone(),
        alice.clone(),
        show_url,
        patience,
    ));
    let url = url.await.map_err(|_| "the tool call gave no URL")?;
    println!("open {url}");

    if mode == Mode::Serve {
        println!("(sign in as alice@example.com, paste any key; Ctrl-C or SIGTERM to stop)");
        print_when_done(call, |key| {
            format!("done: the tool call has a key of {} characters", key.len())
        });
        server.await?;
        return Ok(());
    }
    act_as_user(&base, &url).await?;
    let key = call.await??;
    ensure(key == "sk-live-alice", "the tool call got the wrong key")?;
    let bob = VerifiedSubject::new(Namespace::new("bob@example.com")?);
    ensure(
        vault.get(&oob.caller(&bob)?, "upstream").await?.is_none(),
        "another namespace sees alice's key",
    )?;
    println!("done: the key is stored under alice's namespace only; the tool call has it");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(mode) = oob_examples::mode("quickstart") else {
        return ExitCode::from(2);
    };
    oob_examples::exit("quickstart", run(mode).await)
}
