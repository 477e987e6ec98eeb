//! A device-code page: the tool call started a device authorization with an upstream
//! provider and needs the user to approve it. The page shows the user code and the
//! verification link, with Approve and Deny buttons (an anti-forgery token bound to the
//! pending and the browser session on both), only to the signed-in user the pending belongs
//! to. Approve completes the pending and stores the grant under the user's namespace; Deny
//! declines it; the waiting tool call sees which.
//!
//! Run: `cargo run -p oob-examples --bin device_code`, open the URL it prints and sign in as
//! alice. It serves until Ctrl-C or SIGTERM.
//! Non-interactive: `cargo run -p oob-examples --bin device_code -- --selftest`.

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
use oob::{CallbackBase, Manager, Namespace, OobPayload, Outcome, PendingId, Spec};
use oob_examples::{
    BoxError, Mode, OpenStore, between, bind, client, ensure, ensure_interaction_headers, escape,
    page, print_when_done, scratch_dir, sign_in, spawn_server, with_sign_in,
};
use serde::{Deserialize, Serialize};

/// A device authorization waiting for the user's approval.
#[derive(Debug, Clone, Serialize, Deserialize, OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}", ttl = "10m")]
struct DeviceCode {
    client_name: String,
    user_code: String,
    verification_uri: String,
}

/// Where pendings live: SQLite in a scratch file (durable across restarts). The one-line
/// switch to the in-process store: `type Store = oob::store::MemoryStore<DeviceCode>;`
type Store = oob::store::SqliteStore<DeviceCode>;

type Oob = Manager<DeviceCode, Store, FromVerifiedSubject>;

#[derive(Clone)]
struct App {
    oob: Oob,
    vault: MemoryVault<String>,
    forms: AntiForgery,
}

/// The pending, checked to belong to the user signed in on this browser.
type Owned = Interaction<DeviceCode, SessionUser>;

impl FromRef<App> for Interactions<DeviceCode> {
    fn from_ref(app: &App) -> Self {
        app.oob.interactions()
    }
}

/// GET: the code, the link, and the two buttons.
async fn show(State(app): State<App>, ix: Owned) -> Html<String> {
    let d = ix.data();
    let csrf = app.forms.token(&ix);
    page(
        "Approve a device",
        &format!(
            "<p><b>{client}</b> asks to connect to your account.</p>\
             <p>Check that the device shows this code:</p><p><code class=big>{code}</code></p>\
             <p>Or confirm on the provider's page: \
             <a href=\"{uri}\" rel=\"noreferrer noopener\">{uri}</a></p>\
             <form method=post><input type=hidden name={field} value=\"{csrf}\">\
             <button name=action value=approve>Approve</button> \
             <button name=action value=deny>Deny</button></form>",
            client = escape(&d.client_name),
            code = escape(&d.user_code),
            uri = escape(&d.verification_uri),
            field = AntiForgery::FIELD,
        ),
    )
}

#[derive(Deserialize)]
struct Decision {
    action: String,
    #[serde(default, rename = "oob_csrf")]
    csrf: String,
}

/// POST: approve (complete, store the grant first) or deny (decline).
async fn decide(
    State(app): State<App>,
    ix: Owned,
    axum::Form(d): axum::Form<Decision>,
) -> Result<Response, InteractionRejection> {
    app.forms.verify(&ix, &d.csrf)?;
    match d.action.as_str() {
        "approve" => {
            let grant = format!("device-grant:{}", ix.data().user_code);
            // The persist step is `'static`: it owns a handle on the vault. The completion
            // runs in a task of its own, so a browser that goes away mid-way loses nothing.
            let (oob, pending, writer) = (app.oob.clone(), ix.into_pending(), app.vault.clone());
            oob_examples::detached(async move {
                oob.complete_with(pending, async move |token| {
                    writer.put(&token, "device_grant", grant).await
                })
                .await
            })
            .await?;
            Ok(page(
                "Approved",
                "<p id=saved>Approved. You can close this tab and go back to the assistant.</p>",
            )
            .into_response())
        }
        "deny" => {
            app.oob.decline(ix.into_pending()).await?;
            Ok(page("Denied", "<p>Denied. Nothing was connected.</p>").into_response())
        }
        _ => Ok((
            StatusCode::BAD_REQUEST,
            page(
                "Refused",
                "<p>Unknown action. Reload the page and choose Approve or Deny.</p>",
            ),
        )
            .into_response()),
    }
}

/// The upstream provider's own verification page (a stand-in).
async fn verify_page() -> Html<String> {
    page("Provider", "<p>Enter the code shown on your device.</p>")
}

/// The tool call: starts a device authorization and waits for the user's decision.
async fn tool_call(
    oob: Oob,
    vault: MemoryVault<String>,
    caller: VerifiedSubject,
    user_code: &str,
    base: &str,
) -> Result<(PendingId, tokio::task::JoinHandle<Result<String, BoxError>>), BoxError> {
    let pending = oob
        .create(
            &caller,
            Spec::new(DeviceCode {
                client_name: "CLI <on laptop>".into(),
                user_code: user_code.into(),
                verification_uri: format!("{base}/device"),
            }),
        )
        .await?;
    let id = pending.id();
    println!("tool call: open {}", pending.callback_url());
    let wait = tokio::spawn(async move {
        match oob.wait(id, Duration::from_secs(600)).await? {
            // The tool call reads with its own caller's capability.
            Outcome::Completed(_) => Ok(vault
                .get(&oob.caller(&caller)?, "device_grant")
                .await?
                .ok_or("completed without a grant")?),
            Outcome::Declined(_) => Ok("declined".to_string()),
            other => Err(format!("unexpected outcome {other:?}").into()),
        }
    });
    Ok((id, wait))
}

