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
        match queue.claim(queue_name, &worker, LEASE).await {
            Ok(Some(job)) => {
                let (queue, handler) = (queue.clone(), handler.clone());
                let span = tracing::info_span!(
                    parent: None,
                    "job.run",
                    otel.kind = "consumer",
                    queue = %job.queue,
                    job = %job.id,
                    attempt = job.attempt,
                );
                let run = async move {
                    let outcome = handler(job.clone()).await;
                    let result = match outcome {
                        Ok(()) => queue.complete(&job).await.map(|()| None),
                        Err(error) => {
                            let retry = if error.retryable {
                                Retry::After(backoff(job.attempt))
                            } else {
                                Retry::Never
                            };
                            let status = queue.fail(&job, &error.message, retry).await;
                            status.map(|status| Some((status, error.message)))
                        }
                    };
                    match result {
                        // Error texts name a status or a cause, never the job's content.
                        Ok(Some((super::JobStatus::Dead, error))) => {
                            tracing::error!(queue = %job.queue, job = %job.id, attempt = job.attempt, %error, "job failed for good (dead-lettered)")
                        }
                        Ok(Some((status, _))) => {
                            tracing::warn!(queue = %job.queue, job = %job.id, attempt = job.attempt, ?status, "job failed")
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::error!(%error, job = %job.id, "could not record a job's end")
                        }
                    }
                    drop(permit);
                };
                tokio::spawn(tracing::Instrument::instrument(run, span));
            }
            Ok(None) => {
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

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into())
}
