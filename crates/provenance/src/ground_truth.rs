//! Ground truth: which processes are attacks.

use crate::context::Context;
use crate::error::{ParseIssue, ProvenanceError, Result};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// The label that marks a process (a CDM Subject) in the ADAPT ground truth.
pub const ATTACK_LABEL: &str = "AdmSubject::Node";

/// Attack process ids gathered from one or more `uuid,label` files.
///
/// A process is an attack iff its id appears with label [`ATTACK_LABEL`] in any file.
/// Duplicate rows (merged files repeat ids) are counted, not errors.
#[derive(Debug, Clone, Default)]
pub struct GroundTruth {
    /// Ids labelled as attack processes.
    pub attacks: HashSet<String>,
    /// Every id named, whatever its label.
    pub all_ids: HashSet<String>,
    /// Files read.
    pub files: Vec<PathBuf>,
    /// Data rows read across files.
    pub rows: usize,
    /// Rows whose id had already been seen (within or across files).
    pub duplicate_rows: usize,
}

impl GroundTruth {
    /// Read and union ground-truth files.
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<GroundTruth> {
        let mut gt = GroundTruth::default();
        for p in paths {
            gt.add_file(p.as_ref())?;
        }
        Ok(gt)
    }

    /// Add one ground-truth file to the union.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let file = File::open(path).map_err(|e| ProvenanceError::io(path, e))?;
        self.add_reader(BufReader::new(file), path)?;
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// Add ground truth from a reader; `path` names it in errors.
    pub fn add_reader<R: Read>(&mut self, reader: R, path: &Path) -> Result<()> {
        // The csv crate treats CR, LF and CRLF alike, which covers the CR-only Android file.
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut rec = csv::StringRecord::new();
        let err = |e: csv::Error| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            ProvenanceError::parse(path, line, ParseIssue::Csv(e.to_string()))
        };
        if !rdr.read_record(&mut rec).map_err(err)? {
            return Err(ProvenanceError::parse(path, 1, ParseIssue::EmptyFile));
        }
        let header: Vec<String> = rec.iter().map(|s| s.trim().to_ascii_lowercase()).collect();
        if header.len() != 2
            || header[0].trim_start_matches('\u{feff}') != "uuid"
            || header[1] != "label"
        {
            return Err(ProvenanceError::parse(
                path,
                1,
                ParseIssue::UnknownGroundTruthHeader(rec.iter().collect::<Vec<_>>().join(",")),
            ));
        }
        let mut rows = 0;
        while rdr.read_record(&mut rec).map_err(err)? {
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            if rec.len() == 1 && rec[0].is_empty() {
                continue;
            }
            if rec.len() != 2 {
                return Err(ProvenanceError::parse(
                    path,
                    line,
                    ParseIssue::RaggedRow {
                        expected: 2,
                        found: rec.len(),
                    },
                ));
            }
            let id = rec[0].trim();
            if id.is_empty() {
                return Err(ProvenanceError::parse(path, line, ParseIssue::EmptyId));
            }
            rows += 1;
            if !self.all_ids.insert(id.to_string()) {
                self.duplicate_rows += 1;
            }
            if rec[1].trim() == ATTACK_LABEL {
                self.attacks.insert(id.to_string());
            }
        }
        if rows == 0 {
            return Err(ProvenanceError::parse(path, 1, ParseIssue::HeaderOnly));
        }
        self.rows += rows;
        Ok(())
    }

    /// Is this process id an attack?
    pub fn is_attack(&self, id: &str) -> bool {
        self.attacks.contains(id)
    }

    /// Label every record of a context.
    pub fn label(&self, context: &Context) -> Labels {
        let flags: Vec<bool> = context
            .records
            .iter()
            .map(|r| self.is_attack(&r.id))
            .collect();
        let present = flags.iter().filter(|&&f| f).count();
        Labels {
            missing_attacks: self.attacks.len() - present,
            flags,
        }
    }
}

/// Per-record attack flags of one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// `true` = attack, one per record.
    pub flags: Vec<bool>,
    /// Ground-truth attack processes that appear in no row of this context.
    pub missing_attacks: usize,
}

impl Labels {
    /// Number of attack records.
    pub fn attacks(&self) -> usize {
        self.flags.iter().filter(|&&f| f).count()
    }
    /// Number of normal records.
    pub fn normals(&self) -> usize {
        self.flags.len() - self.attacks()
    }
}
