//! Observing clusters through the admin client: DescribeCluster (fenced brokers included),
//! Metadata, ListPartitionReassignments and DescribeLogDirs, assembled into a [`ClusterView`].

pub mod view;

pub use view::{BrokerView, ClusterView, PartitionView, ReassignmentView, TopicPartition};
