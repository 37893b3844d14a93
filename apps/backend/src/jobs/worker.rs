//! The worker loop: takes jobs from one queue and runs a handler on each, a few at a
//! time, with retries and dead-lettering as the handler's errors say.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::{backoff, Job, JobQueue, Retry};

/// How long a worker holds a job before others may take it again.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often an idle worker looks for jobs another process added.
const POLL: Duration = Duration::from_millis(500);

/// Why a job failed, and whether another attempt may help.
#[derive(Debug, Clone)]
pub struct JobError {
    pub message: String,
    pub retryable: bool,
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }

    /// A provider's failure, retried only when its cause may pass (busy, unreachable).
    pub fn from_provider(error: &impl std::fmt::Display, retryable: bool) -> Self {
        Self {
            message: error.to_string(),
            retryable,
        }
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
pub type Handler = Arc<dyn Fn(Job) -> HandlerFuture + Send + Sync>;
/// A handler for several jobs at once: one outcome per job, in their order.
pub type BatchFuture = Pin<Box<dyn Future<Output = Vec<Result<(), JobError>>> + Send>>;
pub type BatchHandler = Arc<dyn Fn(Vec<Job>) -> BatchFuture + Send + Sync>;

/// Runs jobs from `queue_name` until `stop` resolves. `wake` is notified when this
/// process adds a job, so a local worker starts it at once instead of at the next poll.
pub async fn run(
    queue: Arc<dyn JobQueue>,
    queue_name: &'static str,
    handler: Handler,
    concurrency: usize,
    wake: Arc<Notify>,
    stop: impl Future<Output = ()>,
) {
    let one_by_one: BatchHandler = Arc::new(move |jobs: Vec<Job>| {
        let handler = handler.clone();
        Box::pin(async move {
            let mut outcomes = Vec::with_capacity(jobs.len());
            for job in jobs {
                outcomes.push(handler(job).await);
            }
            outcomes
        })
    });
    run_batches(queue, queue_name, one_by_one, 1, concurrency, wake, stop).await;
}

/// Runs jobs from `queue_name` up to `batch` at a time per handler call (as many as are
/// due, so one job alone is not kept waiting), `concurrency` calls at once, until
/// `stop` resolves. Claiming and completing a batch are one statement each on the
/// database: under load, fewer writes per job.
pub async fn run_batches(
    queue: Arc<dyn JobQueue>,
    queue_name: &'static str,
    handler: BatchHandler,
    batch: usize,
    concurrency: usize,
    wake: Arc<Notify>,
    stop: impl Future<Output = ()>,
) {
    let worker = format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple());
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            () = &mut stop => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        match queue
            .claim_many(queue_name, &worker, LEASE, batch.max(1))
            .await
        {
            Ok(jobs) if !jobs.is_empty() => {
                let (queue, handler) = (queue.clone(), handler.clone());
                let span = tracing::info_span!(
                    parent: None,
                    "job.run",
                    otel.kind = "consumer",
                    queue = %queue_name,
                    jobs = jobs.len(),
                    job = tracing::field::Empty,
                    attempt = tracing::field::Empty,
                );
                if let [job] = jobs.as_slice() {
                    span.record("job", job.id.as_str());
                    span.record("attempt", job.attempt);
                }
                let run = async move {
                    let outcomes = handler(jobs.clone()).await;
                    finish(queue.as_ref(), jobs, outcomes).await;
                    drop(permit);
                };
                tokio::spawn(tracing::Instrument::instrument(run, span));
            }
            Ok(_) => {
                drop(permit);
                tokio::select! {
                    () = &mut stop => break,
                    () = wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            Err(error) => {
                drop(permit);
                tracing::warn!(%error, "could not take a job");
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    // Let running jobs finish (their leases cover a crash).
    let _ = slots
        .acquire_many(u32::try_from(concurrency.max(1)).unwrap_or(1))
        .await;
}

/// Records how each job of a batch ended: the successes in one statement, each failure
/// retried later or dead-lettered as its error says. A job the handler gave no outcome
/// for is retried.
async fn finish(queue: &dyn JobQueue, jobs: Vec<Job>, outcomes: Vec<Result<(), JobError>>) {
    let mut outcomes = outcomes.into_iter();
    let mut done = Vec::new();
    for job in jobs {
        let outcome = outcomes
            .next()
            .unwrap_or_else(|| Err(JobError::retry("the handler gave no outcome")));
        let error = match outcome {
            Ok(()) => {
                done.push(job);
                continue;
            }
            Err(error) => error,
        };
        let retry = if error.retryable {
            Retry::After(backoff(job.attempt))
        } else {
            Retry::Never
        };
        // Error texts name a status or a cause, never the job's content.
        match queue.fail(&job, &error.message, retry).await {
            Ok(super::JobStatus::Dead) => {
                tracing::error!(queue = %job.queue, job = %job.id, attempt = job.attempt, error = %error.message, "job failed for good (dead-lettered)")
            }
            Ok(status) => {
                tracing::warn!(queue = %job.queue, job = %job.id, attempt = job.attempt, ?status, "job failed")
            }
            Err(error) => tracing::error!(%error, job = %job.id, "could not record a job's end"),
        }
    }
    if let Err(error) = queue.complete_many(&done).await {
        tracing::error!(%error, jobs = done.len(), "could not record jobs' end");
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into())
}
