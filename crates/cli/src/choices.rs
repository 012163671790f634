//! The closed choices of the command line as clap `ValueEnum`s, so `--help` lists the
//! values, a typo is a usage error naming the valid ones, and shells can complete them.
//! Each maps onto the library's own type; the library crates stay free of clap.

use apt_llm::autoencoders::Scaling;
use apt_llm::embed::{Backend, Pooling, Precision};
use apt_llm::fusion::{Absent, Rule};
use apt_llm::runner::{DetectorChoice, Switch};
use apt_llm::textualize::Template;
use clap::ValueEnum;

/// A detector of the grid, or every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectorArg {
    Ae,
    Vae,
    Dae,
    #[value(alias = "svm")]
    OcSvm,
    Dbscan,
    DbscanCore,
    #[value(name = "iforest", alias = "if")]
    IForest,
    Rarity,
    Avf,
    Oc3,
    Oc3Transductive,
    /// Every detector.
    All,
}

impl DetectorArg {
    /// The detectors this value stands for.
    pub fn choices(self) -> Vec<DetectorChoice> {
        let one = match self {
            DetectorArg::Ae => DetectorChoice::Ae,
            DetectorArg::Vae => DetectorChoice::Vae,
            DetectorArg::Dae => DetectorChoice::Dae,
            DetectorArg::OcSvm => DetectorChoice::OcSvm,
            DetectorArg::Dbscan => DetectorChoice::Dbscan,
            DetectorArg::DbscanCore => DetectorChoice::DbscanCore,
            DetectorArg::IForest => DetectorChoice::IForest,
            DetectorArg::Rarity => DetectorChoice::Rarity,
            DetectorArg::Avf => DetectorChoice::Avf,
            DetectorArg::Oc3 => DetectorChoice::Oc3,
            DetectorArg::Oc3Transductive => DetectorChoice::Oc3Transductive,
            DetectorArg::All => return DetectorChoice::ALL.to_vec(),
        };
        vec![one]
    }
}

/// A hunt partner: a detector of attribute rows fitted beside the hunt's detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PartnerArg {
    /// OC3 (Krimp code tables).
    Oc3,
    /// AVF (attribute value frequency).
    Avf,
}

impl From<PartnerArg> for DetectorChoice {
    fn from(p: PartnerArg) -> Self {
        match p {
            PartnerArg::Oc3 => DetectorChoice::Oc3,
            PartnerArg::Avf => DetectorChoice::Avf,
        }
    }
}

/// The detectors of a list, in order, each once.
pub fn detectors(args: &[DetectorArg]) -> Vec<DetectorChoice> {
    let mut out: Vec<DetectorChoice> = Vec::new();
    for d in args.iter().flat_map(|a| a.choices()) {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Which implementation runs the encoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// burn (always available).
    Burn,
    /// rust-bert on libtorch (needs a build with `--features tch`).
    Tch,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Backend {
        match b {
            BackendArg::Burn => Backend::Burn,
            BackendArg::Tch => Backend::Tch,
        }
    }
}

/// The encoder network's arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// 32-bit floats.
    F32,
    /// bfloat16 (the tch backend only; faster where the CPU has bf16 instructions).
    Bf16,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Precision {
        match p {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Bf16 => Precision::Bf16,
        }
    }
}

/// A sentence template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateArg {
    /// The paper's: "The process has event open a file and ...".
    Paper,
    /// Shorter phrases, comma-separated.
    Compact,
}

impl From<TemplateArg> for Template {
    fn from(t: TemplateArg) -> Template {
        match t {
            TemplateArg::Paper => Template::paper(),
            TemplateArg::Compact => Template::compact(),
        }
    }
}

/// Autoencoder input scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScalingArg {
    /// Min-max to [0, 1], with the authors' sigmoid output.
    Minmax,
    /// Zero mean, unit variance, with a linear output.
    Standard,
    /// Raw inputs, with a linear output.
    None,
}

impl From<ScalingArg> for Scaling {
    fn from(s: ScalingArg) -> Scaling {
        match s {
            ScalingArg::Minmax => Scaling::MinMax,
            ScalingArg::Standard => Scaling::Standard,
            ScalingArg::None => Scaling::None,
        }
    }
}

/// A setting tried on, off, or both ways (each a row of the grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SwitchArg {
    On,
    Off,
    Both,
}

impl From<SwitchArg> for Switch {
    fn from(s: SwitchArg) -> Switch {
        match s {
            SwitchArg::On => Switch::On,
            SwitchArg::Off => Switch::Off,
            SwitchArg::Both => Switch::Both,
        }
    }
}

/// A setting on or off (one fit, as `hunt` makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl From<OnOff> for Switch {
    fn from(s: OnOff) -> Switch {
        match s {
            OnOff::On => Switch::On,
            OnOff::Off => Switch::Off,
        }
    }
}

/// How per-aspect p-values are fused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FusionArg {
    Fisher,
    Sidak,
    Cauchy,
}

impl From<FusionArg> for Rule {
    fn from(f: FusionArg) -> Rule {
        match f {
            FusionArg::Fisher => Rule::Fisher,
            FusionArg::Sidak => Rule::Sidak,
            FusionArg::Cauchy => Rule::Cauchy,
        }
    }
}

/// What an aspect a process is absent from contributes to its fused p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AbsentArg {
    /// The process is ordinary there (the rule's neutral p-value).
    Neutral,
    /// Only the aspects the process appears in are fused.
    Skip,
}

impl From<AbsentArg> for Absent {
    fn from(a: AbsentArg) -> Absent {
        match a {
            AbsentArg::Neutral => Absent::Neutral,
            AbsentArg::Skip => Absent::Skip,
        }
    }
}

/// How token vectors are pooled into a sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoolingArg {
    Mean,
    Cls,
}

impl From<PoolingArg> for Pooling {
    fn from(p: PoolingArg) -> Pooling {
        match p {
            PoolingArg::Mean => Pooling::Mean,
            PoolingArg::Cls => Pooling::Cls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_detector_has_a_value_and_names_agree() {
        let all = detectors(&[DetectorArg::All]);
        assert_eq!(all, DetectorChoice::ALL.to_vec());
        for arg in DetectorArg::value_variants() {
            let name = arg.to_possible_value().unwrap().get_name().to_string();
            for d in arg.choices() {
                if *arg != DetectorArg::All {
                    // The value is the library's own name, lower-cased.
                    assert_eq!(name, d.name().to_ascii_lowercase(), "{arg:?}");
                    assert_eq!(name.parse::<DetectorChoice>().unwrap(), d);
                }
            }
        }
        for f in FusionArg::value_variants() {
            let name = f.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(name.parse::<Rule>().unwrap(), Rule::from(*f));
        }
        for a in AbsentArg::value_variants() {
            let name = a.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(name.parse::<Absent>().unwrap(), Absent::from(*a));
        }
    }
}
