//! Property tests for the parsers: ids, namespaces, callback bases and rendered callback URLs.

use oob::mcp::{Binding, StateKeys};
use oob::provider::FixedNamespace;
use oob::store::MemoryStore;
use oob::{CallbackBase, Manager, Namespace, OobPayload, PendingId, Spec};
use proptest::prelude::*;
use std::time::SystemTime;

#[derive(Clone, OobPayload)]
#[oob(kind = "probe", route = "/oob/cb/{id}/done?x=1")]
struct Probe;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Every id round-trips through its text form, and its text form is canonical.
    #[test]
    fn pending_id_round_trips(bytes in any::<[u8; 16]>()) {
        let mut b = bytes;
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        let id = PendingId::from_bytes(b).unwrap();
        let text = id.to_string();
        prop_assert_eq!(text.len(), 36);
        prop_assert_eq!(text.parse::<PendingId>().unwrap(), id);
        prop_assert_eq!(text.to_ascii_uppercase().parse::<PendingId>().unwrap(), id);
    }

    /// Whatever the input, parsing never panics, and anything it accepts is a v4 id whose
    /// canonical form is the input, lowercased: there is exactly one text per id.
    #[test]
    fn pending_id_parse_accepts_only_canonical_text(s in ".{0,48}") {
        if let Ok(id) = s.parse::<PendingId>() {
            prop_assert_eq!(id.to_string(), s.to_ascii_lowercase());
            prop_assert_eq!(id.as_bytes()[6] >> 4, 4);
        }
    }

    /// Near misses of a valid id (one byte changed, inserted or removed) never parse to a
    /// different id.
    #[test]
    fn pending_id_mutations_never_alias(pos in 0usize..36, c in any::<char>(), op in 0u8..3) {
        let id = PendingId::random();
        let text = id.to_string();
        let mut chars: Vec<char> = text.chars().collect();
        match op {
            0 => chars[pos] = c,
            1 => chars.insert(pos, c),
            _ => { chars.remove(pos); }
        }
        let mutated: String = chars.into_iter().collect();
        if let Ok(other) = mutated.parse::<PendingId>() {
            // Only a case change of a hex digit (the same id) or a change to another
            // valid hex digit (a different, well-formed id) can parse.
            prop_assert_eq!(mutated.len(), 36);
            prop_assert_eq!(other.to_string(), mutated.to_ascii_lowercase());
        }
    }

    /// A namespace is accepted exactly when it is non-empty, at most 256 bytes and free of
    /// control characters and of the invisible ones that reorder text, and it keeps its
    /// text unchanged.
    #[test]
    fn namespace_validation_is_exact(s in "\\PC{0,80}|.{0,300}|[a\u{61c}\u{200e}\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{2028}\u{2029}]{1,4}") {
        let reorders = |c: char| matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}');
        let expected = !s.is_empty()
            && s.len() <= 256
            && !s.chars().any(|c| c.is_control() || reorders(c));
        match Namespace::new(&s) {
            Ok(ns) => {
                prop_assert!(expected, "accepted {:?}", s);
                prop_assert_eq!(ns.as_str(), s.as_str());
            }
            Err(_) => prop_assert!(!expected, "rejected {:?}", s),
        }
    }

    /// Callback-base parsing never panics; an accepted base renders URLs that start with it,
    /// carry the id exactly once, and nothing else from the pending.
    #[test]
    fn callback_urls_carry_only_the_id(host in "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,6}){0,2}",
                                       port in proptest::option::of(1u16..),
                                       path in "(/[a-z0-9_-]{1,8}){0,3}/?",
                                       user in "\\PC{1,40}") {
        let base_text = match port {
            Some(p) => format!("https://{host}:{p}{path}"),
            None => format!("https://{host}{path}"),
        };
        let base = CallbackBase::parse(&base_text);
        prop_assume!(base.is_ok());
        let base = base.unwrap();
        let ns = Namespace::new(&user);
        prop_assume!(ns.is_ok());
        let ns = ns.unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let url = rt.block_on(async {
            let m = Manager::builder()
                .store(MemoryStore::<Probe>::new())
                .provider(FixedNamespace::new(ns.clone()))
                .callback_base(base.clone())
                .build();
            let p = m.create(&(), Spec::new(Probe).alias("secret-alias")).await.unwrap();
            (p.callback_url(), p.id())
        });
        let (url, id) = url;
        let id_text = id.to_string();
        prop_assert!(url.starts_with(base.as_str().trim_end_matches('/')));
        prop_assert!(url.ends_with(&format!("/oob/cb/{id_text}/done?x=1")), "{}", url);
        prop_assert_eq!(url.matches(&id_text).count(), 1);
        prop_assert!(!url.contains("secret-alias"));
        // No empty path segment (the scheme's `//` aside: a host may be `oob`).
        prop_assert!(!url["https://".len()..].contains("//"), "{}", url);
    }

    /// Arbitrary text given as a callback base never panics the parser.
    #[test]
    fn callback_base_parse_never_panics(s in ".{0,120}") {
        let _ = CallbackBase::parse(&s);
    }

    /// A sealed `requestState` opens for the caller, method and params it was sealed for,
    /// with its ids, whatever they are.
    #[test]
    fn request_state_round_trips(user in "[a-z@.]{1,30}", org in "\\PC{0,20}",
                                 n in 1usize..5, key in any::<[u8; 32]>()) {
        let keys = StateKeys::new(key.to_vec()).unwrap();
        let ns = Namespace::new(&user).unwrap();
        let params = serde_json::json!({"name": "list_repos", "arguments": {"org": org}});
        let ids: Vec<PendingId> = (0..n).map(|_| PendingId::random()).collect();
        let now = SystemTime::now();
        let state = keys.seal(&Binding::new(&ns, "tools/call", &params), &ids, now);
        let opened = keys.open(&state, &Binding::new(&ns, "tools/call", &params), now).unwrap();
        prop_assert_eq!(opened.ids(), ids.as_slice());
    }

    /// Changing, inserting or removing any single byte of a sealed `requestState` is always
    /// rejected, and never panics.
    #[test]
    fn request_state_tampering_is_always_rejected(pos in any::<prop::sample::Index>(),
                                                  byte in any::<u8>(), op in 0u8..3) {
        let keys = StateKeys::new([7u8; 32].to_vec()).unwrap();
        let ns = Namespace::new("alice@example.com").unwrap();
        let params = serde_json::json!({"name": "list_repos", "arguments": {}});
        let now = SystemTime::now();
        let binding = Binding::new(&ns, "tools/call", &params);
        let state = keys.seal(&binding, &[PendingId::random()], now);
        let mut bytes = state.clone().into_bytes();
        let i = pos.index(bytes.len());
        match op {
            0 => bytes[i] = byte,
            1 => bytes.insert(i, byte),
            _ => { bytes.remove(i); }
        }
        prop_assume!(bytes != state.as_bytes());
        let tampered = String::from_utf8_lossy(&bytes);
        prop_assert!(keys.open(&tampered, &binding, now).is_err(), "accepted {:?}", tampered);
    }

    /// Arbitrary text as a `requestState` is refused without a panic.
    #[test]
    fn request_state_garbage_is_refused(s in ".{0,200}") {
        let keys = StateKeys::new([9u8; 32].to_vec()).unwrap();
        let ns = Namespace::new("alice").unwrap();
        let params = serde_json::json!({});
        prop_assert!(keys.open(&s, &Binding::new(&ns, "tools/call", &params), SystemTime::now()).is_err());
    }
}

