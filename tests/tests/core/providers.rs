//! Namespace providers: a missing identity is typed, a bearer hash is keyed and stable, a
//! fixed namespace ignores the context.

use oob::provider::{FixedNamespace, FromVerifiedSubject, ProviderError, VerifiedSubject};
use oob::store::MemoryStore;
use oob::{Error, Namespace};
use oob_tests::*;

#[tokio::test]
async fn provider_failure_is_typed() {
    let m = manager();
    let anonymous: Option<VerifiedSubject> = None;
    let m2 = oob::Manager::builder()
        .store(MemoryStore::<DeviceCode>::new())
        .provider(FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").unwrap())
        .build();
    assert!(matches!(
        m2.create(&anonymous, spec()).await,
        Err(Error::Provider(ProviderError::NoIdentity))
    ));
    assert!(m.store().is_empty());
}

#[tokio::test]
async fn bearer_hash_namespaces_are_keyed_and_stable() {
    use oob::NamespaceProvider;
    use oob::provider::{BearerHash, BearerToken};
    let p = BearerHash::new([7u8; 32]).unwrap();
    let q = BearerHash::new([8u8; 32]).unwrap();
    let a = p.namespace(&BearerToken("tok-a".into())).unwrap();
    assert_eq!(a, p.namespace(&BearerToken("tok-a".into())).unwrap());
    assert_ne!(a, p.namespace(&BearerToken("tok-b".into())).unwrap());
    assert_ne!(a, q.namespace(&BearerToken("tok-a".into())).unwrap());
    assert!(!a.as_str().contains("tok-a"));
    assert_eq!(a.as_str().len(), "bearer:".len() + 64);
    assert!(matches!(
        p.namespace(&BearerToken(String::new())),
        Err(ProviderError::NoIdentity)
    ));
    assert!(BearerHash::new([0u8; 16]).is_err());
}

#[tokio::test]
async fn fixed_namespace_ignores_the_context() {
    use oob::NamespaceProvider;
    let p = FixedNamespace::new(ns("local"));
    assert_eq!(p.namespace(&"anything").unwrap(), ns("local"));
    let _: Namespace = p.namespace(&()).unwrap();
}
