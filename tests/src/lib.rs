//! The real-Kafka testbed harness.