mod http_ids {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use oob::http::{UncheckedInteraction, route_path};
    use oob::provider::FromVerifiedSubject;
    use oob::store::MemoryStore;
    use oob::{CallbackBase, Manager, OobPayload, PendingId, Spec};
    use oob_tests::user;
    use proptest::prelude::*;
    use tower::ServiceExt;

    #[derive(Clone, OobPayload)]
    #[oob(kind = "path_probe", route = "/oob/cb/{id}")]
    struct PathProbe;

    #[derive(Clone, OobPayload)]
    #[oob(kind = "query_probe", route = "/oob?id={id}")]
    struct QueryProbe;

    type Pm = Manager<PathProbe, MemoryStore<PathProbe>, FromVerifiedSubject>;
    type Qm = Manager<QueryProbe, MemoryStore<QueryProbe>, FromVerifiedSubject>;

    fn managers() -> (Pm, Qm) {
        let base = CallbackBase::parse("https://ex.com").unwrap();
        (
            Manager::builder()
                .store(MemoryStore::new())
                .provider(FromVerifiedSubject)
                .callback_base(base.clone())
                .build(),
            Manager::builder()
                .store(MemoryStore::new())
                .provider(FromVerifiedSubject)
                .callback_base(base)
                .build(),
        )
    }

    async fn status(app: Router, uri: &str) -> Option<StatusCode> {
        let req = Request::get(uri).body(Body::empty()).ok()?;
        Some(app.oneshot(req).await.ok()?.status())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Whatever a browser sends as the id, in the path or the query, the answer is 200
        /// for the open pending's own id and otherwise 400 (malformed) or 404 (unknown or
        /// not routed): never a 500, never a panic, never another pending.
        #[test]
        fn any_id_text_is_a_clean_answer(raw in "[0-9a-fA-F%./_~-]{0,40}|\\PC{0,40}") {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (pm, qm) = managers();
                let p = pm.create(&user("a"), Spec::new(PathProbe)).await.unwrap();
                let q = qm.create(&user("a"), Spec::new(QueryProbe)).await.unwrap();
                let paths = Router::new()
                    .route(PathProbe::ROUTE, get(|ix: UncheckedInteraction<PathProbe, Pm>| async move { ix.id().to_string() }))
                    .with_state(pm);
                let queries = Router::new()
                    .route(route_path(QueryProbe::ROUTE), get(|ix: UncheckedInteraction<QueryProbe, Qm>| async move { ix.id().to_string() }))
                    .with_state(qm);
                let enc: String = raw.bytes().map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~%".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
                }).collect();
                let expected_ok = |id: PendingId| {
                    // Percent-decoding aside, only the exact id text (any hex case) is the pending.
                    raw.parse::<PendingId>().ok() == Some(id)
                };
                for (app, uri, id) in [
                    (paths, format!("/oob/cb/{enc}"), p.id()),
                    (queries, format!("/oob?id={enc}"), q.id()),
                ] {
                    let Some(st) = status(app, &uri).await else { continue };
                    if expected_ok(id) {
                        prop_assert_eq!(st, StatusCode::OK, "{}", uri);
                    } else {
                        prop_assert!(
                            st == StatusCode::BAD_REQUEST || st == StatusCode::NOT_FOUND,
                            "{} -> {}", uri, st
                        );
                    }
                }
                Ok(())
            })?;
        }

        /// The open pending's own id, in any hex case, is found through path and query.
        #[test]
        fn the_pending_s_own_id_is_found(upper in any::<bool>()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (pm, _) = managers();
                let p = pm.create(&user("a"), Spec::new(PathProbe)).await.unwrap();
                let text = if upper { p.id().to_string().to_uppercase() } else { p.id().to_string() };
                let app = Router::new()
                    .route(PathProbe::ROUTE, get(|ix: UncheckedInteraction<PathProbe, Pm>| async move { ix.id().to_string() }))
                    .with_state(pm);
                prop_assert_eq!(status(app, &format!("/oob/cb/{text}")).await, Some(StatusCode::OK));
                Ok(())
            })?;
        }
    }
}
