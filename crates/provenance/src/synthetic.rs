//! A seeded generator of ADAPT-like contexts, for tests, benchmarks and a demo that needs
//! no download.
//!
//! Real contexts are sparse binary tables where a few behaviours repeat thousands of
//! times, a long tail of rare rows follows, and attacks are a tiny minority that often
//! carry an attribute no normal process has. The generator reproduces those traits.

use crate::catalog::LabeledContext;
use crate::context::{Context, ProcessRecord};
use crate::error::{ProvenanceError, Result};
use crate::ground_truth::Labels;
use crate::types::{Aspect, ContextId, Performer, Scenario};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// CDM event types, as they head ProcessEvent columns.
pub const CDM_EVENTS: &[&str] = &[
    "EVENT_ACCEPT",
    "EVENT_BIND",
    "EVENT_CHANGE_PRINCIPAL",
    "EVENT_CHECK_FILE_ATTRIBUTES",
    "EVENT_CLONE",
    "EVENT_CLOSE",
    "EVENT_CONNECT",
    "EVENT_CREATE_OBJECT",
    "EVENT_EXECUTE",
    "EVENT_EXIT",
    "EVENT_FCNTL",
    "EVENT_FORK",
    "EVENT_LINK",
    "EVENT_LOADLIBRARY",
    "EVENT_LSEEK",
    "EVENT_MMAP",
    "EVENT_MODIFY_FILE_ATTRIBUTES",
    "EVENT_MODIFY_PROCESS",
    "EVENT_MPROTECT",
    "EVENT_OPEN",
    "EVENT_OTHER",
    "EVENT_READ",
    "EVENT_RECVFROM",
    "EVENT_RECVMSG",
    "EVENT_RENAME",
    "EVENT_SENDMSG",
    "EVENT_SENDTO",
    "EVENT_SIGNAL",
    "EVENT_TRUNCATE",
    "EVENT_UNLINK",
    "EVENT_UPDATE",
    "EVENT_WRITE",
];

/// Shape of a synthetic context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticConfig {
    /// Number of processes.
    pub processes: usize,
    /// Number of attribute columns (for ProcessEvent at most the CDM event count is named
    /// after real events; the rest get generic names).
    pub attributes: usize,
    /// Share of attack processes (down to 0.00004, i.e. 0.004 %; at least one attack when > 0).
    pub attack_rate: f64,
    /// Distinct normal behaviours; processes pick them with Zipf-like popularity.
    pub normal_profiles: usize,
    /// Mean number of attributes in a profile.
    pub mean_active: usize,
    /// Probability that a normal process flips one attribute of its profile (long tail).
    pub mutation_rate: f64,
    /// Attributes only attacks use.
    pub attack_only_attributes: usize,
    /// Share of attacks that copy a normal profile exactly (indistinguishable: lowers the
    /// tie ceiling as in real contexts).
    pub camouflaged_attacks: f64,
    /// Aspect the columns stand for.
    pub aspect: Aspect,
    /// Seed.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            processes: 5_000,
            attributes: 28,
            attack_rate: 0.005,
            normal_profiles: 40,
            mean_active: 6,
            mutation_rate: 0.02,
            attack_only_attributes: 3,
            camouflaged_attacks: 0.1,
            aspect: Aspect::ProcessEvent,
            seed: 7,
        }
    }
}

