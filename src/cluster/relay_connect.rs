//! The relay's start on the NATS side: connecting (a bounded number of
//! attempts), creating or checking the JetStream stream that is the
//! cluster's log, and the subscriptions the relay reads. The subjects are
//! named here.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{Client, ConnectOptions, Event, ServerAddr, Subscriber};
use tokio::sync::mpsc;

use super::link::NodeId;
use super::relay::RelayConfig;

/// The stream that is the cluster's log.
pub const STREAM: &str = "STXCHAT";
/// Subjects records are published to (`.<node>.<k>` follows).
pub const LOG_PREFIX: &str = "stxchat.log";
/// Where the stream republishes them.
pub const FEED_PREFIX: &str = "stxchat.feed";
/// Heartbeats.
pub const HEARTBEAT_SUBJECT: &str = "stxchat.hb";
/// Snapshot requests (`.<node>` follows).
pub const SNAPSHOT_PREFIX: &str = "stxchat.snap";
/// Requests for a node's shared settings (`.<node>` follows).
pub const SETTINGS_PREFIX: &str = "stxchat.settings";
/// How long the stream keeps a record (a dead node's subjects go away).
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// Connects to one of the servers, trying `connect_attempts` times.
pub(super) async fn connect(
    cfg: &RelayConfig,
    events: mpsc::UnboundedSender<Event>,
) -> Result<Client, String> {
    let addrs: Vec<ServerAddr> = cfg
        .servers
        .iter()
        .map(|s| {
            s.parse::<ServerAddr>()
                .map_err(|e| format!("bad NATS address {s:?}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let mut last = String::new();
    for attempt in 1..=cfg.connect_attempts.max(1) {
        let events = events.clone();
        let opts = ConnectOptions::new()
            .name(format!("stxchat {}", cfg.name))
            .connection_timeout(Duration::from_secs(2))
            .max_reconnects(None)
            .reconnect_delay_callback(|n| Duration::from_millis((n as u64 * 100).min(1_000)))
            .event_callback(move |ev| {
                let events = events.clone();
                async move {
                    let _ = events.send(ev);
                }
            });
        match opts.connect(addrs.as_slice()).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                last = e.to_string();
                tracing::warn!(target: "stxchat::cluster", attempt, error = %e, "cannot reach NATS");
                if attempt < cfg.connect_attempts {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
    Err(format!(
        "cannot reach NATS at {} after {} attempts: {last}",
        cfg.servers.join(","),
        cfg.connect_attempts.max(1)
    ))
}

/// The stream's settings.
fn stream_config() -> stream::Config {
    stream::Config {
        name: STREAM.into(),
        subjects: vec![format!("{LOG_PREFIX}.>")],
        max_messages_per_subject: 1,
        max_age: MAX_AGE,
        storage: stream::StorageType::File,
        num_replicas: 1,
        discard: stream::DiscardPolicy::Old,
        republish: Some(stream::Republish {
            source: format!("{LOG_PREFIX}.>"),
            destination: format!("{FEED_PREFIX}.>"),
            headers_only: false,
        }),
        ..Default::default()
    }
}

/// Creates the stream, or checks that the one there is ours.
pub(super) async fn open_stream(js: &jetstream::Context) -> Result<stream::Stream, String> {
    let want = stream_config();
    let mut s = js.get_or_create_stream(want.clone()).await.map_err(|e| {
        format!("cannot create or open the JetStream stream {STREAM} (is nats-server running with -js?): {e}")
    })?;
    let info = s
        .info()
        .await
        .map_err(|e| format!("cannot read the stream {STREAM}: {e}"))?;
    let have = &info.config;
    if have.subjects != want.subjects
        || have.republish != want.republish
        || have.max_messages_per_subject != 1
        || have.storage != stream::StorageType::File
    {
        return Err(format!(
            "the JetStream stream {STREAM} exists with other settings (subjects {:?}, republish {:?}, \
             max_msgs_per_subject {}, storage {:?}); delete it (nats stream rm {STREAM}) or use another NATS",
            have.subjects, have.republish, have.max_messages_per_subject, have.storage
        ));
    }
    Ok(s)
}

/// The subscriptions the relay reads.
pub(super) struct Subs {
    pub(super) feed: Subscriber,
    pub(super) heartbeats: Subscriber,
    pub(super) requests: Subscriber,
    pub(super) settings: Subscriber,
    pub(super) inbox: Subscriber,
    pub(super) inbox_subject: String,
}

impl Subs {
    pub(super) async fn open(
        client: &Client,
        node: NodeId,
    ) -> Result<Subs, async_nats::SubscribeError> {
        let inbox_subject = client.new_inbox();
        Ok(Subs {
            feed: client.subscribe(format!("{FEED_PREFIX}.>")).await?,
            heartbeats: client.subscribe(HEARTBEAT_SUBJECT).await?,
            requests: client
                .subscribe(format!("{SNAPSHOT_PREFIX}.{node:016x}"))
                .await?,
            settings: client
                .subscribe(format!("{SETTINGS_PREFIX}.{node:016x}"))
                .await?,
            inbox: client.subscribe(inbox_subject.clone()).await?,
            inbox_subject,
        })
    }
}
