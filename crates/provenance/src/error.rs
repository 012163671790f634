//! One error type for everything that reads provenance data.

use std::fmt;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = ProvenanceError> = std::result::Result<T, E>;

/// What went wrong inside a file, at a given line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseIssue {
    /// The file has no bytes (or only whitespace).
    EmptyFile,
    /// The file has a header and no data rows.
    HeaderOnly,
    /// The first header cell is not `Object_ID`, `UUID` or empty.
    UnknownIdColumn(String),
    /// A ground-truth header is not `uuid,label`.
    UnknownGroundTruthHeader(String),
    /// A row has a different number of cells than the header.
    RaggedRow { expected: usize, found: usize },
    /// A cell is neither `0` nor `1`.
    BadCell { column: String, value: String },
    /// A process id appears twice in one context.
    DuplicateId { id: String, first_line: u64 },
    /// The id cell is empty.
    EmptyId,
    /// Bytes that are not UTF-8 where text is needed (an id, a label, a column name);
    /// `column` is 1-based.
    InvalidUtf8 { what: &'static str, column: usize },
    /// Two columns of the header have the same name (1-based column numbers).
    DuplicateColumn {
        name: String,
        first: usize,
        second: usize,
    },
    /// A column name longer than [`crate::MAX_NAME_BYTES`] (1-based column number).
    NameTooLong { column: usize, bytes: usize },
    /// The CSV reader failed (unterminated quote, ...).
    Csv(String),
}

impl fmt::Display for ParseIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseIssue::EmptyFile => write!(f, "empty file"),
            ParseIssue::HeaderOnly => write!(f, "header but no data rows"),
            ParseIssue::UnknownIdColumn(h) => write!(
                f,
                "unknown layout: first column is {h:?}, expected \"Object_ID\", \"UUID\" or empty"
            ),
            ParseIssue::UnknownGroundTruthHeader(h) => {
                write!(
                    f,
                    "unknown ground-truth layout: header {h:?}, expected \"uuid,label\""
                )
            }
            ParseIssue::RaggedRow { expected, found } => {
                write!(f, "ragged row: {found} cells, header has {expected}")
            }
            ParseIssue::BadCell { column, value } => {
                write!(f, "cell {value:?} in column {column:?} is not 0 or 1")
            }
            ParseIssue::DuplicateId { id, first_line } => {
                write!(
                    f,
                    "duplicate process id {id:?} (first seen on line {first_line})"
                )
            }
            ParseIssue::EmptyId => write!(f, "empty process id"),
            ParseIssue::InvalidUtf8 { what, column } => {
                write!(f, "{what} in column {column} is not valid UTF-8")
            }
            ParseIssue::DuplicateColumn {
                name,
                first,
                second,
            } => write!(
                f,
                "duplicate column name {name:?} (columns {first} and {second})"
            ),
            ParseIssue::NameTooLong { column, bytes } => write!(
                f,
                "column {column}'s name is {bytes} bytes long, more than the {} an attribute name may have",
                crate::MAX_NAME_BYTES
            ),
            ParseIssue::Csv(m) => write!(f, "malformed CSV: {m}"),
        }
    }
}

/// Errors raised while loading, labelling or splitting provenance contexts.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file's content is wrong at `line` (1-based).
    #[error("{}:{line}: {issue}", path.display())]
    Parse {
        path: PathBuf,
        line: u64,
        issue: ParseIssue,
    },
    /// Ground truth whose ids match no process of any context in its folder.
    #[error("{}: ground truth names {ids} process ids, none of which appears in a context of {}", files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "), folder.display())]
    NoKnownProcess {
        folder: PathBuf,
        files: Vec<PathBuf>,
        ids: usize,
    },
    /// Ground truth with rows but no attack label: every process would pass for normal.
    #[error("{}: ground truth labels {rows} ids and none {attack}: every process would pass for normal (labels found: {labels})", files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "), attack = crate::ground_truth::ATTACK_LABEL)]
    NoAttackLabel {
        files: Vec<PathBuf>,
        rows: usize,
        /// The labels found, with their counts (the most frequent first, at most five).
        labels: String,
    },
    /// A directory that is not laid out as `{scenario}/{performer}/Process*.csv`.
    #[error("{}: unknown layout: {reason}", path.display())]
    UnknownLayout { path: PathBuf, reason: String },
    /// A context name such as `bovia/cadets/PE` that could not be parsed or found.
    #[error("context {name:?}: {reason}")]
    UnknownContext { name: String, reason: String },
    /// A test set holding one class only: no ROC curve can be drawn from it.
    #[error(
        "{context}: test set holds a single class ({normals} normal, {attacks} attack processes)"
    )]
    SingleClass {
        context: String,
        normals: usize,
        attacks: usize,
    },
    /// Invalid parameters (split fractions, generator sizes, ...).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

impl ProvenanceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ProvenanceError::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn parse(path: impl Into<PathBuf>, line: u64, issue: ParseIssue) -> Self {
        ProvenanceError::Parse {
            path: path.into(),
            line,
            issue,
        }
    }
    /// The in-file issue, when this error is one.
    pub fn issue(&self) -> Option<&ParseIssue> {
        match self {
            ProvenanceError::Parse { issue, .. } => Some(issue),
            _ => None,
        }
    }
}
