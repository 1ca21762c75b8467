//! The batcher's promises, each against what the test itself counted: limits never exceeded,
//! every caller answered with its own result, load shed when full, deadlines and departed callers
//! dropped before the model, a clean drain on shutdown.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wb_data::SplitMix64;
use wb_serve::{BatchConfig, BatchError, Batcher};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// What each caller's answer must be: a function the model computes per input.
fn f(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xABCD
}

/// A model that blocks on its first call until the test lets it go, and records every batch.
struct Gate {
    entered: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
    seen: Arc<Mutex<Vec<Vec<u64>>>>,
}

fn gated(config: BatchConfig) -> (Batcher<u64, u64>, Gate) {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let mut first = true;
    let batcher = Batcher::start(config, move |xs: Vec<u64>| {
        log.lock().unwrap().push(xs.clone());
        if first {
            first = false;
            entered_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        }
        Ok(xs.into_iter().map(f).collect())
    })
    .unwrap();
    (
        batcher,
        Gate {
            entered,
            release,
            seen,
        },
    )
}

/// 60 random configurations, each with many concurrent callers whose requests arrive at random
/// moments and whose model calls take random times: every caller gets f(its own input), no batch
/// exceeds `max_batch`, the queue never holds more than `queue`, and the counts add up.
#[test]
fn property_limits_hold_and_each_caller_gets_its_own_answer() {
    let rt = runtime();
    let mut rng = SplitMix64::new(2026);
    for case in 0..60 {
        let config = BatchConfig {
            max_batch: 1 + (rng.next_u64() % 16) as usize,
            max_wait: Duration::from_micros(rng.next_u64() % 3000),
            queue: 1 + (rng.next_u64() % 64) as usize,
        };
        let callers = 50 + (rng.next_u64() % 250) as usize;
        let work_us = rng.next_u64() % 400;
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&sizes);
        let batcher = Arc::new(
            Batcher::start(config, move |xs: Vec<u64>| {
                log.lock().unwrap().push(xs.len());
                std::thread::sleep(Duration::from_micros(work_us));
                Ok(xs.into_iter().map(f).collect())
            })
            .unwrap(),
        );
        let delays: Vec<u64> = (0..callers).map(|_| rng.next_u64() % 2000).collect();
        let (answered, rejected) = rt.block_on(async {
            let mut tasks = Vec::new();
            for (i, delay) in delays.into_iter().enumerate() {
                let b = Arc::clone(&batcher);
                let x = (case as u64) << 32 | i as u64;
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_micros(delay)).await;
                    (x, b.submit(x, Duration::from_secs(30)).await)
                }));
            }
            let (mut answered, mut rejected) = (0u64, 0u64);
            for t in tasks {
                match t.await.unwrap() {
                    (x, Ok(y)) => {
                        assert_eq!(y, f(x), "case {case}: caller {x} got another's answer");
                        answered += 1;
                    }
                    (_, Err(BatchError::Full { retry_after, .. })) => {
                        assert!(retry_after > Duration::ZERO);
                        rejected += 1;
                    }
                    (x, Err(e)) => panic!("case {case}: caller {x}: unexpected {e}"),
                }
            }
            batcher.shutdown().await;
            (answered, rejected)
        });
        let s = batcher.stats();
        let sizes = sizes.lock().unwrap();
        assert!(
            sizes.iter().all(|&n| (1..=config.max_batch).contains(&n)),
            "case {case} {config:?}: batch sizes {sizes:?}"
        );
        assert!(
            s.max_queued <= config.queue,
            "case {case}: {} queued, limit {}",
            s.max_queued,
            config.queue
        );
        assert_eq!(answered + rejected, callers as u64, "case {case}");
        assert_eq!(s.items, answered, "case {case}: items");
        assert_eq!(s.rejected, rejected, "case {case}: rejected");
        assert_eq!(s.items, sizes.iter().sum::<usize>() as u64, "case {case}");
        assert_eq!(s.batches, sizes.len() as u64, "case {case}");
        assert_eq!(s.largest_batch, *sizes.iter().max().unwrap_or(&0));
        assert_eq!(s.queued, 0, "case {case}: nothing left queued");
    }
}

