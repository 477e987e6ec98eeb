//! The 30-second path, end to end, with no browser: a tool call needs a credential, a
//! pending interaction is created under the caller's namespace, the "user" completes it
//! through its callback id, the credential is stored under that namespace (and no other),
//! and the waiting tool call resumes with it.
//!
//! Run: `cargo run -p oob-examples --bin quickstart` (exits 0 on success).

use std::process::ExitCode;
use std::time::Duration;

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Outcome, PendingId, Spec};

/// What the user is asked for: an API key for an upstream service.
#[derive(Debug, Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/api-key/{id}", ttl = "10m")]
struct ApiKeyRequest {
    service: String,
}

type Oob = Manager<ApiKeyRequest, MemoryStore<ApiKeyRequest>, FromVerifiedSubject>;

/// The tool call: needs a key for `alice`; asks for one and waits for the outcome.
async fn tool_call(
    oob: Oob,
    vault: MemoryVault<String>,
    caller: VerifiedSubject,
) -> Result<String, String> {
    let ns = caller.namespace().clone();
    if let Some(key) = vault
        .get(&ns, "upstream")
        .await
        .map_err(|e| e.to_string())?
    {
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
        .await
        .map_err(|e| e.to_string())?
        .into_open()
        .ok_or("the user declined recently")?;
    println!(
        "tool call: needs an API key; asking the user to open {}",
        pending.callback_url()
    );
    match oob
        .wait(pending.id(), Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?
    {
        Outcome::Completed(done) => {
            let key = vault
                .get(done.namespace(), "upstream")
                .await
                .map_err(|e| e.to_string())?
                .ok_or("completed without a key")?;
            println!("tool call: resumed; the interaction completed");
            Ok(key)
        }
        other => Err(format!("interaction ended without a key: {other:?}")),
    }
}

/// The callback: the browser request carries only the id; the pending knows the namespace.
async fn callback(
    oob: &Oob,
    vault: &MemoryVault<String>,
    id: &str,
    submitted_key: String,
) -> Result<(), String> {
    let id: PendingId = id.parse().map_err(|e| format!("bad id: {e}"))?;
    let open = oob.open(id).await.map_err(|e| e.to_string())?;
    println!("callback: form for `{}` submitted", open.data().service);
    // Complete, persist under the pending's namespace (only a completed pending yields the
    // token that writes there), and only then wake the waiting tool call.
    oob.complete_with(open, async |token| {
        vault.put(&token, "upstream", submitted_key).await
    })
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

async fn run() -> Result<(), String> {
    let oob: Oob = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("http://127.0.0.1:8080").map_err(|e| e.to_string())?)
        .build();
    let _sweeper = oob.spawn_sweeper(Duration::from_secs(30));
    let vault = MemoryVault::<String>::new();
    let alice =
        VerifiedSubject::new(Namespace::new("alice@example.com").map_err(|e| e.to_string())?);

    let call = tokio::spawn(tool_call(oob.clone(), vault.clone(), alice.clone()));

    // The user opens the URL: find the id the tool call handed out, as a browser would.
    let open = loop {
        if let Some(p) = oob
            .list(alice.namespace())
            .await
            .map_err(|e| e.to_string())?
            .pop()
        {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let url = open.callback_url();
    let id = url.rsplit('/').next().ok_or("no id in the URL")?;
    callback(&oob, &vault, id, "sk-live-alice".into()).await?;

    let key = call.await.map_err(|e| e.to_string())??;
    if key != "sk-live-alice" {
        return Err("the tool call got the wrong key".into());
    }
    let bob = Namespace::new("bob@example.com").map_err(|e| e.to_string())?;
    if vault
        .get(&bob, "upstream")
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err("another namespace sees alice's key".into());
    }
    println!("done: the key is stored under alice's namespace only; the tool call has it");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}
