//! The job queue's promises — idempotency, retries with backoff, dead-lettering, leases
//! that outlive a dead worker — on the database (SQLite, or PostgreSQL with
//! TEST_DATABASE_URL) and, with TEST_REDIS_URL, on Redis too.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use solace_backend::jobs::worker::{self, Handler, JobError};
use solace_backend::jobs::{JobQueue, JobStatus, NewJob, RedisQueue, Retry, SqlQueue};

use crate::helpers::{spawn_app, using_redis, TestApp};

/// Every store this run can test: the database always, Redis when configured.
async fn queues(app: &TestApp) -> Vec<Arc<dyn JobQueue>> {
    let mut queues: Vec<Arc<dyn JobQueue>> = vec![Arc::new(SqlQueue::new(app.state.db.clone()))];
    if using_redis() {
        let url = secrecy::SecretString::from(std::env::var("TEST_REDIS_URL").unwrap());
        let prefix = format!("jobs-test:{}:", uuid::Uuid::new_v4().simple());
        queues.push(Arc::new(RedisQueue::connect(&url, &prefix).await.unwrap()));
    }
    queues
}

fn job(key: &str, max_attempts: u32) -> NewJob {
    NewJob {
        queue: "test",
        idempotency_key: key.to_owned(),
        payload: json!({ "ref": key }),
        max_attempts,
    }
}

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_same_idempotency_key_makes_one_job() {
    let app = spawn_app().await;
    for queue in queues(&app).await {
        let first = queue.enqueue(job("clip-1", 3)).await.unwrap();
        let again = queue.enqueue(job("clip-1", 3)).await.unwrap();
        let taken = queue.claim("test", "w1", LEASE).await.unwrap().unwrap();
        let nothing_more = queue.claim("test", "w1", LEASE).await.unwrap();
        let other_queue = queue.claim("other", "w1", LEASE).await.unwrap();

        assert!(first, "{}", queue.backend());
        assert!(
            !again,
            "{}: a second job with the same key",
            queue.backend()
        );
        assert_eq!(taken.payload, json!({ "ref": "clip-1" }));
        assert_eq!(taken.attempt, 1);
        assert!(nothing_more.is_none(), "{}", queue.backend());
        assert!(other_queue.is_none());
        assert_eq!(
            queue.status("clip-1").await.unwrap(),
            Some(JobStatus::Running)
        );
        queue.complete(&taken).await.unwrap();
        assert_eq!(queue.status("clip-1").await.unwrap(), Some(JobStatus::Done));
        assert!(
            !queue.enqueue(job("clip-1", 3)).await.unwrap(),
            "done keys still count"
        );
        assert_eq!(queue.status("never").await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_failed_attempt_comes_back_after_its_backoff_and_the_last_one_is_dead_lettered() {
    let app = spawn_app().await;
    for queue in queues(&app).await {
        queue.enqueue(job("flaky", 2)).await.unwrap();
        let first = queue.claim("test", "w1", LEASE).await.unwrap().unwrap();
        let status = queue
            .fail(&first, "HTTP 503", Retry::After(Duration::from_millis(300)))
            .await
            .unwrap();
        let too_early = queue.claim("test", "w1", LEASE).await.unwrap();
        tokio::time::sleep(Duration::from_millis(350)).await;
        let second = queue.claim("test", "w1", LEASE).await.unwrap().unwrap();
        let last = queue
            .fail(&second, "HTTP 503 again", Retry::After(Duration::ZERO))
            .await
            .unwrap();
        let after = queue.claim("test", "w1", LEASE).await.unwrap();
        let dead = queue.dead("test", 10).await.unwrap();

        assert_eq!(status, JobStatus::Pending, "{}", queue.backend());
        assert!(
            too_early.is_none(),
            "{}: ran before its backoff",
            queue.backend()
        );
        assert_eq!(second.attempt, 2);
        assert_eq!(last, JobStatus::Dead, "out of attempts");
        assert!(after.is_none(), "dead jobs do not run");
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].idempotency_key, "flaky");
        assert_eq!(dead[0].attempts, 2);
        assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 503 again"));
        assert_eq!(queue.status("flaky").await.unwrap(), Some(JobStatus::Dead));

        // An operator fixed the cause: the dead job runs again with fresh attempts.
        let revived = queue.retry_dead("test", &dead[0].id).await.unwrap();
        let again = queue.claim("test", "w1", LEASE).await.unwrap().unwrap();
        let not_dead = queue.retry_dead("test", &again.id).await.unwrap();
        let other_queue = queue.retry_dead("other", &again.id).await.unwrap();

        assert!(revived, "{}", queue.backend());
        assert_eq!(again.id, dead[0].id);
        assert_eq!(again.attempt, 1, "fresh attempts");
        assert!(!not_dead, "only dead jobs are retried");
        assert!(!other_queue);
        assert!(queue.dead("test", 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_permanent_failure_is_dead_at_once_and_old_dead_jobs_are_pruned() {
    let app = spawn_app().await;
    for queue in queues(&app).await {
        queue.enqueue(job("bad-voice", 5)).await.unwrap();
        let taken = queue.claim("test", "w1", LEASE).await.unwrap().unwrap();
        let status = queue
            .fail(&taken, "unknown voice", Retry::Never)
            .await
            .unwrap();
        let kept = queue.prune("test", 0, 0).await.unwrap();
        let pruned = queue
            .prune("test", i64::MAX, solace_backend::db::now_ms() + 1)
            .await
            .unwrap();

        assert_eq!(status, JobStatus::Dead, "{}", queue.backend());
        assert_eq!(kept, 0);
        assert_eq!(pruned, 1, "{}", queue.backend());
        assert!(queue.dead("test", 10).await.unwrap().is_empty());
        assert!(
            queue.enqueue(job("bad-voice", 5)).await.unwrap(),
            "the key is free again"
        );
    }
}

#[tokio::test]
async fn queue_stats_count_each_state_and_how_long_the_oldest_due_job_waited() {
    let app = spawn_app().await;
    for queue in queues(&app).await {
        let before = solace_backend::db::now_ms();
        let empty = queue.stats("test", before).await.unwrap();
        for key in ["a", "b", "c"] {
            queue.enqueue(job(key, 1)).await.unwrap();
        }
        let _running = queue.claim("test", "w1", LEASE).await.unwrap().unwrap();
        let failing = queue.claim("test", "w1", LEASE).await.unwrap().unwrap();
        queue.fail(&failing, "broken", Retry::Never).await.unwrap();
        let later = solace_backend::db::now_ms() + 5_000;

        let stats = queue.stats("test", later).await.unwrap();
        let too_early = queue.stats("test", before - 1).await.unwrap();

        let name = queue.backend();
        assert_eq!(empty, solace_backend::jobs::QueueStats::default(), "{name}");
        assert_eq!(
            (stats.pending, stats.running, stats.dead),
            (1, 1, 1),
            "{name}"
        );
        let due = stats.oldest_due_ms.unwrap();
        assert!((before..=later - 5_000).contains(&due), "{name}: {due}");
        assert_eq!(
            too_early.oldest_due_ms, None,
            "{name}: a job not due yet has not waited"
        );
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_again_when_its_lease_ends() {
    let app = spawn_app().await;
    for queue in queues(&app).await {
        queue.enqueue(job("orphan", 2)).await.unwrap();
        let lost = queue
            .claim("test", "crashed", Duration::from_millis(50))
            .await
            .unwrap()
            .unwrap();
        let while_leased = queue.claim("test", "w2", LEASE).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        let rescued = queue
            .claim("test", "w2", Duration::from_millis(50))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        // Its worker died again: no attempts are left, so it is dead, not run a third time.
        let third = queue.claim("test", "w3", LEASE).await.unwrap();

        assert_eq!(lost.attempt, 1);
        assert!(while_leased.is_none(), "{}", queue.backend());
        assert_eq!(rescued.id, lost.id);
        assert_eq!(rescued.attempt, 2);
        assert!(third.is_none(), "{}", queue.backend());
        assert_eq!(queue.status("orphan").await.unwrap(), Some(JobStatus::Dead));
    }
}

#[tokio::test]
async fn the_worker_retries_what_may_pass_and_dead_letters_what_cannot() {
    let app = spawn_app().await;
    for queue in queues(&app).await {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let handler: Handler = Arc::new(move |job| {
            let seen = seen.clone();
            Box::pin(async move {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                match job.payload["ref"].as_str() {
                    // Fails once with a passing problem, then works.
                    Some("flaky") if n == 0 => Err(JobError::retry("timed out")),
                    Some("doomed") => Err(JobError::fatal("refused: HTTP 401")),
                    _ => Ok(()),
                }
            })
        });
        queue.enqueue(job("flaky", 3)).await.unwrap();
        let wake = Arc::new(tokio::sync::Notify::new());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(worker::run(
            queue.clone(),
            "test",
            handler,
            2,
            wake.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        let start = Instant::now();
        while queue.status("flaky").await.unwrap() != Some(JobStatus::Done)
            && start.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let retried_after = start.elapsed();
        queue.enqueue(job("doomed", 3)).await.unwrap();
        wake.notify_one();
        while queue.status("doomed").await.unwrap() != Some(JobStatus::Dead)
            && start.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
        running.await.unwrap();

        assert_eq!(
            queue.status("flaky").await.unwrap(),
            Some(JobStatus::Done),
            "{}",
            queue.backend()
        );
        assert!(
            retried_after >= Duration::from_secs(1),
            "the first backoff is a second"
        );
        assert_eq!(queue.status("doomed").await.unwrap(), Some(JobStatus::Dead));
        assert_eq!(calls.load(Ordering::SeqCst), 3, "flaky twice, doomed once");
        let dead = queue.dead("test", 10).await.unwrap();
        assert_eq!(dead[0].last_error.as_deref(), Some("refused: HTTP 401"));
    }
}