/// With the worker busy, exactly `queue` requests are accepted; the next is refused at once
/// with a retry estimate; after the worker resumes, every accepted request is answered.
#[test]
fn a_full_queue_sheds_load_and_loses_nothing_accepted() {
    let rt = runtime();
    let config = BatchConfig {
        max_batch: 4,
        max_wait: Duration::ZERO,
        queue: 8,
    };
    let (batcher, gate) = gated(config);
    let batcher = Arc::new(batcher);
    rt.block_on(async {
        let b = Arc::clone(&batcher);
        let first = tokio::spawn(async move { b.submit(1000, Duration::from_secs(30)).await });
        // The worker has taken request 1000 and is inside the model: the queue is empty.
        let gate = tokio::task::spawn_blocking(move || {
            gate.entered.recv().unwrap();
            gate
        })
        .await
        .unwrap();
        let mut queued = Vec::new();
        for x in 0..8u64 {
            let b = Arc::clone(&batcher);
            queued.push(tokio::spawn(async move {
                (x, b.submit(x, Duration::from_secs(30)).await)
            }));
        }
        while batcher.stats().queued < 8 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let started = Instant::now();
        let refused = batcher.submit(99, Duration::from_secs(30)).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "refused at once"
        );
        match refused {
            Err(BatchError::Full { queued, .. }) => assert_eq!(queued, 8),
            other => panic!("expected Full, got {other:?}"),
        }
        gate.release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(f(1000)));
        for t in queued {
            let (x, y) = t.await.unwrap();
            assert_eq!(y, Ok(f(x)));
        }
        let s = batcher.stats();
        assert_eq!((s.items, s.rejected, s.max_queued), (9, 1, 8));
        assert!(gate.seen.lock().unwrap().iter().all(|b| !b.contains(&99)));
    });
}

/// A request whose deadline passes while it waits is answered DeadlineExceeded and never
/// reaches the model; a caller that goes away (its future dropped) is withdrawn the same way.
#[test]
fn expired_and_departed_requests_never_reach_the_model() {
    let rt = runtime();
    let config = BatchConfig {
        max_batch: 8,
        max_wait: Duration::ZERO,
        queue: 8,
    };
    let (batcher, gate) = gated(config);
    let batcher = Arc::new(batcher);
    rt.block_on(async {
        let b = Arc::clone(&batcher);
        let first = tokio::spawn(async move { b.submit(1, Duration::from_secs(30)).await });
        let gate = tokio::task::spawn_blocking(move || {
            gate.entered.recv().unwrap();
            gate
        })
        .await
        .unwrap();
        let b = Arc::clone(&batcher);
        let expiring = tokio::spawn(async move { b.submit(2, Duration::from_millis(20)).await });
        let b = Arc::clone(&batcher);
        let departing = tokio::spawn(async move { b.submit(3, Duration::from_secs(30)).await });
        let b = Arc::clone(&batcher);
        let patient = tokio::spawn(async move { b.submit(4, Duration::from_secs(30)).await });
        while batcher.stats().queued < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        departing.abort();
        assert_eq!(expiring.await.unwrap(), Err(BatchError::DeadlineExceeded));
        gate.release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(f(1)));
        assert_eq!(patient.await.unwrap(), Ok(f(4)));
        batcher.shutdown().await;
        let seen = gate.seen.lock().unwrap().clone();
        assert_eq!(seen, vec![vec![1], vec![4]], "the model saw only 1, then 4");
        let s = batcher.stats();
        assert_eq!((s.expired, s.cancelled, s.items), (1, 1, 2));
    });
}

/// A lone request waits `max_wait` for company (never less), while a batch that fills leaves at
/// once instead of waiting.
#[test]
fn max_wait_bounds_the_wait_for_a_batch_to_fill() {
    let rt = runtime();
    let config = BatchConfig {
        max_batch: 4,
        max_wait: Duration::from_millis(80),
        queue: 16,
    };
    let batcher = Arc::new(
        Batcher::start(config, |xs: Vec<u64>| Ok(xs.into_iter().map(f).collect())).unwrap(),
    );
    rt.block_on(async {
        let started = Instant::now();
        assert_eq!(batcher.submit(7, Duration::from_secs(30)).await, Ok(f(7)));
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "a lone request left after {:?}, before max_wait",
            started.elapsed()
        );
        let long = BatchConfig {
            max_wait: Duration::from_secs(30),
            ..config
        };
        let full = Arc::new(
            Batcher::start(long, |xs: Vec<u64>| Ok(xs.into_iter().map(f).collect())).unwrap(),
        );
        let started = Instant::now();
        let tasks: Vec<_> = (0..4u64)
            .map(|x| {
                let b = Arc::clone(&full);
                tokio::spawn(async move { b.submit(x, Duration::from_secs(60)).await })
            })
            .collect();
        for (x, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Ok(f(x as u64)));
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a full batch waited for max_wait (30 s)"
        );
        assert_eq!(full.stats().batch_sizes, vec![0, 0, 0, 0, 1]);
    });
}

