//! Whether a `POST` without `Mcp-Session-Id` may open an MCP session: an `initialize` is the
//! only request that does (rmcp serves every other request without a session statelessly,
//! or refuses it). The body is read up to [`PEEK_LIMIT`] and handed on unchanged. Only a
//! body read whole that parses as JSON-RPC and names no `initialize` is known not to open
//! one; anything else (a longer body, one that fails mid-read or does not parse) is taken
//! as one that may, so the session table's capacity is checked before rmcp sees it.

use std::borrow::Cow;
use std::fmt;

use axum::extract::Request;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// How much of a body is read to find its method: as much as rmcp takes (its default
/// request body limit), so every request rmcp would serve is told apart, a `tools/call`
/// with large arguments included. A longer body (rmcp refuses it) is passed on as it
/// streams, and is taken as one that may open a session.
pub(super) const PEEK_LIMIT: usize = super::super::body::READ_LIMIT;

/// One JSON-RPC message, as far as telling an `initialize` needs: its `method` (every other
/// member is skipped, nothing of it kept).
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
}

impl Message<'_> {
    fn is_initialize(&self) -> bool {
        self.method.as_deref() == Some("initialize")
    }
}

/// A JSON-RPC body (one message or a batch) that names no `initialize`. Anything else
/// fails to decode: a message naming one, a `method` that is not a string, a member given
/// twice, an element of a batch that is not a message, a body that is not JSON.
struct NamesNoInitialize;

impl<'de> Deserialize<'de> for NamesNoInitialize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Body)
    }
}

/// Reads a body a message at a time (a batch is not collected).
struct Body;

impl<'de> Visitor<'de> for Body {
    type Value = NamesNoInitialize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message or batch naming no initialize")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let message = Message::deserialize(de::value::MapAccessDeserializer::new(map))?;
        no_initialize(&message)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut batch: A) -> Result<Self::Value, A::Error> {
        while let Some(message) = batch.next_element::<Message<'de>>()? {
            no_initialize::<A::Error>(&message)?;
        }
        Ok(NamesNoInitialize)
    }
}

fn no_initialize<E: de::Error>(message: &Message<'_>) -> Result<NamesNoInitialize, E> {
    if message.is_initialize() {
        Err(E::custom("an initialize"))
    } else {
        Ok(NamesNoInitialize)
    }
}

/// Whether a JSON-RPC body (one message or a batch) names no `initialize`.
fn names_no_initialize(body: &[u8]) -> bool {
    serde_json::from_slice::<NamesNoInitialize>(body).is_ok()
}

/// `request`, its body intact, and whether it may open a session (see the module docs). The
/// `Mcp-Method` header is not trusted for this: rmcp checks it only on some protocol
/// versions, so an `initialize` body may come with another method named there.
pub(super) async fn peek(request: Request) -> (Request, bool) {
    let (request, body) = super::super::body::body_up_to(request, PEEK_LIMIT).await;
    let may_open = !body.is_some_and(|b| names_no_initialize(&b));
    (request, may_open)
}

#[cfg(test)]
#[path = "session_opening_tests.rs"]
mod tests;
