//! The repository functions on the real database: owner scoping, ordering, cascades.

use solace_backend::chat::{self, MessageStatus, NewMessage, Page, Role, SessionTitle};
use solace_backend::db::Db;
use solace_backend::users::{self, NewUser, User, UserKind};
use solace_backend::Error;

use crate::helpers::spawn_app;

async fn guest(db: &Db, pseudonym: &str) -> User {
    users::create(
        db,
        NewUser {
            kind: UserKind::Guest,
            email: None,
            email_verified: false,
            password_hash: None,
            display_name: None,
            pseudonym,
        },
    )
    .await
    .unwrap()
}

fn title(text: &str) -> SessionTitle {
    SessionTitle::parse(text).unwrap()
}

fn said(content: &str) -> NewMessage<'_> {
    NewMessage {
        id: solace_backend::db::new_id(),
        role: Role::User,
        content,
        status: MessageStatus::Complete,
    }
}

#[tokio::test]
async fn migrations_can_run_again_without_changing_anything() {
    let app = spawn_app().await;

    let again = app.state.db.migrate().await;

    assert!(again.is_ok(), "{again:?}");
}

#[tokio::test]
async fn a_session_keeps_its_messages_in_order() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let otter = guest(db, "Bright Otter").await;
    let session = chat::create_session(db, &otter.id, &title("First talk"))
        .await
        .unwrap();

    for text in ["one", "two", "three"] {
        chat::append_message(db, &otter.id, &session.id, said(text))
            .await
            .unwrap();
    }
    let reply = NewMessage {
        id: solace_backend::db::new_id(),
        role: Role::Assistant,
        content: "four (cut short)",
        status: MessageStatus::Incomplete,
    };
    chat::append_message(db, &otter.id, &session.id, reply)
        .await
        .unwrap();
    let last_three = chat::recent_messages(db, &otter.id, &session.id, 3)
        .await
        .unwrap();

    let contents: Vec<_> = last_three.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, vec!["two", "three", "four (cut short)"]);
    assert_eq!(last_three[2].role, Role::Assistant);
    assert_eq!(last_three[2].status, MessageStatus::Incomplete);
}

/// Storing a reply again after an unclear failure (the first commit may have landed)
/// finds the stored message instead of keeping it twice.
#[tokio::test]
async fn a_message_stored_again_under_its_id_is_kept_once() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let otter = guest(db, "Bright Otter").await;
    let session = chat::create_session(db, &otter.id, &title("Twice"))
        .await
        .unwrap();
    let reply = NewMessage {
        id: solace_backend::db::new_id(),
        role: Role::Assistant,
        content: "the reply",
        status: MessageStatus::Complete,
    };

    let first = chat::append_message(db, &otter.id, &session.id, reply.clone())
        .await
        .unwrap();
    let again = chat::append_message(db, &otter.id, &session.id, reply)
        .await
        .unwrap();

    assert_eq!(again.id, first.id);
    assert_eq!(again.content, "the reply");
    let stored = chat::recent_messages(db, &otter.id, &session.id, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
}

#[tokio::test]
async fn nobody_can_touch_another_persons_session() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let otter = guest(db, "Bright Otter").await;
    let heron = guest(db, "Calm Heron").await;
    let session = chat::create_session(db, &otter.id, &title("Private"))
        .await
        .unwrap();
    chat::append_message(db, &otter.id, &session.id, said("only mine"))
        .await
        .unwrap();

    let get = chat::get_session(db, &heron.id, &session.id).await;
    let read = chat::recent_messages(db, &heron.id, &session.id, 10).await;
    let write = chat::append_message(db, &heron.id, &session.id, said("intrusion")).await;
    let rename = chat::rename_session(db, &heron.id, &session.id, &title("Mine now")).await;
    let flag = chat::flag_session(db, &heron.id, &session.id).await;
    let delete = chat::delete_session(db, &heron.id, &session.id).await;
    let listed = chat::list_sessions(db, &heron.id, Page::new(None, None).unwrap())
        .await
        .unwrap();

    for outcome in [
        get.map(|_| ()),
        read.map(|_| ()),
        write.map(|_| ()),
        rename.map(|_| ()),
        flag,
        delete,
    ] {
        assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");
    }
    assert!(listed.is_empty());
    let still_there = chat::recent_messages(db, &otter.id, &session.id, 10)
        .await
        .unwrap();
    assert_eq!(still_there.len(), 1);
    assert_eq!(still_there[0].content, "only mine");
    assert_eq!(
        chat::get_session(db, &otter.id, &session.id)
            .await
            .unwrap()
            .title,
        "Private"
    );
}

