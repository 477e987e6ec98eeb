//! The [`OobPayload`] trait: binds a payload type to its kind string and callback route.

use std::time::Duration;

/// A payload type that can travel in a pending out-of-band interaction.
///
/// Implement it with `#[derive(OobPayload)]`; the derive checks the kind and the route at
/// compile time:
///
/// ```
/// use oob::OobPayload;
///
/// #[derive(Clone, OobPayload)]
/// #[oob(kind = "device_code", route = "/oob/device/{id}", ttl = "10m")]
/// struct DeviceCode {
///     user_code: String,
/// }
///
/// assert_eq!(DeviceCode::KIND, "device_code");
/// assert_eq!(DeviceCode::ROUTE, "/oob/device/{id}");
/// assert_eq!(DeviceCode::DEFAULT_TTL, Some(std::time::Duration::from_secs(600)));
/// ```
///
/// A hand-written implementation must keep the same rules: `KIND` matches
/// `[a-z][a-z0-9_.-]*` (at most 64 bytes) and `ROUTE` follows [`route_id_position`]'s rule
/// (a path with exactly one `{id}`, as a whole segment or query value). [`ManagerBuilder::build`](crate::ManagerBuilder::build)
/// checks both in a `const` assertion when it is instantiated for the type. That assertion
/// runs when the code is built (`cargo build`, `cargo test`), not by `cargo check` (nor by
/// an editor's check on save): an implementation that breaks the rules passes `cargo check`
/// and fails the build. The derive checks them as it expands, in `cargo check` too.
///
/// `KIND` must be unique among the payload types that share a store's backend (a SQLite
/// file, a Postgres schema, a Redis prefix): records are found by id and kind, so two types
/// of one kind read each other's records. `oauth_consent` is taken by `oob::oauth`.
///
/// A generic payload type has one `KIND` and one `ROUTE` for all its instantiations:
/// managers of `Approval<Login>` and `Approval<Refund>` over one durable backend read and
/// complete each other's pendings (and a refund's data may not decode as a login's). Give
/// each instantiation its own backend (file, schema or prefix), or make them distinct
/// payload types with kinds of their own.
///
/// The durable stores keep a payload as JSON (`serde_json`), so a payload must read back
/// what it wrote: a float that is NaN or infinite is written as `null`, and a value nested
/// deeper than 128 levels does not read back. The memory store keeps the value itself and
/// never meets this; the durable stores accept the create and answer
/// [`StoreError::Decode`](crate::store::StoreError::Decode) when they read it (test a new
/// payload type on the store you deploy).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an oob payload type",
    label = "`{Self}` does not implement `OobPayload`",
    note = "add `#[derive(oob::OobPayload)]` and `#[oob(kind = \"...\", route = \"/.../{{id}}\")]` to the type"
)]
pub trait OobPayload {
    /// The kind of interaction, e.g. `"device_code"` or `"oauth"`.
    const KIND: &'static str;
    /// The callback route, in axum's route syntax, with exactly one `{id}` placeholder, e.g.
    /// `"/oob/device/{id}"` or `"/oob?id={id}"`.
    const ROUTE: &'static str;
    /// How long a pending of this kind stays open when its [`Spec`](crate::Spec) names no
    /// TTL or deadline. `None` uses the manager's default.
    const DEFAULT_TTL: Option<Duration> = None;
}

pub use crate::route_rule::route_id_position;

/// Whether `kind` is a valid kind string: `[a-z][a-z0-9_.-]*`, at most 64 bytes.
#[must_use]
pub const fn kind_is_valid(kind: &str) -> bool {
    let b = kind.as_bytes();
    if b.is_empty() || b.len() > 64 || !b[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 1;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'.' || c == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert!(kind_is_valid("device_code"));
        assert!(kind_is_valid("a.b-c_1"));
        assert!(!kind_is_valid(""));
        assert!(!kind_is_valid("Device"));
        assert!(!kind_is_valid("1abc"));
        assert!(!kind_is_valid("a b"));
        assert!(!kind_is_valid(&"a".repeat(65)));
    }
}
