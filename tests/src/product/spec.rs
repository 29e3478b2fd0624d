//! What the product's processes are told: the agents' config, and a [`MasterSpec`] holding the
//! settings a trial (or the demo) overrides, each left out of the file when unset so the
//! master's own default applies. [`MasterSpec::render`] writes the TOML.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Below this heal grace the master wants `allow_short_heal_grace = true` (the master's
/// `MIN_HEAL_GRACE_SECS`).
pub const MIN_HEAL_GRACE_SECS: u64 = 60;

/// A comma-separated bootstrap list as a TOML array of strings.
pub fn toml_list(bootstrap: &str) -> String {
    let v: Vec<String> = bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    format!("[{}]", v.join(", "))
}

/// How often the agents publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStats {
    /// The agent's defaults: only what a user must give.
    Defaults,
    /// A 1 s heartbeat and full stats every 5 s, so the master sees every broker in seconds.
    Quick,
}

/// One agent's config: the broker's server.properties and the stats cluster. Two lines more
/// because the agents share this host and it is no cloud VM: a free metrics port, and no
/// instance-metadata lookup (it would leave loopback).
pub fn agent_config(server_properties: &Path, bootstrap: &str, stats: AgentStats) -> String {
    let timings = match stats {
        AgentStats::Defaults => "",
        AgentStats::Quick => "[stats]\nheartbeat_interval_secs = 1\nfull_interval_secs = 5\n",
    };
    format!(
        "server_properties = {server_properties:?}\n{timings}\
         [stats.connection]\nbootstrap_servers = {}\n\
         [collect.imds]\nenabled = false\n\
         [metrics]\nlisten_address = \"127.0.0.1:0\"\n",
        toml_list(bootstrap)
    )
}

/// The master's API.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Serve {
    /// No `[serve]` section: the master's default (on, at its default port).
    #[default]
    Default,
    /// Off (two masters of one trial would share the default port).
    Off,
    /// On at `bind`, mutations with `token` when given.
    At {
        /// The listen address.
        bind: SocketAddr,
        /// The bearer token for mutations.
        token: Option<String>,
    },
}

/// The action log: a topic of the trial's own (transactional id `<topic>-txn`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionLog {
    /// The topic.
    pub topic: String,
    /// The master's id in its fencing group.
    pub master_id: Option<String>,
    /// `write_timeout_ms`.
    pub write_timeout_ms: Option<u64>,
    /// `replay_timeout_secs`.
    pub replay_timeout_secs: Option<u64>,
    /// A bootstrap list of its own (`[action_log.connection]`), else the stats cluster's.
    pub bootstrap: Option<String>,
}

/// The executor: polls every 500 ms (a trial waits less).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Execute {
    /// The replication throttle, also the adaptive band's floor (which may not be above it).
    pub throttle_bytes_per_sec: Option<u64>,
    /// `progress_log_secs`.
    pub progress_log_secs: Option<u64>,
}

/// The replacement command.
#[derive(Debug, Clone, PartialEq)]
pub struct Replace {
    /// The command (argv[0]; the master adds broker id, hostname, cluster id).
    pub command: PathBuf,
    /// `timeout_secs`.
    pub timeout_secs: u64,
    /// `period_secs`: at most one replacement per period.
    pub period_secs: u64,
}

/// Keys of `[clusters.policy]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// `heal_grace_secs`; below [`MIN_HEAL_GRACE_SECS`] `allow_short_heal_grace` is added.
    pub heal_grace_secs: Option<u64>,
    /// `replace_grace_secs`.
    pub replace_grace_secs: Option<u64>,
    /// `agent_silence_secs`.
    pub agent_silence_secs: Option<u64>,
    /// `agent_heartbeat_secs` (the agents' heartbeat interval).
    pub agent_heartbeat_secs: Option<u64>,
    /// `dry_run`.
    pub dry_run: Option<bool>,
    /// `mass_failure_max_percent`.
    pub mass_failure_max_percent: Option<u32>,
}

