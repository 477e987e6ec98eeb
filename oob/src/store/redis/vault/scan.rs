//! [`RedisVault`]'s [`VaultScan`]: the namespaces that hold entries, found by a `SCAN` of
//! the index keys (for [`reseal_all`](crate::vault::EncryptedVault::reseal_all)).

use super::super::keys::slot;
use super::{RedisVault, backend, malformed};
use crate::vault::{VaultError, VaultScan};

impl<V> crate::vault::scan::private::Sealed for RedisVault<V> {}

impl<V: 'static> VaultScan for RedisVault<V> {
    /// The namespaces of the index keys (`P` `vk:` len`:`n): a `SCAN` with `MATCH` and
    /// `COUNT` on the primary of the prefix's slot (on a cluster every key of the vault is
    /// in that slot).
    async fn namespaces(&self) -> Result<crate::vault::Namespaces, VaultError> {
        let head = self.index_key("")?;
        let head = head.strip_suffix("0:").unwrap_or(&head).to_owned();
        let pattern = format!("{}*", glob_escape(&head));
        let mut names = Vec::new();
        let mut cursor = 0_u64;
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .arg("TYPE")
                .arg("zset");
            let answer = self
                .conn
                .clone()
                .send_to_slot_primary(slot(&head), cmd)
                .await
                .map_err(backend)?;
            let (next, keys): (u64, Vec<Vec<u8>>) =
                redis::from_redis_value(answer).map_err(|_| malformed("SCAN reply"))?;
            names.extend(
                keys.iter()
                    .filter_map(|k| name_of(&head, k).map(str::to_owned)),
            );
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(crate::vault::Namespaces::from_names(names))
    }
}

/// How many keys a `SCAN` step looks at.
const SCAN_COUNT: u32 = 1000;

/// The namespace name of the index key `key` (`head` len`:`n), if it is one.
fn name_of<'k>(head: &str, key: &'k [u8]) -> Option<&'k str> {
    let rest = std::str::from_utf8(key).ok()?.strip_prefix(head)?;
    let (len, name) = rest.split_once(':')?;
    let len: usize = len.parse().ok()?;
    (name.len() == len).then_some(name)
}

/// `text` matched literally by a Redis glob pattern.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
