//! Reading `routes.yaml`: text → position index → raw serde types.
//!
//! serde_yaml stops at the first error and loses positions once a file is a
//! `Value`, so loading happens in two passes: yaml-rust2's event parser
//! records the line:col of every node path (`routes[1].targets[0].provider`),
//! then each section is deserialized on its own (with `serde_path_to_error`)
//! so that every broken section is reported, each with its line.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde_yaml::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::raw::{RawConfig, RawPreset, RawProvider, RawRoute, RawServer};

/// One problem found in a config file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigIssue {
    pub file: PathBuf,
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub col: usize,
    /// Field path such as `routes[1].targets[0].provider`; empty for the whole file.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.path, self.message)
        }
    }
}

/// The text of a config file and the position of each of its nodes.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    /// Where each node starts (for a mapping entry: its key).
    positions: HashMap<String, (usize, usize)>,
    /// Where each scalar value starts.
    values: HashMap<String, (usize, usize)>,
}

impl Source {
    /// Indexes `text`; a YAML syntax error is returned as an issue with its line.
    pub fn new(path: &Path, text: String) -> Result<Self, ConfigIssue> {
        let mut index = PositionIndex::default();
        let mut parser = Parser::new_from_str(&text);
        if let Err(e) = parser.load(&mut index, false) {
            let m = e.marker();
            return Err(ConfigIssue {
                file: path.to_path_buf(),
                line: m.line(),
                col: m.col() + 1,
                path: String::new(),
                message: format!("invalid YAML: {}", e.info()),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            text,
            positions: index.positions,
            values: index.values,
        })
    }

    /// An issue about the value at `path`, placed at that value (else at the
    /// nearest indexed node: the path itself, or its closest ancestor).
    pub fn issue(&self, path: &str, message: impl Into<String>) -> ConfigIssue {
        let pos = self.values.get(path).copied();
        self.issue_at(path, pos.unwrap_or_else(|| self.position(path)), message)
    }

    /// An issue about the key at `path` (e.g. an unknown field).
    pub fn key_issue(&self, path: &str, message: impl Into<String>) -> ConfigIssue {
        self.issue_at(path, self.position(path), message)
    }

    fn issue_at(
        &self,
        path: &str,
        (line, col): (usize, usize),
        message: impl Into<String>,
    ) -> ConfigIssue {
        ConfigIssue {
            file: self.path.clone(),
            line,
            col,
            path: path.to_string(),
            message: message.into(),
        }
    }

    fn position(&self, path: &str) -> (usize, usize) {
        let mut p = path;
        loop {
            if let Some(&pos) = self.positions.get(p) {
                return pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return (0, 0),
            }
        }
    }
}

/// Builds `path → (line, col)` from yaml-rust2 events.
#[derive(Default)]
struct PositionIndex {
    positions: HashMap<String, (usize, usize)>,
    values: HashMap<String, (usize, usize)>,
    stack: Vec<Frame>,
}

enum Frame {
    /// A mapping; `key` is the key whose value comes next, if any.
    Map {
        path: String,
        key: Option<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

impl PositionIndex {
    /// The path of the node that starts now (and advances the parent).
    fn child_path(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => key.take().map(|k| join(path, &k)),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
        }
    }

    fn record(&mut self, path: &str, mark: Marker) {
        self.positions
            .entry(path.to_string())
            .or_insert((mark.line(), mark.col() + 1));
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl MarkedEventReceiver for PositionIndex {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map {
                    path,
                    key: key @ None,
                }) = self.stack.last_mut()
                {
                    // A key: remember it; its own position is the value's fallback.
                    let p = join(path, &value);
                    *key = Some(value);
                    self.record(&p, mark);
                } else if let Some(p) = self.child_path() {
                    self.record(&p, mark);
                    self.values.insert(p, (mark.line(), mark.col() + 1));
                }
            }
            Event::Alias(_) => {
                self.child_path();
            }
            Event::MappingStart(..) => {
                let path = self.child_path().unwrap_or_default();
                self.record(&path, mark);
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.child_path().unwrap_or_default();
                self.record(&path, mark);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

/// Reads and parses `path` into raw types. Sections that fail are left out
/// of the returned config and reported in the issues (so that validation can
/// still look at the rest); unreadable or non-YAML files are an `Err`.
pub fn load_file(path: &Path) -> Result<(RawConfig, Source, Vec<ConfigIssue>), Vec<ConfigIssue>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigIssue {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
            path: String::new(),
            message: format!("cannot read config: {e}"),
        }]
    })?;
    let source = Source::new(path, text).map_err(|e| vec![e])?;
    let (raw, issues) = parse(&source)?;
    Ok((raw, source, issues))
}

