//! Failures over real HTTP: a failing store or vault is a 500 with a generic body and the
//! interaction headers; a concurrent double submit of one form gives exactly one success.

mod http_support;

use std::sync::atomic::Ordering;

use http_support::{INTERNAL_DETAIL, assert_interaction_headers, client, start};
use oob::http::RejectionKind;
use oob_tests::{spec, user};

#[tokio::test]
async fn store_failures_are_a_generic_500() {
    let (state, _clock, store, base) = start().await;
    let c = client();
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let url = format!("{base}/oob/cb/{}", open.id());

    store.over.fail_get.store(true, Ordering::SeqCst);
    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert_interaction_headers(&res, "500 on load");
    let body = res.text().await.unwrap();
    assert_eq!(body, RejectionKind::Internal.page());
    assert!(!body.contains(INTERNAL_DETAIL) && !body.contains("alice"));
    store.over.fail_get.store(false, Ordering::SeqCst);

    // The load works, the completion's transition fails.
    store.over.fail_complete.store(true, Ordering::SeqCst);
    let res = c
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("secret=kept-out")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert_interaction_headers(&res, "500 on complete");
    let body = res.text().await.unwrap();
    assert_eq!(body, RejectionKind::Internal.page());
    assert!(!body.contains(INTERNAL_DETAIL) && !body.contains("kept-out"));
    store.over.fail_complete.store(false, Ordering::SeqCst);

    // Nothing was stored and the pending is still open: the user can retry.
    assert_eq!(state.stored("alice", "secret").await, None);
    let res = c
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("secret=second-try")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        state.stored("alice", "secret").await.as_deref(),
        Some("second-try")
    );
}

#[tokio::test]
async fn concurrent_double_submit_has_exactly_one_winner() {
    let (state, _clock, _store, base) = start().await;
    let c = client();
    for round in 0..5 {
        let open = state.oob.create(&user("alice"), spec()).await.unwrap();
        let url = format!("{base}/oob/cb/{}", open.id());
        // Every request loaded the form first: all of them race the submit.
        let submits = (0..8).map(|i| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move {
                let res = c
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("secret=value-{i}"))
                    .send()
                    .await
                    .unwrap();
                assert_interaction_headers(&res, "double submit");
                let status = res.status().as_u16();
                (i, status, res.text().await.unwrap())
            })
        });
        let mut results = Vec::new();
        for s in submits.collect::<Vec<_>>() {
            results.push(s.await.unwrap());
        }
        let winners: Vec<_> = results.iter().filter(|(_, _, b)| b == "saved").collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        // Every other submit: the "already done" page, with a success status.
        assert!(
            results.iter().all(|(_, s, b)| *s == 200
                && (b == "saved" || *b == oob::http::RejectionKind::Completed.page())),
            "round {round}: {results:?}"
        );
        // The stored value is the winner's.
        let stored = state.stored("alice", "secret").await;
        assert_eq!(stored, Some(format!("value-{}", winners[0].0)));
    }
}

/// POST: completes, and the persist step fails (the vault is down).
async fn submit_unsaved(
    axum::extract::State(state): axum::extract::State<http_support::AppState>,
    ix: oob::http::UncheckedInteraction<oob_tests::DeviceCode>,
) -> Result<&'static str, oob::http::InteractionRejection> {
    state
        .oob
        .complete_with(ix.into_pending(), async move |_token| {
            Err::<(), _>(std::io::Error::other(INTERNAL_DETAIL))
        })
        .await?;
    Ok("saved")
}

#[tokio::test]
async fn a_failed_persist_says_not_saved_and_asks_for_a_new_link() {
    let (state, _clock, _store, _) = start().await;
    let app = axum::Router::new()
        .route(
            "/oob/cb/{id}",
            axum::routing::get(|| async { "form" }).post(submit_unsaved),
        )
        .layer(oob::http::interaction_headers())
        .with_state(state.clone());
    let base = http_support::serve(app).await;
    let c = client();
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let url = format!("{base}/oob/cb/{}", open.id());
    let res = c.post(&url).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert_interaction_headers(&res, "500 on persist");
    let body = res.text().await.unwrap();
    // Not "try again later": the pending is completed, so a retry cannot help.
    assert_eq!(body, RejectionKind::NotSaved.page());
    assert!(body.contains("new link") && !body.contains(INTERNAL_DETAIL));
    let res = c.post(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), RejectionKind::Completed.page());
}
