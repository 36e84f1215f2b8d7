//! The interruption flag: Ctrl-C sets it (xtask wires the signal to it), the measurement stops at
//! once, and what it created is deleted before the command ends. Tests set the same flag.

use std::sync::Arc;

use tokio::sync::watch;

/// A flag shared by whoever interrupts and whatever is interrupted; clones share it.
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<watch::Sender<bool>>);

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt::new()
    }
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt(Arc::new(watch::Sender::new(false)))
    }

    /// Sets the flag: every [`Interrupt::wait`] returns.
    pub fn interrupt(&self) {
        self.0.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the flag is set (at once if it is).
    pub async fn wait(&self) {
        let mut receiver = self.0.subscribe();
        // The sender lives as long as `self`, so this ends only by the flag.
        let _ = receiver.wait_for(|set| *set).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_ends_when_any_clone_interrupts() {
        let interrupt = Interrupt::new();
        let other = interrupt.clone();
        assert!(!interrupt.is_set());
        let waiter = tokio::spawn({
            let interrupt = interrupt.clone();
            async move { interrupt.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        other.interrupt();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter wakes")
            .unwrap();
        assert!(interrupt.is_set());
        interrupt.wait().await;
    }
}
