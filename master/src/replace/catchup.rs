//! Watching a replaced broker (same id, empty disk) until it has caught up: registered, not
//! fenced, and in the ISR of every partition it holds a replica of.

use serde::Serialize;

use crate::observe::view::ClusterView;

/// How far a replaced broker is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatchUp {
    /// The broker.
    pub broker: i32,
    /// Registered and unfenced.
    pub registered: bool,
    /// Partitions it holds a replica of.
    pub partitions: usize,
    /// Of those, the ones whose ISR does not have it yet.
    pub lagging: usize,
}

impl CatchUp {
    /// In the ISR of all its partitions (a broker holding none is caught up once registered).
    pub fn done(&self) -> bool {
        self.registered && self.lagging == 0
    }
}

/// Reads the catch-up state of `broker` from a fresh view.
pub fn catch_up(view: &ClusterView, broker: i32) -> CatchUp {
    let registered = view.brokers.get(&broker).is_some_and(|b| !b.fenced);
    let mine = view
        .partitions
        .iter()
        .filter(|p| p.replicas.contains(&broker));
    let (mut partitions, mut lagging) = (0, 0);
    for p in mine {
        partitions += 1;
        if !p.isr.contains(&broker) {
            lagging += 1;
        }
    }
    CatchUp {
        broker,
        registered,
        partitions,
        lagging,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::view::{BrokerView, PartitionView};

    fn view(fenced: bool, isr: Vec<i32>) -> ClusterView {
        let mut v = ClusterView::default();
        v.brokers.insert(
            2,
            BrokerView {
                id: 2,
                rack: None,
                host: "h".into(),
                port: 1,
                fenced,
            },
        );
        v.partitions = vec![
            PartitionView {
                topic: "t".into(),
                partition: 0,
                leader: Some(1),
                replicas: vec![1, 2, 3],
                isr,
                offline_replicas: vec![],
            },
            PartitionView {
                topic: "t".into(),
                partition: 1,
                leader: Some(1),
                replicas: vec![1, 3, 4],
                isr: vec![1, 3, 4],
                offline_replicas: vec![],
            },
        ];
        v
    }

    #[test]
    fn caught_up_only_when_registered_and_in_every_isr() {
        let c = catch_up(&view(false, vec![1, 3]), 2);
        assert_eq!((c.partitions, c.lagging, c.done()), (1, 1, false));
        assert!(catch_up(&view(false, vec![1, 2, 3]), 2).done());
        assert!(!catch_up(&view(true, vec![1, 2, 3]), 2).done());
        assert!(!catch_up(&ClusterView::default(), 2).done());
    }
}
