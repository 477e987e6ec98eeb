//! Tests of the `route` rule: the messages, and agreement with oob's `const fn`.

use super::*;
use crate::valid::strings;

// oob's rule itself (`oob/src/route_rule.rs`), the reference for `check_route`: compiled
// into these tests from oob's source, so the derive and oob cannot drift apart unseen
// (a copy of it stood here, and agreed only with itself).
#[path = "../../../oob/src/route_rule.rs"]
#[allow(unreachable_pub)] // `pub` in oob, where it is public API
mod oob_rule;
use oob_rule::route_id_position;

#[test]
fn routes() {
    assert_eq!(check_route("/oob/{id}"), Ok(5));
    assert_eq!(check_route("/oob?id={id}"), Ok(8));
    assert_eq!(check_route("/{id}/x"), Ok(1));
    assert_eq!(check_route("/café/{id}"), Err(RouteError::Illegal('é')));
    assert_eq!(
        check_route("/a/{id}.json"),
        Err(RouteError::IdNotWholeSegment)
    );
    assert_eq!(check_route("/a//{id}"), Err(RouteError::EmptySegment));
    assert_eq!(check_route("/a/../{id}"), Err(RouteError::DotSegment));
    assert_eq!(
        check_route("/:a/{id}"),
        Err(RouteError::CaptureSegment(':'))
    );
    assert_eq!(
        check_route("/a?x{id}"),
        Err(RouteError::IdNotWholeQueryValue)
    );
    assert_eq!(
        check_route("/a?id=1&id={id}"),
        Err(RouteError::DuplicateQueryKey("id".into()))
    );
    assert_eq!(check_route(""), Err(RouteError::Empty));
    assert_eq!(check_route("oob/{id}"), Err(RouteError::NoLeadingSlash));
    assert_eq!(check_route("https://ex.com/{id}"), Err(RouteError::FullUrl));
    assert_eq!(check_route("/oob"), Err(RouteError::NoId));
    assert_eq!(check_route("/{id}/{id}"), Err(RouteError::DuplicateId));
    assert_eq!(
        check_route("/{name}/{id}"),
        Err(RouteError::UnknownPlaceholder("{name}".into()))
    );
    assert_eq!(
        check_route("/{}"),
        Err(RouteError::UnknownPlaceholder("{}".into()))
    );
    assert_eq!(check_route("/a b/{id}"), Err(RouteError::Space));
    assert_eq!(check_route("/a\t/{id}"), Err(RouteError::Control('\t')));
    assert_eq!(check_route("/a\x7f/{id}"), Err(RouteError::Control('\x7f')));
    assert_eq!(check_route("/a/{id}#frag"), Err(RouteError::Fragment));
    assert_eq!(check_route("/a/{id"), Err(RouteError::UnclosedBrace));
    assert_eq!(check_route("/a/{{id}"), Err(RouteError::UnclosedBrace));
    assert_eq!(check_route("/a/id}"), Err(RouteError::UnmatchedClose));
}

/// The routes both this rule and oob's (`oob/src/route_rule.rs`, the same table) take,
/// with where `{id}` stands.
const VALID: &[(&str, usize)] = &[
    ("/oob/{id}", 5),
    ("/{id}", 1),
    ("/{id}/x", 1),
    ("/oob/{id}/", 5),
    ("/a:b/{id}", 5),
    ("/a/{id}/page?from=mail", 3),
    ("/oob?id={id}", 8),
    ("/cb?x=1&id={id}&y=2", 11),
    ("/cb?a.b~c-d_e={id}", 14),
    ("/cb/%7E?id={id}", 11),
    ("/a/%2e%2e%2e/{id}", 13),
    ("/a/.x/{id}", 6),
];

