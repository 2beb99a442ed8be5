//! NVIDIA GPU energy counters through NVML (`nvml-wrapper`, which loads `libnvidia-ml` at run
//! time): one [`EnergySource`] for the [`Monitor`](crate::Monitor).

use crate::{Channel, Domain, EnergySource};

/// NVIDIA GPUs through NVML (`libnvidia-ml`, loaded at run time, so builds need no driver):
/// energy from `nvmlDeviceGetTotalEnergyConsumption` (millijoules since the driver loaded;
/// Volta and newer), power from `nvmlDeviceGetPowerUsage`.
pub struct NvmlSource {
    nvml: nvml_wrapper::Nvml,
    indices: Vec<u32>,
    channels: Vec<Channel>,
}

impl NvmlSource {
    /// Initialises NVML and opens the GPUs with these NVML indices (all when `None`). A GPU
    /// without an energy counter makes the source unavailable.
    pub fn open(indices: Option<&[u32]>) -> Result<NvmlSource, String> {
        // nvml-wrapper opens `libnvidia-ml.so.1` (what driver installs ship) at run time.
        let nvml = nvml_wrapper::Nvml::init().map_err(|e| {
            format!("NVML cannot be loaded ({e}); no NVIDIA driver on this machine?")
        })?;
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML cannot count the GPUs: {e}"))?;
        let indices: Vec<u32> = match indices {
            Some(v) => v.to_vec(),
            None => (0..count).collect(),
        };
        if indices.is_empty() {
            return Err("NVML sees no GPU".into());
        }
        let mut channels = Vec::new();
        for &i in &indices {
            if i >= count {
                return Err(format!("NVML sees {count} GPU(s), there is no GPU {i}"));
            }
            let d = nvml
                .device_by_index(i)
                .map_err(|e| format!("NVML cannot open GPU {i}: {e}"))?;
            d.total_energy_consumption().map_err(|e| {
                format!("GPU {i} has no energy counter ({e}; NVML needs Volta or newer)")
            })?;
            channels.push(Channel {
                name: format!("gpu{i}"),
                domain: Domain::Gpu,
                joules_per_unit: 1e-3,
                wrap: None,
            });
        }
        Ok(NvmlSource {
            nvml,
            indices,
            channels,
        })
    }
}

impl EnergySource for NvmlSource {
    fn name(&self) -> &str {
        "nvml"
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    fn read(&mut self) -> Result<Vec<u64>, String> {
        self.indices
            .iter()
            .map(|&i| {
                self.nvml
                    .device_by_index(i)
                    .and_then(|d| d.total_energy_consumption())
                    .map_err(|e| format!("GPU {i}: {e}"))
            })
            .collect()
    }

    fn power_w(&mut self) -> Vec<Option<f64>> {
        self.indices
            .iter()
            .map(|&i| {
                self.nvml
                    .device_by_index(i)
                    .and_then(|d| d.power_usage())
                    .ok()
                    .map(|mw| f64::from(mw) / 1000.0)
            })
            .collect()
    }
}