impl SyntheticConfig {
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ProvenanceError::InvalidParameter(m));
        if self.processes == 0 {
            return bad("synthetic context needs at least one process".into());
        }
        if self.attributes < 2 || self.attack_only_attributes >= self.attributes {
            return bad(format!(
                "need 2 <= attributes and attack_only_attributes < attributes (got {} and {})",
                self.attributes, self.attack_only_attributes
            ));
        }
        if !(0.0..=1.0).contains(&self.attack_rate)
            || !(0.0..=1.0).contains(&self.mutation_rate)
            || !(0.0..=1.0).contains(&self.camouflaged_attacks)
        {
            return bad("rates must lie in [0, 1]".into());
        }
        if self.normal_profiles == 0 || self.mean_active == 0 {
            return bad("normal_profiles and mean_active must be positive".into());
        }
        Ok(())
    }

    /// Generate the context. Attacks are the last-shuffled minority; ids are
    /// `synthetic-{row}`.
    ///
    /// ```
    /// use apt_llm_provenance::SyntheticConfig;
    /// let ctx = SyntheticConfig { processes: 1000, ..Default::default() }.generate()?;
    /// assert_eq!(ctx.context.len(), 1000);
    /// assert!(ctx.attacks() >= 1);
    /// # Ok::<(), apt_llm_provenance::ProvenanceError>(())
    /// ```
    pub fn generate(&self) -> Result<LabeledContext> {
        self.generate_with(None)
    }

    /// A synthetic host: one context per config (each of another aspect, all with the
    /// same number of processes), sharing process ids and attack processes. The attacks
    /// are drawn by the first config; each aspect then hides a share of them
    /// (`camouflaged_attacks`) behind a normal profile, as real hosts do: an attack rare in
    /// one aspect can look ordinary in another. Ids are `synthetic-{row}`.
    ///
    /// ```
    /// use apt_llm_provenance::{Aspect, SyntheticConfig};
    /// let base = SyntheticConfig { processes: 500, attack_rate: 0.02, ..Default::default() };
    /// let host = SyntheticConfig::generate_host(&[
    ///     base.clone(),
    ///     SyntheticConfig { aspect: Aspect::ProcessExec, seed: 7, ..base },
    /// ])?;
    /// assert_eq!(host[0].labels.flags, host[1].labels.flags);
    /// assert_eq!(host[0].id.host(), host[1].id.host());
    /// # Ok::<(), apt_llm_provenance::ProvenanceError>(())
    /// ```
    pub fn generate_host(configs: &[SyntheticConfig]) -> Result<Vec<LabeledContext>> {
        let Some(first) = configs.first() else {
            return Err(ProvenanceError::InvalidParameter(
                "a synthetic host needs at least one aspect".into(),
            ));
        };
        let mut out: Vec<LabeledContext> = vec![first.generate()?];
        for c in &configs[1..] {
            if c.processes != first.processes {
                return Err(ProvenanceError::InvalidParameter(format!(
                    "every aspect of a synthetic host has the same processes ({} vs {})",
                    c.processes, first.processes
                )));
            }
            if out.iter().any(|o| o.id.aspect == c.aspect) {
                return Err(ProvenanceError::InvalidParameter(format!(
                    "aspect {} given twice",
                    c.aspect
                )));
            }
            let flags = out[0].labels.flags.clone();
            out.push(c.generate_with(Some(flags))?);
        }
        Ok(out)
    }

    fn generate_with(&self, attacks: Option<Vec<bool>>) -> Result<LabeledContext> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let names = attribute_names(self.aspect, self.attributes);
        let normal_cols = self.attributes - self.attack_only_attributes;
        let draw_profile = |rng: &mut ChaCha8Rng, cols: usize, mean: usize| -> Vec<u32> {
            let k = rng.random_range(1..=(2 * mean).min(cols).max(1));
            let mut all: Vec<u32> = (0..cols as u32).collect();
            all.shuffle(rng);
            let mut v = all[..k].to_vec();
            v.sort_unstable();
            v
        };
        let profiles: Vec<Vec<u32>> = (0..self.normal_profiles)
            .map(|_| draw_profile(&mut rng, normal_cols, self.mean_active))
            .collect();
        // Zipf(1) popularity: a few behaviours dominate, as in real contexts.
        let weights: Vec<f64> = (1..=self.normal_profiles).map(|r| 1.0 / r as f64).collect();
        let total: f64 = weights.iter().sum();
        let pick = |rng: &mut ChaCha8Rng| -> usize {
            let mut x = rng.random::<f64>() * total;
            for (i, w) in weights.iter().enumerate() {
                if x < *w {
                    return i;
                }
                x -= w;
            }
            weights.len() - 1
        };
        let is_attack = match attacks {
            Some(flags) => flags,
            None => {
                let mut n_attacks = (self.processes as f64 * self.attack_rate).round() as usize;
                if self.attack_rate > 0.0 {
                    n_attacks = n_attacks.max(1);
                }
                n_attacks = n_attacks.min(self.processes);
                let mut is_attack = vec![false; self.processes];
                for f in is_attack.iter_mut().take(n_attacks) {
                    *f = true;
                }
                is_attack.shuffle(&mut rng);
                is_attack
            }
        };
        let mut records = Vec::with_capacity(self.processes);
        for (row, &attack) in is_attack.iter().enumerate() {
            let mut attrs = profiles[pick(&mut rng)].clone();
            if attack {
                if rng.random::<f64>() >= self.camouflaged_attacks {
                    // Add one or two attack-only attributes and maybe a rare normal one.
                    let extra = rng.random_range(1..=2.min(self.attack_only_attributes.max(1)));
                    for _ in 0..extra {
                        if self.attack_only_attributes > 0 {
                            attrs.push(
                                (normal_cols + rng.random_range(0..self.attack_only_attributes))
                                    as u32,
                            );
                        }
                    }
                    attrs.push(rng.random_range(0..normal_cols) as u32);
                }
            } else if rng.random::<f64>() < self.mutation_rate {
                let c = rng.random_range(0..normal_cols) as u32;
                match attrs.iter().position(|&a| a == c) {
                    Some(p) if attrs.len() > 1 => {
                        attrs.remove(p);
                    }
                    Some(_) => {}
                    None => attrs.push(c),
                }
            }
            attrs.sort_unstable();
            attrs.dedup();
            records.push(ProcessRecord {
                id: format!("synthetic-{row}"),
                attributes: attrs,
            });
        }
        let context = Context {
            aspect: self.aspect,
            attributes: names,
            records,
            source: None,
        };
        Ok(LabeledContext {
            id: ContextId {
                scenario: Scenario::Pandex,
                performer: Performer::Cadets,
                variant: Some("synthetic".into()),
                aspect: self.aspect,
            },
            labels: Labels {
                flags: is_attack,
                missing_attacks: 0,
            },
            context,
            derived: false,
            unmatched_attack_ids: Vec::new(),
        })
    }
}

fn attribute_names(aspect: Aspect, n: usize) -> Vec<String> {
    const PROGRAMS: &[&str] = &[
        "bash", "sshd", "cron", "nginx", "python", "sh", "cat", "ls", "grep", "sed", "awk", "vim",
        "curl", "wget", "tar", "gzip", "sendmail", "postfix", "dhclient", "syslogd",
    ];
    (0..n)
        .map(|i| match aspect {
            Aspect::ProcessEvent if i < CDM_EVENTS.len() => CDM_EVENTS[i].to_string(),
            Aspect::ProcessExec | Aspect::ProcessParent => match PROGRAMS.get(i) {
                Some(p) => format!("/usr/bin/{p}"),
                None => format!("/usr/local/bin/tool{i}"),
            },
            Aspect::ProcessNetflow => format!("10.0.{}.{}", i / 250, i % 250 + 1),
            _ => format!("EVENT_CUSTOM_{i}"),
        })
        .collect()
}