/// Routes both rules refuse.
const INVALID: &[&str] = &[
    "",
    "oob/{id}",
    "https://ex.com/{id}",
    "/oob",
    "/{id}/{id}",
    "/{name}/{id}",
    "/a b/{id}",
    "/a/{id}#frag",
    "/a/{id",
    "/a/id}",
    "/cb/{id}.json",
    "/cb/x{id}",
    "/cb/:v/{id}",
    "/cb/*/{id}",
    "/cb/*rest/{id}",
    "//evil.example/{id}",
    "/a//{id}",
    "/a/./{id}",
    "/a/../{id}",
    "/{id}/..",
    "/a/%2e%2e/{id}",
    "/a/%2E%2e/%2e/{id}",
    "/a/.%2E/{id}",
    "/{id}/%2e",
    "/caf\u{e9}/{id}",
    "/cb\"/{id}",
    "/cb<x>/{id}",
    "/\\evil.example/{id}",
    "/cb|/{id}",
    "/cb?{id}",
    "/cb?id=x{id}",
    "/cb?id={id}x",
    "/cb?={id}",
    "/cb?a%5Fb={id}",
    "/cb?a+b={id}",
    "/cb?a=1;id={id}",
    "/cb?p=/x/{id}",
    "/oob?id=s&id={id}",
    "/oob?id={id}&id",
];

#[test]
fn the_shared_table() {
    for (route, pos) in VALID {
        assert_eq!(check_route(route), Ok(*pos), "{route}");
    }
    for route in INVALID {
        assert!(check_route(route).is_err(), "{route}");
    }
}

#[test]
fn routes_agree_with_oob() {
    let alphabet = ['/', '{', '}', 'i', 'd', '#', ' ', '?', '=', '\t'];
    for route in strings(&alphabet, 6) {
        assert_eq!(
            check_route(&route).ok(),
            route_id_position(&route),
            "{route:?}"
        );
    }
    // Whole tokens, for the segment and query rules: up to six of them.
    let tokens = ["/", "{id}", "?", "=", "&", ":", ".", "x", "*", "é", "\\"];
    let mut routes = vec![String::new()];
    for _ in 0..6 {
        routes = routes
            .iter()
            .flat_map(|r| tokens.iter().map(move |t| format!("{r}{t}")))
            .collect();
        for route in &routes {
            assert_eq!(
                check_route(route).ok(),
                route_id_position(route),
                "{route:?}"
            );
        }
    }
}

