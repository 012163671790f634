//! The grid: which encoders and detectors to combine.

use apt_llm_autoencoders::{Autoencoder, AutoencoderConfig, OutputActivation, Scaling};
use apt_llm_baselines::{Avf, Dbscan, IsolationForest, Oc3, OneClassSvm};
use apt_llm_detect::{DetectorSpec, Rarity};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A detector of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum DetectorChoice {
    Ae,
    Vae,
    Dae,
    OcSvm,
    /// The authors' transductive DBSCAN (noise = 1).
    Dbscan,
    /// DBSCAN fitted on training rows, distance to the nearest core point.
    DbscanCore,
    IForest,
    /// How rare the exact pattern was among the training rows (no model of content).
    Rarity,
    /// Attribute value frequency (Berrada et al. 2020), on the binary attribute rows.
    Avf,
    /// OC3: encoded length under a Krimp code table (Berrada et al. 2020), on the binary
    /// attribute rows.
    Oc3,
    /// OC3 fitted on the rows it scores, as the FGCS paper ran it (for comparison).
    Oc3Transductive,
}

impl DetectorChoice {
    /// Every detector.
    pub const ALL: [DetectorChoice; 11] = [
        DetectorChoice::Ae,
        DetectorChoice::Vae,
        DetectorChoice::Dae,
        DetectorChoice::OcSvm,
        DetectorChoice::Dbscan,
        DetectorChoice::DbscanCore,
        DetectorChoice::IForest,
        DetectorChoice::Rarity,
        DetectorChoice::Avf,
        DetectorChoice::Oc3,
        DetectorChoice::Oc3Transductive,
    ];
    /// The paper's grid: three autoencoders, three baselines.
    pub const PAPER: [DetectorChoice; 6] = [
        DetectorChoice::Ae,
        DetectorChoice::Vae,
        DetectorChoice::Dae,
        DetectorChoice::OcSvm,
        DetectorChoice::Dbscan,
        DetectorChoice::IForest,
    ];
    /// The default grid: the paper's, the frequency baseline ([`Rarity`]) that tells
    /// how much of a context is caught by pattern frequency alone, and the field's own
    /// unsupervised detectors on the attribute rows (AVF, OC3).
    pub const DEFAULT: [DetectorChoice; 9] = [
        DetectorChoice::Ae,
        DetectorChoice::Vae,
        DetectorChoice::Dae,
        DetectorChoice::OcSvm,
        DetectorChoice::Dbscan,
        DetectorChoice::IForest,
        DetectorChoice::Rarity,
        DetectorChoice::Avf,
        DetectorChoice::Oc3,
    ];
    /// True for AE, VAE and DAE (the APT-LLM detectors).
    pub fn is_autoencoder(self) -> bool {
        matches!(
            self,
            DetectorChoice::Ae | DetectorChoice::Vae | DetectorChoice::Dae
        )
    }
    /// The `kind` tag its fitted detector is saved under: its loader's key in
    /// [`crate::registry`].
    pub fn saved_kind(self) -> &'static str {
        match self {
            DetectorChoice::Ae | DetectorChoice::Vae | DetectorChoice::Dae => "autoencoder",
            DetectorChoice::OcSvm => "ocsvm",
            DetectorChoice::Dbscan | DetectorChoice::DbscanCore => "dbscan",
            DetectorChoice::IForest => "iforest",
            DetectorChoice::Rarity => "rarity",
            DetectorChoice::Avf => "avf",
            DetectorChoice::Oc3 | DetectorChoice::Oc3Transductive => "oc3",
        }
    }
    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            DetectorChoice::Ae => "AE",
            DetectorChoice::Vae => "VAE",
            DetectorChoice::Dae => "DAE",
            DetectorChoice::OcSvm => "OC-SVM",
            DetectorChoice::Dbscan => "DBSCAN",
            DetectorChoice::DbscanCore => "DBSCAN-core",
            DetectorChoice::IForest => "IForest",
            DetectorChoice::Rarity => "Rarity",
            DetectorChoice::Avf => "AVF",
            DetectorChoice::Oc3 => "OC3",
            DetectorChoice::Oc3Transductive => "OC3-transductive",
        }
    }
    /// The configured detector.
    /// `scaling` applies to the autoencoders: `MinMax` pairs with the authors' sigmoid
    /// output, the others with a linear output.
    pub fn spec(
        self,
        attention: bool,
        seed: u64,
        epochs: usize,
        scaling: Scaling,
    ) -> Box<dyn DetectorSpec> {
        self.spec_on(attention, seed, epochs, scaling, None)
    }

    /// [`DetectorChoice::spec`], with the autoencoders trained and scored on `device`
    /// (the CPU when `None`; the other detectors always run on the CPU).
    pub fn spec_on(
        self,
        attention: bool,
        seed: u64,
        epochs: usize,
        scaling: Scaling,
        device: Option<&apt_llm_embed::Device>,
    ) -> Box<dyn DetectorSpec> {
        let output = match scaling {
            Scaling::MinMax => OutputActivation::Sigmoid,
            Scaling::Standard | Scaling::None => OutputActivation::Linear,
        };
        let ae = |c: AutoencoderConfig| -> Box<dyn DetectorSpec> {
            let c = AutoencoderConfig {
                scaling,
                output,
                ..c
            };
            let ae = Autoencoder::new(
                c.with_attention(attention)
                    .with_seed(seed)
                    .with_epochs(epochs),
            );
            match device {
                Some(d) => Box::new(ae.on(d.clone())),
                None => Box::new(ae),
            }
        };
        match self {
            DetectorChoice::Ae => ae(AutoencoderConfig::ae()),
            DetectorChoice::Vae => ae(AutoencoderConfig::vae()),
            DetectorChoice::Dae => ae(AutoencoderConfig::dae()),
            DetectorChoice::OcSvm => Box::new(OneClassSvm::default()),
            DetectorChoice::Dbscan => Box::new(Dbscan::transductive()),
            DetectorChoice::DbscanCore => Box::new(Dbscan::default()),
            DetectorChoice::IForest => Box::new(IsolationForest {
                seed,
                ..Default::default()
            }),
            DetectorChoice::Rarity => Box::new(Rarity),
            DetectorChoice::Avf => Box::new(Avf),
            DetectorChoice::Oc3 => Box::new(Oc3::default()),
            DetectorChoice::Oc3Transductive => Box::new(Oc3::transductive()),
        }
    }
}

