//! Compute devices: parsing `auto|cpu|cuda[:N]` into a candle [`Device`]. CUDA exists only in
//! builds with the `cuda` feature.

use crate::error::ModelError;
use candle_core::Device;

/// Parses a device argument: `auto` (CUDA 0 when this build has CUDA and a GPU is present,
/// else the CPU), `cpu`, `cuda` or `cuda:N`.
pub fn device_from_arg(s: &str) -> Result<Device, ModelError> {
    let s = s.trim();
    match s {
        "cpu" => Ok(Device::Cpu),
        "auto" => {
            if cfg!(feature = "cuda") {
                Ok(Device::cuda_if_available(0).unwrap_or(Device::Cpu))
            } else {
                Ok(Device::Cpu)
            }
        }
        _ => {
            let ordinal = match s.strip_prefix("cuda") {
                Some("") => 0,
                Some(rest) => rest
                    .strip_prefix(':')
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        ModelError::Device(format!(
                            "invalid device '{s}' (expected auto, cpu, cuda or cuda:N)"
                        ))
                    })?,
                None => {
                    return Err(ModelError::Device(format!(
                        "invalid device '{s}' (expected auto, cpu, cuda or cuda:N)"
                    )))
                }
            };
            if !cfg!(feature = "cuda") {
                return Err(ModelError::Device(format!(
                    "device '{s}': this binary was built without CUDA; rebuild with scripts/build-cuda.sh"
                )));
            }
            // The CUDA layer must never take the process down: a panic there is an error too.
            let opened = std::panic::catch_unwind(|| Device::new_cuda(ordinal));
            let why = match opened {
                Ok(Ok(d)) => return Ok(d),
                Ok(Err(e)) => cuda_reason(&e),
                Err(_) => "the CUDA layer panicked while opening the device".to_string(),
            };
            Err(ModelError::Device(format!(
                "device '{s}': cannot open CUDA device {ordinal}: {why}; \
                 use --device cpu (or auto, which falls back to the CPU)"
            )))
        }
    }
}

/// One line saying why a CUDA device did not open: candle's message without the backtrace it
/// captures under RUST_BACKTRACE, and a hint for the driver errors users meet.
fn cuda_reason(e: &candle_core::Error) -> String {
    let mut e = e;
    while let candle_core::Error::WithBacktrace { inner, .. } = e {
        e = inner;
    }
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or("").trim().to_string();
    let hint = if msg.contains("CUDA_ERROR_NO_DEVICE") {
        "no NVIDIA GPU is visible (check `nvidia-smi` and CUDA_VISIBLE_DEVICES)"
    } else if msg.contains("CUDA_ERROR_INVALID_DEVICE") {
        "there is no GPU with that number (`nvidia-smi -L` lists them)"
    } else if msg.contains("CUDA_ERROR_INSUFFICIENT_DRIVER")
        || msg.contains("CUDA_ERROR_NOT_INITIALIZED")
        || msg.contains("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH")
    {
        "the NVIDIA driver is missing or older than CUDA 13.0 needs (driver 580 or newer)"
    } else {
        ""
    };
    if hint.is_empty() {
        first
    } else {
        format!("{hint} [{first}]")
    }
}

/// A short human-readable name of a device ("cpu", "cuda:0").
pub fn device_name(d: &Device) -> String {
    match d.location() {
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_arguments() {
        assert!(device_from_arg("cpu").unwrap().is_cpu());
        assert!(device_from_arg("bogus").is_err());
        assert!(device_from_arg("cuda:x").is_err());
        if !cfg!(feature = "cuda") {
            assert!(device_from_arg("auto").unwrap().is_cpu());
            let e = device_from_arg("cuda:1").unwrap_err().to_string();
            assert!(
                e.contains("built without CUDA") && e.contains("scripts/build-cuda.sh"),
                "{e}"
            );
        }
        assert_eq!(device_name(&Device::Cpu), "cpu");
    }
}
