//! What the benchmark ran on, and what a process used (from `/proc`).

use std::time::Instant;

use serde::Serialize;

/// The machine, as printed above the table.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_gib: f64,
    pub cpu: String,
    pub date: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map_or_else(
                || "unknown CPU".to_string(),
                |(_, name)| name.trim().to_string(),
            );
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib = kib_field(&meminfo, "MemTotal:").unwrap_or(0);
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_gib: memory_kib as f64 / 1024.0 / 1024.0,
            cpu,
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A process whose CPU time and memory are read from `/proc/<pid>`.
#[derive(Debug, Clone, Copy)]
pub struct Process {
    pid: u32,
}

/// CPU time of a process at a moment.
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    at: Instant,
    seconds: f64,
}

impl Process {
    pub fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// This benchmark's own process (the load generator).
    pub fn this() -> Self {
        Self::new(std::process::id())
    }

    /// Resident memory, MiB.
    pub fn rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        kib_field(&status, "VmRSS:").unwrap_or(0) as f64 / 1024.0
    }

    /// User plus system CPU time so far.
    pub fn cpu(&self) -> CpuMark {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after the command name (which may hold spaces) in parentheses: utime is the 14th
        // field of the line, stime the 15th.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |index: usize| {
            fields
                .get(index)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        CpuMark {
            at: Instant::now(),
            seconds: (ticks(11) + ticks(12)) as f64 / per_second,
        }
    }
}

impl CpuMark {
    /// Cores kept busy since `earlier`, on average (1.0 is one core all the time).
    pub fn cores_since(&self, earlier: &CpuMark) -> f64 {
        let wall = self.at.duration_since(earlier.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        (self.seconds - earlier.seconds) / wall
    }
}
