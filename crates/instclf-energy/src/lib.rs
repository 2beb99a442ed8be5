//! Energy measurement, like Zeus's `ZeusMonitor`: a [`Monitor`] holds energy counters
//! ([`EnergySource`]s) and measures named windows — [`Monitor::begin_window`] /
//! [`Monitor::end_window`], any number at once, nested or overlapping — or a scoped
//! [`WindowGuard`]. A [`Measurement`] always has the wall time; it has energy per GPU (NVML,
//! [`NvmlSource`]), per CPU package and per DRAM domain (Linux RAPL, [`RaplSource`]) where those
//! counters can be read, and a total. A source that cannot be used is "unavailable, because ..."
//! in the measurement, never an error.
//!
//! Counters are read as raw integers; a counter that went backwards wrapped around (RAPL wraps
//! at `max_energy_range_uj`). When a counter did not move over a window (NVML updates its
//! counter every few milliseconds), the energy is estimated as power x time and marked
//! approximate. An optional synchronisation hook (e.g. a CUDA device sync) runs at both ends of
//! every window so queued GPU work is counted in the window that queued it.
//!
//! This file owns the [`Monitor`], its windows and what they measure; the two counter sources
//! live in `nvml.rs` (NVIDIA GPUs) and `rapl.rs` (CPU packages and DRAM on Linux). The crate
//! depends on nothing else of instclf.

mod nvml;
mod rapl;

pub use nvml::NvmlSource;
pub use rapl::{RaplSource, POWERCAP};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// What a counter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// One GPU (whole board).
    Gpu,
    /// One CPU package (socket).
    CpuPackage,
    /// The DRAM of one socket.
    Dram,
}

/// One energy counter of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Name in measurements: `gpu0`, `package-0`, `dram-0`.
    pub name: String,
    pub domain: Domain,
    /// Joules per counter unit (RAPL counts microjoules, NVML millijoules).
    pub joules_per_unit: f64,
    /// The counter wraps back to 0 after this value (RAPL's `max_energy_range_uj`).
    pub wrap: Option<u64>,
}

/// A set of cumulative energy counters. Tests implement it with fake counters.
pub trait EnergySource: Send {
    /// Short name of the source: `nvml`, `rapl`.
    fn name(&self) -> &str;
    /// The counters, in the order [`EnergySource::read`] returns them.
    fn channels(&self) -> &[Channel];
    /// Reads every counter now (raw units, see [`Channel::joules_per_unit`]).
    fn read(&mut self) -> Result<Vec<u64>, String>;
    /// The present power draw of every counter in watts, where the source can tell (used when
    /// a counter did not move over a window). Default: unknown.
    fn power_w(&mut self) -> Vec<Option<f64>> {
        vec![None; self.channels().len()]
    }
}

/// The energy of one counter over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelEnergy {
    /// The source: `nvml`, `rapl`.
    pub source: String,
    /// The counter: `gpu0`, `package-0`, `dram-0`.
    pub channel: String,
    pub domain: Domain,
    pub energy_j: f64,
    /// The counter did not move over the window: the energy is power x time (or 0 where the
    /// source cannot tell its power).
    pub approximate: bool,
}

/// What one window measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub name: String,
    /// Wall time of the window, seconds (always there).
    pub time_s: f64,
    /// Energy per counter; empty when no energy source is available.
    pub channels: Vec<ChannelEnergy>,
    /// Why energy (or a part of it) is missing: `GPU: unavailable because ...`.
    pub unavailable: Vec<String>,
}

impl Measurement {
    /// Sum over all counters, joules; `None` when no counter was available.
    pub fn total_energy_j(&self) -> Option<f64> {
        (!self.channels.is_empty()).then(|| self.channels.iter().map(|c| c.energy_j).sum())
    }

    /// Sum over the counters of one domain (all GPUs, all packages, all DRAM), joules.
    pub fn domain_energy_j(&self, domain: Domain) -> Option<f64> {
        let mut it = self
            .channels
            .iter()
            .filter(|c| c.domain == domain)
            .peekable();
        it.peek()?;
        Some(it.map(|c| c.energy_j).sum())
    }

    /// Whether any counter's figure is an estimate (power x time).
    pub fn approximate(&self) -> bool {
        self.channels.iter().any(|c| c.approximate)
    }

