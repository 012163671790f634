//! Where the burn encoders (and the autoencoders) run: the CPU, or a GPU through wgpu.

use crate::error::{EmbedError, Result};
pub use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;

/// `--device cpu|gpu`: the CPU (burn's flex backend, always there) or a GPU through
/// burn's wgpu backend (Vulkan, Metal, DX12; needs the `wgpu` feature).
///
/// ```
/// use apt_llm_embed::DeviceChoice;
/// let cpu: DeviceChoice = "cpu".parse()?;
/// assert_eq!(cpu, DeviceChoice::Cpu);
/// assert!(cpu.device().is_ok());
/// assert!("tpu".parse::<DeviceChoice>().is_err());
/// // Without the `wgpu` feature, asking for the GPU is an error that says how to build it.
/// #[cfg(not(feature = "wgpu"))]
/// assert!(DeviceChoice::Gpu.device().unwrap_err().to_string().contains("--features wgpu"));
/// # Ok::<(), apt_llm_embed::EmbedError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeviceChoice {
    /// burn's flex backend on the CPU.
    #[default]
    Cpu,
    /// burn's wgpu backend on the best GPU adapter wgpu finds.
    Gpu,
}

impl DeviceChoice {
    /// `cpu` or `gpu`.
    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Gpu => "gpu",
        }
    }

    /// The burn device. For [`DeviceChoice::Gpu`], wgpu's adapters are listed first, so a
    /// build without the `wgpu` feature, or a machine where wgpu finds no hardware
    /// adapter, gets an error instead of a panic inside burn at the first tensor.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(crate::cpu_device()),
            DeviceChoice::Gpu => gpu(),
        }
    }
}

#[cfg(not(feature = "wgpu"))]
fn gpu() -> Result<Device> {
    Err(EmbedError::BackendUnavailable {
        backend: "wgpu",
        reason: "this build has no GPU support; build with the `wgpu` feature (the CLI: \
                 `cargo build --release -p apt-llm-cli --features wgpu`; the library: \
                 `apt-llm/wgpu` or `apt-llm-embed/wgpu`)"
            .into(),
    })
}

#[cfg(feature = "wgpu")]
fn gpu() -> Result<Device> {
    use burn::tensor::{DeviceKind, DeviceType};
    // Listing adapters creates a wgpu instance; a broken driver stack may panic there.
    let listed = std::panic::catch_unwind(|| Device::enumerate(DeviceType::Wgpu).to_vec());
    let adapters = listed.map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        EmbedError::BackendUnavailable {
            backend: "wgpu",
            reason: format!("listing the GPU adapters failed ({why}); use --device cpu"),
        }
    })?;
    // A software rasterizer (lavapipe, llvmpipe, WARP) lists as a CPU adapter: not a GPU.
    let software = Device::wgpu(DeviceKind::Cpu);
    let hardware = adapters.iter().filter(|d| **d != software).count();
    if hardware == 0 {
        let seen = if adapters.is_empty() {
            "no adapter at all".to_string()
        } else {
            format!("only {} software adapter(s)", adapters.len())
        };
        return Err(EmbedError::BackendUnavailable {
            backend: "wgpu",
            reason: format!(
                "no GPU found: wgpu sees {seen} (a Vulkan, Metal or DX12 driver is needed); \
                 use --device cpu"
            ),
        });
    }
    Ok(crate::gpu_device())
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeviceChoice {
    type Err = EmbedError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "gpu" | "wgpu" => Ok(DeviceChoice::Gpu),
            _ => Err(EmbedError::InvalidOption {
                name: "device",
                reason: format!("{s:?} is not cpu or gpu"),
            }),
        }
    }
}
