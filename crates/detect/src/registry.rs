//! Loading saved detectors by their `kind` tag: one table from kind to loader, which the
//! crates that define detectors fill and a user's crate extends with its own kinds.
//!
//! Every saved detector file starts with its `kind` (`{"kind": "rarity", ...}`, see
//! [`save_json`](crate::save_json)); [`Registry::load`] reads that tag and calls the loader
//! registered for it. An unknown kind is an error naming the kinds this registry knows:
//! nothing is guessed.
//!
//! ```
//! use apt_llm_detect::{Detector, Fit, Rarity, Registry, TrainSet};
//! use ndarray::array;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("rarity.json");
//! let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.0]];
//! Rarity.fit(&TrainSet::new(x.view()))?.save(&path)?;
//! // `Registry::new()` knows this crate's kinds (rarity, frequency-prior); the runner's
//! // `apt_llm_runner::registry()` adds the autoencoders and baselines, and
//! // `register` adds yours.
//! let model = Registry::new().load(&path)?;
//! assert_eq!(model.name(), "Rarity");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::persist::saved_kind;
use crate::{DetectError, Detector, FittedRarity, FrequencyPrior, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// A loader: reads the detector file at the path. It gets the registry too, so a detector
/// that wraps another (the frequency prior) can load its inner file of any kind.
pub type Loader = dyn Fn(&Path, &Registry) -> Result<Box<dyn Detector>> + Send + Sync;

/// A table from a saved detector's `kind` tag to its loader.
#[derive(Clone)]
pub struct Registry {
    loaders: BTreeMap<String, Arc<Loader>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.loaders.keys()).finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// A registry with no kinds at all.
    pub fn empty() -> Registry {
        Registry {
            loaders: BTreeMap::new(),
        }
    }

    /// A registry with this crate's kinds: `rarity` and `frequency-prior`.
    pub fn new() -> Registry {
        let mut r = Registry::empty();
        r.register("rarity", |p, _| Ok(Box::new(FittedRarity::load(p)?)));
        r.register("frequency-prior", |p, r| {
            Ok(Box::new(FrequencyPrior::load(p, |inner| r.load(inner))?))
        });
        r
    }

    /// Register (or replace) the loader of `kind`: the tag your detector's `save` writes.
    pub fn register(
        &mut self,
        kind: impl Into<String>,
        loader: impl Fn(&Path, &Registry) -> Result<Box<dyn Detector>> + Send + Sync + 'static,
    ) -> &mut Registry {
        self.loaders.insert(kind.into(), Arc::new(loader));
        self
    }

    /// The kinds this registry can load, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.loaders.keys().map(String::as_str)
    }

    /// True when `kind` has a loader.
    pub fn knows(&self, kind: &str) -> bool {
        self.loaders.contains_key(kind)
    }

    /// Load the detector saved at `path` with the loader of its `kind` tag.
    pub fn load(&self, path: &Path) -> Result<Box<dyn Detector>> {
        let kind = saved_kind(path)?;
        match self.loaders.get(&kind) {
            Some(load) => load(path, self),
            None => Err(DetectError::UnknownKind {
                path: path.to_path_buf(),
                kind,
                known: self.kinds().map(str::to_string).collect(),
            }),
        }
    }
}
