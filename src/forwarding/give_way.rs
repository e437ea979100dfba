//! A runner giving way to the server's own API requests before each batch it forms or
//! takes up from the last owner: at once when no request has run for [`QUIET`], and
//! otherwise only once it has waited [`PER_STATEMENT`] for each Statement of the batch
//! (or the requests paused meanwhile). Under a load that never lets up a forwarder
//! thus sends about 125 Statements a second and builds lag, which it works off at full
//! speed once the load eases.

use std::time::Duration;

use tokio::time::Instant;

use crate::request_load::RequestLoad;

/// How long a runner gives way to running requests, per Statement of the batch it is
/// about to form: 4 s for a full batch of the default 500, a few milliseconds for a
/// few Statements sent as they arrive. At 4 ms a forwarder under the forwarding
/// bench's saturating ingest sent 315 Statements/s, and ingest ran 11 % slower with it
/// (the target's own ingest of them on the same machine included).
pub const PER_STATEMENT: Duration = Duration::from_millis(8);
/// How long no request must have run for a runner to go at once. Clients that never
/// let up still leave the server without a request for a moment between theirs: a
/// runner going in those would not be giving way to them. A client that pauses between
/// its requests leaves longer gaps than this.
pub const QUIET: Duration = Duration::from_millis(5);
/// How often a runner giving way looks whether the requests are done.
const POLL: Duration = Duration::from_millis(2);

pub struct GiveWay {
    load: RequestLoad,
    /// Since when the runner has been giving way before its next batch.
    since: Option<Instant>,
}

impl GiveWay {
    pub fn new(load: RequestLoad) -> GiveWay {
        GiveWay { load, since: None }
    }

    /// Whether a batch of `count` Statements may be formed now.
    pub fn may_go(&mut self, count: usize) -> bool {
        if self.load.quiet_for().is_some_and(|quiet| quiet >= QUIET) {
            self.since = None;
            return true;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        since.elapsed() >= PER_STATEMENT.saturating_mul(count as u32)
    }

    /// A batch was formed: the next one gives way afresh.
    pub fn went(&mut self) {
        self.since = None;
    }

    /// `wake`; while giving way, when to look again whether the requests are done.
    /// Nothing else is due then (a runner gives way only once it has read what it
    /// needs), and `wake` may have passed already: waking at it would spin the loop,
    /// which took a third of a core from the requests it was giving way to.
    pub fn wake_at(&self, wake: Instant) -> Instant {
        match self.since {
            Some(_) => Instant::now() + POLL,
            None => wake,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_load::RequestKind;

    #[test]
    fn a_batch_waits_while_requests_run_and_goes_at_once_when_none_has_for_a_while() {
        let load = RequestLoad::default();
        let mut give_way = GiveWay::new(load.clone());
        std::thread::sleep(QUIET);
        assert!(give_way.may_go(5000), "no request for a while: at once");
        let running = load.start(RequestKind::Writes);
        // 20 s of patience for 5000 Statements: not yet.
        assert!(!give_way.may_go(5000));
        let later = Instant::now() + Duration::from_secs(60);
        assert!(give_way.wake_at(later) < later, "it looks again soon");
        // No patience for an empty batch, counted from the same start.
        assert!(give_way.may_go(0));
        give_way.went();
        assert_eq!(give_way.wake_at(later), later);
        assert!(!give_way.may_go(5000), "the next batch waits afresh");
        let passed = Instant::now();
        assert!(
            give_way.wake_at(passed) > passed,
            "a wake already passed is not taken while giving way"
        );
        drop(running);
        assert!(!give_way.may_go(5000), "a request just ended: not yet");
        std::thread::sleep(QUIET);
        assert!(give_way.may_go(5000), "none has run for a while: at once");
    }
}
