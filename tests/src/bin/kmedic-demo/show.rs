//! What the demo prints: the master's log lines as sentences, the progress bar, the action log
//! read back from its topic, and the throttles left on the cluster.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use kmedic_common::admin::{AdminClient, ConfigResource, ConfigSource};
use kmedic_common::connection::ConnectionSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;

use crate::kmedic::{field, num};

const MIB: f64 = 1024.0 * 1024.0;

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

/// What [`narrate`] needs to know besides the line.
pub struct Context<'a> {
    /// The killed broker.
    pub victim: i32,
    /// Whether the master is carrying out a plan (the round's re-plans of what is left are not
    /// what runs: they are not narrated then).
    pub executing: bool,
    /// A broker's rack.
    pub rack: &'a dyn Fn(i32) -> String,
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{} ...", &s[..i]),
        None => s.to_string(),
    }
}

/// One master log line as a sentence for the terminal, or None for lines the demo does not
/// narrate: summaries, progress (drawn as the bar), decisions and findings about other things
/// than the killed broker and its partitions (leader spread, preferred leaders: all in the
/// master's log).
pub fn narrate(l: &Value, cx: &Context<'_>) -> Option<String> {
    let msg = field(l, "message");
    let level = field(l, "level");
    let victim = num(l, "broker") == Some(cx.victim as u64);
    if msg == "plan progress" || msg == "summary" {
        return None;
    }
    if let Some(m) = msg.strip_prefix("move ") {
        return (!cx.executing).then(|| format!("  move {}", with_racks(m, cx)));
    }
    if msg.starts_with("finding") {
        let kind = field(l, "finding");
        return (victim || kind.starts_with("UnderReplicated"))
            .then(|| format!("{} [{kind}]", cut(msg, 160)));
    }
    if !field(l, "verdict").is_empty() {
        let verdict = field(l, "verdict");
        return (victim || verdict.starts_with("act")).then(|| {
            format!(
                "decision {}: {verdict} (rule {}): {}",
                field(l, "id"),
                field(l, "rule"),
                cut(msg, 200)
            )
        });
    }
    if msg.starts_with("planned") {
        return (!cx.executing).then(|| {
            format!(
                "heal plan (decision {}): {} moves, {} to copy, {} unplaceable:",
                field(l, "decisions"),
                num(l, "moves").unwrap_or(0),
                mib(num(l, "bytes").unwrap_or(0)),
                num(l, "unplaceable").unwrap_or(0),
            )
        });
    }
    if msg.starts_with("executing") {
        return Some(format!(
            "{msg}: {} moves, {} at a throttle of {}/s",
            num(l, "moves").unwrap_or(0),
            mib(num(l, "bytes").unwrap_or(0)),
            mib(num(l, "throttle_bytes_per_sec").unwrap_or(0))
        ));
    }
    if msg == "plan finished" {
        return Some(format!(
            "plan finished in {} s: {} moves done, {} cancelled, {} copied, {} to plan again",
            num(l, "secs").unwrap_or(0),
            num(l, "done").unwrap_or(0),
            num(l, "cancelled").unwrap_or(0),
            mib(num(l, "copied_bytes").unwrap_or(0)),
            num(l, "replan").unwrap_or(0)
        ));
    }
    if msg.starts_with("plan finished") {
        return None;
    }
    if cx.executing && (msg.starts_with("replicas cannot be placed") || msg == "plan warning") {
        return None;
    }
    if level == "WARN" || level == "ERROR" || msg.contains("throttle") {
        let detail = ["first", "warning", "error"]
            .iter()
            .map(|k| field(l, k))
            .find(|v| !v.is_empty())
            .map_or(String::new(), |v| format!(": {}", cut(v, 160)));
        return Some(format!("{} {msg}{detail}", level.to_lowercase()));
    }
    None
}

