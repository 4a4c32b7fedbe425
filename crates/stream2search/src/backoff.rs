//! Backoff with full jitter, as a pure value: the caller supplies the randomness and sleeps.

use std::time::Duration;

use crate::error::{ConfigError, Setting};

/// `delay(attempt) = random × min(cap, base × 2^attempt)`, with `random` in `[0, 1)`.
///
/// ```
/// use std::time::Duration;
/// use stream2search::backoff::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1))?;
/// assert_eq!(backoff.ceiling(0), Duration::from_millis(100));
/// assert_eq!(backoff.ceiling(3), Duration::from_millis(800));
/// assert_eq!(backoff.ceiling(4), Duration::from_secs(1)); // capped
///
/// // The caller draws `random` (e.g. `fastrand::f64()`) and sleeps; here, a fixed draw.
/// assert_eq!(backoff.delay(2, 0.5), Duration::from_millis(200));
///
/// assert!(Backoff::new(Duration::from_secs(2), Duration::from_secs(1)).is_err());
/// # Ok::<(), stream2search::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// Checks that `0 < base <= cap`.
    pub fn new(base: Duration, cap: Duration) -> Result<Self, ConfigError> {
        if base.is_zero() {
            return Err(ConfigError::new(
                Setting::BackoffBase,
                "backoff base must be positive",
            ));
        }
        if cap < base {
            return Err(ConfigError::new(
                Setting::BackoffCap,
                "backoff cap must be at least its base",
            ));
        }
        Ok(Backoff { base, cap })
    }

    /// The longest delay for `attempt` (0 for the first retry).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The delay before retry `attempt`, for `random` drawn uniformly from `[0, 1)` (clamped).
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let r = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.ceiling(attempt).mul_f64(r)
    }
}

impl Default for Backoff {
    /// 50 ms doubling up to 5 s.
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_a_capped_exponential() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).unwrap();
        assert_eq!(
            b.delay(0, 0.999_999),
            Duration::from_millis(100).mul_f64(0.999_999)
        );
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_secs(1));
        assert_eq!(b.ceiling(200), Duration::from_secs(1));
        assert_eq!(b.delay(2, 0.0), Duration::ZERO);
        assert_eq!(b.delay(2, f64::NAN), Duration::ZERO);
        assert!(Backoff::new(Duration::ZERO, Duration::from_secs(1)).is_err());
        assert!(Backoff::new(Duration::from_secs(2), Duration::from_secs(1)).is_err());
    }
}