/// Network limits: every broker `default_bytes_per_sec` in and out, but the overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// In and out, every broker.
    pub default_bytes_per_sec: u64,
    /// (broker, in and out).
    pub overrides: Vec<(i32, u64)>,
}

/// What a master is given beyond what every master of the testbed gets (the stats cluster,
/// a checkpoint in its folder, one cluster on the same bootstrap).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MasterSpec {
    /// Names its files: `<name>.toml`, `<name>.log`.
    pub name: String,
    /// Names its checkpoint, `<checkpoint>.checkpoint` (default: `name`; a restarted master
    /// given the same reads its predecessor's).
    pub checkpoint: Option<String>,
    /// The cluster's name (default `testbed`).
    pub cluster: Option<String>,
    /// A comment on the file's first line (for whoever reads the file).
    pub comment: Option<String>,
    /// `poll_interval_secs`.
    pub poll_interval_secs: Option<u64>,
    /// `[serve]`.
    pub serve: Serve,
    /// `[action_log]`.
    pub action_log: Option<ActionLog>,
    /// A generic webhook for the alerts (`[[alert.webhooks]]`).
    pub webhook: Option<String>,
    /// `[execute]`.
    pub execute: Option<Execute>,
    /// `[replace]`.
    pub replace: Option<Replace>,
    /// `[clusters.policy]`.
    pub policy: Policy,
    /// The planner's `max_disk_utilization`.
    pub max_disk_utilization: Option<f64>,
    /// More `[clusters.planner]` keys, raw TOML.
    pub planner: String,
    /// `[clusters.limits]`.
    pub limits: Option<Limits>,
    /// The master's `RUST_LOG` (default: the master's own, info; [`super::MASTER_LOG_ENV`]
    /// applies only when this is unset).
    pub rust_log: Option<String>,
}

impl MasterSpec {
    /// A master with the defaults: only what every master of the testbed is given.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The trials' usual master: 1 s polls, agent silence judged for 1 s heartbeats (4 s), and
    /// a disk limit of 0.99: every testbed broker reports this host's one volume, whose use on
    /// a busy build box can pass the default 0.85, and then no heal target fits, rightly.
    pub fn quick(name: &str) -> Self {
        Self {
            poll_interval_secs: Some(1),
            policy: Policy {
                agent_silence_secs: Some(4),
                agent_heartbeat_secs: Some(1),
                ..Policy::default()
            },
            max_disk_utilization: Some(0.99),
            ..Self::new(name)
        }
    }

    /// With `heal_grace_secs` (short ones allowed).
    pub fn heal_grace(mut self, secs: u64) -> Self {
        self.policy.heal_grace_secs = Some(secs);
        self
    }

    /// With `dry_run`.
    pub fn dry_run(mut self, on: bool) -> Self {
        self.policy.dry_run = Some(on);
        self
    }

    /// With the API at `bind` (and `token` for mutations).
    pub fn serve_at(mut self, bind: SocketAddr, token: Option<&str>) -> Self {
        self.serve = Serve::At {
            bind,
            token: token.map(str::to_string),
        };
        self
    }

    /// With the API off.
    pub fn serve_off(mut self) -> Self {
        self.serve = Serve::Off;
        self
    }

    /// With the action log on `topic`, as `master_id` when given.
    pub fn action_log(mut self, topic: &str, master_id: Option<&str>) -> Self {
        self.action_log = Some(ActionLog {
            topic: topic.into(),
            master_id: master_id.map(str::to_string),
            ..ActionLog::default()
        });
        self
    }

    /// With the executor polling every 500 ms, and `throttle` (bytes/s) when given.
    pub fn execute(mut self, throttle: Option<u64>) -> Self {
        self.execute = Some(Execute {
            throttle_bytes_per_sec: throttle,
            ..Execute::default()
        });
        self
    }

    /// With alerts to a generic webhook at `url`.
    pub fn webhook(mut self, url: String) -> Self {
        self.webhook = Some(url);
        self
    }

