//! De-duplication, grace and cool-off, on the monotonic clock (pure; time is injected).
//!
//! The round passes the set of alerts active now ([`Dedup::update`]); one-off events go through
//! [`Dedup::event`]. A key is sent when it has been active for its kind's grace (so a rolling
//! restart's short-lived suspect broker is a log line, not a page), then not again within the
//! cool-off (a reminder after it, if still active). When a sent key is no longer active, a
//! resolve is sent. A key that comes back within the cool-off of its last send is not sent again.

use std::collections::BTreeMap;

use super::kind::{Alert, AlertKind};
use crate::config::AlertConfig;

/// What to deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Raise (or remind of) this alert.
    Trigger(Alert),
    /// It cleared.
    Resolve(Alert),
}

#[derive(Debug, Clone)]
struct KeyState {
    alert: Alert,
    first_seen_ms: u64,
    active: bool,
    /// Sent and not resolved since.
    open: bool,
    last_sent_ms: Option<u64>,
}

/// The de-duplication state.
#[derive(Debug, Clone)]
pub struct Dedup {
    cool_off_ms: u64,
    suspect_grace_ms: u64,
    urp_grace_ms: u64,
    mass_grace_ms: u64,
    prolonged_urps_ms: u64,
    keys: BTreeMap<String, KeyState>,
}

impl Dedup {
    /// From the `[alert]` section.
    pub fn new(cfg: &AlertConfig) -> Self {
        Self {
            cool_off_ms: cfg.cool_off_secs.saturating_mul(1000),
            suspect_grace_ms: cfg.suspect_broker_grace_secs.saturating_mul(1000),
            urp_grace_ms: cfg.unexplained_urps_grace_secs.saturating_mul(1000),
            mass_grace_ms: cfg.mass_failure_grace_secs.saturating_mul(1000),
            prolonged_urps_ms: cfg.prolonged_urps_secs.saturating_mul(1000),
            keys: BTreeMap::new(),
        }
    }

    fn grace_ms(&self, kind: AlertKind) -> u64 {
        match kind {
            AlertKind::SuspectBroker => self.suspect_grace_ms,
            AlertKind::UnexplainedUrps => self.urp_grace_ms,
            AlertKind::MassFailure => self.mass_grace_ms,
            AlertKind::ProlongedUrps => self.prolonged_urps_ms,
            _ => 0,
        }
    }

