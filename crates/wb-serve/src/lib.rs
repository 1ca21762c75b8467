//! # wb-serve — online inference with a dynamic batcher
//!
//! A model answers a batch of 32 inputs in far less than 32 times the cost of one (one matrix
//! product instead of 32 vector products, one pass over the weights instead of 32). A service that
//! gets requests one at a time can still batch them: each request joins a queue, and one worker
//! takes what has queued up to make a batch, runs the model once, and hands each caller its own
//! answer. Two limits shape every batch:
//!
//! - `max_batch`: a batch never holds more inputs (memory, and the latency of the whole batch);
//! - `max_wait`: a request never waits longer than this for its batch to fill; when the worker is
//!   idle and requests trickle in, the batch leaves when the oldest of them has waited `max_wait`.
//!
//! and two more keep the service alive under too much load:
//!
//! - a **bounded queue** (`queue`): when it is full, [`Batcher::submit`] refuses at once with
//!   [`BatchError::Full`] and an estimate of when to retry (an HTTP service answers 503 with
//!   `Retry-After`) instead of letting the queue, and every caller's latency, grow without end;
//! - a **deadline** per request: work whose caller has given up (deadline passed, or the caller
//!   dropped its future, e.g. its client disconnected) is dropped before the model sees it.
//!
//! [`Batcher::shutdown`] stops taking requests and returns when every accepted one is answered.
//!
//! ```
//! use std::time::Duration;
//! use wb_serve::{BatchConfig, Batcher};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = BatchConfig { max_batch: 8, max_wait: Duration::from_millis(2), queue: 64 };
//! // The "model": doubles each input of a batch.
//! let batcher = Batcher::start(config, |xs: Vec<i64>| Ok(xs.iter().map(|x| 2 * x).collect()))?;
//! let y = batcher.submit(21, Duration::from_secs(1)).await?;
//! assert_eq!(y, 42);
//! batcher.shutdown().await;
//! # Ok::<(), wb_serve::BatchError>(()) }).unwrap();
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The batcher's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// The most inputs in one call of the model (≥ 1).
    pub max_batch: usize,
    /// The longest a request waits for its batch to fill (0: take only what is already queued).
    pub max_wait: Duration,
    /// The most requests waiting for the worker (≥ 1); one more is refused.
    pub queue: usize,
}

impl BatchConfig {
    /// The limits with `max_wait` in milliseconds (a command line's `--max-wait-ms`), checked.
    pub fn with_wait_ms(
        max_batch: usize,
        max_wait_ms: f64,
        queue: usize,
    ) -> Result<Self, BatchError> {
        if !(0.0..=60_000.0).contains(&max_wait_ms) {
            return Err(BatchError::InvalidConfig {
                arg: "max_wait".into(),
                detail: format!("expected 0 to 60,000 ms, got {max_wait_ms}"),
            });
        }
        let config = Self {
            max_batch,
            max_wait: Duration::from_secs_f64(max_wait_ms / 1e3),
            queue,
        };
        config.check()?;
        Ok(config)
    }

    /// Fails unless `max_batch` and `queue` are at least 1 and `max_wait` is at most a minute.
    pub fn check(&self) -> Result<(), BatchError> {
        let invalid = |arg: &str, detail: String| BatchError::InvalidConfig {
            arg: arg.to_string(),
            detail,
        };
        if self.max_batch == 0 {
            return Err(invalid("max_batch", "expected at least 1, got 0".into()));
        }
        if self.queue == 0 {
            return Err(invalid("queue", "expected at least 1, got 0".into()));
        }
        if self.max_wait > Duration::from_secs(60) {
            return Err(invalid(
                "max_wait",
                format!("expected at most 60 s, got {:?}", self.max_wait),
            ));
        }
        Ok(())
    }
}

/// Why a request got no answer from the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// A limit of [`BatchConfig`] is out of range.
    #[error("invalid `{arg}`: {detail}")]
    InvalidConfig { arg: String, detail: String },
    /// The queue was full: the request was refused without being queued.
    #[error("the queue is full ({queued} requests waiting): retry after {retry_after:?}")]
    Full {
        queued: usize,
        retry_after: Duration,
    },
    /// The batcher is shutting down and takes no new requests.
    #[error("the batcher is shutting down")]
    ShuttingDown,
    /// The request's deadline passed before its answer came.
    #[error("the deadline passed before the model answered")]
    DeadlineExceeded,
    /// The model failed on the batch that held this request.
    #[error("the model failed: {0}")]
    Model(String),
}

