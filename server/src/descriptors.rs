//! File descriptors: every device connection holds one, so the server raises its soft limit to the
//! hard one at start and reports how many it holds (`/metrics`, and a warning near the limit).

/// Raises the soft limit on open files to the hard limit, logging both.
pub fn raise_limit() {
    let before = limit();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => tracing::info!(
            soft_before = before,
            soft = now,
            hard = hard_limit(),
            "open file limit"
        ),
        Err(error) => tracing::warn!(%error, soft = before, "could not raise the open file limit"),
    }
}

/// The soft limit on open files now (`u64::MAX`: unlimited or unknown).
pub fn limit() -> u64 {
    rlimit::Resource::NOFILE
        .get()
        .map_or(u64::MAX, |(soft, _)| soft)
}

fn hard_limit() -> u64 {
    rlimit::Resource::NOFILE
        .get()
        .map_or(u64::MAX, |(_, hard)| hard)
}

/// Descriptors this process holds now, where the system tells (`/proc/self/fd` on Linux).
pub fn open() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    // The directory handle itself is one of the entries.
    Some((entries.count() as u64).saturating_sub(1))
}

/// Whether `open` descriptors are close enough to `limit` to warn: above 80 % (never for no limit).
pub fn near_limit(open: u64, limit: u64) -> bool {
    limit != u64::MAX && u128::from(open) * 5 > u128::from(limit) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_raised_and_open_descriptors_counted() {
        raise_limit();
        let open_now = open().expect("Linux has /proc/self/fd");
        assert!(open_now >= 3, "stdin, stdout, stderr at least: {open_now}");
        assert_eq!(limit(), hard_limit());
    }

    #[test]
    fn warns_above_four_fifths() {
        assert!(!near_limit(800, 1000));
        assert!(near_limit(801, 1000));
        assert!(!near_limit(u64::MAX - 1, u64::MAX));
    }
}
