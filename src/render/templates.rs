//! Where templates come from: compiled into the binary, or a directory given with `--charts`.

use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior};
use std::path::PathBuf;

use crate::error::{Error, Result};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/charts");

#[derive(Clone, Debug, Default)]
pub enum Templates {
    #[default]
    Embedded,
    Directory(PathBuf),
}

impl Templates {
    pub fn environment(&self) -> Result<Environment<'static>> {
        let mut env = Environment::new();
        // A typo in a template variable must fail loudly, never render as an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // minijinja JSON-escapes `.yaml` templates by default; ours quote explicitly with `q`.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_filter("q", quote);
        env.add_filter("num", number);
        match self {
            Templates::Embedded => {
                for (name, text) in Self::embedded_files() {
                    env.add_template_owned(name.clone(), text.to_string())
                        .map_err(|e| Error::Template { name, message: e.to_string() })?;
                }
            }
            Templates::Directory(dir) => {
                if !dir.is_dir() {
                    return Err(Error::Usage(format!("--charts {}: not a directory", dir.display())));
                }
                let dir = dir.clone();
                env.set_loader(move |name| {
                    let path = dir.join(name);
                    match std::fs::read_to_string(&path) {
                        Ok(text) => Ok(Some(text)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                        Err(e) => Err(minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("{}: {e}", path.display()),
                        )),
                    }
                });
            }
        }
        Ok(env)
    }

    /// A file's text as it is, not rendered: for snippets (Python) that must reach the output
    /// byte for byte, whatever `{{` or `{%` they contain.
    pub fn raw(&self, name: &str) -> Result<String> {
        match self {
            Templates::Embedded => Self::embedded_files()
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.to_string())
                .ok_or_else(|| Error::Template {
                    name: name.into(),
                    message: "not found among the built-in templates".into(),
                }),
            Templates::Directory(dir) => {
                let path = dir.join(name);
                std::fs::read_to_string(&path).map_err(|e| Error::io(path, e))
            }
        }
    }

    /// The embedded template files, for `init --charts` style exports and tests.
    pub fn embedded_files() -> Vec<(String, &'static str)> {
        fn walk(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static str)>) {
            for f in dir.files() {
                let name = f.path().to_string_lossy().replace('\\', "/");
                out.push((name, f.contents_utf8().unwrap_or_default()));
            }
            for d in dir.dirs() {
                walk(d, out);
            }
        }
        let mut out = Vec::new();
        walk(&EMBEDDED, &mut out);
        out
    }
}

/// `{{ x | q }}`: a YAML double-quoted scalar. JSON string syntax is a subset of YAML's, and
/// unlike minijinja's `tojson` it leaves `<`, `>` and `&` readable.
fn quote(value: minijinja::Value) -> std::result::Result<String, minijinja::Error> {
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None => value.to_string(),
    };
    serde_json::to_string(&text)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

/// `{{ x | num }}`: a number as users write it: `2`, not `2.0`, for whole values.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { value.to_string() }
}
