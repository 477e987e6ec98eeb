//! Property tests for the parsers: ids, namespaces, callback bases and rendered callback URLs.

use oob::provider::FixedNamespace;
use oob::store::MemoryStore;
use oob::{CallbackBase, Manager, Namespace, OobPayload, PendingId, Spec};
use proptest::prelude::*;

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
            prop_assert_eq!(id.as_uuid().get_version_num(), 4);
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
    /// control characters, and it keeps its text unchanged.
    #[test]
    fn namespace_validation_is_exact(s in "\\PC{0,80}|.{0,300}") {
        let expected = !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control);
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
        prop_assert!(!url.contains("//oob"));
    }

    /// Arbitrary text given as a callback base never panics the parser.
    #[test]
    fn callback_base_parse_never_panics(s in ".{0,120}") {
        let _ = CallbackBase::parse(&s);
    }
}
