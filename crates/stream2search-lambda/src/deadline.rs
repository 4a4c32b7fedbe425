//! The invocation's deadline, from Lambda's `Lambda-Runtime-Deadline-Ms`.

use std::time::{Duration, Instant, SystemTime};

/// The longest a Lambda invocation can run.
const MAX_BUDGET: Duration = Duration::from_secs(15 * 60);

/// Time kept after an invocation's last request to resolve outcomes, log and answer.
pub(crate) const FINISH: Duration = Duration::from_millis(250);

/// When the invocation must be done, as an `Instant`.
///
/// `deadline_ms` is Lambda's deadline in milliseconds since the epoch. A deadline that is
/// absent (0), already past at the start of the invocation (`cargo lambda watch` sends
/// `600000`, a time in 1970), or further away than Lambda's 15-minute limit is treated as
/// unknown: the invocation gets `fallback` instead.
pub fn deadline(
    deadline_ms: u64,
    now: SystemTime,
    started: Instant,
    fallback: Duration,
) -> Instant {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    match at.duration_since(now) {
        Ok(left) if !left.is_zero() && left <= MAX_BUDGET => started + left,
        _ => started + fallback,
    }
}

/// When the requests of an invocation (bulk sends, then dead letters) must all have ended:
/// `deadline` less `margin` (kept free before Lambda's deadline) and less [`FINISH`]. Every
/// request shares this one end; there is no minimum past it.
pub(crate) fn requests_end(deadline: Instant, margin: Duration) -> Instant {
    deadline
        .checked_sub(FINISH + margin)
        .unwrap_or_else(|| deadline.checked_sub(margin).unwrap_or(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn a_real_deadline_is_kept() {
        let start = Instant::now();
        let d = deadline(NOW + 30_000, at(NOW), start, Duration::from_secs(60));
        assert_eq!(d - start, Duration::from_secs(30));
    }

    #[test]
    fn cargo_lambda_watch_deadline_in_1970_means_unknown_not_expired() {
        let start = Instant::now();
        let d = deadline(600_000, at(NOW), start, Duration::from_secs(60));
        assert_eq!(d - start, Duration::from_secs(60));
        assert_eq!(
            deadline(0, at(NOW), start, Duration::from_secs(5)) - start,
            Duration::from_secs(5)
        );
    }

    #[test]
    fn requests_end_before_the_margin_and_the_time_to_answer() {
        let deadline = Instant::now() + Duration::from_secs(6);
        assert_eq!(
            deadline - requests_end(deadline, Duration::from_secs(1)),
            Duration::from_millis(1250)
        );
        assert_eq!(
            deadline - requests_end(deadline, Duration::ZERO),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn a_deadline_beyond_fifteen_minutes_is_not_trusted() {
        let start = Instant::now();
        let d = deadline(NOW + 3_600_000, at(NOW), start, Duration::from_secs(60));
        assert_eq!(d - start, Duration::from_secs(60));
    }
}
