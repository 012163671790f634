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

/// The part of a split a process falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Part {
    Train,
    Validation,
    Test,
}

impl SplitConfig {
    /// The part of process `id`: attacks always go to test; a normal process goes by a
    /// seeded hash of its id, so the decision is the same in every view of a host (a
    /// process is in train or test for all its aspects at once) and does not move when
    /// other processes are added to the files.
    ///
    /// ```
    /// use apt_llm_provenance::{Part, SplitConfig};
    /// let s = SplitConfig::default();
    /// assert_eq!(s.part_of("any-id", true), Part::Test);
    /// assert_eq!(s.part_of("0A1B", false), s.part_of("0A1B", false)); // stable
    /// ```
    pub fn part_of(&self, id: &str, attack: bool) -> Part {
        if attack {
            return Part::Test;
        }
        let u = unit_hash(id, self.seed);
        let val_end = self.test_fraction + (1.0 - self.test_fraction) * self.validation_fraction;
        if u < self.test_fraction {
            Part::Test
        } else if u < val_end {
            Part::Validation
        } else {
            Part::Train
        }
    }

    /// Split rows by their process ids ([`SplitConfig::part_of`]): the host-consistent
    /// split the runner uses. The shares are those of the config in expectation (each
    /// normal process draws its part independently).
    ///
    /// ```
    /// use apt_llm_provenance::SplitConfig;
    /// let ids: Vec<String> = (0..1000).map(|i| format!("proc-{i}")).collect();
    /// let attack: Vec<bool> = (0..1000).map(|i| i % 100 == 0).collect();
    /// let s = SplitConfig::default().split_by_id(&ids, &attack)?;
    /// assert_eq!(s.test.iter().filter(|&&r| attack[r]).count(), 10);
    /// let normals_in_test = s.test.len() - 10;
    /// assert!((150..250).contains(&normals_in_test)); // ~20 % of 990
    /// # Ok::<(), apt_llm_provenance::ProvenanceError>(())
    /// ```
    pub fn split_by_id<S: AsRef<str>>(&self, ids: &[S], attack: &[bool]) -> Result<Split> {
        self.validate()?;
        if ids.len() != attack.len() {
            return Err(ProvenanceError::InvalidParameter(format!(
                "{} ids for {} labels",
                ids.len(),
                attack.len()
            )));
        }
        let mut split = Split {
            train: vec![],
            validation: vec![],
            test: vec![],
        };
        for (row, id) in ids.iter().enumerate() {
            match self.part_of(id.as_ref(), attack[row]) {
                Part::Train => split.train.push(row),
                Part::Validation => split.validation.push(row),
                Part::Test => split.test.push(row),
            }
        }
        Ok(split)
    }
}

/// A seeded hash of `id` mapped to [0, 1): FNV-1a over the bytes, then SplitMix64's
/// finaliser with the seed, so nearby ids and nearby seeds land far apart. Fixed here
/// (not `std`'s hasher, whose output may change between Rust releases).
fn unit_hash(id: &str, seed: u64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    // Process ids are UUIDs, which match case-insensitively (as the loader does).
    for &b in id.as_bytes() {
        h ^= b.to_ascii_lowercase() as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_split_is_the_same_in_every_view_and_stable_under_growth() {
        let cfg = SplitConfig::default();
        let ids: Vec<String> = (0..5000).map(|i| format!("{i:08X}-AB")).collect();
        let attack = vec![false; ids.len()];
        let whole = cfg.split_by_id(&ids, &attack).unwrap();
        // Another view holding every other process, in reverse order.
        let sub: Vec<String> = ids.iter().step_by(2).rev().cloned().collect();
        let part = cfg.split_by_id(&sub, &vec![false; sub.len()]).unwrap();
        for (row, id) in sub.iter().enumerate() {
            let orig = ids.iter().position(|x| x == id).unwrap();
            assert_eq!(part.test.contains(&row), whole.test.contains(&orig));
            assert_eq!(part.train.contains(&row), whole.train.contains(&orig));
        }
        let t = whole.test.len() as f64 / 5000.0;
        let v = whole.validation.len() as f64 / 5000.0;
        assert!((t - 0.2).abs() < 0.02, "{t}");
        assert!((v - 0.08).abs() < 0.015, "{v}");
        // Another seed, another split.
        let other = SplitConfig { seed: 1, ..cfg }
            .split_by_id(&ids, &attack)
            .unwrap();
        assert_ne!(other.test, whole.test);
        assert!(cfg.split_by_id(&ids[..3], &attack[..2]).is_err());
    }
}
