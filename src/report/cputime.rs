//! CPU time of this process and its children, for throughput figures.

/// CPU time used so far by this process and its waited-for children (the qemu processes of the
/// ELF engine), in seconds: user + system from /proc/self/stat, in 100 Hz clock ticks.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let mut ticks = 0.0;
    for i in 11..=14 {
        ticks += f.get(i)?.parse::<f64>().ok()?;
    }
    Some(ticks / 100.0)
}
