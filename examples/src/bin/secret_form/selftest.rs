//! The non-interactive run (`--selftest`): the whole path through HTTP, with the owner
//! check, validation, storage under the pending's namespace only, no echo of the secret,
//! and a replayed submit.

use super::*;

pub(super) async fn selftest(
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
