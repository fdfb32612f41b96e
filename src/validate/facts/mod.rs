//! The facts rules need, read out of each kind of file with the place each came from.
//!
//! Rules never walk YAML themselves: they compare facts (a cluster's region, a node group's taint,
//! the options handler's default worker cores) that extraction here pulls from an eksctl
//! ClusterConfig, DaskHub values, EBS CSI values, Kubernetes manifests or the pangeo config. The
//! same fact type comes from a rendered artifact or from the config, so a cross-file rule runs the
//! same way whichever of the two a user gave. Extraction is defensive: a missing or mistyped value
//! is simply absent (the schema reports it), never a panic.

pub mod cluster;
pub mod config;
pub mod hub;
pub mod manifests;

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::yaml::{Node, Pos, Value, dotted};
pub use cluster::{ClusterFacts, Group, Role, Taint};
pub use config::ConfigFacts;
pub use hub::{Bound, CAPACITY_TYPE, HubFacts, Image, NODEGROUP_LABEL, SSL_CERT, SpawnSetting, Toleration};
pub use manifests::{AutoscalerFacts, DEFAULT_CLASS, EbsFacts, ManifestFacts, ROLE_ARN, StorageClassFacts};

/// Where a fact was read: file, position and the field as users write it.
#[derive(Clone, Debug, PartialEq)]
pub struct Loc {
    pub file: PathBuf,
    pub pos: Pos,
    pub field: String,
}

impl Loc {
    pub fn error(&self, id: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(id, &self.file, self.pos, message).field(self.field.clone())
    }
    pub fn warning(&self, id: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(id, &self.file, self.pos, message).field(self.field.clone())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fact<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Fact<T> {
    pub fn error(&self, id: &'static str, message: impl Into<String>) -> Diagnostic {
        self.loc.error(id, message)
    }
    pub fn warning(&self, id: &'static str, message: impl Into<String>) -> Diagnostic {
        self.loc.warning(id, message)
    }
}

/// Reads facts from one parsed document, naming its fields by their path.
pub struct Reader<'a> {
    pub file: &'a Path,
    pub root: &'a Node,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a Path, root: &'a Node) -> Self {
        Reader { file, root }
    }

    pub fn loc(&self, path: &[&str]) -> Loc {
        Loc { file: self.file.to_path_buf(), pos: self.root.locate(path, false), field: dotted(path) }
    }

    /// The location of a key (for "missing" or "add here" messages).
    pub fn key_loc(&self, path: &[&str]) -> Loc {
        Loc { file: self.file.to_path_buf(), pos: self.root.locate(path, true), field: dotted(path) }
    }

    pub fn node(&self, path: &[&str]) -> Option<&'a Node> {
        self.root.at(path)
    }

    pub fn string(&self, path: &[&str]) -> Option<Fact<String>> {
        let n = self.root.at(path)?;
        Some(Fact { value: n.as_str()?.to_string(), loc: self.loc(path) })
    }

    pub fn number(&self, path: &[&str]) -> Option<Fact<f64>> {
        let n = self.root.at(path)?;
        Some(Fact { value: number(n)?, loc: self.loc(path) })
    }

    pub fn boolean(&self, path: &[&str]) -> Option<bool> {
        match self.root.at(path)?.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn strings(&self, path: &[&str]) -> Vec<Fact<String>> {
        let Some(n) = self.root.at(path) else { return Vec::new() };
        n.as_seq()
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let idx = i.to_string();
                let mut p = path.to_vec();
                p.push(&idx);
                Some(Fact { value: item.as_str()?.to_string(), loc: self.loc(&p) })
            })
            .collect()
    }

    /// A mapping of strings (labels, annotations, tags), each entry with its own location.
    pub fn string_map(&self, path: &[&str]) -> Vec<Fact<(String, String)>> {
        let Some(n) = self.root.at(path) else { return Vec::new() };
        n.as_map()
            .iter()
            .filter_map(|e| {
                let mut p = path.to_vec();
                p.push(&e.key);
                Some(Fact { value: (e.key.clone(), scalar_text(&e.value)?), loc: self.loc(&p) })
            })
            .collect()
    }
}

/// `base` followed by `rest`, as one path.
pub fn join<'a>(base: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    [base, rest].concat()
}

pub fn number(n: &Node) -> Option<f64> {
    match n.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) => Some(f),
        _ => None,
    }
}

/// A scalar as text (strings as they are, numbers and booleans as YAML would print them).
pub fn scalar_text(n: &Node) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