    /// The sources that contributed, joined by `+` (`nvml+rapl`); `None` when there is none.
    pub fn source(&self) -> Option<String> {
        let mut names: Vec<&str> = Vec::new();
        for c in &self.channels {
            if !names.contains(&c.source.as_str()) {
                names.push(&c.source);
            }
        }
        (!names.is_empty()).then(|| names.join("+"))
    }

    /// The reasons energy is missing, joined by `; `; `None` when nothing is missing.
    pub fn unavailable_reason(&self) -> Option<String> {
        (!self.unavailable.is_empty()).then(|| self.unavailable.join("; "))
    }
}

/// Misuse of window names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("energy window '{0}' is already open")]
    AlreadyOpen(String),
    #[error("energy window '{0}' is not open")]
    NotOpen(String),
}

/// Counter readings at the start of a window.
struct Begin {
    at: Instant,
    /// Per source: the counters, or why they could not be read.
    counters: Vec<Result<Vec<u64>, String>>,
    power: Vec<Vec<Option<f64>>>,
}

struct State {
    sources: Vec<Box<dyn EnergySource>>,
    windows: HashMap<String, Begin>,
}

/// A synchronisation hook run at both ends of every window.
pub type SyncHook = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Measures named windows of wall time and energy (see the module documentation). Methods take
/// `&self`, so windows can be opened from callbacks while others are open.
pub struct Monitor {
    state: Mutex<State>,
    /// Sources that could not be opened, with the reason.
    unavailable: Vec<String>,
    sync: Option<SyncHook>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("sources", &self.source_names())
            .field("unavailable", &self.unavailable)
            .finish()
    }
}

/// Which GPUs [`Monitor::system`] measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gpus {
    /// No GPU (training on the CPU).
    None,
    /// Every GPU NVML sees.
    All,
    /// These NVML device indices.
    Indices(Vec<u32>),
}

impl Monitor {
    /// A monitor over `sources`; `unavailable` lists the sources that could not be opened and
    /// why (`CPU: unavailable because ...`), repeated in every measurement.
    pub fn new(sources: Vec<Box<dyn EnergySource>>, unavailable: Vec<String>) -> Monitor {
        Monitor {
            state: Mutex::new(State {
                sources,
                windows: HashMap::new(),
            }),
            unavailable,
            sync: None,
        }
    }

    /// The machine's counters: NVML for `gpus`, RAPL for the CPU packages and DRAM. What cannot
    /// be opened is recorded as unavailable with its reason.
    pub fn system(gpus: &Gpus) -> Monitor {
        let mut sources: Vec<Box<dyn EnergySource>> = Vec::new();
        let mut unavailable = Vec::new();
        let indices = match gpus {
            Gpus::None => None,
            Gpus::All => Some(None),
            Gpus::Indices(v) => Some(Some(v.as_slice())),
        };
        if let Some(indices) = indices {
            match NvmlSource::open(indices) {
                Ok(s) => sources.push(Box::new(s)),
                Err(e) => unavailable.push(format!("GPU: unavailable because {e}")),
            }
        }
        match RaplSource::open() {
            Ok(s) => sources.push(Box::new(s)),
            Err(e) => unavailable.push(format!("CPU: unavailable because {e}")),
        }
        Monitor::new(sources, unavailable)
    }

    /// Runs `sync` at both ends of every window (e.g. a device synchronisation).
    pub fn with_sync(mut self, sync: SyncHook) -> Monitor {
        self.sync = Some(sync);
        self
    }

    /// Names of the sources in use.
    pub fn source_names(&self) -> Vec<String> {
        self.lock()
            .sources
            .iter()
            .map(|s| s.name().to_string())
            .collect()
    }

    /// Why sources are missing (empty when every requested source works).
    pub fn unavailable(&self) -> &[String] {
        &self.unavailable
    }