    fn due(&self, s: &KeyState, now_ms: u64) -> bool {
        let aged = now_ms.saturating_sub(s.first_seen_ms) >= self.grace_ms(s.alert.kind);
        let cooled = s
            .last_sent_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= self.cool_off_ms);
        aged && cooled
    }

    /// The alerts active now (all of them, every round); returns what to send.
    pub fn update(&mut self, active: &[Alert], now_ms: u64) -> Vec<Delivery> {
        let mut out = Vec::new();
        let now_keys: BTreeMap<String, &Alert> = active.iter().map(|a| (a.key(), a)).collect();
        // Cleared keys: resolve the open ones; forget closed ones past their cool-off.
        for (key, s) in self.keys.iter_mut() {
            if s.active && !now_keys.contains_key(key) {
                s.active = false;
                if s.open {
                    s.open = false;
                    tracing::info!(key = %key, "alert resolved");
                    out.push(Delivery::Resolve(s.alert.clone()));
                } else {
                    tracing::info!(key = %key, "condition cleared before its alert was due: not sent");
                }
            }
        }
        let cool_off = self.cool_off_ms;
        self.keys.retain(|_, s| {
            s.active
                || s.last_sent_ms
                    .is_some_and(|t| now_ms.saturating_sub(t) < cool_off)
        });
        for (key, a) in now_keys {
            let s = self.keys.entry(key.clone()).or_insert_with(|| KeyState {
                alert: a.clone(),
                first_seen_ms: now_ms,
                active: false,
                open: false,
                last_sent_ms: None,
            });
            if !s.active {
                s.active = true;
                s.first_seen_ms = now_ms;
            }
            s.alert = a.clone();
            let s = s.clone();
            if self.due(&s, now_ms) {
                if let Some(st) = self.keys.get_mut(&key) {
                    st.last_sent_ms = Some(now_ms);
                    st.open = true;
                }
                tracing::warn!(key = %key, summary = %a.summary, "alert raised");
                out.push(Delivery::Trigger(a.clone()));
            }
        }
        out
    }

    /// A one-off event (fenced master, failed replacement, held-back replacement): sent unless
    /// the same key was sent within the cool-off. It needs no resolve.
    pub fn event(&mut self, alert: &Alert, now_ms: u64) -> Option<Delivery> {
        let key = alert.key();
        let cool_off = self.cool_off_ms;
        let s = self.keys.entry(key.clone()).or_insert_with(|| KeyState {
            alert: alert.clone(),
            first_seen_ms: now_ms,
            active: false,
            open: false,
            last_sent_ms: None,
        });
        if s.last_sent_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < cool_off)
        {
            tracing::info!(key = %key, "alert already sent within alert.cool_off_secs: not sent again");
            return None;
        }
        s.last_sent_ms = Some(now_ms);
        s.alert = alert.clone();
        tracing::warn!(key = %key, summary = %alert.summary, "alert raised");
        Some(Delivery::Trigger(alert.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1000;

    fn cfg() -> AlertConfig {
        AlertConfig {
            cool_off_secs: 600,
            suspect_broker_grace_secs: 300,
            ..AlertConfig::default()
        }
    }
    fn urp() -> Alert {
        Alert::new(AlertKind::HealImpossible, "c", "orders-1", "unplaceable")
    }
    fn suspect(b: i32) -> Alert {
        Alert::new(
            AlertKind::SuspectBroker,
            "c",
            format!("broker {b}"),
            "suspect",
        )
    }

    #[test]
    fn sent_once_then_resolved_then_not_again_within_cool_off() {
        let mut d = Dedup::new(&cfg());
        assert_eq!(d.update(&[urp()], 0), vec![Delivery::Trigger(urp())]);
        assert!(d.update(&[urp()], 10 * S).is_empty());
        assert!(d.update(&[urp()], 599 * S).is_empty());
        assert_eq!(d.update(&[], 600 * S), vec![Delivery::Resolve(urp())]);
        assert!(d.update(&[], 601 * S).is_empty());
    }

    #[test]
    fn a_flapping_alert_is_not_sent_again_within_cool_off() {
        let mut d = Dedup::new(&cfg());
        assert_eq!(d.update(&[urp()], 0).len(), 1);
        assert_eq!(d.update(&[], 5 * S), vec![Delivery::Resolve(urp())]);
        assert!(d.update(&[urp()], 10 * S).is_empty());
        // After the cool-off since the last send it is sent again.
        assert!(d.update(&[urp()], 599 * S).is_empty());
        assert_eq!(d.update(&[urp()], 600 * S), vec![Delivery::Trigger(urp())]);
    }

    #[test]
    fn a_still_active_alert_is_reminded_after_the_cool_off() {
        let mut d = Dedup::new(&cfg());
        assert_eq!(d.update(&[urp()], 0).len(), 1);
        assert!(d.update(&[urp()], 300 * S).is_empty());
        assert_eq!(d.update(&[urp()], 600 * S).len(), 1);
    }

    #[test]
    fn a_rolling_restart_raises_no_suspect_broker_page() {
        // Six brokers each suspect for 45 s, 20 s apart (overlapping): nothing is sent.
        let mut d = Dedup::new(&cfg());
        let mut sent = Vec::new();
        for t in (0..=200).map(|s| s * S) {
            let active: Vec<Alert> = (0..6)
                .filter(|b| {
                    let start = *b as u64 * 20 * S;
                    t >= start && t < start + 45 * S
                })
                .map(suspect)
                .collect();
            sent.extend(d.update(&active, t));
        }
        assert!(sent.is_empty(), "{sent:?}");
        // A broker suspect longer than the grace pages once.
        let mut sent = Vec::new();
        for t in (0..=400).map(|s| s * S) {
            sent.extend(d.update(&[suspect(9)], 1000 * S + t));
        }
        assert_eq!(sent, vec![Delivery::Trigger(suspect(9))]);
    }

    #[test]
    fn events_are_deduplicated_by_key_within_the_cool_off() {
        let mut d = Dedup::new(&cfg());
        let a = Alert::new(AlertKind::FencedMaster, "c", "master", "fenced");
        assert!(d.event(&a, 0).is_some());
        assert!(d.event(&a, 599 * S).is_none());
        assert!(d.event(&a, 600 * S).is_some());
        let other = Alert::new(AlertKind::ReplacementFailed, "c", "broker 1", "x");
        assert!(d.event(&other, 601 * S).is_some());
    }
}
