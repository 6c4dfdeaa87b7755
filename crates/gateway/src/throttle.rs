//! Per-peer limits on the token endpoint. Each exchange costs a signature check and a
//! store write (the assertion's `jti`), so each peer address gets a bucket of `burst`
//! exchanges refilled at `rate` per second: one client cannot spend the broker for all.
//! The buckets are bounded in number, so a flood of addresses cannot grow them forever.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept at most; past this, full ones are forgotten (they are the default).
const MAX_PEERS: usize = 16_384;

/// Token buckets per peer address.
#[derive(Debug)]
pub struct Throttle {
    rate: f64,
    burst: f64,
    peers: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Throttle {
    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `peer` may make one more exchange at `now`; takes it if so.
    pub fn admit(&self, peer: IpAddr, now: Instant) -> bool {
        let mut peers = self
            .peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if peers.len() >= MAX_PEERS && !peers.contains_key(&peer) {
            self.forget_full(&mut peers, now);
        }
        let bucket = peers.entry(peer).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        bucket.tokens = self.refilled(*bucket, now);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.rate).min(self.burst)
    }

    /// Drops the buckets that are full again; if none are, every bucket (a flood of
    /// addresses each spending a little is then treated as new peers).
    fn forget_full(&self, peers: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        peers.retain(|_, bucket| self.refilled(*bucket, now) < self.burst);
        if peers.len() >= MAX_PEERS {
            peers.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_peer_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let throttle = Throttle::new(2, 3);
        let start = Instant::now();
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        let admitted = (0..10).filter(|_| throttle.admit(one, start)).count();
        assert_eq!(admitted, 3);
        assert!(throttle.admit(two, start));
        let later = start + Duration::from_millis(500);
        assert!(throttle.admit(one, later));
        assert!(!throttle.admit(one, later));
    }

    #[test]
    fn the_number_of_buckets_is_bounded() {
        let throttle = Throttle::new(1, 1);
        let now = Instant::now();
        for index in 0..(MAX_PEERS as u32 + 10) {
            let _ = throttle.admit(IpAddr::from(index.to_be_bytes()), now);
        }
        assert!(throttle.peers.lock().unwrap().len() <= MAX_PEERS);
    }
}
