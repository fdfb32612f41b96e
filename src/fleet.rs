//! A fleet in one run: several configs (or folders of them), one deployment each, worked on
//! concurrently with a bounded number in flight, then one summary table (or one JSON document)
//! and the worst exit code. One failing deployment never stops the others.
//!
//! Each deployment's own output is captured while it runs and printed whole, in the order the
//! configs were given, so outputs never interleave. While they run, a terminal shows one live
//! line per deployment in flight (indicatif); anything else gets one plain line as each starts
//! and ends, which is what CI logs want.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The configs named on the command line: files as given, folders as the deployment configs
/// directly in them (`kind: PangeoDeployment`, secrets files skipped), sorted by name.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| Error::io(p, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| is_deployment_config(f))
            .collect();
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no deployment configs in this folder (YAML files with `kind: PangeoDeployment`)",
                p.display()
            )));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

fn is_deployment_config(path: &Path) -> bool {
    let yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    yaml && path.is_file()
        && !name.ends_with(".secrets.yaml")
        && std::fs::read_to_string(path)
            .is_ok_and(|t| t.lines().any(|l| l.trim_end() == "kind: PangeoDeployment"))
}

/// The config's file stem: the deployment's name in the table and its folder under `-o`.
pub fn stem(config: &Path) -> String {
    config.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "pangeo".into())
}

/// What one deployment's run came to.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub config: String,
    /// The config's stem.
    pub deployment: String,
    /// `NAME (REGION)` of the EKS cluster, when the config could be read.
    pub cluster: String,
    /// A word: `valid`, `invalid`, `rendered`, `in sync`, `differs`, `applied`, `error`.
    pub result: String,
    /// A few words on what changed or was found.
    pub changes: String,
    pub exit_code: i32,
    /// The command's own document (`ValidationReport`, `DiffReport`, ...), with `-o json|yaml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the command printed on stdout, for the text output (not in JSON: `report` has it).
    #[serde(skip)]
    pub output: Vec<u8>,
    /// What it printed on stderr (diagnostics, notes, errors, a generated password shown once):
    /// printed on the fleet's stderr, as a single run would, never mixed into stdout.
    #[serde(skip)]
    pub notes: Vec<u8>,
    #[serde(skip)]
    pub seconds: f64,
}

impl Outcome {
    pub fn new(config: &Path) -> Outcome {
        Outcome {
            config: config.display().to_string(),
            deployment: stem(config),
            cluster: String::new(),
            result: String::new(),
            changes: String::new(),
            exit_code: 0,
            report: None,
            error: None,
            output: Vec::new(),
            notes: Vec::new(),
            seconds: 0.0,
        }
    }

    /// A run that ended in an error: the message, as the single run would print it.
    pub fn failed(mut self, e: &Error) -> Outcome {
        self.exit_code = e.exit_code();
        self.result = if e.exit_code() == 1 { "invalid".into() } else { "error".into() };
        let mut text = Vec::new();
        crate::write_error(&mut text, e);
        let text = String::from_utf8_lossy(&text).into_owned();
        self.changes = first_line(&text);
        self.notes.extend_from_slice(text.as_bytes());
        self.error = Some(strip_ansi(&text).trim_end().to_string());
        self
    }
}

fn first_line(text: &str) -> String {
    let line = strip_ansi(text.lines().next().unwrap_or_default());
    let line = line.strip_prefix("error: ").unwrap_or(&line).to_string();
    if line.chars().count() > 70 { format!("{}…", line.chars().take(69).collect::<String>()) } else { line }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `work` for every config, at most `jobs` at a time, showing progress on stderr.
/// Results come back in the order of `configs`.
pub fn run(
    verb: &str,
    configs: &[PathBuf],
    jobs: usize,
    work: impl Fn(&Path) -> Outcome + Sync,
) -> Vec<Outcome> {
    let jobs = jobs.clamp(1, configs.len().max(1));
    run_showing(Progress::new(verb, configs.len()), configs, jobs, work)
}

/// [`run`] with its progress display given.
fn run_showing(
    progress: Progress,
    configs: &[PathBuf],
    jobs: usize,
    work: impl Fn(&Path) -> Outcome + Sync,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; configs.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(config) = configs.get(i) else { break };
                    let line = progress.start(&stem(config));
                    let started = Instant::now();
                    let mut outcome = work(config);
                    outcome.seconds = started.elapsed().as_secs_f64();
                    progress.finish(line, &outcome);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(outcome);
                }
            });
        }
    });
    progress.done();
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|o| o.expect("every config ran"))
        .collect()
}

