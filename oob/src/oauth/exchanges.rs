//! [`Exchanges`]: one code exchange at a time per consent, in this process.
//!
//! The provider's callback URL can be loaded twice at once (a reload, a second tab, a
//! double navigation) while the first load is still exchanging the code. The second would
//! find the consent still open and exchange the same code again: a provider then refuses
//! it (and, as RFC 6749 4.1.2 advises, may revoke the tokens the first exchange got) or
//! hands out a second token set that nobody stores. A callback takes its consent's turn
//! here before it looks at the consent's state, and holds it until its exchange and the
//! completion are done; the next load then finds the consent completed. (Across replicas
//! the provider's one-time code is what stops a second exchange.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::OwnedMutexGuard;

use crate::id::PendingId;

/// The consents whose callback is being handled (see the module docs).
#[derive(Default)]
pub(super) struct Exchanges {
    /// The lock of each consent some callback holds or waits for; an entry whose lock
    /// nobody holds any more is dropped at the next turn.
    locks: Mutex<HashMap<PendingId, Weak<tokio::sync::Mutex<()>>>>,
}

/// A consent's turn: held while its callback decides and exchanges.
pub(super) type Turn = OwnedMutexGuard<()>;

impl Exchanges {
    /// Waits until no other callback of consent `id` is being handled, and takes the turn.
    pub(super) async fn turn(&self, id: PendingId) -> Turn {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            // Only consents with a callback in flight stay: this is a short walk.
            locks.retain(|_, l| l.strong_count() > 0);
            match locks.get(&id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(id, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Exchanges;
    use crate::id::PendingId;

    #[tokio::test]
    async fn one_turn_per_consent_and_nothing_kept_after() {
        let ex = Exchanges::default();
        let (a, b) = (PendingId::random(), PendingId::random());
        let first = ex.turn(a).await;
        // Another consent is not held up.
        drop(ex.turn(b).await);
        // The same one waits for the first turn to end.
        let second = tokio::time::timeout(Duration::from_millis(50), ex.turn(a)).await;
        assert!(second.is_err(), "a second turn while the first is held");
        drop(first);
        let again = ex.turn(a).await;
        drop(again);
        drop(ex.turn(PendingId::random()).await);
        let locks = ex.locks.lock().unwrap();
        assert!(locks.values().all(|l| l.strong_count() == 0) && locks.len() <= 1);
    }
}