/// The model a batcher calls: a batch of inputs in, one output per input, in the same order.
pub trait BatchFn<I, O>: FnMut(Vec<I>) -> Result<Vec<O>, String> + Send + 'static {}
impl<I, O, F: FnMut(Vec<I>) -> Result<Vec<O>, String> + Send + 'static> BatchFn<I, O> for F {}

/// What the batcher has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Calls of the model.
    pub batches: u64,
    /// Inputs the model answered.
    pub items: u64,
    /// The largest batch so far.
    pub largest_batch: usize,
    /// `batch_sizes[k]`: how many batches held k inputs.
    pub batch_sizes: Vec<u64>,
    /// Requests refused because the queue was full.
    pub rejected: u64,
    /// Requests dropped unanswered because their deadline had passed.
    pub expired: u64,
    /// Requests dropped because their caller had gone.
    pub cancelled: u64,
    /// Requests whose batch failed in the model.
    pub failed: u64,
    /// Requests waiting now.
    pub queued: usize,
    /// The most requests ever waiting at once.
    pub max_queued: usize,
}

struct Job<I, O> {
    input: I,
    arrived: Instant,
    deadline: Instant,
    reply: oneshot::Sender<Result<O, BatchError>>,
}

#[derive(Default)]
struct Shared {
    queued: AtomicUsize,
    max_queued: AtomicUsize,
    rejected: AtomicU64,
    /// Mean seconds per model call (exponentially weighted), as f64 bits: for `Retry-After`.
    mean_batch_secs: AtomicU64,
    stats: Mutex<BatchStats>,
}

impl Shared {
    fn stats(&self) -> std::sync::MutexGuard<'_, BatchStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A dynamic batcher in front of a model: see the crate's documentation.
pub struct Batcher<I, O> {
    config: BatchConfig,
    sender: Mutex<Option<Sender<Job<I, O>>>>,
    shared: Arc<Shared>,
    done: Mutex<Option<oneshot::Receiver<()>>>,
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the worker thread that calls `model` on each batch.
    pub fn start(config: BatchConfig, model: impl BatchFn<I, O>) -> Result<Self, BatchError> {
        config.check()?;
        let (sender, receiver) = channel();
        let shared = Arc::new(Shared::default());
        let (done_tx, done_rx) = oneshot::channel();
        let worker_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("batcher".into())
            .spawn(move || {
                work(config, receiver, model, &worker_shared);
                let _ = done_tx.send(());
            })
            .map_err(|e| BatchError::Model(format!("cannot start the worker thread: {e}")))?;
        Ok(Self {
            config,
            sender: Mutex::new(Some(sender)),
            shared,
            done: Mutex::new(Some(done_rx)),
        })
    }

    /// The limits the batcher runs with.
    pub fn config(&self) -> BatchConfig {
        self.config
    }

    /// Queues `input` and waits for its answer, for at most `timeout`. Refuses at once when the
    /// queue is full or the batcher is shutting down. Dropping the returned future (a client that
    /// disconnected) withdraws the request: the model does not see it.
    pub async fn submit(&self, input: I, timeout: Duration) -> Result<O, BatchError> {
        let now = Instant::now();
        let deadline = now + timeout;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            input,
            arrived: now,
            deadline,
            reply,
        };
        self.enqueue(job)?;
        match tokio::time::timeout_at(deadline.into(), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(BatchError::Model("the worker stopped".into())),
            Err(_) => Err(BatchError::DeadlineExceeded),
        }
    }

    // ANCHOR: enqueue
    fn enqueue(&self, job: Job<I, O>) -> Result<(), BatchError> {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = sender.as_ref() else {
            return Err(BatchError::ShuttingDown);
        };
        // The count is the bound: a request is admitted only by raising it, and the worker
        // lowers it when it takes one, so it never exceeds `queue`, even for a moment.
        let admitted = self
            .shared
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                (q < self.config.queue).then_some(q + 1)
            });
        let queued = match admitted {
            Ok(before) => before + 1,
            Err(queued) => {
                self.shared.rejected.fetch_add(1, Ordering::SeqCst);
                return Err(BatchError::Full {
                    queued,
                    retry_after: self.retry_after(queued),
                });
            }
        };
        self.shared.max_queued.fetch_max(queued, Ordering::SeqCst);
        sender.send(job).map_err(|_| {
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
            BatchError::Model("the worker stopped".into())
        })
    }
    // ANCHOR_END: enqueue

    /// How long until `queued` requests are served: the batches they make, plus the one running,
    /// at the mean time of a model call so far.
    fn retry_after(&self, queued: usize) -> Duration {
        let per_batch = f64::from_bits(self.shared.mean_batch_secs.load(Ordering::SeqCst));
        let batches = queued.div_ceil(self.config.max_batch) + 1;
        Duration::from_secs_f64(per_batch * batches as f64 + self.config.max_wait.as_secs_f64())
    }

    /// A snapshot of what the batcher has done.
    pub fn stats(&self) -> BatchStats {
        let mut s = self.shared.stats().clone();
        s.queued = self.shared.queued.load(Ordering::SeqCst);
        s.max_queued = self.shared.max_queued.load(Ordering::SeqCst);
        s.rejected = self.shared.rejected.load(Ordering::SeqCst);
        s
    }

    /// Takes no new requests from now on ([`Batcher::submit`] answers
    /// [`BatchError::ShuttingDown`]); the requests already queued are still answered.
    pub fn close(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Closes the batcher and waits until every accepted request has its answer and the worker
    /// has stopped. Calling it again returns at once.
    pub async fn shutdown(&self) {
        self.close();
        let done = self
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(done) = done {
            let _ = done.await;
        }
    }
}

