//! kmedic-agent: samples one broker's host, log dirs and process, and publishes stats records.
