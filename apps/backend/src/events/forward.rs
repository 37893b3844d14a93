//! Copies of the web app's anonymous events for PostHog (its batch capture API) or
//! Plausible (its events API), when configured.
//!
//! What leaves is what the first-party table holds for an anonymous visit — the event's
//! name, the page's route, its small properties, the time — keyed by the tab's random
//! visit id. Never a user id, email, IP address or anything anyone wrote: PostHog gets
//! `$process_person_profile: false` and `$geoip_disable: true`; Plausible, which needs a
//! client address for its daily visitor hash, gets a made-up private IPv6 address derived
//! from the visit id. Neither can delete single events afterwards, so only anonymous
//! events are forwarded, and none of a signed-in person's server-side ones.
//!
//! Forwarding never slows a request: events wait in a bounded in-memory queue per
//! destination (dropped and counted when it is full), go out in batches every two
//! seconds, and a failed request is tried three times. What is still queued when the
//! process exits is lost: analytics are best effort.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use url::Url;

use crate::config::{AnalyticsSettings, Plausible, PostHog};

/// One event to forward.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub name: String,
    pub path: Option<String>,
    pub properties: Map<String, Value>,
    pub visit: Option<String>,
    /// The browser's `User-Agent`, for Plausible's device statistics; never stored.
    pub user_agent: Option<String>,
    pub at: time::OffsetDateTime,
}

/// Hands events to the forwarding task; cheap to clone.
#[derive(Clone, Default)]
pub struct Forwarder {
    queues: Vec<mpsc::Sender<Outgoing>>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

const QUEUE: usize = 10_000;
const BATCH: usize = 100;
const EVERY: Duration = Duration::from_secs(2);
const ATTEMPTS: u32 = 3;

/// Where a batch goes: each destination has its own queue and task, so a slow one never
/// holds the other back.
#[derive(Clone)]
enum Destination {
    PostHog(PostHog),
    Plausible(Plausible),
}

impl Destination {
    fn name(&self) -> &'static str {
        match self {
            Self::PostHog(_) => "posthog",
            Self::Plausible(_) => "plausible",
        }
    }
}

impl Forwarder {
    /// Starts forwarding when PostHog or Plausible is configured; otherwise does nothing.
    pub fn start(settings: &AnalyticsSettings, public_url: &Url) -> Self {
        let destinations: Vec<Destination> = settings
            .posthog
            .clone()
            .map(Destination::PostHog)
            .into_iter()
            .chain(settings.plausible.clone().map(Destination::Plausible))
            .collect();
        if destinations.is_empty() {
            return Self::default();
        }
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("solace/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot forward analytics: no HTTP client");
                return Self::default();
            }
        };
        let queues = destinations
            .into_iter()
            .map(|destination| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(rx, client.clone(), destination, public_url.clone()));
                tx
            })
            .collect();
        tracing::info!(
            posthog = settings.posthog.is_some(),
            plausible = settings.plausible.is_some(),
            "forwarding anonymous analytics events"
        );
        Self {
            queues,
            dropped: Arc::default(),
        }
    }

    /// Queues an event for each destination; drops it where the queue is full (analytics
    /// are best effort).
    pub fn send(&self, event: Outgoing) {
        for queue in &self.queues {
            if queue.try_send(event.clone()).is_err() {
                let dropped = self
                    .dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped = dropped + 1,
                        "analytics forwarding queue full; events dropped"
                    );
                }
            }
        }
    }
}

async fn run(
    mut rx: mpsc::Receiver<Outgoing>,
    client: reqwest::Client,
    to: Destination,
    public_url: Url,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        // Waits for the first event, then gathers more for up to EVERY.
        match rx.recv().await {
            Some(event) => batch.push(event),
            None => return,
        }
        let deadline = tokio::time::Instant::now() + EVERY;
        let mut closed = false;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(event)) => batch.push(event),
                Ok(None) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        match &to {
            Destination::PostHog(posthog) => {
                let request = client
                    .post(endpoint(&posthog.host, "batch/"))
                    .json(&posthog_batch(posthog, &public_url, &batch));
                deliver(to.name(), request).await;
            }
            Destination::Plausible(plausible) => {
                // One event per request: eight at a time.
                let requests: Vec<reqwest::RequestBuilder> = batch
                    .iter()
                    .map(|event| {
                        let request = client
                            .post(endpoint(&plausible.host, "api/event"))
                            .header("x-forwarded-for", pseudo_address(event.visit.as_deref()))
                            .json(&plausible_event(plausible, &public_url, event));
                        match &event.user_agent {
                            Some(agent) => request.header(reqwest::header::USER_AGENT, agent),
                            None => request,
                        }
                    })
                    .collect();
                let name = to.name();
                futures_util::stream::iter(requests)
                    .map(move |request| deliver(name, request))
                    .buffer_unordered(8)
                    .collect::<Vec<()>>()
                    .await;
            }
        }
        batch.clear();
        if closed {
            return;
        }
    }
}

fn endpoint(host: &Url, path: &str) -> Url {
    let mut base = host.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path).unwrap_or(base)
}

