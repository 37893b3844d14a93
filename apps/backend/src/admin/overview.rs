//! The admin overview: people active, chats started, safety alarms by severity, rooms
//! opened and minutes spoken per day, and the two funnels (landing → chat started →
//! first reply seen; landing → room entered → spoke) by anonymous visit. Counts only.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::db::{col, now_ms, Db};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiQuery;
use crate::state::AppState;

pub const DAY_MS: i64 = 86_400_000;

/// The overview's counter names in `daily_counts`.
pub const ELEVATED: &str = "safety.elevated";
pub const IMMINENT: &str = "safety.imminent";
pub const SPOKEN_SECONDS: &str = "rooms.spoken_seconds";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct OverviewQuery {
    /// How many days back, today included: 1–90, 30 by default.
    #[param(minimum = 1, maximum = 90)]
    days: Option<i64>,
}

/// One day's counts (UTC).
#[derive(Debug, Default, Serialize, ToSchema)]
pub(super) struct Day {
    /// `YYYY-MM-DD`.
    date: String,
    /// People who wrote to the AI or joined a room.
    active_people: i64,
    chats_started: i64,
    crisis_elevated: i64,
    crisis_imminent: i64,
    rooms_opened: i64,
    minutes_spoken: f64,
}

/// A funnel's steps and how many visits reached each (each step counts only visits that
/// reached the steps before it).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Funnel {
    name: &'static str,
    steps: Vec<Step>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Step {
    name: &'static str,
    visits: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Overview {
    days: Vec<Day>,
    funnels: Vec<Funnel>,
    /// Registered accounts now.
    accounts: i64,
    open_reports: i64,
    live_rooms: i64,
}

/// The overview for the admin console.
#[utoipa::path(get, path = "/admin/overview", tag = "admin", params(OverviewQuery), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "Counts per day and the funnels.", body = Overview), crate::openapi::SignedIn, crate::openapi::QueryString))]
pub(super) async fn overview(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<OverviewQuery>,
) -> Result<Json<Overview>> {
    let days = query.days.unwrap_or(30);
    if !(1..=90).contains(&days) {
        return Err(Error::validation(
            ErrorCode::InvalidDays,
            "days must be between 1 and 90.",
        ));
    }
    let today = now_ms() / DAY_MS;
    let first = today - days + 1;
    let since = first * DAY_MS;
    let mut by_day: BTreeMap<i64, Day> = (first..=today)
        .map(|day| {
            (
                day,
                Day {
                    date: date(day),
                    ..Day::default()
                },
            )
        })
        .collect();
    let db = &state.db;

    // Each query counts per day since $1; each count goes into one field of the day.
    let per_day_counts: [(&str, SetCount); 3] = [
        (
            "SELECT day, COUNT(DISTINCT who) AS n FROM ( \
               SELECT created_at / 86400000 AS day, owner_id AS who FROM messages \
                 WHERE role = 'user' AND created_at >= $1 \
               UNION ALL \
               SELECT created_at / 86400000 AS day, actor_id AS who FROM room_events \
                 WHERE kind = 'joined' AND actor_id IS NOT NULL AND created_at >= $1 \
             ) seen GROUP BY day",
            |d, n| d.active_people = n,
        ),
        (
            "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM chat_sessions \
             WHERE created_at >= $1 GROUP BY created_at / 86400000",
            |d, n| d.chats_started = n,
        ),
        (
            "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM rooms \
             WHERE created_at >= $1 GROUP BY created_at / 86400000",
            |d, n| d.rooms_opened = n,
        ),
    ];
    for (sql, set) in per_day_counts {
        let rows = sqlx::query(sql).bind(since).fetch_all(db.pool()).await?;
        for row in &rows {
            if let Some(d) = by_day.get_mut(&col::<i64>(row, "day")?) {
                set(d, col(row, "n")?);
            }
        }
    }
    let counts = sqlx::query("SELECT day, name, value FROM daily_counts WHERE day >= $1")
        .bind(first)
        .fetch_all(db.pool())
        .await?;
    for row in &counts {
        let day: i64 = col(row, "day")?;
        let name: String = col(row, "name")?;
        let value: i64 = col(row, "value")?;
        let Some(d) = by_day.get_mut(&day) else {
            continue;
        };
        match name.as_str() {
            ELEVATED => d.crisis_elevated = value,
            IMMINENT => d.crisis_imminent = value,
            SPOKEN_SECONDS => d.minutes_spoken = (value as f64 / 60.0 * 100.0).round() / 100.0,
            _ => {}
        }
    }

    let funnels = vec![
        funnel(
            db,
            since,
            "chat",
            &[
                ("chat started", "chat.started"),
                ("first reply seen", "chat.reply_seen"),
            ],
        )
        .await?,
        funnel(
            db,
            since,
            "rooms",
            &[("room entered", "room.entered"), ("spoke", "room.spoke")],
        )
        .await?,
    ];
    Ok(Json(Overview {
        days: by_day.into_values().collect(),
        funnels,
        accounts: scalar(
            db,
            "SELECT COUNT(*) AS n FROM users WHERE kind = 'registered'",
        )
        .await?,
        open_reports: scalar(
            db,
            "SELECT COUNT(*) AS n FROM reports WHERE status = 'open'",
        )
        .await?,
        live_rooms: scalar(db, "SELECT COUNT(*) AS n FROM rooms WHERE status = 'live'").await?,
    }))
}

/// Puts one count into its field of a day.
type SetCount = fn(&mut Day, i64);

fn date(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|at| at.date().to_string())
        .unwrap_or_default()
}

async fn scalar(db: &Db, sql: &str) -> Result<i64> {
    let row = sqlx::query(sql).fetch_one(db.pool()).await?;
    col(&row, "n")
}

/// Visits that saw the landing page, then each step in turn, since `since`.
async fn funnel(
    db: &Db,
    since: i64,
    name: &'static str,
    steps: &[(&'static str, &'static str)],
) -> Result<Funnel> {
    let landing = "SELECT visit_id FROM analytics_events \
        WHERE name = 'pageview' AND path = '/' AND visit_id IS NOT NULL AND created_at >= $1";
    let mut counted = vec![Step {
        name: "landing",
        visits: scalar_since(
            db,
            &format!("SELECT COUNT(DISTINCT visit_id) AS n FROM ({landing}) landing"),
            since,
            &[],
        )
        .await?,
    }];
    let mut reached = format!("visit_id IN ({landing})");
    for (index, (label, _)) in steps.iter().enumerate() {
        let param = index + 2;
        reached = format!(
            "{reached} AND visit_id IN (SELECT visit_id FROM analytics_events \
             WHERE name = ${param} AND created_at >= $1)"
        );
        let events: Vec<&str> = steps[..=index].iter().map(|(_, e)| *e).collect();
        let visits = scalar_since(
            db,
            &format!("SELECT COUNT(DISTINCT visit_id) AS n FROM analytics_events WHERE {reached}"),
            since,
            &events,
        )
        .await?;
        counted.push(Step {
            name: label,
            visits,
        });
    }
    Ok(Funnel {
        name,
        steps: counted,
    })
}

async fn scalar_since(db: &Db, sql: &str, since: i64, names: &[&str]) -> Result<i64> {
    let mut query = sqlx::query(sql).bind(since);
    for name in names {
        query = query.bind((*name).to_owned());
    }
    let row = query.fetch_one(db.pool()).await?;
    col(&row, "n")
}
