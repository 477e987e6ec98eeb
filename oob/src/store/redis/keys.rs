//! The key names of one store (see the layout in the [module docs](super)).

use crate::store::Record;

/// The keys of one store: the user's prefix and the payload kind, then a short tag.
pub(crate) struct Keys {
    /// The prefix the user chose.
    pub(crate) prefix: String,
    /// The prefix of every key of this store: the user's prefix, the kind and `:`.
    pub(crate) base: String,
    /// `base` `p:`, the prefix of record keys.
    pub(crate) record_prefix: String,
    /// `base` `all`.
    pub(crate) all: String,
    /// `base` `events`.
    pub(crate) channel: String,
    /// The cluster slot of every key (with a hash-tagged prefix).
    pub(crate) slot: u16,
}

impl Keys {
    pub(crate) fn new(prefix: &str, kind: &str) -> Self {
        let base = format!("{prefix}{kind}:");
        Self {
            prefix: prefix.to_owned(),
            record_prefix: format!("{base}p:"),
            all: format!("{base}all"),
            channel: format!("{base}events"),
            slot: slot(&base),
            base,
        }
    }

    pub(crate) fn record(&self, id: &str) -> String {
        let mut k = String::with_capacity(self.record_prefix.len() + id.len());
        k.push_str(&self.record_prefix);
        k.push_str(id);
        k
    }

    /// The index of a namespace's records.
    pub(crate) fn namespace(&self, ns: &str) -> String {
        format!("{}n:{ns}", self.base)
    }

    /// The index of the open records with dedup key `key` (see [`dedup_key`]).
    pub(crate) fn dedup(&self, key: &str) -> String {
        format!("{}j:{key}", self.base)
    }

    /// The latest decline with dedup key `key`.
    pub(crate) fn declined(&self, key: &str) -> String {
        format!("{}x:{key}", self.base)
    }
}

/// A record's dedup key (namespace, alias, resource), written so that no two triples spell
/// the same key: the namespace with its byte length first, then each label as `-` (none)
/// or `+` with its byte length, `:` and the label. Stored in the record (field `k`), so the
/// scripts never rebuild it.
pub(crate) fn dedup_key<T>(r: &Record<T>) -> String {
    let ns = r.namespace.as_str();
    let mut k = format!("{}:{ns}", ns.len());
    for l in [r.body.alias(), r.body.resource()] {
        match l {
            None => k.push('-'),
            Some(l) => {
                k.push('+');
                k.push_str(&l.len().to_string());
                k.push(':');
                k.push_str(l);
            }
        }
    }
    k
}

/// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of its hash tag (or of the whole
/// key without one), modulo 16,384.
pub(crate) fn slot(key: &str) -> u16 {
    let tag = key
        .find('{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.find('}')
                .filter(|len| *len > 0)
                .map(|len| &rest[..len])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for b in tag.bytes() {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
    }
    crc % 16_384
}

/// Whether a prefix carries a Redis Cluster hash tag (`{...}` with something between the
/// braces), so every key of the store hashes to one slot.
pub(crate) fn has_hash_tag(prefix: &str) -> bool {
    prefix
        .find('{')
        .and_then(|open| prefix[open + 1..].find('}'))
        .is_some_and(|len| len > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_are_recognised() {
        assert!(has_hash_tag("{oob}:"));
        assert!(has_hash_tag("app:{x}:"));
        assert!(!has_hash_tag("oob:"));
        assert!(!has_hash_tag("{}oob:"));
        assert!(!has_hash_tag("}{"));
    }

    #[test]
    fn slots_match_redis() {
        // Values from the `CLUSTER KEYSLOT` documentation.
        assert_eq!(slot("somekey"), 11_058);
        assert_eq!(slot("foo{hash_tag}"), 2_515);
        assert_eq!(slot("{oob}:device_code:p:x"), slot("oob"));
    }
}
