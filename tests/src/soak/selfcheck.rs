//! The soak's checks can fail: a vault that acknowledges writes it drops, and a store that
//! loses the completions it acknowledged, are caught and counted.

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use oob::Capability;
    use oob::store::MemoryStore;
    use oob::vault::{Entry, MemoryVault, Vault, VaultError, Version, WriteOptions};

    use crate::DeviceCode;
    use crate::soak::config::Config;
    use crate::soak::invariants::Invariant;
    use crate::soak::report::StoreReport;
    use crate::soak::run::soak;
    use crate::soak::vault_load::TOKEN;
    use crate::soak::workload::{Load, RETENTION};

    /// Acknowledges every third refresh-token write without writing it.
    #[derive(Debug, Clone, Default)]
    struct Forgetful {
        inner: MemoryVault<String>,
        writes: Arc<AtomicU64>,
    }

    impl Vault<String> for Forgetful {
        async fn write(
            &self,
            token: &dyn Capability,
            key: &str,
            value: String,
            options: WriteOptions,
        ) -> Result<Version, VaultError> {
            if key == TOKEN && self.writes.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
                return Ok(Version::from_u64(1));
            }
            self.inner.write(token, key, value, options).await
        }

        async fn read(
            &self,
            token: &dyn Capability,
            key: &str,
        ) -> Result<Option<Entry<String>>, VaultError> {
            self.inner.read(token, key).await
        }

        async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
            self.inner.delete(token, key).await
        }

        async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
            self.inner.keys(token).await
        }
    }

    fn cfg() -> Config {
        Config::parse(["--users", "4", "--secs", "1", "--replicas", "2"].map(String::from))
            .expect("config")
    }

    async fn run<V: Vault<String> + Clone>(vault: V) -> StoreReport {
        let s = MemoryStore::<DeviceCode>::new().with_retention(RETENTION);
        run_on(s, vault).await
    }

    async fn run_on<S, V>(s: S, vault: V) -> StoreReport
    where
        S: oob::store::Store<DeviceCode> + Clone,
        V: Vault<String> + Clone,
    {
        let cfg = cfg();
        let load = Load::new(&[s.clone(), s], vec![vault; 2], None);
        let r = StoreReport {
            name: "test",
            ..StoreReport::default()
        };
        soak(r, load, &cfg, None).await.expect("soak")
    }

    fn count(r: &StoreReport, inv: Invariant) -> u64 {
        r.invariants
            .iter()
            .find(|(i, _)| *i == inv)
            .map_or(0, |(_, n)| *n)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sound_store_and_vault_break_nothing() {
        let r = run(MemoryVault::<String>::new()).await;
        assert!(r.interactions > 0, "{}", r.markdown());
        assert_eq!(r.breaches(), 0, "{}", r.markdown());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lost_compare_and_swap_writes_are_counted() {
        let r = run(Forgetful::default()).await;
        assert!(count(&r, Invariant::VaultCasLost) > 0, "{}", r.markdown());
        assert!(r.breaches() > 0);
    }

    /// Reads a completed record as gone: completions acknowledged, then lost.
    #[derive(Debug, Clone, Default)]
    struct LosesCompletions;

    impl<S: oob::store::Store<DeviceCode>> crate::delegate::Overrides<DeviceCode, S>
        for LosesCompletions
    {
        async fn get(
            &self,
            inner: &S,
            id: oob::PendingId,
            now: oob::time::Timestamp,
        ) -> Result<Option<oob::store::Record<DeviceCode>>, oob::store::StoreError> {
            let r = inner.get(id, now).await?;
            Ok(r.filter(|r| !matches!(r.state, oob::store::RecordState::Completed { .. })))
        }
    }

    /// The check that an acknowledged completion is still readable within its window counts
    /// from the store's own stamp, and still catches a store that loses completions.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lost_completions_are_counted() {
        let s = crate::delegate::Delegate::new(
            MemoryStore::<DeviceCode>::new().with_retention(RETENTION),
            LosesCompletions,
        );
        let r = run_on(s, MemoryVault::<String>::new()).await;
        assert!(count(&r, Invariant::AckedLost) > 0, "{}", r.markdown());
    }

    /// Takes 1.2 s for every write of a completion's persist step (keyed by the pending's
    /// id): it ends well after the store stamped the completion, most of the way through its
    /// 2 s window.
    #[derive(Debug, Clone, Default)]
    struct Slow(MemoryVault<String>);

    impl Vault<String> for Slow {
        async fn write(
            &self,
            token: &dyn Capability,
            key: &str,
            value: String,
            options: WriteOptions,
        ) -> Result<Version, VaultError> {
            // A completion's persist step writes under the pending's id.
            if key.parse::<oob::PendingId>().is_ok() {
                tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
            }
            self.0.write(token, key, value, options).await
        }

        async fn read(
            &self,
            token: &dyn Capability,
            key: &str,
        ) -> Result<Option<Entry<String>>, VaultError> {
            self.0.read(token, key).await
        }

        async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
            self.0.delete(token, key).await
        }

        async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
            self.0.keys(token).await
        }
    }

    /// With completions returning late (a slow persist step), a store that loses them is
    /// still caught: the window is counted from the store's stamp, and the read after the
    /// late return still falls inside it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lost_completions_are_counted_when_completing_is_slow() {
        let s = crate::delegate::Delegate::new(
            MemoryStore::<DeviceCode>::new().with_retention(RETENTION),
            LosesCompletions,
        );
        let r = run_on(s, Slow::default()).await;
        assert!(count(&r, Invariant::AckedLost) > 0, "{}", r.markdown());
    }
}