    /// Whether any energy counter is in use.
    pub fn has_energy(&self) -> bool {
        !self.lock().sources.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the sync hook; a failure becomes a note on the measurement.
    fn synchronise(&self) -> Option<String> {
        self.sync
            .as_ref()
            .and_then(|f| f().err())
            .map(|e| format!("device synchronisation failed: {e}"))
    }

    /// Opens a window called `name`.
    pub fn begin_window(&self, name: &str) -> Result<(), WindowError> {
        let mut st = self.lock();
        if st.windows.contains_key(name) {
            return Err(WindowError::AlreadyOpen(name.to_string()));
        }
        // A failed sync at the start shows again (and is recorded) at the end.
        let _ = self.synchronise();
        let at = Instant::now();
        let counters = st.sources.iter_mut().map(|s| s.read()).collect();
        let power = st.sources.iter_mut().map(|s| s.power_w()).collect();
        st.windows.insert(
            name.to_string(),
            Begin {
                at,
                counters,
                power,
            },
        );
        Ok(())
    }

    /// Closes the window called `name` and returns what it measured.
    pub fn end_window(&self, name: &str) -> Result<Measurement, WindowError> {
        let mut st = self.lock();
        if !st.windows.contains_key(name) {
            return Err(WindowError::NotOpen(name.to_string()));
        }
        let sync_note = self.synchronise();
        let time_s = st.windows[name].at.elapsed().as_secs_f64();
        let begin = st.windows.remove(name).expect("checked above");
        let mut m = Measurement {
            name: name.to_string(),
            time_s,
            channels: Vec::new(),
            unavailable: self.unavailable.clone(),
        };
        m.unavailable.extend(sync_note);
        for (i, src) in st.sources.iter_mut().enumerate() {
            let end = src.read();
            let power_end = src.power_w();
            let (start, end) = match (&begin.counters[i], &end) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    m.unavailable.push(format!(
                        "{}: unavailable because reading the counters failed: {e}",
                        src.name()
                    ));
                    continue;
                }
            };
            for (k, ch) in src.channels().iter().enumerate() {
                let (Some(&a), Some(&b)) = (start.get(k), end.get(k)) else {
                    m.unavailable.push(format!(
                        "{}: unavailable because {} returned too few counters",
                        ch.name,
                        src.name()
                    ));
                    continue;
                };
                let delta = counter_delta(a, b, ch.wrap);
                let (energy_j, approximate) = if delta == 0 && time_s > 0.0 {
                    let p0 = begin.power[i].get(k).copied().flatten();
                    let p1 = power_end.get(k).copied().flatten();
                    let p = match (p0, p1) {
                        (Some(x), Some(y)) => (x + y) / 2.0,
                        (Some(x), None) | (None, Some(x)) => x,
                        (None, None) => 0.0,
                    };
                    (p * time_s, true)
                } else {
                    (delta as f64 * ch.joules_per_unit, false)
                };
                m.channels.push(ChannelEnergy {
                    source: src.name().to_string(),
                    channel: ch.name.clone(),
                    domain: ch.domain,
                    energy_j,
                    approximate,
                });
            }
        }
        Ok(m)
    }

    /// Closes the window called `name` without measuring; false when it was not open.
    pub fn cancel_window(&self, name: &str) -> bool {
        self.lock().windows.remove(name).is_some()
    }

    /// Opens a window that [`WindowGuard::end`] closes, or that is cancelled when the guard is
    /// dropped (an early return never leaves a window open).
    pub fn scoped(&self, name: &str) -> Result<WindowGuard<'_>, WindowError> {
        self.begin_window(name)?;
        Ok(WindowGuard {
            monitor: self,
            name: Some(name.to_string()),
        })
    }

    /// Runs `f` inside a window called `name`.
    pub fn measure<T>(
        &self,
        name: &str,
        f: impl FnOnce() -> T,
    ) -> Result<(T, Measurement), WindowError> {
        let g = self.scoped(name)?;
        let out = f();
        Ok((out, g.end()?))
    }
}

/// The increase of a counter from `a` to `b`, wrapping at `wrap`.
fn counter_delta(a: u64, b: u64, wrap: Option<u64>) -> u64 {
    if b >= a {
        b - a
    } else {
        match wrap {
            // The counter went from a up to `wrap`, restarted at 0 and reached b.
            Some(w) if w >= a => (w - a) + b,
            // A counter without a known range going backwards (reset): count from 0.
            _ => b,
        }
    }
}

/// An open window that closes when [`WindowGuard::end`] is called, or is cancelled on drop.
pub struct WindowGuard<'a> {
    monitor: &'a Monitor,
    name: Option<String>,
}

impl WindowGuard<'_> {
    /// Closes the window and returns what it measured.
    pub fn end(mut self) -> Result<Measurement, WindowError> {
        let name = self.name.take().unwrap_or_default();
        self.monitor.end_window(&name)
    }
}