/// Live lines on a terminal, plain lines otherwise.
enum Progress {
    Live { bars: indicatif::MultiProgress, style: indicatif::ProgressStyle },
    Plain { verb: String, total: usize, finished: AtomicUsize, to: Mutex<Box<dyn Write + Send>> },
}

enum Line {
    Live(indicatif::ProgressBar),
    Plain,
}

impl Progress {
    fn new(verb: &str, total: usize) -> Progress {
        if std::io::stderr().is_terminal() {
            let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
            Progress::Live { bars: indicatif::MultiProgress::new(), style }
        } else {
            Progress::plain(verb, total, Box::new(std::io::stderr()))
        }
    }

    fn plain(verb: &str, total: usize, to: Box<dyn Write + Send>) -> Progress {
        Progress::Plain { verb: verb.into(), total, finished: AtomicUsize::new(0), to: Mutex::new(to) }
    }

    fn start(&self, name: &str) -> Line {
        match self {
            Progress::Live { bars, style } => {
                let bar = bars.add(indicatif::ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(name.to_string());
                bar.set_message("running");
                bar.enable_steady_tick(Duration::from_millis(120));
                Line::Live(bar)
            }
            Progress::Plain { verb, to, .. } => {
                let _ = writeln!(to.lock().unwrap_or_else(|e| e.into_inner()), "{verb} {name}: started");
                Line::Plain
            }
        }
    }

    fn finish(&self, line: Line, o: &Outcome) {
        match (self, line) {
            (Progress::Live { bars, .. }, Line::Live(bar)) => {
                bar.finish_and_clear();
                bars.remove(&bar);
                let _ = bars
                    .println(format!("{} {}: {} ({:.1} s)", o.deployment, o.result, o.changes, o.seconds));
            }
            (Progress::Plain { verb, total, finished, to }, _) => {
                let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
                let _ = writeln!(
                    to.lock().unwrap_or_else(|e| e.into_inner()),
                    "{verb} {}: {} ({n}/{total}, {:.1} s)",
                    o.deployment,
                    o.result,
                    o.seconds
                );
            }
            _ => {}
        }
    }

    fn done(&self) {
        if let Progress::Live { bars, .. } = self {
            let _ = bars.clear();
        }
    }
}

/// The worst exit code: 2 (an error) over 1 (differences, problems) over 0.
pub fn worst(outcomes: &[Outcome]) -> i32 {
    outcomes.iter().map(|o| o.exit_code).max().unwrap_or(0)
}

/// Each deployment's stdout under a header, then the summary table.
pub fn write_text(out: &mut dyn Write, outcomes: &[Outcome]) -> std::io::Result<()> {
    write_each(out, outcomes, |o| &o.output)?;
    write_table(out, outcomes)
}

/// Each deployment's stderr under a header (for the fleet's stderr).
pub fn write_notes(err: &mut dyn Write, outcomes: &[Outcome]) -> std::io::Result<()> {
    write_each(err, outcomes, |o| &o.notes)
}

fn write_each(out: &mut dyn Write, outcomes: &[Outcome], text: fn(&Outcome) -> &[u8]) -> std::io::Result<()> {
    for o in outcomes.iter().filter(|o| !text(o).is_empty()) {
        writeln!(out, "==> {} ({})", o.deployment, o.config)?;
        out.write_all(text(o))?;
        if !text(o).ends_with(b"\n") {
            writeln!(out)?;
        }
    }
    Ok(())
}

pub fn write_table(out: &mut dyn Write, outcomes: &[Outcome]) -> std::io::Result<()> {
    let header = ["DEPLOYMENT", "CLUSTER", "RESULT", "CHANGES"];
    let rows: Vec<[&str; 4]> = outcomes
        .iter()
        .map(|o| [o.deployment.as_str(), o.cluster.as_str(), o.result.as_str(), o.changes.as_str()])
        .collect();
    let width =
        |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let line = |out: &mut dyn Write, r: [&str; 4]| {
        let text = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        writeln!(out, "{}", text.trim_end())
    };
    line(out, header)?;
    for r in rows {
        line(out, r)?;
    }
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    writeln!(
        out,
        "{} deployment(s): {} ok, {} with findings or differences, {} failed",
        outcomes.len(),
        count(&|o| o.exit_code == 0),
        count(&|o| o.exit_code == 1),
        count(&|o| o.exit_code >= 2)
    )
}

/// The whole fleet as one JSON document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document<'a> {
    pub command: &'a str,
    pub exit_code: i32,
    pub deployments: &'a [Outcome],
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain progress lines, thrown away.
    fn quiet(configs: &[PathBuf]) -> Progress {
        Progress::plain("test", configs.len(), Box::new(std::io::sink()))
    }

