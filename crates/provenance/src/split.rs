//! Seeded train / validation / test splits of a labelled context.

use crate::error::{ProvenanceError, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How to split: a share of normal processes goes to test, every attack goes to test,
/// and a share of the remaining normals is held out for validation (early stopping,
/// thresholds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitConfig {
    /// Share of normal processes put in the test set (default 0.2, the paper's 80/20).
    pub test_fraction: f64,
    /// Share of the training normals held out for validation (default 0.1).
    pub validation_fraction: f64,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            test_fraction: 0.2,
            validation_fraction: 0.1,
            seed: 42,
        }
    }
}

/// Row indices of each part, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

impl SplitConfig {
    /// Check the fractions.
    pub fn validate(&self) -> Result<()> {
        let ok = |x: f64| x.is_finite() && (0.0..1.0).contains(&x);
        if !ok(self.test_fraction) || !ok(self.validation_fraction) {
            return Err(ProvenanceError::InvalidParameter(format!(
                "split fractions must lie in [0, 1): test {}, validation {}",
                self.test_fraction, self.validation_fraction
            )));
        }
        Ok(())
    }

    /// Split rows given their attack flags.
    ///
    /// ```
    /// use apt_llm_provenance::SplitConfig;
    /// let labels: Vec<bool> = (0..100).map(|i| i % 25 == 0).collect();
    /// let s = SplitConfig::default().split(&labels)?;
    /// assert_eq!(s.test.iter().filter(|&&r| labels[r]).count(), 4); // every attack in test
    /// assert_eq!(s.train.len() + s.validation.len() + s.test.len(), 100);
    /// # Ok::<(), apt_llm_provenance::ProvenanceError>(())
    /// ```
    pub fn split(&self, attack: &[bool]) -> Result<Split> {
        self.validate()?;
        let mut normals: Vec<usize> = (0..attack.len()).filter(|&i| !attack[i]).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        normals.shuffle(&mut rng);
        let n_test = (normals.len() as f64 * self.test_fraction).round() as usize;
        let (test_normals, rest) = normals.split_at(n_test);
        let n_val = (rest.len() as f64 * self.validation_fraction).round() as usize;
        let (val, train) = rest.split_at(n_val);
        let mut test: Vec<usize> = test_normals.to_vec();
        test.extend((0..attack.len()).filter(|&i| attack[i]));
        let mut train = train.to_vec();
        let mut validation = val.to_vec();
        train.sort_unstable();
        validation.sort_unstable();
        test.sort_unstable();
        Ok(Split {
            train,
            validation,
            test,
        })
    }
}

impl Split {
    /// Error unless the test set holds both classes; `context` names it in the error.
    pub fn require_two_classes(&self, attack: &[bool], context: &str) -> Result<()> {
        let attacks = self.test.iter().filter(|&&r| attack[r]).count();
        let normals = self.test.len() - attacks;
        if attacks == 0 || normals == 0 {
            return Err(ProvenanceError::SingleClass {
                context: context.to_string(),
                normals,
                attacks,
            });
        }
        Ok(())
    }
}
