//! How a failed DescribeLogDirs is told: a broker the metadata no longer lists (just killed,
//! not yet fenced) is gone, not a fault; anything else is.

use super::*;
use kmedic_common::admin::Error as AdminError;

#[test]
fn a_broker_missing_from_the_metadata_is_gone_not_a_fault() {
    assert!(matches!(
        log_dirs_failure(AdminError::UnknownBroker { id: 2 }),
        LogDirsFailure::Gone
    ));
    match log_dirs_failure(AdminError::NoBrokerReachable {
        attempts: vec!["b1:9092: refused".into()],
    }) {
        LogDirsFailure::Failed(e) => assert!(e.contains("b1:9092: refused"), "{e}"),
        LogDirsFailure::Gone => panic!("a real failure is a fault"),
    }
}
