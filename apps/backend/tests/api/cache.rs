use std::time::Duration;

use crate::helpers::{spawn_app, spawn_app_with, using_redis};

#[tokio::test]
async fn the_cache_stores_expires_and_deletes_values() {
    let app = spawn_app().await;
    let cache = &app.state.cache;

    cache
        .set("memory:s1", b"last turns", Duration::from_secs(60))
        .await
        .unwrap();
    cache
        .set("short", b"gone soon", Duration::from_millis(100))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;

    assert_eq!(
        cache.get("memory:s1").await.unwrap(),
        Some(b"last turns".to_vec())
    );
    assert_eq!(cache.get("short").await.unwrap(), None);
    cache.delete("memory:s1").await.unwrap();
    assert_eq!(cache.get("memory:s1").await.unwrap(), None);
    cache.delete("never-set").await.unwrap();
}

#[tokio::test]
async fn counters_count_within_their_window() {
    let app = spawn_app().await;
    let cache = &app.state.cache;

    let mut counts = Vec::new();
    for _ in 0..3 {
        counts.push(
            cache
                .incr("login-failures:1.2.3.4", Duration::from_millis(300))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(450)).await;
    let after_window = cache
        .incr("login-failures:1.2.3.4", Duration::from_millis(300))
        .await
        .unwrap();

    assert_eq!(counts, vec![1, 2, 3]);
    assert_eq!(after_window, 1);
}

#[tokio::test]
async fn replicas_share_the_cache_only_through_redis() {
    let first = spawn_app().await;
    let prefix = format!("shared:{}:", uuid::Uuid::new_v4().simple());
    let a = spawn_app_with(&[("CACHE_KEY_PREFIX", &prefix)]).await;
    let b = spawn_app_with(&[("CACHE_KEY_PREFIX", &prefix)]).await;
    drop(first);

    a.state
        .cache
        .set("presence:room-1", b"3", Duration::from_secs(60))
        .await
        .unwrap();
    let seen_by_b = b.state.cache.get("presence:room-1").await.unwrap();

    if using_redis() {
        assert_eq!(b.state.cache.backend(), "redis");
        assert_eq!(seen_by_b, Some(b"3".to_vec()));
    } else {
        assert_eq!(b.state.cache.backend(), "memory");
        assert_eq!(seen_by_b, None, "each embedded process has its own cache");
    }
}

#[tokio::test]
async fn expiring_sets_keep_members_until_their_time_passes_and_replicas_agree_on_redis() {
    let prefix = format!("sets:{}:", uuid::Uuid::new_v4().simple());
    let a = spawn_app_with(&[("CACHE_KEY_PREFIX", &prefix)]).await;
    let b = spawn_app_with(&[("CACHE_KEY_PREFIX", &prefix)]).await;
    let key = "presence:room-1";

    a.state
        .cache
        .set_add(key, "otter", Duration::from_millis(300))
        .await
        .unwrap();
    a.state
        .cache
        .set_add(key, "heron", Duration::from_secs(60))
        .await
        .unwrap();
    a.state
        .cache
        .set_add(key, "lynx", Duration::from_secs(60))
        .await
        .unwrap();
    a.state.cache.set_remove(key, "lynx").await.unwrap();
    a.state.cache.set_remove(key, "never-there").await.unwrap();
    let mut now = a.state.cache.set_members(key).await.unwrap();
    now.sort();
    tokio::time::sleep(Duration::from_millis(450)).await;
    let later = a.state.cache.set_members(key).await.unwrap();
    let seen_by_b = b.state.cache.set_members(key).await.unwrap();

    assert_eq!(now, vec!["heron", "otter"]);
    assert_eq!(later, vec!["heron"], "otter's time passed");
    if using_redis() {
        assert_eq!(seen_by_b, vec!["heron"]);
    } else {
        assert!(
            seen_by_b.is_empty(),
            "each embedded process has its own sets"
        );
    }
}
