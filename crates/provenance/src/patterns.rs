//! Collapse identical processes into patterns.
//!
//! Provenance contexts repeat themselves: the 24 real contexts hold about 1,600 distinct
//! attribute sets over more than 100,000 processes. Embedding and training once per
//! pattern, weighted by its count, gives the same result for a fraction of the work.

use crate::context::Context;
use std::collections::HashMap;

/// One distinct attribute set and the rows that share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// Sorted attribute indices.
    pub attributes: Vec<u32>,
    /// Row indices (into the context's records) with exactly these attributes, ascending.
    pub rows: Vec<usize>,
}

impl Pattern {
    /// How many processes share this pattern.
    pub fn count(&self) -> usize {
        self.rows.len()
    }
}

/// The distinct patterns of a context, in order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns {
    pub patterns: Vec<Pattern>,
    /// For each row, the index of its pattern.
    pub row_pattern: Vec<usize>,
}

impl Patterns {
    /// Deduplicate a context's records.
    ///
    /// ```
    /// use apt_llm_provenance::{Aspect, Context, Patterns, ProcessRecord};
    /// let rec = |id: &str, a: &[u32]| ProcessRecord { id: id.into(), attributes: a.to_vec() };
    /// let ctx = Context {
    ///     aspect: Aspect::ProcessEvent,
    ///     attributes: vec!["EVENT_READ".into(), "EVENT_WRITE".into()],
    ///     records: vec![rec("a", &[0]), rec("b", &[0, 1]), rec("c", &[0])],
    ///     source: None,
    /// };
    /// let p = Patterns::from_context(&ctx);
    /// assert_eq!(p.len(), 2);
    /// assert_eq!(p.patterns[0].rows, vec![0, 2]);
    /// assert_eq!(p.row_pattern, vec![0, 1, 0]);
    /// ```
    pub fn from_context(context: &Context) -> Patterns {
        let mut index: HashMap<&[u32], usize> = HashMap::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut row_pattern = Vec::with_capacity(context.records.len());
        for (row, r) in context.records.iter().enumerate() {
            let p = *index.entry(r.attributes.as_slice()).or_insert_with(|| {
                patterns.push(Pattern {
                    attributes: r.attributes.clone(),
                    rows: Vec::new(),
                });
                patterns.len() - 1
            });
            patterns[p].rows.push(row);
            row_pattern.push(p);
        }
        Patterns {
            patterns,
            row_pattern,
        }
    }

    /// Number of distinct patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }
    /// True when there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Attack rows per pattern, given per-row attack flags.
    pub fn attack_counts(&self, attack: &[bool]) -> Vec<usize> {
        self.patterns
            .iter()
            .map(|p| p.rows.iter().filter(|&&r| attack[r]).count())
            .collect()
    }

    /// Collapse a subset of rows into (pattern index, weight = rows of that pattern in
    /// the subset), pattern order ascending. Training on these weighted patterns
    /// optimises the same objective as training on the rows themselves.
    pub fn weighted(&self, rows: &[usize]) -> Vec<(usize, f32)> {
        let mut w = vec![0usize; self.patterns.len()];
        for &r in rows {
            w[self.row_pattern[r]] += 1;
        }
        w.into_iter()
            .enumerate()
            .filter(|(_, c)| *c > 0)
            .map(|(p, c)| (p, c as f32))
            .collect()
    }
}