// ANCHOR: worker
/// The worker: forms batches until every sender is gone and the queue is empty.
fn work<I, O>(
    config: BatchConfig,
    receiver: Receiver<Job<I, O>>,
    mut model: impl BatchFn<I, O>,
    shared: &Shared,
) {
    let take = |job: Job<I, O>| {
        shared.queued.fetch_sub(1, Ordering::SeqCst);
        job
    };
    // `recv` fails only when every sender is gone and nothing is left: the drain is complete.
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![take(first)];
        // The batch leaves when it is full, or when its oldest request has waited `max_wait`.
        let leave_at = jobs[0].arrived + config.max_wait;
        while jobs.len() < config.max_batch {
            let left = leave_at.saturating_duration_since(Instant::now());
            let next = if left.is_zero() {
                receiver.try_recv().map_err(|_| RecvTimeoutError::Timeout)
            } else {
                receiver.recv_timeout(left)
            };
            match next {
                Ok(job) => jobs.push(take(job)),
                Err(_) => break,
            }
        }
        run_batch(jobs, &mut model, shared);
    }
}
// ANCHOR_END: worker

// ANCHOR: run_batch
/// Drops the requests nobody waits for any more, calls the model once on the others, and sends
/// each caller its own answer.
fn run_batch<I, O>(jobs: Vec<Job<I, O>>, model: &mut impl BatchFn<I, O>, shared: &Shared) {
    let now = Instant::now();
    let (mut expired, mut cancelled) = (0, 0);
    let mut inputs = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        if job.deadline <= now {
            expired += 1;
            let _ = job.reply.send(Err(BatchError::DeadlineExceeded));
        } else if job.reply.is_closed() {
            cancelled += 1;
        } else {
            inputs.push(job.input);
            replies.push(job.reply);
        }
    }
    {
        let mut s = shared.stats();
        s.expired += expired;
        s.cancelled += cancelled;
    }
    if inputs.is_empty() {
        return;
    }
    let n = inputs.len();
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| model(inputs)))
        .unwrap_or_else(|_| Err("the model panicked".to_string()))
        .and_then(|outputs| {
            if outputs.len() == n {
                Ok(outputs)
            } else {
                Err(format!(
                    "the model returned {} outputs for a batch of {n}",
                    outputs.len()
                ))
            }
        });
    let secs = started.elapsed().as_secs_f64();
    let old = f64::from_bits(shared.mean_batch_secs.load(Ordering::SeqCst));
    let mean = if old == 0.0 {
        secs
    } else {
        0.8 * old + 0.2 * secs
    };
    shared
        .mean_batch_secs
        .store(mean.to_bits(), Ordering::SeqCst);
    {
        let mut s = shared.stats();
        s.batches += 1;
        s.largest_batch = s.largest_batch.max(n);
        if s.batch_sizes.len() <= n {
            s.batch_sizes.resize(n + 1, 0);
        }
        s.batch_sizes[n] += 1;
        match &outcome {
            Ok(_) => s.items += n as u64,
            Err(_) => s.failed += n as u64,
        }
    }
    match outcome {
        Ok(outputs) => {
            for (reply, output) in replies.into_iter().zip(outputs) {
                let _ = reply.send(Ok(output));
            }
        }
        Err(message) => {
            for reply in replies {
                let _ = reply.send(Err(BatchError::Model(message.clone())));
            }
        }
    }
}
// ANCHOR_END: run_batch

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT) or, on Unix, SIGTERM (what
/// `docker stop`, `podman stop` and Kubernetes send before they kill).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