impl Drop for WindowGuard<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.name.take() {
            self.monitor.cancel_window(&n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A source whose counters and power the test sets.
    struct Fake {
        name: String,
        channels: Vec<Channel>,
        values: Arc<Mutex<Vec<u64>>>,
        power: Option<f64>,
        fail: Arc<Mutex<bool>>,
    }

    type Handles = (Arc<Mutex<Vec<u64>>>, Arc<Mutex<bool>>);

    fn fake(
        name: &str,
        channels: Vec<Channel>,
        start: Vec<u64>,
        power: Option<f64>,
    ) -> (Box<dyn EnergySource>, Handles) {
        let values = Arc::new(Mutex::new(start));
        let fail = Arc::new(Mutex::new(false));
        (
            Box::new(Fake {
                name: name.into(),
                channels,
                values: values.clone(),
                power,
                fail: fail.clone(),
            }),
            (values, fail),
        )
    }

    impl EnergySource for Fake {
        fn name(&self) -> &str {
            &self.name
        }
        fn channels(&self) -> &[Channel] {
            &self.channels
        }
        fn read(&mut self) -> Result<Vec<u64>, String> {
            if *self.fail.lock().unwrap() {
                return Err("fake failure".into());
            }
            Ok(self.values.lock().unwrap().clone())
        }
        fn power_w(&mut self) -> Vec<Option<f64>> {
            vec![self.power; self.channels.len()]
        }
    }

    fn ch(name: &str, domain: Domain, jpu: f64, wrap: Option<u64>) -> Channel {
        Channel {
            name: name.into(),
            domain,
            joules_per_unit: jpu,
            wrap,
        }
    }

    fn sleep_ms(ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    #[test]
    fn counter_delta_wraps() {
        assert_eq!(counter_delta(10, 25, Some(100)), 15);
        assert_eq!(counter_delta(90, 5, Some(100)), 15);
        assert_eq!(counter_delta(90, 5, None), 5);
        assert_eq!(counter_delta(7, 7, Some(100)), 0);
    }

    #[test]
    fn nested_and_overlapping_windows_with_wraparound() {
        // A RAPL-like package counter in microjoules wrapping at 1e6 (1 J), a DRAM counter,
        // and a GPU counter in millijoules.
        let (cpu, (cpu_v, _)) = fake(
            "rapl",
            vec![
                ch("package-0", Domain::CpuPackage, 1e-6, Some(1_000_000)),
                ch("dram-0", Domain::Dram, 1e-6, Some(1_000_000)),
            ],
            vec![900_000, 100],
            None,
        );
        let (gpu, (gpu_v, _)) = fake(
            "nvml",
            vec![ch("gpu0", Domain::Gpu, 1e-3, None)],
            vec![5_000],
            Some(50.0),
        );
        let m = Monitor::new(vec![gpu, cpu], vec![]);
        m.begin_window("outer").unwrap();
        assert_eq!(
            m.begin_window("outer"),
            Err(WindowError::AlreadyOpen("outer".into()))
        );
        *cpu_v.lock().unwrap() = vec![950_000, 200];
        *gpu_v.lock().unwrap() = vec![6_000];
        m.begin_window("inner").unwrap();
        // package: 950000 -> wrap at 1e6 -> 300000 (0.35 J since inner began)
        *cpu_v.lock().unwrap() = vec![300_000, 1_200];
        *gpu_v.lock().unwrap() = vec![8_500];
        sleep_ms(2);
        let inner = m.end_window("inner").unwrap();
        m.begin_window("overlap").unwrap();
        *cpu_v.lock().unwrap() = vec![400_000, 1_300];
        *gpu_v.lock().unwrap() = vec![9_000];
        let outer = m.end_window("outer").unwrap();
        *gpu_v.lock().unwrap() = vec![10_000];
        let overlap = m.end_window("overlap").unwrap();
        assert_eq!(
            m.end_window("outer"),
            Err(WindowError::NotOpen("outer".into()))
        );

        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(
            inner.domain_energy_j(Domain::CpuPackage).unwrap(),
            0.35
        ));
        assert!(close(inner.domain_energy_j(Domain::Dram).unwrap(), 0.001));
        assert!(close(inner.domain_energy_j(Domain::Gpu).unwrap(), 2.5));
        assert!(close(inner.total_energy_j().unwrap(), 2.851));
        assert!(!inner.approximate());
        assert_eq!(inner.source().as_deref(), Some("nvml+rapl"));
        assert_eq!(inner.unavailable_reason(), None);
        // outer: package 900000 -> wrap -> 400000 = 0.5 J, dram 1200 uJ, gpu 4 J
        assert!(close(
            outer.domain_energy_j(Domain::CpuPackage).unwrap(),
            0.5
        ));
        assert!(close(outer.domain_energy_j(Domain::Dram).unwrap(), 0.0012));
        assert!(close(outer.domain_energy_j(Domain::Gpu).unwrap(), 4.0));
        assert!(outer.time_s >= inner.time_s);
        // overlap: gpu 8500 -> 10000
        assert!(close(overlap.domain_energy_j(Domain::Gpu).unwrap(), 1.5));
        assert_eq!(overlap.channels.len(), 3);
    }

    #[test]
    fn counter_that_does_not_move_gives_power_times_time() {
        let (gpu, _) = fake(
            "nvml",
            vec![ch("gpu0", Domain::Gpu, 1e-3, None)],
            vec![1_000],
            Some(40.0),
        );
        let (cpu, _) = fake(
            "rapl",
            vec![ch("package-0", Domain::CpuPackage, 1e-6, None)],
            vec![7],
            None,
        );
        let m = Monitor::new(vec![gpu, cpu], vec![]);
        let g = m.scoped("short").unwrap();
        sleep_ms(20);
        let r = g.end().unwrap();
        let gpu = &r.channels[0];
        assert!(gpu.approximate);
        assert!(
            (gpu.energy_j - 40.0 * r.time_s).abs() < 1e-9,
            "{} vs {}",
            gpu.energy_j,
            40.0 * r.time_s
        );
        assert!(gpu.energy_j > 0.5, "{}", gpu.energy_j);
        // No power reading: 0, still marked approximate.
        assert_eq!(r.channels[1].energy_j, 0.0);
        assert!(r.channels[1].approximate);
        assert!(r.approximate());
    }

    #[test]
    fn unavailable_sources_and_failed_reads_are_reasons_not_errors() {
        let m = Monitor::new(vec![], vec!["CPU: unavailable because no RAPL".into()]);
        let (_, r) = m.measure("w", || sleep_ms(1)).unwrap();
        assert!(r.time_s > 0.0);
        assert_eq!(r.total_energy_j(), None);
        assert_eq!(r.source(), None);
        assert_eq!(
            r.unavailable_reason().as_deref(),
            Some("CPU: unavailable because no RAPL")
        );

        let (cpu, (_, fail)) = fake(
            "rapl",
            vec![ch("package-0", Domain::CpuPackage, 1e-6, None)],
            vec![7],
            None,
        );
        let m = Monitor::new(vec![cpu], vec![]);
        m.begin_window("w").unwrap();
        *fail.lock().unwrap() = true;
        let r = m.end_window("w").unwrap();
        assert_eq!(r.total_energy_j(), None);
        assert!(r.unavailable_reason().unwrap().contains("fake failure"));
    }

    #[test]
    fn guard_cancels_on_drop_and_sync_runs_at_both_ends() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let m = Monitor::new(vec![], vec![]).with_sync(Box::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }));
        {
            let _g = m.scoped("a").unwrap();
            assert!(m.begin_window("a").is_err());
        }
        // dropped: cancelled, so it can be opened again
        m.begin_window("a").unwrap();
        m.end_window("a").unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(!m.cancel_window("a"));

        let m = Monitor::new(vec![], vec![]).with_sync(Box::new(|| Err("boom".into())));
        let (_, r) = m.measure("w", || ()).unwrap();
        assert!(r.unavailable_reason().unwrap().contains("boom"));
    }

    #[test]
    fn system_monitor_never_fails() {
        // Whatever this machine has, a monitor comes back and measures time.
        let m = Monitor::system(&Gpus::All);
        let (_, r) = m.measure("w", || sleep_ms(1)).unwrap();
        assert!(r.time_s > 0.0);
        assert!(r.total_energy_j().is_some() || r.unavailable_reason().is_some());
        // Without a driver (as on CI), GPU energy is a reason, never an error.
        if !m.source_names().iter().any(|s| s == "nvml") {
            let why = r.unavailable_reason().unwrap();
            assert!(why.contains("GPU: unavailable because"), "{why}");
        }
    }
}