#[tokio::test]
async fn sessions_are_listed_most_recently_active_first_in_pages() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let otter = guest(db, "Bright Otter").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let session = chat::create_session(db, &otter.id, &title(&format!("Talk {n}")))
            .await
            .unwrap();
        ids.push(session.id);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    chat::append_message(db, &otter.id, &ids[0], said("back to the first"))
        .await
        .unwrap();

    let first_page = chat::list_sessions(db, &otter.id, Page::new(Some(2), None).unwrap())
        .await
        .unwrap();
    let second_page = chat::list_sessions(db, &otter.id, Page::new(Some(2), Some(2)).unwrap())
        .await
        .unwrap();

    let order: Vec<_> = first_page
        .iter()
        .chain(&second_page)
        .map(|s| s.title.as_str())
        .collect();
    assert_eq!(order, vec!["Talk 0", "Talk 2", "Talk 1"]);
}

#[tokio::test]
async fn renaming_and_flagging_a_session_are_kept() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let otter = guest(db, "Bright Otter").await;
    let session = chat::create_session(db, &otter.id, &title("Untitled"))
        .await
        .unwrap();

    chat::rename_session(db, &otter.id, &session.id, &title("Sleep"))
        .await
        .unwrap();
    chat::flag_session(db, &otter.id, &session.id)
        .await
        .unwrap();
    let first_flag = chat::get_session(db, &otter.id, &session.id)
        .await
        .unwrap()
        .flagged_at;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    chat::flag_session(db, &otter.id, &session.id)
        .await
        .unwrap();
    let stored = chat::get_session(db, &otter.id, &session.id).await.unwrap();

    assert_eq!(stored.title, "Sleep");
    assert!(first_flag.is_some());
    assert_eq!(stored.flagged_at, first_flag, "the first flag time is kept");
}

#[tokio::test]
async fn deleting_a_session_deletes_its_messages() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let otter = guest(db, "Bright Otter").await;
    let session = chat::create_session(db, &otter.id, &title("Gone soon"))
        .await
        .unwrap();
    chat::append_message(db, &otter.id, &session.id, said("bye"))
        .await
        .unwrap();

    chat::delete_session(db, &otter.id, &session.id)
        .await
        .unwrap();

    assert!(matches!(
        chat::get_session(db, &otter.id, &session.id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(count(db, "messages", &otter.id).await, 0);
}

#[tokio::test]
async fn deleting_a_user_deletes_everything_they_own() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let otter = guest(db, "Bright Otter").await;
    let heron = guest(db, "Calm Heron").await;
    for person in [&otter, &heron] {
        let session = chat::create_session(db, &person.id, &title("Talk"))
            .await
            .unwrap();
        chat::append_message(db, &person.id, &session.id, said("hello"))
            .await
            .unwrap();
    }

    users::delete(db, &otter.id).await.unwrap();

    assert!(users::find(db, &otter.id).await.unwrap().is_none());
    assert_eq!(count(db, "chat_sessions", &otter.id).await, 0);
    assert_eq!(count(db, "messages", &otter.id).await, 0);
    assert_eq!(
        count(db, "chat_sessions", &heron.id).await,
        1,
        "other people keep theirs"
    );
    assert_eq!(count(db, "messages", &heron.id).await, 1);
}

#[tokio::test]
async fn an_email_can_belong_to_only_one_account() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let account = |pseudonym| NewUser {
        kind: UserKind::Registered,
        email: Some("sam@example.org"),
        email_verified: false,
        password_hash: Some("$argon2id$placeholder"),
        display_name: Some("Sam"),
        pseudonym,
    };

    let first = users::create(db, account("Kind Finch")).await.unwrap();
    let second = users::create(db, account("Warm Lynx")).await;

    assert!(
        matches!(
            second,
            Err(Error::Conflict {
                code: solace_backend::error::ErrorCode::EmailTaken,
                ..
            })
        ),
        "{second:?}"
    );
    let found = users::find_by_email(db, "SAM@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, first.id);
    assert_eq!(found.kind, UserKind::Registered);
}

async fn count(db: &Db, table: &str, owner: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM {table} WHERE owner_id = $1"
    ))
    .bind(owner.to_owned())
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("n")
}
