//! Exponential back-off with full jitter, for clients that reconnect: the n-th failure in a row
//! waits a random time between zero and min(cap, base × 2ⁿ). Devices that lost the broker at the
//! same moment (a power return, a server restart) so spread their reconnects over a growing window
//! instead of coming back in waves on a fixed schedule.

use std::time::Duration;

/// Waits between reconnect attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// Starts at `base`; the window never grows past `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: 0,
        }
    }

    /// The longest the next wait may be.
    pub fn ceiling(&self) -> Duration {
        // 2^20 × any sensible base is far past any cap: stop doubling there.
        let factor = 1u32 << self.failures.min(20);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before the next attempt, uniformly random below the ceiling, which then doubles.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=millis))
    }

    /// After a connection that held: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let mut ceilings = Vec::new();
        for _ in 0..9 {
            let ceiling = backoff.ceiling();
            assert!(backoff.next_delay() <= ceiling);
            ceilings.push(ceiling.as_millis());
        }
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(500));
        for _ in 0..100 {
            backoff.next_delay();
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(30), "no overflow");
    }

    #[test]
    fn waits_are_spread_over_the_window() {
        // Full jitter: a crowd retrying at once lands all over the window, not at its end.
        let delays: Vec<Duration> = (0..1000)
            .map(|_| Backoff::new(Duration::from_secs(8), Duration::from_secs(8)).next_delay())
            .collect();
        let early = delays
            .iter()
            .filter(|d| **d < Duration::from_secs(4))
            .count();
        assert!(
            (350..=650).contains(&early),
            "{early} of 1000 in the first half"
        );
    }
}
