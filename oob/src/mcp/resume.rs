//! [`resume`]: on a 2026-07-28 retry, decide from the pendings' states whether to ask
//! again, proceed, or fail.

use crate::error::Error;
use crate::id::PendingId;
use crate::manager::Manager;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::{AnyPending, Pending};
use crate::state::{Completed, Open};
use crate::store::{Finished, Store};

use super::state::OpenedState;

/// What a retried request should do, from the states of the pendings its `requestState`
/// names. `Debug` needs no `T: Debug` (and prints no payload).
#[non_exhaustive]
pub enum Resume<T> {
    /// Every pending was completed: proceed (load what they obtained from the vault under
    /// the caller's namespace).
    Proceed(Vec<Pending<T, Completed>>),
    /// Some are still open: answer `input_required` again for these.
    StillOpen(Vec<Pending<T, Open>>),
    /// One of them was cancelled, declined, expired or is gone: answer with a tool error.
    Failed(ResumeFailure),
}

impl<T> std::fmt::Debug for Resume<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Proceed(p) => f.debug_tuple("Proceed").field(p).finish(),
            Self::StillOpen(p) => f.debug_tuple("StillOpen").field(p).finish(),
            Self::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

/// A pending of a retried request that will never complete. Its message is fit for a tool
/// error shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ResumeFailure {
    id: PendingId,
    how: Option<Finished>,
}

impl ResumeFailure {
    /// The pending.
    #[must_use]
    pub fn id(&self) -> PendingId {
        self.id
    }

    /// How it finished; `None` when it is gone (unknown, cleared, purged, or not the
    /// caller's).
    #[must_use]
    pub fn how(&self) -> Option<Finished> {
        self.how
    }

    fn describe(&self) -> &'static str {
        match self.how {
            Some(Finished::Declined) => "the user declined the request for input",
            Some(Finished::Cancelled) => "the request for input was cancelled",
            Some(Finished::Expired) => "the request for input expired before it was completed",
            _ => "the request for input no longer exists; call the tool again",
        }
    }
}

/// The longest a retry waits for this process's persist step of a pending it found
/// completed.
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Looks up the pendings `opened` names, through the manager (so expiry is enforced), for
/// the caller `namespace`: all completed → [`Resume::Proceed`]; any cancelled, declined,
/// expired, gone or belonging to another namespace → [`Resume::Failed`]; otherwise the
/// open ones → [`Resume::StillOpen`]. Store failures are errors.
pub async fn resume<T, S, P>(
    manager: &Manager<T, S, P>,
    opened: &OpenedState,
    namespace: &Namespace,
) -> Result<Resume<T>, Error>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    let mut done = Vec::new();
    let mut open = Vec::new();
    for &id in opened.ids() {
        let gone = ResumeFailure { id, how: None };
        let pending = match manager.get(id).await {
            Ok(p) => p,
            Err(Error::NotFound(_)) => return Ok(Resume::Failed(gone)),
            Err(e) => return Err(e),
        };
        if pending.namespace() != namespace {
            return Ok(Resume::Failed(gone));
        }
        let how = match pending {
            AnyPending::Completed(p) => {
                // Completed by this process a moment ago: let its persist step finish, so
                // the caller reads what it wrote.
                manager.settled(id, SETTLE_LIMIT).await?;
                done.push(p);
                continue;
            }
            AnyPending::Open(p) => {
                open.push(p);
                continue;
            }
            AnyPending::Cancelled(p) if p.is_declined() => Finished::Declined,
            AnyPending::Cancelled(_) => Finished::Cancelled,
            AnyPending::Expired(_) => Finished::Expired,
        };
        return Ok(Resume::Failed(ResumeFailure { id, how: Some(how) }));
    }
    if open.is_empty() {
        Ok(Resume::Proceed(done))
    } else {
        Ok(Resume::StillOpen(open))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use serde_json::json;

    use super::{Resume, resume};
    use crate::Namespace;
    use crate::mcp::test_support::{ApiKey, manager_for};
    use crate::mcp::{Binding, StateKeys};
    use crate::provider::VerifiedSubject;
    use crate::spec::Spec;
    use crate::store::Finished;

    #[tokio::test]
    async fn states_decide_the_retry() {
        let m = manager_for();
        let alice = Namespace::new("alice").unwrap();
        let bob = Namespace::new("bob").unwrap();
        let cx = VerifiedSubject::new(alice.clone());
        let keys = StateKeys::new([5u8; 32]).unwrap();
        let params = json!({"name": "t"});
        let b = Binding::new(&alice, "tools/call", &params);
        let now = SystemTime::now();

        let a = m.create(&cx, Spec::new(ApiKey).alias("a")).await.unwrap();
        let c = m.create(&cx, Spec::new(ApiKey).alias("c")).await.unwrap();
        let opened = keys
            .open(&keys.seal(&b, &[a.id(), c.id()], now), &b, now)
            .unwrap();

        let Resume::StillOpen(open) = resume(&m, &opened, &alice).await.unwrap() else {
            panic!("both open")
        };
        assert_eq!(open.len(), 2);
        m.complete(a).await.unwrap();
        let Resume::StillOpen(open) = resume(&m, &opened, &alice).await.unwrap() else {
            panic!("one open")
        };
        assert_eq!(open[0].id(), c.id());
        m.complete(c).await.unwrap();
        let Resume::Proceed(done) = resume(&m, &opened, &alice).await.unwrap() else {
            panic!("all done")
        };
        assert_eq!(done.len(), 2);

        // Bob presenting Alice's ids (had he a state for them) sees them as gone.
        let Resume::Failed(f) = resume(&m, &opened, &bob).await.unwrap() else {
            panic!("foreign")
        };
        assert_eq!(f.how(), None);

        for (how, want) in [
            ("decline", Finished::Declined),
            ("cancel", Finished::Cancelled),
        ] {
            let p = m.create(&cx, Spec::new(ApiKey).alias(how)).await.unwrap();
            let opened = keys.open(&keys.seal(&b, &[p.id()], now), &b, now).unwrap();
            if how == "decline" {
                m.decline(p).await.unwrap();
            } else {
                m.cancel(p).await.unwrap();
            }
            let Resume::Failed(f) = resume(&m, &opened, &alice).await.unwrap() else {
                panic!("{how}")
            };
            assert_eq!(f.how(), Some(want));
            assert!(f.to_string().contains(if how == "decline" {
                "declined"
            } else {
                "cancelled"
            }));
        }

        let p = m
            .create(
                &cx,
                Spec::new(ApiKey).alias("exp").ttl(Duration::from_secs(1)),
            )
            .await
            .unwrap();
        let opened = keys.open(&keys.seal(&b, &[p.id()], now), &b, now).unwrap();
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(2)).await;
        let Resume::Failed(f) = resume(&m, &opened, &alice).await.unwrap() else {
            panic!("expired")
        };
        assert_eq!(f.how(), Some(Finished::Expired));
        assert!(f.to_string().contains("expired"));

        m.operator().clear_namespace(&alice).await.unwrap();
        let Resume::Failed(f) = resume(&m, &opened, &alice).await.unwrap() else {
            panic!("gone")
        };
        assert_eq!(f.how(), None);
    }
}
