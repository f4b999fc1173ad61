//! CPU time and memory of a process from `/proc/<pid>/stat` and `/proc/<pid>/status`.

use std::io;

/// Clock ticks per second of the `utime`/`stime` fields (`USER_HZ`, 100 on every Linux
/// architecture Weir runs on).
pub const USER_HZ: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ProcSample {
    /// User plus system CPU seconds of all its threads so far.
    pub cpu_s: f64,
    /// Resident set size in KiB (`VmRSS`).
    pub rss_kb: u64,
    /// Peak resident set size in KiB (`VmHWM`).
    pub hwm_kb: u64,
    /// Threads.
    pub threads: u64,
}

/// Reads `/proc/<pid>/…`; `pid` is a number or `self`.
pub fn sample(pid: &str) -> io::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse(&stat, &status)
}

/// Parses the contents of `stat` and `status`.
pub fn parse(stat: &str, status: &str) -> io::Result<ProcSample> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    // The command name (field 2) is in parentheses and may hold spaces: fields after the last
    // ')' start at field 3 (state); utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| bad("no ')' in stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> io::Result<f64> {
        f.get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .map(|v| v as f64 / USER_HZ)
            .ok_or_else(|| bad("short stat"))
    };
    let cpu_s = tick(11)? + tick(12)?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(ProcSample {
        cpu_s,
        rss_kb: kb("VmRSS:"),
        hwm_kb: kb("VmHWM:"),
        threads: kb("Threads:"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_status() {
        let stat = "1234 (weir (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 5 0";
        let status = "Name:\tweir\nVmHWM:\t  30000 kB\nVmRSS:\t   20480 kB\nThreads:\t5\n";
        let s = parse(stat, status).unwrap();
        assert_eq!(s.cpu_s, 3.25);
        assert_eq!((s.rss_kb, s.hwm_kb, s.threads), (20480, 30000, 5));
        assert!(parse("garbage", status).is_err());
    }

    #[test]
    fn reads_itself() {
        let s = sample("self").unwrap();
        assert!(s.rss_kb > 0 && s.threads >= 1);
    }
}
