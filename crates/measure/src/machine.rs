//! The machine samples come from, recorded beside them: figures mean little without it.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_mb: u64,
    pub os: String,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let file = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let meminfo = file("/proc/meminfo");
        Machine {
            cpu: field(&file("/proc/cpuinfo"), "model name"),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_mb: field(&meminfo, "MemTotal")
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0)
                / 1024,
            os: field(&file("/etc/os-release"), "PRETTY_NAME"),
            kernel: file("/proc/sys/kernel/osrelease").trim().to_owned(),
        }
    }

    /// One line for a table's footer: `cpu · 2 cores · 23 GB · os`.
    pub fn describe(&self) -> String {
        format!(
            "{} · {} cores · {} MB · {}",
            self.cpu, self.cores, self.memory_mb, self.os
        )
    }
}

/// The value of `key` in `key: value` or `key="value"` lines.
fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(key).map(|v| {
                v.trim_start_matches([' ', '\t', ':', '='])
                    .trim_matches('"')
                    .trim()
                    .to_owned()
            })
        })
        .unwrap_or_default()
}

/// Now, to the second, RFC 3339: when a run finished.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_proc_files_and_os_release() {
        assert_eq!(field("model name\t: Some CPU\n", "model name"), "Some CPU");
        assert_eq!(
            field("PRETTY_NAME=\"Debian 12\"\n", "PRETTY_NAME"),
            "Debian 12"
        );
        assert_eq!(field("", "x"), "");
        let machine = Machine::read();
        assert!(machine.cores >= 1);
        assert!(now_rfc3339().ends_with('Z'));
    }
}