    /// The master's config file: its settings around the stats cluster, a checkpoint in `dir`
    /// and one cluster, all on `bootstrap`.
    pub fn render(&self, dir: &Path, bootstrap: &str) -> String {
        let servers = toml_list(bootstrap);
        let mut s = String::new();
        let key = |s: &mut String, k: &str, v: Option<String>| {
            if let Some(v) = v {
                let _ = writeln!(s, "{k} = {v}");
            }
        };
        if let Some(c) = &self.comment {
            let _ = writeln!(s, "# {c}");
        }
        key(&mut s, "poll_interval_secs", some(self.poll_interval_secs));
        let _ = writeln!(s, "[stats.connection]\nbootstrap_servers = {servers}");
        let checkpoint = self.checkpoint.as_deref().unwrap_or(&self.name);
        let checkpoint = dir.join(format!("{checkpoint}.checkpoint"));
        let _ = writeln!(s, "[checkpoint]\npath = {checkpoint:?}");
        match &self.serve {
            Serve::Default => {}
            Serve::Off => s.push_str("[serve]\nenabled = false\n"),
            Serve::At { bind, token } => {
                let _ = writeln!(s, "[serve]\nbind = \"{bind}\"");
                key(&mut s, "token", token.as_ref().map(|t| format!("{t:?}")));
            }
        }
        if let Some(a) = &self.action_log {
            let _ = writeln!(s, "[action_log]\ntopic = {:?}", a.topic);
            let _ = writeln!(s, "transactional_id = \"{}-txn\"", a.topic);
            key(
                &mut s,
                "master_id",
                a.master_id.as_ref().map(|m| format!("{m:?}")),
            );
            key(&mut s, "write_timeout_ms", some(a.write_timeout_ms));
            key(&mut s, "replay_timeout_secs", some(a.replay_timeout_secs));
            if let Some(b) = &a.bootstrap {
                let _ = writeln!(
                    s,
                    "[action_log.connection]\nbootstrap_servers = {}",
                    toml_list(b)
                );
            }
        }
        if let Some(url) = &self.webhook {
            let _ = writeln!(
                s,
                "[alert]\n[[alert.webhooks]]\nurl = {url:?}\nformat = \"generic\""
            );
        }
        if let Some(e) = &self.execute {
            s.push_str("[execute]\n");
            if let Some(rate) = e.throttle_bytes_per_sec {
                s.push_str("# The throttle, and the adaptive band's floor (not above it).\n");
                let _ = writeln!(s, "throttle_bytes_per_sec = {rate}");
                let _ = writeln!(s, "throttle_min_bytes_per_sec = {rate}");
            }
            s.push_str("poll_interval_ms = 500\n");
            key(&mut s, "progress_log_secs", some(e.progress_log_secs));
        }
        if let Some(r) = &self.replace {
            let _ = writeln!(
                s,
                "[replace]\ncommand = [{:?}]",
                r.command.display().to_string()
            );
            let _ = writeln!(
                s,
                "timeout_secs = {}\nperiod_secs = {}",
                r.timeout_secs, r.period_secs
            );
        }
        let cluster = self.cluster.as_deref().unwrap_or("testbed");
        let _ = writeln!(s, "[[clusters]]\nname = {cluster:?}");
        let _ = writeln!(s, "[clusters.connection]\nbootstrap_servers = {servers}");
        s.push_str(&self.policy_section());
        if self.max_disk_utilization.is_some() || !self.planner.is_empty() {
            s.push_str("[clusters.planner]\n");
            if self.max_disk_utilization.is_some() {
                s.push_str(
                    "# Every testbed broker reports this host's one disk, which may be over the\n\
                     # default 0.85 on a busy machine: then no heal target fits, rightly.\n",
                );
            }
            key(
                &mut s,
                "max_disk_utilization",
                some(self.max_disk_utilization),
            );
            if !self.planner.is_empty() {
                let _ = writeln!(s, "{}", self.planner.trim_end());
            }
        }
        if let Some(l) = &self.limits {
            let d = l.default_bytes_per_sec;
            let _ = writeln!(s, "[clusters.limits]\ndefault_in_bytes_per_sec = {d}");
            let _ = writeln!(s, "default_out_bytes_per_sec = {d}");
            for (b, v) in &l.overrides {
                let _ = writeln!(s, "[[clusters.limits.overrides]]\nbroker_id = {b}");
                let _ = writeln!(s, "in_bytes_per_sec = {v}\nout_bytes_per_sec = {v}");
            }
        }
        s
    }