/// `orders-0 [3, 1, 2] -> [3, 1, 5] (14053241 B): why` with the replaced brokers' racks:
/// `orders-0 [3, 1, 2] -> [3, 1, 5], 13.4 MiB: 2 (az-b) -> 5 (az-b)`.
fn with_racks(m: &str, cx: &Context<'_>) -> String {
    let list = |s: &str| -> Vec<i32> {
        s.trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect()
    };
    let parsed = (|| {
        let (name, rest) = m.split_once(' ')?;
        let (old, rest) = rest.split_once(" -> ")?;
        let (new, rest) = rest.split_once(" (")?;
        let (bytes, _) = rest.split_once(" B)")?;
        Some((name, list(old), list(new), bytes.parse::<u64>().ok()?))
    })();
    let Some((name, old, new, bytes)) = parsed else {
        return m.to_string();
    };
    let gone: Vec<i32> = old.iter().copied().filter(|b| !new.contains(b)).collect();
    let came: Vec<i32> = new.iter().copied().filter(|b| !old.contains(b)).collect();
    let racks = |v: &[i32]| {
        v.iter()
            .map(|&b| format!("{b} ({})", (cx.rack)(b)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{name:<24} {old:?} -> {new:?}  {:>9}  {} -> {}",
        mib(bytes),
        racks(&gone),
        racks(&came)
    )
}

/// The executor's progress, from its "plan progress" lines.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    pub copied: u64,
    pub total: u64,
    pub rate: u64,
    pub eta: String,
}

impl Progress {
    /// From a "plan progress" line.
    pub fn from_line(l: &Value) -> Self {
        Progress {
            copied: num(l, "copied_bytes").unwrap_or(0),
            total: num(l, "total_bytes").unwrap_or(0),
            rate: num(l, "rate_bytes_per_sec").unwrap_or(0),
            // Logged as "12", or "" while unknown.
            eta: match field(l, "eta_secs") {
                "" => "?".to_string(),
                s => s.to_string(),
            },
        }
    }

    /// The bar, or what the executor is doing before its first progress figures.
    pub fn line(&self, urps: usize) -> String {
        if self.total == 0 {
            return format!("setting the throttle, submitting the first moves (URPs {urps})");
        }
        self.bar(urps)
    }

    /// `[#####-----]  45.0 %  52.1 MiB left of 96.0 MiB  3.9 MiB/s  ETA 13 s  URPs 6`.
    pub fn bar(&self, urps: usize) -> String {
        const WIDTH: usize = 30;
        let frac = if self.total == 0 {
            0.0
        } else {
            (self.copied as f64 / self.total as f64).min(1.0)
        };
        let full = (frac * WIDTH as f64).round() as usize;
        format!(
            "[{}{}] {:5.1} %  {} left of {}  {}/s  ETA {} s  URPs {urps}",
            "#".repeat(full),
            "-".repeat(WIDTH - full),
            frac * 100.0,
            mib(self.total.saturating_sub(self.copied)),
            mib(self.total),
            mib(self.rate),
            self.eta
        )
    }
}

/// A status line redrawn in place on a terminal, printed when it changes elsewhere.
pub struct LiveLine<W: Write = std::io::Stdout> {
    shown: Option<String>,
    out: W,
    tty: bool,
}

impl Default for LiveLine {
    fn default() -> Self {
        let out = std::io::stdout();
        let tty = out.is_terminal();
        LiveLine {
            shown: None,
            out,
            tty,
        }
    }
}

impl<W: Write> LiveLine<W> {
    /// Shows `s` (no-op when unchanged).
    pub fn set(&mut self, s: String) {
        if self.shown.as_deref() == Some(s.as_str()) {
            return;
        }
        if self.tty {
            let _ = write!(self.out, "\r\x1b[2K  {s}");
            let _ = self.out.flush();
        } else {
            let _ = writeln!(self.out, "  {s}");
        }
        self.shown = Some(s);
    }

    /// Ends the live line so ordinary lines print below it.
    pub fn finish(&mut self) {
        if self.shown.take().is_some() && self.tty {
            let _ = writeln!(self.out);
        }
    }

    /// Prints a line above the live one (which is drawn again on the next `set`). On a
    /// terminal the live line is erased first, not left behind: otherwise the same bar shows
    /// twice (the 100 % bar, then `plan finished`, then the bar again).
    pub fn println(&mut self, s: &str) {
        if self.shown.take().is_some() && self.tty {
            let _ = write!(self.out, "\r\x1b[2K");
        }
        let _ = writeln!(self.out, "  {s}");
    }
}

/// The action log's records for `cluster_id`, read back from the topic (read_committed: what
/// the master's transactions committed), as one line each.
pub fn action_log(bootstrap: &str, topic: &str, cluster_id: &str) -> anyhow::Result<Vec<String>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kmedic-demo-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let timeout = Duration::from_secs(10);
    let (_, high) = c.fetch_watermarks(topic, 0, timeout)?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    c.assign(&tpl)?;
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let Some(m) = c.poll(Duration::from_millis(500)) else {
            // Transaction markers take offsets but are no messages: the position says when done.
            let pos = c.position()?;
            if pos
                .find_partition(topic, 0)
                .and_then(|p| p.offset().to_raw())
                .is_some_and(|o| o >= high)
            {
                break;
            }
            continue;
        };
        // An error here is the client's (a dead bootstrap broker, a retry): it reconnects.
        let Ok(m) = m else { continue };
        let Some(payload) = m.payload() else { continue };
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            continue;
        };
        if field(&v, "cluster_id") == cluster_id {
            out.push(record_line(&v));
        }
        if m.offset() + 1 >= high {
            break;
        }
    }
    Ok(out)
}

