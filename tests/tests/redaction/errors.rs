//! The errors `oob` defines.

use oob::provider::{ProviderError, VerifiedSubject};
use oob::store::{CreateError, StoreError, TransitionError};
use oob::vault::VaultError;
use oob::{Error, Namespace, PendingId};

use crate::leaks::Leaks;
use crate::{NS, SECRET, UserError, manager, spec, subject};
/// The errors `oob` defines, in `Debug` and `Display`, including ones wrapping a user error
/// whose `Display` holds both canaries.
#[tokio::test]
async fn errors_print_neither_secret_nor_namespace() {
    let mut leaks = Leaks::default();
    let m = manager();
    let cx = subject();

    leaks.error(
        "Error::NotFound",
        &m.get(PendingId::random()).await.expect_err("unknown"),
    );
    let p = m.create(&cx, spec()).await.expect("create");
    let id = p.id();
    let other = Namespace::new(format!("other-{NS}")).expect("namespace");
    leaks.error(
        "Error::NamespaceMismatch",
        &m.complete_in(id, &other).await.expect_err("mismatch"),
    );
    m.complete(p).await.expect("complete");
    leaks.error(
        "Error::Finished",
        &m.complete_id(id).await.expect_err("finished"),
    );

    // A persist step failing with a user error that holds both canaries in its Display.
    let p = m.create(&cx, spec()).await.expect("create");
    let persist = m
        .complete_with(p, async |_token| Err::<(), _>(UserError))
        .await
        .expect_err("persist fails");
    assert!(matches!(persist, Error::Persist { .. }), "{persist:?}");
    leaks.error("Error::Persist", &persist);

    leaks.error(
        "Error::Provider(NoIdentity)",
        &m.create(&None::<VerifiedSubject>, spec())
            .await
            .expect_err("no identity"),
    );
    leaks.error(
        "Error::Spec",
        &m.create(&cx, spec().alias(format!("{SECRET}\n{NS}")))
            .await
            .expect_err("control character"),
    );
    leaks.error(
        "NamespaceError",
        &Namespace::new(format!("{NS}\n{SECRET}")).expect_err("control character"),
    );
    leaks.error(
        "NamespaceError (too long)",
        &Namespace::new(format!("{NS}{}", "x".repeat(100_000))).expect_err("too long"),
    );
    leaks.error(
        "ProviderError::Other",
        &ProviderError::Other(Box::new(UserError)),
    );
    leaks.error(
        "Error::Provider(Other)",
        &Error::Provider(ProviderError::Other(Box::new(UserError))),
    );
    leaks.error("ProviderError::NoIdentity", &ProviderError::NoIdentity);
    leaks.error(
        "VaultError::Backend",
        &VaultError::Backend(Box::new(UserError)),
    );
    leaks.error("StoreError::backend", &StoreError::backend(UserError));
    leaks.error(
        "Error::Store",
        &Error::Store(StoreError::backend(UserError)),
    );
    leaks.error(
        "TransitionError::Store",
        &TransitionError::Store(StoreError::backend(UserError)),
    );
    leaks.error(
        "CreateError::Store",
        &CreateError::Store(StoreError::backend(UserError)),
    );
    leaks.error("Error::StoreContract", &Error::StoreContract(id));
    leaks.assert_none(30);
}
