//! Small helpers for operator text (logs, CLI output, API errors): lists, sizes and counts
//! written for people, never Rust's `Debug` form.

use std::fmt::Display;

/// `items` joined by ", " (`1, 2`; `az-a, az-b`), "none" when empty.
pub fn list<I>(items: I) -> String
where
    I: IntoIterator,
    I::Item: Display,
{
    let s: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    if s.is_empty() {
        "none".into()
    } else {
        s.join(", ")
    }
}

/// A byte count in decimal units: `3.0 GB`, `21 MB`, `512 kB`, `10 B`.
pub fn bytes(n: u64) -> String {
    let f = n as f64;
    if f >= 999.5e6 {
        format!("{:.1} GB", f / 1e9)
    } else if f >= 999.5e3 {
        format!("{:.0} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.0} kB", f / 1e3)
    } else {
        format!("{n} B")
    }
}

/// `n` and the noun, singular when `n` is 1: `1 cluster`, `2 clusters`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_sizes_and_counts_read_as_text() {
        assert_eq!(list([5]), "5");
        assert_eq!(list(std::collections::BTreeSet::from([2, 1])), "1, 2");
        assert_eq!(list(["az-a", "az-b"]), "az-a, az-b");
        assert_eq!(list(Vec::<i32>::new()), "none");
        assert_eq!(bytes(3_000_000_000), "3.0 GB");
        assert_eq!(bytes(21_000_000), "21 MB");
        assert_eq!(bytes(999_999_999), "1.0 GB");
        assert_eq!(bytes(999_999), "1 MB");
        assert_eq!(bytes(512_000), "512 kB");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(count(1, "cluster", "clusters"), "1 cluster");
        assert_eq!(count(0, "cluster", "clusters"), "0 clusters");
    }
}
