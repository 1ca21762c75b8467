//! Idempotency keys: a client names a request (`Idempotency-Key: …`) and may send it again, as
//! often as its retries need; the gateway runs it once. A key seen with a finished answer
//! replays that answer; a key whose request is still running is answered 409 (try again
//! shortly); a key sent with a different body is a client bug, answered 422. A run that fails
//! or whose client goes away releases its key, so that the retry runs it.
//!
//! Keys live in memory for `ttl` (Stripe keeps them 24 hours); a gateway that must keep them
//! across restarts writes them with the usage ledger (week 24).

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request body's fingerprint: SHA-256 of its JSON with keys sorted (so that the same request
/// written with its fields in another order is the same request).
pub fn fingerprint(body: &Value) -> String {
    // serde_json's maps are ordered by key (no `preserve_order`), so this is canonical.
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    format!("{:x}", Sha256::digest(&canonical))
}

#[derive(Debug, Clone)]
enum Slot {
    Running {
        fingerprint: String,
    },
    Done {
        fingerprint: String,
        answer: Value,
        at: Instant,
    },
}

/// What a request with a key may do.
#[derive(Debug)]
pub enum Claim {
    /// Run it; report the answer through the ticket (dropped unfinished, it releases the key).
    Run(Ticket),
    /// It ran already: this is its answer.
    Replay(Value),
    /// It is running now.
    InFlight,
    /// The key was used for another request body.
    Mismatch,
}

/// The keys seen, shared by the gateway's requests.
#[derive(Debug, Clone)]
pub struct Keys {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
    ttl: Duration,
}

impl Keys {
    pub fn new(ttl: Duration) -> Self {
        Self {
            slots: Arc::new(Mutex::new(HashMap::new())),
            ttl,
        }
    }

    // ANCHOR: claim
    /// Decides what the request `body` sent with `key` may do, at once and atomically: two
    /// requests with the same key can never both be told to run.
    pub fn claim(&self, key: &str, body: &Value) -> Claim {
        let print = fingerprint(body);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // BEGIN SOLUTION claim
        let ttl = self.ttl;
        slots.retain(|_, s| !matches!(s, Slot::Done { at, .. } if at.elapsed() > ttl));
        match slots.get(key) {
            Some(Slot::Running { fingerprint } | Slot::Done { fingerprint, .. })
                if *fingerprint != print =>
            {
                Claim::Mismatch
            }
            Some(Slot::Running { .. }) => Claim::InFlight,
            Some(Slot::Done { answer, .. }) => Claim::Replay(answer.clone()),
            None => {
                slots.insert(key.to_string(), Slot::Running { fingerprint: print });
                Claim::Run(Ticket {
                    keys: self.clone(),
                    key: key.to_string(),
                    finished: false,
                })
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: claim

    /// Keys held now (running or done).
    pub fn len(&self) -> usize {
        self.slots.lock().map(|s| s.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The right to run a keyed request once.
#[derive(Debug)]
pub struct Ticket {
    keys: Keys,
    key: String,
    finished: bool,
}

impl Ticket {
    /// Stores the answer: the key's later requests replay it.
    pub fn finish(mut self, answer: Value) {
        let mut slots = self.keys.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Slot::Running { fingerprint }) = slots.remove(&self.key) {
            slots.insert(
                self.key.clone(),
                Slot::Done {
                    fingerprint,
                    answer,
                    at: Instant::now(),
                },
            );
        }
        self.finished = true;
    }
}

impl Drop for Ticket {
    /// Unfinished (failed, or its client went away): the key is free again.
    fn drop(&mut self) {
        if !self.finished {
            let mut slots = self.keys.slots.lock().unwrap_or_else(|e| e.into_inner());
            if matches!(slots.get(&self.key), Some(Slot::Running { .. })) {
                slots.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_runs_once_then_replays() {
        let keys = Keys::new(Duration::from_secs(60));
        let body = json!({"prompt": "hi", "max_tokens": 4});
        let Claim::Run(ticket) = keys.claim("k", &body) else {
            panic!("the first claim runs")
        };
        assert!(matches!(keys.claim("k", &body), Claim::InFlight));
        assert!(matches!(
            keys.claim("k", &json!({"prompt": "other"})),
            Claim::Mismatch
        ));
        ticket.finish(json!({"answer": "hello"}));
        let same_reordered: Value =
            serde_json::from_str(r#"{"max_tokens": 4, "prompt": "hi"}"#).unwrap();
        assert!(
            matches!(keys.claim("k", &same_reordered), Claim::Replay(a) if a["answer"] == "hello")
        );
        let Claim::Run(dropped) = keys.claim("j", &body) else {
            panic!("another key runs")
        };
        drop(dropped);
        assert!(
            matches!(keys.claim("j", &body), Claim::Run(_)),
            "a dropped ticket frees its key"
        );
    }
}
