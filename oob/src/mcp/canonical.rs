//! Canonical JSON and the digest of a request's params.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Top-level params members that change between an original request and its retry, and so
/// are left out of [`params_digest`].
const RETRY_MEMBERS: [&str; 3] = ["_meta", "inputResponses", "requestState"];

/// `value` as canonical JSON: object members sorted by key (byte order), no whitespace,
/// strings and numbers as `serde_json` writes them. Two values that are equal as JSON
/// give the same text whatever the member order they arrived in.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// SHA-256 of the canonical JSON of a request's params, leaving out the members a retry
/// adds or changes (`_meta`, `inputResponses`, `requestState`), so the original request
/// and its retry have the same digest and any other change does not.
#[must_use]
pub fn params_digest(params: &Value) -> [u8; 32] {
    let text = match params {
        Value::Object(map) if RETRY_MEMBERS.iter().any(|k| map.contains_key(*k)) => {
            let mut map = map.clone();
            for k in RETRY_MEMBERS {
                map.remove(k);
            }
            canonical_json(&Value::Object(map))
        }
        other => canonical_json(other),
    };
    Sha256::digest(text.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{canonical_json, params_digest};

    #[test]
    fn canonical_json_sorts_members_and_drops_whitespace() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{ "b": [1, {"y": "\u00e9", "x": null}], "a": true }"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":true,"b":[1,{"x":null,"y":"é"}]}"#
        );
        assert_eq!(canonical_json(&json!("q\"\n")), r#""q\"\n""#);
    }

    #[test]
    fn digest_ignores_retry_members_only() {
        let original = json!({"name": "list_repos", "arguments": {"org": "acme", "n": 3}});
        let retry = json!({
            "arguments": {"n": 3, "org": "acme"},
            "name": "list_repos",
            "_meta": {"io.modelcontextprotocol/clientCapabilities": {}},
            "inputResponses": {"gh": {"action": "accept"}},
            "requestState": "opaque"
        });
        assert_eq!(params_digest(&original), params_digest(&retry));
        let changed = json!({"name": "list_repos", "arguments": {"org": "evil", "n": 3}});
        assert_ne!(params_digest(&original), params_digest(&changed));
        let renamed = json!({"name": "delete_repos", "arguments": {"org": "acme", "n": 3}});
        assert_ne!(params_digest(&original), params_digest(&renamed));
    }
}
