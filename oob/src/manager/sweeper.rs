//! [`Sweeper`]: the background purge task.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

/// The handle of a sweeper task started by
/// [`Manager::spawn_sweeper`](crate::Manager::spawn_sweeper). Dropping it stops the task.
#[derive(Debug)]
#[must_use = "the sweeper stops when this handle is dropped"]
pub struct Sweeper {
    task: JoinHandle<()>,
}

impl Sweeper {
    pub(crate) fn spawn<F, Fut>(every: Duration, mut tick: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let every = every.max(Duration::from_millis(1));
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                tick().await;
            }
        });
        Self { task }
    }

    /// Stops the task.
    pub fn stop(self) {
        drop(self);
    }

    /// Whether the task is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}