    fn policy_section(&self) -> String {
        let p = &self.policy;
        let mut s = String::new();
        if let Some(g) = p.heal_grace_secs {
            let _ = writeln!(s, "heal_grace_secs = {g}");
            if g < MIN_HEAL_GRACE_SECS {
                s.push_str(
                    "# A heal grace this short is refused unless allowed (the default is 300 s).\n\
                     allow_short_heal_grace = true\n",
                );
            }
        }
        let mut key = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                let _ = writeln!(s, "{k} = {v}");
            }
        };
        key("replace_grace_secs", some(p.replace_grace_secs));
        key("agent_silence_secs", some(p.agent_silence_secs));
        key("agent_heartbeat_secs", some(p.agent_heartbeat_secs));
        key("dry_run", some(p.dry_run));
        key("mass_failure_max_percent", some(p.mass_failure_max_percent));
        if s.is_empty() {
            return s;
        }
        format!("[clusters.policy]\n{s}")
    }
}

fn some<T: ToString>(v: Option<T>) -> Option<String> {
    v.map(|v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmedic_master::config::MasterConfig;

    fn load(spec: &MasterSpec) -> MasterConfig {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("master.toml");
        let text = spec.render(dir.path(), "127.0.0.1:1,127.0.0.1:2");
        std::fs::write(&path, &text).expect("writing the config");
        MasterConfig::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn a_spec_loads_as_a_master_config_with_its_overrides() {
        let addr: SocketAddr = "127.0.0.1:5555".parse().expect("an address");
        let mut spec = MasterSpec {
            checkpoint: Some("shared".into()),
            limits: Some(Limits {
                default_bytes_per_sec: 32,
                overrides: vec![(2, 1)],
            }),
            planner: "target_ratio = 1.5".into(),
            ..MasterSpec::quick("m-2")
        }
        .serve_at(addr, Some("0123456789abcdef-token"))
        .action_log("log", Some("m2"))
        .execute(Some(1024))
        .heal_grace(5)
        .dry_run(false);
        if let Some(l) = &mut spec.action_log {
            l.bootstrap = Some("127.0.0.1:7".into());
        }
        let cfg = load(&spec);
        let c = &cfg.clusters[0];
        assert_eq!(c.name, "testbed");
        assert_eq!(
            (c.policy.heal_grace_secs, c.policy.allow_short_heal_grace),
            (5, true)
        );
        assert_eq!(c.policy.agent_silence_secs, 4);
        assert_eq!(c.planner.max_disk_utilization, 0.99);
        assert_eq!(c.planner.target_ratio, 1.5);
        assert_eq!(c.limits.default_in_bytes_per_sec, 32);
        assert_eq!(cfg.serve.bind, addr);
        assert_eq!(cfg.action_log.topic, "log");
        assert_eq!(cfg.action_log.transactional_id, "log-txn");
        assert_eq!(cfg.action_log.master_id.as_deref(), Some("m2"));
        assert!(cfg.action_log.connection.is_some());
        assert_eq!(cfg.execute.throttle_min_bytes_per_sec, 1024);
        assert!(cfg.checkpoint.path.ends_with("shared.checkpoint"));
    }

    #[test]
    fn a_heal_grace_of_a_minute_or_more_needs_no_allowance_and_defaults_stay_out() {
        let cfg = load(&MasterSpec::new("m").serve_off().heal_grace(60));
        let p = &cfg.clusters[0].policy;
        assert_eq!((p.heal_grace_secs, p.allow_short_heal_grace), (60, false));
        assert!(!cfg.serve.enabled);
        let text = MasterSpec::new("m").render(Path::new("/d"), "h:1");
        for absent in [
            "[serve]",
            "[execute]",
            "[action_log]",
            "[clusters.policy]",
            "[alert]",
        ] {
            assert!(!text.contains(absent), "{absent} in\n{text}");
        }
    }
}