/// Shutdown while requests are queued: every accepted request is answered, a new one is refused
/// with ShuttingDown, and shutdown returns only after the worker has stopped.
#[test]
fn shutdown_drains_every_accepted_request() {
    let rt = runtime();
    let config = BatchConfig {
        max_batch: 3,
        max_wait: Duration::from_millis(1),
        queue: 64,
    };
    let (batcher, gate) = gated(config);
    let batcher = Arc::new(batcher);
    rt.block_on(async {
        let mut tasks = Vec::new();
        for x in 0..40u64 {
            let b = Arc::clone(&batcher);
            tasks.push(tokio::spawn(async move {
                (x, b.submit(x, Duration::from_secs(30)).await)
            }));
        }
        let gate = tokio::task::spawn_blocking(move || {
            gate.entered.recv().unwrap();
            gate
        })
        .await
        .unwrap();
        // Everything is either in the first (blocked) batch or queued.
        let in_model = || {
            gate.seen
                .lock()
                .unwrap()
                .iter()
                .map(Vec::len)
                .sum::<usize>()
        };
        while batcher.stats().queued + in_model() < 40 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        batcher.close();
        assert_eq!(
            batcher.submit(999, Duration::from_secs(1)).await,
            Err(BatchError::ShuttingDown)
        );
        gate.release.send(()).unwrap();
        batcher.shutdown().await;
        let s = batcher.stats();
        assert_eq!((s.items, s.queued), (40, 0));
        for t in tasks {
            let (x, y) = t.await.unwrap();
            assert_eq!(y, Ok(f(x)));
        }
    });
}

/// A model that fails, panics or miscounts its outputs fails only its own batch's requests,
/// with a message; the batcher goes on serving.
#[test]
fn a_failing_model_fails_its_batch_only() {
    let rt = runtime();
    let config = BatchConfig {
        max_batch: 1,
        max_wait: Duration::ZERO,
        queue: 4,
    };
    let batcher = Batcher::start(config, |xs: Vec<u64>| match xs[0] {
        0 => Err("bad input 0".to_string()),
        1 => panic!("boom"),
        2 => Ok(vec![]),
        x => Ok(vec![f(x)]),
    })
    .unwrap();
    rt.block_on(async {
        let t = Duration::from_secs(10);
        assert_eq!(
            batcher.submit(0, t).await,
            Err(BatchError::Model("bad input 0".into()))
        );
        assert_eq!(
            batcher.submit(1, t).await,
            Err(BatchError::Model("the model panicked".into()))
        );
        assert_eq!(
            batcher.submit(2, t).await,
            Err(BatchError::Model(
                "the model returned 0 outputs for a batch of 1".into()
            ))
        );
        assert_eq!(batcher.submit(3, t).await, Ok(f(3)));
        assert_eq!(batcher.stats().failed, 3);
    });
}

#[test]
fn invalid_limits_are_refused_by_name() {
    let ok = BatchConfig {
        max_batch: 1,
        max_wait: Duration::ZERO,
        queue: 1,
    };
    let model = |xs: Vec<u8>| Ok(xs);
    for (config, arg) in [
        (BatchConfig { max_batch: 0, ..ok }, "max_batch"),
        (BatchConfig { queue: 0, ..ok }, "queue"),
        (
            BatchConfig {
                max_wait: Duration::from_secs(61),
                ..ok
            },
            "max_wait",
        ),
    ] {
        match Batcher::start(config, model) {
            Err(BatchError::InvalidConfig { arg: a, .. }) => assert_eq!(a, arg),
            Err(e) => panic!("{arg}: {e}"),
            Ok(_) => panic!("{arg}: accepted"),
        }
    }
}
