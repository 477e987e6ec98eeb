//! The bad-id matrix: every hostile id against every route with an id, GET and (where the
//! route takes it) POST, signed out, as another user and as the pending's owner.

use crate::tally::Tally;
use crate::wire::{Raw, send};

/// One hostile id.
pub(crate) struct Hostile {
    pub(crate) class: &'static str,
    pub(crate) what: &'static str,
    /// What must not come back (the decoded value; empty when it is the real id).
    pub(crate) raw: Vec<u8>,
    /// The bytes sent in the id's place.
    pub(crate) wire: Vec<u8>,
    /// Duplicate query keys around the real id instead of an id of its own.
    pub(crate) dup: bool,
}

/// Where a route takes its id.
pub(crate) enum Place {
    /// The last path segment after this prefix (`/oob/api-key/`).
    Path(&'static str),
    /// The `state` query parameter of this path (`/oauth/callback`).
    State(&'static str),
}

/// A route with an id, and who may act on its real pending.
pub(crate) struct Route {
    pub(crate) name: String,
    pub(crate) authority: String,
    pub(crate) place: Place,
    pub(crate) post: bool,
    /// The real open pending's id.
    pub(crate) real: String,
    /// `Cookie` values of the owner and of another user.
    pub(crate) owner: String,
    pub(crate) stranger: String,
}

/// Every byte but unreserved ones percent-encoded.
fn pct(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// Every byte percent-encoded.
fn pct_all(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|b| format!("%{b:02x}").into_bytes())
        .collect()
}

/// `real` with the first character in `from` replaced by `to`.
fn swap_first(real: &str, from: &[char], to: &[char]) -> String {
    let mut done = false;
    real.chars()
        .map(|c| match from.iter().position(|f| *f == c) {
            Some(i) if !done => {
                done = true;
                to[i]
            }
            _ => c,
        })
        .collect()
}

fn h(class: &'static str, what: &'static str, raw: impl Into<Vec<u8>>) -> Hostile {
    let raw = raw.into();
    Hostile {
        class,
        what,
        wire: pct(&raw),
        raw,
        dup: false,
    }
}

fn sent_as_is(class: &'static str, what: &'static str, raw: &[u8]) -> Hostile {
    Hostile {
        class,
        what,
        raw: raw.to_vec(),
        wire: raw.to_vec(),
        dup: false,
    }
}

/// The hostile ids for a route whose real pending is `real`.
pub(crate) fn hostile_ids(real: &str) -> Vec<Hostile> {
    const MALFORMED: &str = "bad id: malformed";
    const PCT: &str = "bad id: percent-encoded";
    const HOMOGLYPH: &str = "bad id: homoglyph";
    const HUGE: &str = "bad id: oversized (64 KiB)";
    const DUP: &str = "bad id: duplicate query keys";
    const CTL: &str = "bad id: NUL / control chars";
    const TRAVERSAL: &str = "bad id: path traversal";
    let unknown = oob::PendingId::random().to_string();
    let mut not_v4 = real.to_owned();
    not_v4.replace_range(14..15, "1");
    vec![
        h(MALFORMED, "markup", "zz-not-an-id<script>alert(1)</script>"),
        h(MALFORMED, "no hyphens", real.replace('-', "")),
        h(MALFORMED, "braces", format!("{{{real}}}")),
        h(MALFORMED, "one char too many", format!("{real}0")),
        h(MALFORMED, "not version 4", not_v4),
        h(MALFORMED, "SQL", "zz' OR '1'='1' --"),
        h(MALFORMED, "JSON", "{\"$ne\":\"zz-nosql\"}"),
        Hostile {
            class: PCT,
            what: "the real id, every byte encoded",
            raw: Vec::new(),
            wire: pct_all(real.as_bytes()),
            dup: false,
        },
        Hostile {
            class: PCT,
            what: "double-encoded",
            raw: format!("%{:02x}{}", real.as_bytes()[0], &real[1..]).into_bytes(),
            wire: format!("%25{:02x}{}", real.as_bytes()[0], &real[1..]).into_bytes(),
            dup: false,
        },
        h(PCT, "encoded slash", format!("{unknown}/zz-extra")),
        sent_as_is(PCT, "overlong UTF-8 dots", b"%C0%AE%C0%AEzz%C0%AF"),
        sent_as_is(PCT, "invalid UTF-8", b"zz-bad-utf8%FF%FE%FD"),
        h(
            HOMOGLYPH,
            "Cyrillic letter",
            swap_first(real, &['a', 'c', 'e'], &['а', 'с', 'е']),
        ),
        h(HOMOGLYPH, "Unicode hyphens", real.replace('-', "\u{2010}")),
        h(
            HOMOGLYPH,
            "fullwidth digit",
            swap_first(
                real,
                &['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
                &['０', '１', '２', '３', '４', '５', '６', '７', '８', '９'],
            ),
        ),
        h(
            HUGE,
            "64 KiB of letters",
            format!("zz{}", "A".repeat(64 * 1024 - 2)),
        ),
        h(
            HUGE,
            "the real id repeated",
            real.repeat(64 * 1024 / real.len()),
        ),
        Hostile {
            class: DUP,
            what: "id and state twice",
            raw: b"zz-dup-key-two".to_vec(),
            wire: Vec::new(),
            dup: true,
        },
        h(CTL, "NUL after the id", format!("{real}\0")),
        h(
            CTL,
            "CRLF header injection",
            "zz\r\nset-cookie: zz-injected=1",
        ),
        h(CTL, "escape and DEL", "zz-ctl\u{1b}[31m\u{7f}\u{8}"),
        sent_as_is(CTL, "raw NUL byte", b"zz-raw\0nul"),
        sent_as_is(CTL, "raw tab and escape", b"zz-raw\t\x1b[0m"),
        sent_as_is(TRAVERSAL, "dot segments", b"../../../../etc/passwd"),
        h(TRAVERSAL, "encoded dot segments", "../../../../etc/passwd"),
        sent_as_is(
            TRAVERSAL,
            "encoded dots only",
            b"%2e%2e/%2e%2e/zz-etc/passwd",
        ),
        h(TRAVERSAL, "backslashes", "..\\..\\zz-windows\\win.ini"),
        sent_as_is(
            TRAVERSAL,
            "id then dot-dot",
            format!("{unknown}/../{unknown}").as_bytes(),
        ),
    ]
}

fn target(route: &Route, h: &Hostile, unknown: &str) -> Vec<u8> {
    let mut t = Vec::new();
    match (&route.place, h.dup) {
        (Place::Path(prefix), false) => {
            t.extend_from_slice(prefix.as_bytes());
            t.extend_from_slice(&h.wire);
        }
        (Place::Path(prefix), true) => t.extend_from_slice(
            format!(
                "{prefix}{}?id=zz-dup-key-one&id=zz-dup-key-two&id={unknown}",
                route.real
            )
            .as_bytes(),
        ),
        (Place::State(path), false) => {
            t.extend_from_slice(format!("{path}?code=zz-hostile-code&state=").as_bytes());
            t.extend_from_slice(&h.wire);
        }
        (Place::State(path), true) => t.extend_from_slice(
            format!(
                "{path}?state={}&state={unknown}&code=zz-dup-key-one&code=zz-dup-key-two",
                route.real
            )
            .as_bytes(),
        ),
    }
    t
}

/// The form body sent with each POST: a forged anti-forgery token and field values, each
/// twice for the duplicate-keys class.
fn form(dup: bool) -> Vec<u8> {
    let once =
        "oob_csrf=zz-forged-csrf-token&key=zz-form-value&token=gho_zz-form-value&action=approve";
    if dup {
        format!("{once}&oob_csrf=zz-dup-key-two&key=zz-dup-key-two&action=deny").into_bytes()
    } else {
        once.as_bytes().to_vec()
    }
}

/// Runs the matrix against `route`.
pub(crate) async fn run(route: &Route, tally: &mut Tally) {
    let unknown = oob::PendingId::random().to_string();
    let posted: &[&[u8]] = &[b"zz-forged-csrf-token", b"zz-form-value"];
    for hostile in hostile_ids(&route.real) {
        let target = target(route, &hostile, &unknown);
        let methods: &[&str] = if route.post {
            &["GET", "POST"]
        } else {
            &["GET"]
        };
        for method in methods {
            for (who, cookie) in [
                ("signed out", None),
                ("another user", Some(&route.stranger)),
                ("the owner", Some(&route.owner)),
            ] {
                let req = Raw {
                    method,
                    target: target.clone(),
                    headers: cookie.map(|c| format!("cookie: {c}")).into_iter().collect(),
                    body: if *method == "POST" {
                        form(hostile.dup)
                    } else {
                        Vec::new()
                    },
                };
                let reply = send(&route.authority, &req).await;
                let mut needles: Vec<&[u8]> = posted.to_vec();
                if !hostile.raw.is_empty() {
                    needles.push(&hostile.raw);
                }
                if !hostile.dup && hostile.wire != route.real.as_bytes() {
                    needles.push(&hostile.wire);
                }
                let what = format!(
                    "{} {method} {} ({}), {who}",
                    route.name, hostile.what, reply.status
                );
                tally.answer(hostile.class, &what, &reply, &needles);
            }
        }
    }
}