/// Parses an indexed source into raw types; see [`load_file`].
pub fn parse(source: &Source) -> Result<(RawConfig, Vec<ConfigIssue>), Vec<ConfigIssue>> {
    let value: Value = serde_yaml::from_str(&source.text)
        .map_err(|e| vec![source.issue("", format!("invalid YAML: {e}"))])?;
    let Value::Mapping(top) = value else {
        return Err(vec![source.issue(
            "",
            "the config must be a mapping with `listen`, `providers` and `routes`",
        )]);
    };
    let mut issues = Vec::new();
    let mut raw = RawConfig {
        listen: None,
        server: RawServer::default(),
        scripts: None,
        providers: IndexMap::new(),
        routes: Vec::new(),
        policy: Default::default(),
        guardrails: Vec::new(),
        broken_providers: Vec::new(),
    };
    for (key, value) in top {
        let Some(key) = key.as_str().map(str::to_string) else {
            issues.push(source.issue("", "top-level keys must be strings"));
            continue;
        };
        match key.as_str() {
            "listen" => raw.listen = section(source, &key, value, &mut issues),
            "scripts" => raw.scripts = section(source, &key, value, &mut issues),
            "server" => raw.server = section(source, &key, value, &mut issues).unwrap_or_default(),
            "providers" => {
                raw.providers = providers(source, value, &mut raw.broken_providers, &mut issues)
            }
            "routes" => raw.routes = routes(source, value, &mut issues),
            "auth" => raw.policy.auth = section(source, &key, value, &mut issues),
            "state" => raw.policy.state = section(source, &key, value, &mut issues),
            "ledger" => raw.policy.ledger = section(source, &key, value, &mut issues),
            "cache" => raw.policy.cache = section(source, &key, value, &mut issues),
            "admin" => raw.policy.admin = section(source, &key, value, &mut issues),
            "tracing" => raw.policy.tracing = section(source, &key, value, &mut issues),
            "budget" => raw.policy.budget = section(source, &key, value, &mut issues),
            "guardrails" => {
                raw.guardrails = section(source, &key, value, &mut issues).unwrap_or_default()
            }
            other => issues.push(source.key_issue(
                other,
                format!(
                    "unknown key `{other}` (expected listen, server, scripts, providers, routes, guardrails, auth, state, ledger, cache, admin, tracing, budget)"
                ),
            )),
        }
    }
    Ok((raw, issues))
}

fn providers(
    source: &Source,
    value: Value,
    broken: &mut Vec<String>,
    issues: &mut Vec<ConfigIssue>,
) -> IndexMap<String, RawProvider> {
    let mut out = IndexMap::new();
    match value {
        Value::Null => {}
        Value::Mapping(map) => {
            for (name, value) in map {
                let Some(name) = name.as_str().map(str::to_string) else {
                    issues.push(source.issue("providers", "provider names must be strings"));
                    continue;
                };
                let path = format!("providers.{name}");
                match section::<RawProvider>(source, &path, value, issues) {
                    Some(p) => drop(out.insert(name, p)),
                    None => broken.push(name),
                }
            }
        }
        _ => issues.push(source.issue("providers", "expected a mapping of provider names")),
    }
    out
}

/// Reads the provider catalog at `path`: preset name → defaults.
pub fn load_catalog(
    path: &Path,
) -> Result<(IndexMap<String, RawPreset>, Source), Vec<ConfigIssue>> {
    load_named(path, "the provider catalog")
}

/// Reads a data file beside the adapter scripts that maps names to `T`
/// (the provider catalog, the pricing catalog); `what` names it in
/// messages. Every broken entry is reported with its line.
pub fn load_named<T: DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<(IndexMap<String, T>, Source), Vec<ConfigIssue>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigIssue {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
            path: String::new(),
            message: format!("cannot read {what}: {e}"),
        }]
    })?;
    parse_named(path, text, what)
}

/// [`load_named`] on `text` already read (`path` names it in messages).
pub fn parse_named<T: DeserializeOwned>(
    path: &Path,
    text: String,
    what: &str,
) -> Result<(IndexMap<String, T>, Source), Vec<ConfigIssue>> {
    let source = Source::new(path, text).map_err(|e| vec![e])?;
    let value: Value = serde_yaml::from_str(&source.text)
        .map_err(|e| vec![source.issue("", format!("invalid YAML: {e}"))])?;
    let map = match value {
        Value::Mapping(map) => map,
        Value::Null => Default::default(),
        _ => {
            return Err(vec![
                source.issue("", format!("{what} must map names to entries"))
            ])
        }
    };
    let mut issues = Vec::new();
    let mut entries = IndexMap::new();
    for (name, value) in map {
        let Some(name) = name.as_str().map(str::to_string) else {
            issues.push(source.issue("", format!("the names in {what} must be strings")));
            continue;
        };
        if let Some(entry) = section::<T>(&source, &name, value, &mut issues) {
            entries.insert(name, entry);
        }
    }
    if issues.is_empty() {
        Ok((entries, source))
    } else {
        Err(issues)
    }
}

fn routes(source: &Source, value: Value, issues: &mut Vec<ConfigIssue>) -> Vec<RawRoute> {
    match value {
        Value::Null => Vec::new(),
        Value::Sequence(items) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| section(source, &format!("routes[{i}]"), v, issues))
            .collect(),
        _ => {
            issues.push(source.issue("routes", "expected a list of routes"));
            Vec::new()
        }
    }
}

/// Deserializes one section; on failure records an issue at the failing field.
fn section<T: DeserializeOwned>(
    source: &Source,
    base: &str,
    value: Value,
    issues: &mut Vec<ConfigIssue>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let mut path = base.to_string();
            for seg in e.path().iter() {
                use serde_path_to_error::Segment;
                match seg {
                    Segment::Seq { index } => path.push_str(&format!("[{index}]")),
                    Segment::Map { key } => path = join(&path, key),
                    Segment::Enum { .. } | Segment::Unknown => {}
                }
            }
            let message = e.inner().to_string();
            if let Some(field) = backticked(&message).filter(|_| message.contains("unknown field"))
            {
                if !path.ends_with(&format!(".{field}")) && path != field {
                    path = join(&path, field);
                }
                issues.push(source.key_issue(&path, friendly(&message)));
            } else {
                issues.push(source.issue(&path, friendly(&message)));
            }
            None
        }
    }
}

/// The first `backticked` word of a serde message.
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// serde's untagged-enum message says nothing useful; say what is expected.
fn friendly(message: &str) -> String {
    if message.starts_with("data did not match any variant of untagged enum Scalar") {
        "expected a number or a string such as `30s` or `10MiB`".to_string()
    } else if message.starts_with("data did not match any variant of untagged enum OneOrMany") {
        "expected a string or a list of strings".to_string()
    } else {
        message.to_string()
    }
}

#[cfg(test)]
mod tests;