    #[test]
    fn results_keep_the_given_order_at_any_concurrency_and_the_worst_code_wins() {
        let configs: Vec<PathBuf> = (0..7).map(|i| PathBuf::from(format!("d{i}.yaml"))).collect();
        for jobs in [1, 3, 16] {
            let outcomes = run_showing(quiet(&configs), &configs, jobs, |c| {
                let mut o = Outcome::new(c);
                o.exit_code = if o.deployment == "d4" {
                    2
                } else if o.deployment == "d1" {
                    1
                } else {
                    0
                };
                o
            });
            let names: Vec<&str> = outcomes.iter().map(|o| o.deployment.as_str()).collect();
            assert_eq!(names, ["d0", "d1", "d2", "d3", "d4", "d5", "d6"]);
            assert_eq!(worst(&outcomes), 2);
        }
        assert_eq!(worst(&[]), 0);
    }

    #[test]
    fn no_more_than_jobs_deployments_are_in_flight_and_as_many_run_together() {
        let configs: Vec<PathBuf> = (0..6).map(|i| PathBuf::from(format!("d{i}.yaml"))).collect();
        for jobs in [1, 3] {
            let (now, most, started) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
            run_showing(quiet(&configs), &configs, jobs, |c| {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                started.fetch_add(1, Ordering::SeqCst);
                // Wait (a bounded while) for the others a bound of `jobs` lets in, unless every
                // deployment has started: when they never come, the fleet runs serially and
                // `most` says so.
                for _ in 0..500 {
                    if now.load(Ordering::SeqCst) >= jobs || started.load(Ordering::SeqCst) == configs.len() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                std::thread::sleep(Duration::from_millis(5));
                now.fetch_sub(1, Ordering::SeqCst);
                Outcome::new(c)
            });
            assert_eq!(most.load(Ordering::SeqCst), jobs);
        }
    }

    #[test]
    fn the_table_lines_up_and_counts() {
        let mut a = Outcome::new(Path::new("fleet/alpha.yaml"));
        (a.cluster, a.result, a.changes) = ("alpha (us-west-2)".into(), "in sync".into(), "".into());
        let mut b = Outcome::new(Path::new("fleet/b.yaml"));
        (b.cluster, b.result, b.changes, b.exit_code) =
            ("b (eu-west-1)".into(), "differs".into(), "2 to update".into(), 1);
        let mut out = Vec::new();
        write_table(&mut out, &[a, b]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "DEPLOYMENT  CLUSTER            RESULT   CHANGES\n\
             alpha       alpha (us-west-2)  in sync\n\
             b           b (eu-west-1)      differs  2 to update\n\
             2 deployment(s): 1 ok, 1 with findings or differences, 0 failed\n"
        );
    }
}