fn record_line(v: &Value) -> String {
    let kind = v["kind"]["type"].as_str().unwrap_or("?");
    let phase = field(v, "phase");
    let parts = v["partitions"].as_array().map_or(0, Vec::len);
    let what = match phase {
        "outcome" => format!("-> {}", v["outcome"]["status"].as_str().unwrap_or("?")),
        _ => field(v, "reason").to_string(),
    };
    let extra = match kind {
        "reassign" if phase == "intent" => {
            let targets = &v["kind"]["targets"];
            format!(" targets {targets}")
        }
        _ => String::new(),
    };
    let parts = if parts > 0 {
        let s = if parts == 1 { "" } else { "s" };
        format!(" ({parts} partition{s})")
    } else {
        String::new()
    };
    format!(
        "{phase:<7} {kind:<15} {}{parts}: {what}{extra}",
        field(v, "action_id")
    )
}

/// Replication throttle configs still set (dynamic broker default, and on `topic`).
pub fn throttles_left(bootstrap: &str, topic: &str) -> anyhow::Result<Vec<(String, String)>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin = AdminClient::new(ConnectionSettings::plaintext(bootstrap.split(',')))?;
    rt.block_on(async {
        let mut out = Vec::new();
        for (res, keys) in [
            (
                ConfigResource::BrokerDefault,
                [
                    "leader.replication.throttled.rate",
                    "follower.replication.throttled.rate",
                ],
            ),
            (
                ConfigResource::Topic(topic.to_string()),
                [
                    "leader.replication.throttled.replicas",
                    "follower.replication.throttled.replicas",
                ],
            ),
        ] {
            for e in admin.describe_configs(&res, Some(&keys)).await? {
                let dynamic = matches!(
                    e.source,
                    ConfigSource::DynamicDefaultBroker | ConfigSource::DynamicTopic
                );
                if let Some(v) = e.value.filter(|v| dynamic && !v.is_empty()) {
                    out.push((e.name, v));
                }
            }
        }
        anyhow::Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::{LiveLine, Progress};

    /// What a terminal shows: each line as left after its last in-place redraw.
    fn screen(bytes: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .split('\n')
            .map(|l| l.rsplit("\r\x1b[2K").next().unwrap_or("").to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// A line printed above the bar (the `plan finished` narration) does not leave a copy of
    /// the bar behind: the finished bar shows once.
    #[test]
    fn the_final_bar_shows_once_on_a_terminal() {
        let mut live = LiveLine {
            shown: None,
            out: Vec::new(),
            tty: true,
        };
        live.set("[####] 100 %".into());
        live.println("master: plan finished");
        live.set("[####] 100 %".into());
        live.finish();
        let shown = screen(&live.out);
        assert_eq!(
            shown.iter().filter(|l| l.contains("100 %")).count(),
            1,
            "{shown:?}"
        );
        assert_eq!(shown.len(), 2, "{shown:?}");
    }

    #[test]
    fn progress_reads_the_eta_or_shows_it_unknown() {
        let line = |eta: &str| {
            serde_json::json!({"message": "plan progress", "copied_bytes": 5,
                "total_bytes": 10, "rate_bytes_per_sec": 1, "eta_secs": eta})
        };
        assert_eq!(Progress::from_line(&line("12")).eta, "12");
        assert_eq!(Progress::from_line(&line("")).eta, "?");
    }

    #[test]
    fn a_record_counts_its_partitions_in_words() {
        let rec = |n: usize| {
            serde_json::json!({"action_id": "a1", "phase": "intent", "reason": "heal",
                "kind": {"type": "elect"}, "partitions": vec!["t-0"; n]})
        };
        assert!(super::record_line(&rec(1)).contains(" (1 partition):"));
        assert!(super::record_line(&rec(2)).contains(" (2 partitions):"));
        assert!(!super::record_line(&rec(0)).contains("partition"));
    }
}
