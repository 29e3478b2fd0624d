//! Topics and data on the testbed: create topics and fill them with real records.

use std::time::Duration;

use rdkafka::admin::TopicReplication;

use crate::{client, wait_until, Error, Result, Testbed};

const TOPIC_TIMEOUT: Duration = Duration::from_secs(60);

impl Testbed {
    /// Creates `name` with `partitions` partitions of replication factor `rf`, and waits until
    /// every partition has a leader.
    pub fn create_topic(&self, name: &str, partitions: i32, rf: i16) -> Result<()> {
        client::create_topic(
            &self.rt,
            &self.bootstrap(),
            name,
            partitions,
            TopicReplication::Fixed(i32::from(rf)),
        )?;
        self.wait_leaders(name, partitions)
    }

    /// Creates `name` with `assignment[p]` as partition p's replicas (first = preferred leader),
    /// and waits until every partition has a leader.
    pub fn create_topic_with_assignment(&self, name: &str, assignment: &[Vec<i32>]) -> Result<()> {
        let parts: Vec<&[i32]> = assignment.iter().map(|r| r.as_slice()).collect();
        client::create_topic(
            &self.rt,
            &self.bootstrap(),
            name,
            assignment.len() as i32,
            TopicReplication::Variable(&parts),
        )?;
        self.wait_leaders(name, assignment.len() as i32)
    }

    fn wait_leaders(&self, name: &str, partitions: i32) -> Result<()> {
        wait_until(
            TOPIC_TIMEOUT,
            &format!("leaders for every partition of {name}"),
            || {
                let md = self.metadata()?;
                let led = md
                    .partitions
                    .iter()
                    .filter(|p| p.topic == name && p.leader >= 0)
                    .count();
                Ok(led == partitions as usize)
            },
        )
    }

    fn partitions_of(&self, topic: &str) -> Result<Vec<i32>> {
        let md = self.metadata()?;
        let mut parts: Vec<i32> = md
            .partitions
            .iter()
            .filter(|p| p.topic == topic)
            .map(|p| p.partition)
            .collect();
        parts.sort_unstable();
        if parts.is_empty() {
            return Err(Error::Process {
                what: format!("producing to {topic}"),
                detail: "the topic does not exist (auto-create is off: create it first)".into(),
            });
        }
        Ok(parts)
    }

    /// Produces `bytes` of random, incompressible payload spread evenly over every partition of
    /// `topic` (16 KiB records, acks=all), and returns once all are acknowledged.
    pub fn produce(&self, topic: &str, bytes: usize) -> Result<()> {
        let parts = self.partitions_of(topic)?;
        client::produce(&self.bootstrap(), topic, &parts, bytes)
    }

    /// Produces `bytes` of random payload to one partition, acks=all, flushed.
    pub fn produce_to(&self, topic: &str, partition: i32, bytes: usize) -> Result<()> {
        client::produce(&self.bootstrap(), topic, &[partition], bytes)
    }
}
