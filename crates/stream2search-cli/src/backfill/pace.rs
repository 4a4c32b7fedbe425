//! `--max-rcu R`: one token bucket for all segments together, so that the read capacity the
//! Scans consume stays at or under R per second.
//!
//! The bucket holds at most R units (one second's worth) and starts full; it refills at R per
//! second. Each page takes out what DynamoDB reports it consumed (`ConsumedCapacity`), which may
//! leave the bucket negative; before each Scan a segment waits while the bucket is negative.
//! A page's cost is known only after it is read, so each segment reading at once may overshoot
//! by one page; the debt is then paid by waiting, and over any stretch of time the Scans
//! consume at most `R × seconds + R + one page per segment read at once`.
//!
//! Pure: the time is an argument. The caller sleeps.

use std::time::{Duration, Instant};

/// The bucket.
#[derive(Debug)]
pub struct Pace {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Pace {
    /// A full bucket at `now`, refilled at `rate` units per second; `rate` must be a positive,
    /// finite number.
    pub fn new(rate: f64, now: Instant) -> Result<Pace, String> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!(
                "--max-rcu {rate}: must be a positive number of read capacity units per second"
            ));
        }
        Ok(Pace {
            rate,
            tokens: rate,
            at: now,
        })
    }

    /// How long to wait at `now` before the next Scan: zero unless the bucket is negative,
    /// else the time it takes to refill to zero. Ask again after waiting: another segment may
    /// have taken from the bucket meanwhile.
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Takes `units` (a page's `ConsumedCapacity`) out of the bucket at `now`. A value that is
    /// not a finite, non-negative number takes nothing.
    pub fn consume(&mut self, units: f64, now: Instant) {
        self.refill(now);
        if units.is_finite() && units > 0.0 {
            self.tokens -= units;
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at);
        self.at = self.at.max(now);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_page_beyond_the_bucket_waits_for_its_debt_at_the_rate() {
        let t0 = Instant::now();
        let mut pace = Pace::new(10.0, t0).unwrap();
        // Full bucket: the first Scan goes at once.
        assert_eq!(pace.wait(t0), Duration::ZERO);
        // 25 units out of 10: 15 owed, 1.5 s at 10 per second.
        pace.consume(25.0, t0);
        assert_eq!(pace.wait(t0), ms(1500));
        // Half a second later, 1 s is left.
        assert_eq!(pace.wait(t0 + ms(500)), ms(1000));
        assert_eq!(pace.wait(t0 + ms(1500)), Duration::ZERO);
        // 5 more units at an empty bucket: half a second.
        pace.consume(5.0, t0 + ms(1500));
        assert_eq!(pace.wait(t0 + ms(1500)), ms(500));
        assert_eq!(pace.wait(t0 + ms(2000)), Duration::ZERO);
    }

    #[test]
    fn pages_within_the_rate_never_wait() {
        let t0 = Instant::now();
        let mut pace = Pace::new(4.0, t0).unwrap();
        // 2 units every half second is exactly 4 per second.
        for i in 0..100u64 {
            let now = t0 + ms(500 * i);
            assert_eq!(pace.wait(now), Duration::ZERO, "page {i}");
            pace.consume(2.0, now);
        }
    }

    #[test]
    fn an_idle_bucket_holds_one_second_of_capacity_and_no_more() {
        let t0 = Instant::now();
        let mut pace = Pace::new(10.0, t0).unwrap();
        // After 100 s idle, the bucket holds 10 units, not 1000: 30 units owe 2 s.
        let later = t0 + Duration::from_secs(100);
        pace.consume(30.0, later);
        assert_eq!(pace.wait(later), ms(2000));
    }

    #[test]
    fn segments_share_one_bucket() {
        let t0 = Instant::now();
        let mut pace = Pace::new(2.0, t0).unwrap();
        // Two segments read a 1-unit page each at once (moto reports 1 unit a page): the
        // bucket is empty, the next Scan of either goes at once, the one after waits.
        assert_eq!(pace.wait(t0), Duration::ZERO);
        assert_eq!(pace.wait(t0), Duration::ZERO);
        pace.consume(1.0, t0);
        pace.consume(1.0, t0);
        assert_eq!(pace.wait(t0), Duration::ZERO);
        pace.consume(1.0, t0);
        pace.consume(1.0, t0);
        assert_eq!(pace.wait(t0), ms(1000));
        // An earlier instant (taken before another segment's) does not refill twice.
        assert_eq!(pace.wait(t0 + ms(400)), ms(600));
        assert_eq!(pace.wait(t0 + ms(200)), ms(600));
    }

    #[test]
    fn reported_nonsense_takes_nothing_and_a_bad_rate_is_refused() {
        let t0 = Instant::now();
        let mut pace = Pace::new(1.0, t0).unwrap();
        pace.consume(f64::NAN, t0);
        pace.consume(-5.0, t0);
        pace.consume(f64::INFINITY, t0);
        assert_eq!(pace.wait(t0), Duration::ZERO);
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Pace::new(rate, t0).unwrap_err().contains("--max-rcu"));
        }
    }
}