impl fmt::Display for DetectorChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DetectorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let k = s.to_ascii_lowercase().replace(['-', '_'], "");
        DetectorChoice::ALL
            .into_iter()
            .find(|d| {
                d.name().to_ascii_lowercase().replace('-', "") == k
                    || (k == "svm" && *d == DetectorChoice::OcSvm)
                    || (k == "if" && *d == DetectorChoice::IForest)
            })
            .ok_or_else(|| {
                format!(
                    "unknown detector {s:?} (ae, vae, dae, oc-svm, dbscan, dbscan-core, iforest, rarity, avf, oc3, oc3-transductive)"
                )
            })
    }
}

/// Which of two settings of an autoencoder to try: on, off, or both (each a separate row
/// of the grid). Used for self-attention ([`AttentionMode`]) and for the training-frequency
/// prior ([`PriorMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
    Both,
}

/// Self-attention in the autoencoders' encoder.
pub type AttentionMode = Switch;
/// The training-frequency prior ([`apt_llm_detect::FrequencyPrior`]) in front of the
/// autoencoders' scores; it reuses the fitted autoencoder, so `Both` costs no extra training.
pub type PriorMode = Switch;

impl Switch {
    /// The settings to try.
    pub fn settings(self) -> &'static [bool] {
        match self {
            Switch::On => &[true],
            Switch::Off => &[false],
            Switch::Both => &[false, true],
        }
    }
    /// The settings to try for `detector`: the baselines have neither setting.
    pub fn settings_for(self, detector: DetectorChoice) -> &'static [bool] {
        if detector.is_autoencoder() {
            self.settings()
        } else {
            &[false]
        }
    }
}

impl FromStr for Switch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "on" => Ok(Switch::On),
            "off" => Ok(Switch::Off),
            "both" => Ok(Switch::Both),
            _ => Err(format!("expected on, off or both, not {s:?}")),
        }
    }
}
