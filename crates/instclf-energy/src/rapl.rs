//! Linux RAPL energy counters (CPU packages and DRAM) read from the powercap folder: one
//! [`EnergySource`] for the [`Monitor`](crate::Monitor).

use crate::{Channel, Domain, EnergySource};
use std::path::{Path, PathBuf};

/// Linux RAPL counters from `/sys/class/powercap`: every package zone (`intel-rapl:N`, named
/// `package-N`; AMD uses the same names) and every DRAM sub-zone (`intel-rapl:N:M` named `dram`).
/// Core and uncore sub-zones are part of their package and left out, as is `psys`.
pub struct RaplSource {
    channels: Vec<Channel>,
    files: Vec<PathBuf>,
}

/// The standard place of the powercap zones.
pub const POWERCAP: &str = "/sys/class/powercap";

fn read_trimmed(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (RAPL counters are readable by root only since Linux 5.10)"
            } else {
                ""
            };
            format!("{}: {e}{hint}", path.display())
        })
}

fn read_u64(path: &Path) -> Result<u64, String> {
    let s = read_trimmed(path)?;
    s.parse()
        .map_err(|_| format!("{}: not a number: '{s}'", path.display()))
}

impl RaplSource {
    /// Opens the zones under [`POWERCAP`].
    pub fn open() -> Result<RaplSource, String> {
        RaplSource::open_at(Path::new(POWERCAP))
    }

    /// Opens the zones under `root` (a powercap folder; tests use a fake one). Every counter is
    /// read once; an unreadable one makes the whole source unavailable, since a partial CPU
    /// figure would mislead.
    pub fn open_at(root: &Path) -> Result<RaplSource, String> {
        let entries = std::fs::read_dir(root).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "{} does not exist (no RAPL here: not Linux, or a VM or container without powercap)",
                    root.display()
                )
            } else {
                format!("{}: {e}", root.display())
            }
        })?;
        let mut zones: Vec<(Vec<u32>, PathBuf)> = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("intel-rapl:") else {
                continue;
            };
            let Ok(idx) = rest
                .split(':')
                .map(str::parse::<u32>)
                .collect::<Result<Vec<u32>, _>>()
            else {
                continue;
            };
            if idx.len() <= 2 {
                zones.push((idx, e.path()));
            }
        }
        zones.sort();
        let mut channels = Vec::new();
        let mut files = Vec::new();
        for (idx, dir) in &zones {
            let zone_name = read_trimmed(&dir.join("name"))?;
            let channel = match (idx.len(), zone_name.as_str()) {
                (1, n) if n.starts_with("package") => n.to_string(),
                (2, "dram") => format!("dram-{}", idx[0]),
                _ => continue,
            };
            let domain = if idx.len() == 1 {
                Domain::CpuPackage
            } else {
                Domain::Dram
            };
            let energy = dir.join("energy_uj");
            read_u64(&energy)?;
            let wrap = read_u64(&dir.join("max_energy_range_uj")).ok();
            channels.push(Channel {
                name: channel,
                domain,
                joules_per_unit: 1e-6,
                wrap,
            });
            files.push(energy);
        }
        if channels.is_empty() {
            return Err(format!(
                "{} has no RAPL package zone (intel-rapl:N)",
                root.display()
            ));
        }
        Ok(RaplSource { channels, files })
    }
}

impl EnergySource for RaplSource {
    fn name(&self) -> &str {
        "rapl"
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    fn read(&mut self) -> Result<Vec<u64>, String> {
        self.files.iter().map(|f| read_u64(f)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Monitor;

    fn write(p: &Path, s: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    }

    #[test]
    fn rapl_reads_a_powercap_tree_and_wraps() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let zone = |z: &str, name: &str, e: u64| {
            write(&root.join(z).join("name"), &format!("{name}\n"));
            write(&root.join(z).join("energy_uj"), &format!("{e}\n"));
            write(&root.join(z).join("max_energy_range_uj"), "1000000\n");
        };
        zone("intel-rapl:0", "package-0", 999_000);
        zone("intel-rapl:0:0", "core", 5);
        zone("intel-rapl:0:1", "dram", 10);
        zone("intel-rapl:1", "package-1", 0);
        zone("intel-rapl:2", "psys", 0);
        zone("intel-rapl-mmio:0", "package-0", 0);
        let src = RaplSource::open_at(root).unwrap();
        let names: Vec<&str> = src.channels().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["package-0", "dram-0", "package-1"]);
        let m = Monitor::new(vec![Box::new(src)], vec![]);
        m.begin_window("w").unwrap();
        write(&root.join("intel-rapl:0/energy_uj"), "1000\n"); // wrapped: 2000 uJ
        write(&root.join("intel-rapl:0:1/energy_uj"), "510\n");
        write(&root.join("intel-rapl:1/energy_uj"), "3000\n");
        let r = m.end_window("w").unwrap();
        let e: Vec<f64> = r.channels.iter().map(|c| c.energy_j).collect();
        assert!((e[0] - 0.002).abs() < 1e-12, "{e:?}");
        assert!((e[1] - 0.0005).abs() < 1e-12, "{e:?}");
        assert!((e[2] - 0.003).abs() < 1e-12, "{e:?}");
        assert_eq!(r.source().as_deref(), Some("rapl"));

        // No zones, a missing root and a garbled counter are reasons.
        let empty = tempfile::tempdir().unwrap();
        assert!(RaplSource::open_at(empty.path())
            .err()
            .unwrap()
            .contains("no RAPL package zone"));
        assert!(RaplSource::open_at(&root.join("nope"))
            .err()
            .unwrap()
            .contains("does not exist"));
        write(&root.join("intel-rapl:1/energy_uj"), "garbage\n");
        assert!(RaplSource::open_at(root)
            .err()
            .unwrap()
            .contains("not a number"));
    }
}