#[test]
fn route_messages() {
    let msg = |r: &str| check_route(r).unwrap_err().message(r);
    assert_eq!(
        msg("/{name}"),
        "unknown placeholder `{name}`: the route takes exactly one `{id}`; rename `{name}` to `{id}`"
    );
    assert!(msg("/{name}/{id}").ends_with("remove `{name}`"));
    assert!(msg("oob/{id}").contains(r#"`route = "/oob/{id}"`"#));
    assert!(msg("/oob/").contains(r#"`route = "/oob/{id}"`"#));
    assert!(msg("/oob?x=1").contains(r#"`route = "/oob?x=1&id={id}"`"#));
    assert!(msg("/a\t{id}").contains(r"`\t` (U+0009)"));
}

/// The routes a message offers as `route = "..."`.
fn suggested(message: &str) -> Vec<&str> {
    message
        .split("`route = \"")
        .skip(1)
        .map(|rest| rest.split_once("\"`").map_or(rest, |(route, _)| route))
        .collect()
}

/// Every route a message offers passes the rule itself (and oob's).
fn assert_suggestions_valid(route: &str) {
    if let Err(err) = check_route(route) {
        let message = err.message(route);
        for fixed in suggested(&message) {
            assert!(
                check_route(fixed).is_ok() && route_id_position(fixed).is_some(),
                "{route:?} suggests the invalid {fixed:?}: {message}"
            );
        }
    }
}

#[test]
fn suggestions_pass_the_rule() {
    let msg = |r: &str| check_route(r).unwrap_err().message(r);
    // A suggestion that would still be invalid is not made: the next fix goes with it, or
    // only the advice is given.
    let m = msg("oob/device");
    assert!(
        m.starts_with("`route` must start with `/`; with the `/` added, "),
        "{m}"
    );
    assert_eq!(suggested(&m), ["/oob/device/{id}"], "{m}");
    let m = msg("/oob?id=1");
    assert_eq!(suggested(&m), ["/oob/{id}?id=1"], "{m}");
    let m = msg("/oob?id=1&id=2");
    assert_eq!(suggested(&m), ["/oob/{id}?id=1&id=2"], "{m}");
    let m = msg("/oob?");
    assert_eq!(suggested(&m), ["/oob?id={id}"], "{m}");
    let m = msg("/a/{id}#x");
    assert!(suggested(&m).is_empty(), "{m}");
    let m = msg("a/{id}#x");
    assert!(m.contains("fragment"), "{m}");
    assert!(suggested(&m).is_empty(), "{m}");
    let m = msg("/oob\\x");
    assert!(suggested(&m).is_empty(), "{m}");
    assert!(m.ends_with("(`?id={id}`)"), "{m}");

    for route in INVALID {
        assert_suggestions_valid(route);
    }
    let tokens = [
        "/", "{id}", "?", "=", "&", ":", ":id", "*", "id", "x", "#", "\\",
    ];
    let mut routes = vec![String::new()];
    for _ in 0..5 {
        routes = routes
            .iter()
            .flat_map(|r| tokens.iter().map(move |t| format!("{r}{t}")))
            .collect();
        for route in &routes {
            assert_suggestions_valid(route);
        }
    }
}

#[test]
fn axum_07_captures() {
    let msg = |r: &str| check_route(r).unwrap_err().message(r);
    // The habit of axum 0.7: `:id` where axum 0.8 writes `{id}`.
    let m = msg("/oob/key/:id");
    assert!(m.contains("axum 0.8 writes captures as `{id}`"), "{m}");
    assert_eq!(suggested(&m), ["/oob/key/{id}"], "{m}");
    assert_eq!(suggested(&msg("oob/key/:id")), ["/oob/key/{id}"]);
    assert_eq!(
        suggested(&msg("/oob/key/:id/page?x=1")),
        ["/oob/key/{id}/page?x=1"]
    );
    let m = msg("/oob/files/*id");
    assert!(m.contains("axum 0.8 writes wildcards as `{*id}`"), "{m}");
    assert_eq!(suggested(&m), ["/oob/files/{id}"], "{m}");
    // The only capture, under another name: the id goes there.
    let m = msg("/oob/device/:code");
    assert!(m.contains("axum 0.8 writes captures as `{code}`"), "{m}");
    assert!(m.contains("the one capture a route takes, `{id}`"), "{m}");
    assert_eq!(suggested(&m), ["/oob/device/{id}"], "{m}");
    // Two captures, neither the id: no route to offer, but the captures are named.
    let m = msg("/oob/:user/:code");
    assert!(suggested(&m).is_empty(), "{m}");
    assert!(m.contains("`:user` is axum 0.7's capture syntax"), "{m}");
    // One beside `{id}`: named, with how axum 0.8 writes it.
    let m = msg("/oob/:user/{id}");
    assert!(m.starts_with("`route` has the path segment `:user`"), "{m}");
    assert!(m.contains("it writes this capture as `{user}`"), "{m}");
    let m = msg("/oob/*/{id}");
    assert!(m.contains("it writes this wildcard as `{*name}`"), "{m}");
}

mod props {
    use super::super::*;
    use super::route_id_position;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The derive's route check and the library's const check agree on any input, and
        /// an accepted route has exactly one `{id}` at the reported position.
        #[test]
        fn routes_agree(s in "[/a-z{}?=#% .\t]{0,24}|\\PC{0,24}") {
            let derive = check_route(&s);
            prop_assert_eq!(derive.as_ref().ok().copied(), route_id_position(&s));
            match derive {
                Ok(pos) => {
                    prop_assert_eq!(&s[pos..pos + 4], "{id}");
                    prop_assert_eq!(s.matches("{id}").count(), 1);
                    prop_assert!(s.starts_with('/'));
                }
                Err(e) => {
                    let message = e.message(&s);
                    prop_assert!(!message.is_empty());
                    for fixed in super::suggested(&message) {
                        prop_assert!(check_route(fixed).is_ok(), "{} -> {}", s, fixed);
                    }
                }
            }
        }
    }
}
