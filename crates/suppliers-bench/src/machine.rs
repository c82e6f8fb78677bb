//! The machine a run happened on, for the record beside its numbers.

use std::process::Command;

/// One line: CPU model, logical cores, memory, kernel, compiler.
pub fn describe() -> String {
    let cpu = read("/proc/cpuinfo")
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = read("/proc/meminfo")
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(String::new, |kib| {
            format!(", {:.0} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    let kernel = read("/proc/sys/kernel/osrelease").map_or_else(
        || std::env::consts::OS.to_owned(),
        |k| format!("Linux {}", k.trim()),
    );
    let rustc = Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "rustc ?".to_owned(), |v| v.trim().to_owned());
    format!("{cpu}, {cores} logical cores{memory}, {kernel}, {rustc}")
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}