/// Posts `action` (with the anti-forgery token `csrf`, if any) to the device page at `url`
/// in the session of `cookie`.
async fn post_decision(
    c: &reqwest::Client,
    url: &str,
    cookie: &str,
    action: &str,
    csrf: Option<&str>,
) -> Result<reqwest::Response, BoxError> {
    let mut form = vec![("action", action)];
    form.extend(csrf.map(|t| (AntiForgery::FIELD, t)));
    Ok(c.post(url)
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await?)
}

async fn selftest(oob: &Oob, vault: &MemoryVault<String>, base: &str) -> Result<(), BoxError> {
    let c = client()?;
    let alice = VerifiedSubject::new(Namespace::new("alice")?);
    let alice_cookie = sign_in(&c, base, "alice").await?;
    let mallory_cookie = sign_in(&c, base, "mallory").await?;
    let field = format!("name={} value=\"", AntiForgery::FIELD);

    // Approve.
    let (id, call) =
        tool_call(oob.clone(), vault.clone(), alice.clone(), "WDJB-MJHT", base).await?;
    let url = oob.callback_url(id);
    ensure(
        c.get(&url).send().await?.status() == 403,
        "signed out: refused",
    )?;
    let res = c.get(&url).header("cookie", &mallory_cookie).send().await?;
    ensure(res.status() == 403, "another user: refused")?;
    ensure(
        !res.text().await?.contains("WDJB-MJHT"),
        "another user sees no code",
    )?;
    let res = c.get(&url).header("cookie", &alice_cookie).send().await?;
    ensure(res.status() == 200, "GET device page")?;
    ensure_interaction_headers(&res)?;
    let html = res.text().await?;
    ensure(html.contains("WDJB-MJHT"), "the page shows the user code")?;
    ensure(
        html.contains("CLI &lt;on laptop&gt;"),
        "the client name is escaped",
    )?;
    ensure(
        html.contains(&format!("href=\"{base}/device\"")),
        "verification link",
    )?;
    let csrf = between(&html, &field, "\"").ok_or("no csrf")?;
    let res = post_decision(&c, &url, &alice_cookie, "approve", None).await?;
    ensure(
        res.status() == 403,
        "approve without the anti-forgery token",
    )?;
    let res = post_decision(&c, &url, &alice_cookie, "approve", Some(&"A".repeat(43))).await?;
    ensure(res.status() == 403, "approve with a wrong token")?;
    let res = post_decision(&c, &url, &mallory_cookie, "approve", Some(csrf)).await?;
    ensure(res.status() == 403, "alice's token in mallory's session")?;
    let res = post_decision(&c, &url, &alice_cookie, "approve", Some(csrf)).await?;
    ensure(res.status() == 200, format!("approve: {}", res.status()))?;
    ensure_interaction_headers(&res)?;
    ensure(
        call.await?? == "device-grant:WDJB-MJHT",
        "the tool call got the grant",
    )?;
    let res = c.get(&url).header("cookie", &alice_cookie).send().await?;
    ensure(
        res.status() == 200 && res.text().await?.contains("Already done"),
        "reload after approving: already done",
    )?;
    println!("selftest: approved by the owner only; the tool call has the grant");

    // Deny.
    let (id, call) = tool_call(oob.clone(), vault.clone(), alice, "QXRT-PLMN", base).await?;
    let url = oob.callback_url(id);
    let html = c
        .get(&url)
        .header("cookie", &alice_cookie)
        .send()
        .await?
        .text()
        .await?;
    let csrf = between(&html, &field, "\"").ok_or("no csrf")?;
    let res = post_decision(&c, &url, &alice_cookie, "deny", Some(csrf)).await?;
    ensure(res.status() == 200, "deny")?;
    ensure(call.await?? == "declined", "the tool call saw the decline")?;
    let res = post_decision(&c, &url, &alice_cookie, "approve", Some(csrf)).await?;
    ensure(res.status() == 410, "approving a denied request is 410")?;
    println!("selftest: denied; approving afterwards is 410 Gone");
    Ok(())
}

async fn run(mode: Mode) -> Result<(), BoxError> {
    // Removed when `run` returns: after the self-test, Ctrl-C or SIGTERM.
    let dir = scratch_dir("device-code")?;
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
        .route(DeviceCode::ROUTE, get(show).post(decide))
        .layer(interaction_headers())
        .route("/device", get(verify_page))
        .with_state(app);
    let server = spawn_server(listener, with_sign_in(router));
    if mode == Mode::Selftest {
        return selftest(&oob, &vault, &base).await;
    }
    let alice = VerifiedSubject::new(Namespace::new("alice")?);
    let (_, call) = tool_call(oob.clone(), vault, alice, "WDJB-MJHT", &base).await?;
    println!("(sign in as alice when asked, approve or deny; Ctrl-C or SIGTERM to stop)");
    // What the tool call read is a credential: say what happened, never print it.
    print_when_done(call, |r| {
        if r == "declined" {
            "tool call finished: the user denied the device".to_owned()
        } else {
            format!(
                "tool call finished: approved (a grant of {} characters)",
                r.len()
            )
        }
    });
    server.await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(mode) = oob_examples::mode("device_code") else {
        return ExitCode::from(2);
    };
    oob_examples::exit("device_code", run(mode).await)
}