/// Sends, trying again after 1 s and 2 s when the service is down or overloaded.
async fn deliver(service: &'static str, request: reqwest::RequestBuilder) {
    for attempt in 1..=ATTEMPTS {
        let Some(request) = request.try_clone() else {
            return;
        };
        let error = match request.send().await {
            Ok(response) if response.status().is_success() => return,
            Ok(response)
                if response.status().is_server_error() || response.status().as_u16() == 429 =>
            {
                format!("HTTP {}", response.status().as_u16())
            }
            Ok(response) => {
                // A wrong key or a rejected payload: retrying will not help.
                tracing::warn!(
                    service,
                    status = response.status().as_u16(),
                    "analytics forwarding refused"
                );
                return;
            }
            Err(error) => error.without_url().to_string(),
        };
        if attempt == ATTEMPTS {
            tracing::warn!(service, %error, "analytics forwarding failed; batch dropped");
            return;
        }
        tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
    }
}

/// PostHog's name for a page view; other names pass as they are.
fn posthog_name(name: &str) -> &str {
    if name == "pageview" {
        "$pageview"
    } else {
        name
    }
}

fn page_url(public_url: &Url, path: Option<&str>) -> String {
    public_url
        .join(path.unwrap_or("/"))
        .map_or_else(|_| public_url.to_string(), |url| url.to_string())
}

fn posthog_batch(posthog: &PostHog, public_url: &Url, events: &[Outgoing]) -> Value {
    let batch: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut properties = event.properties.clone();
            properties.insert("$process_person_profile".into(), false.into());
            properties.insert("$geoip_disable".into(), true.into());
            properties.insert("$lib".into(), "solace".into());
            if let Some(path) = &event.path {
                properties.insert("$pathname".into(), path.clone().into());
                properties.insert(
                    "$current_url".into(),
                    page_url(public_url, Some(path)).into(),
                );
            }
            json!({
                "event": posthog_name(&event.name),
                "distinct_id": event.visit.clone().unwrap_or_else(|| "anonymous".into()),
                "timestamp": event.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "properties": properties,
            })
        })
        .collect();
    json!({ "api_key": posthog.key.expose_secret(), "batch": batch })
}

fn plausible_event(plausible: &Plausible, public_url: &Url, event: &Outgoing) -> Value {
    let mut body = json!({
        "name": event.name,
        "url": page_url(public_url, event.path.as_deref()),
        "domain": plausible.domain,
    });
    // Plausible's custom properties are strings (or numbers, or booleans).
    let props: Map<String, Value> = event
        .properties
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if !props.is_empty() {
        body["props"] = Value::Object(props);
    }
    body
}

/// A made-up address in the private `fd00::/8` range, the same for one visit and
/// different between visits: what Plausible's visitor hash needs, and no one's address.
pub fn pseudo_address(visit: Option<&str>) -> String {
    let digest = Sha256::digest(visit.unwrap_or("anonymous").as_bytes());
    let mut bytes = [0u8; 16];
    bytes[0] = 0xfd;
    bytes[1..].copy_from_slice(&digest[..15]);
    std::net::Ipv6Addr::from(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn event(name: &str, path: Option<&str>, visit: Option<&str>) -> Outgoing {
        let mut properties = Map::new();
        properties.insert("cta".into(), "start_chat".into());
        properties.insert("empty".into(), Value::Null);
        Outgoing {
            name: name.into(),
            path: path.map(str::to_owned),
            properties,
            visit: visit.map(str::to_owned),
            user_agent: None,
            at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn posthog_gets_anonymous_events_without_profiles_or_geoip() {
        let posthog = PostHog {
            host: Url::parse("https://eu.i.posthog.com").unwrap_or_else(|e| panic!("{e}")),
            key: SecretString::from("phc_test"),
        };
        let public = Url::parse("https://solace.example.org").unwrap_or_else(|e| panic!("{e}"));
        let body = posthog_batch(
            &posthog,
            &public,
            &[event("pageview", Some("/chat"), Some("v-1"))],
        );
        let first = &body["batch"][0];
        assert_eq!(body["api_key"], "phc_test");
        assert_eq!(first["event"], "$pageview");
        assert_eq!(first["distinct_id"], "v-1");
        assert_eq!(first["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(first["properties"]["$process_person_profile"], false);
        assert_eq!(first["properties"]["$geoip_disable"], true);
        assert_eq!(
            first["properties"]["$current_url"],
            "https://solace.example.org/chat"
        );
        assert_eq!(
            endpoint(&posthog.host, "batch/").as_str(),
            "https://eu.i.posthog.com/batch/"
        );
    }

    #[test]
    fn plausible_gets_the_page_the_domain_and_non_null_props() {
        let plausible = Plausible {
            host: Url::parse("https://stats.example.org/plausible")
                .unwrap_or_else(|e| panic!("{e}")),
            domain: "solace.example.org".into(),
        };
        let public = Url::parse("https://solace.example.org/").unwrap_or_else(|e| panic!("{e}"));
        let body = plausible_event(&plausible, &public, &event("cta.click", None, None));
        assert_eq!(body["name"], "cta.click");
        assert_eq!(body["url"], "https://solace.example.org/");
        assert_eq!(body["domain"], "solace.example.org");
        assert_eq!(body["props"], json!({ "cta": "start_chat" }));
        assert_eq!(
            endpoint(&plausible.host, "api/event").as_str(),
            "https://stats.example.org/plausible/api/event"
        );
    }

    #[test]
    fn pseudo_addresses_are_private_stable_per_visit_and_differ_between_visits() {
        let a = pseudo_address(Some("visit-a"));
        assert!(a.starts_with("fd"), "{a}");
        assert_eq!(a, pseudo_address(Some("visit-a")));
        assert_ne!(a, pseudo_address(Some("visit-b")));
        assert!(a.parse::<std::net::Ipv6Addr>().is_ok());
    }
}
