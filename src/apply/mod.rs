//! Applying the plan: server-side apply of each object in dependency order, and the Helm step.
//!
//! Nothing is written until the whole plan has passed a server-side dry run: a conflict with
//! another field manager (without `--force-conflicts`) or an immutable change (without
//! `--recreate`) stops here and lists every such field first. Then each object is applied as
//! field manager `pangeo-render`; objects already in sync are not sent again. If one fails, the
//! error says which objects were applied before it, and running `apply` again continues:
//! server-side apply is idempotent, so the applied ones come out unchanged.
//!
//! Helm releases are not installed behind the user's back. Without `--helm` apply prints the
//! `helm upgrade --install` commands, pointing at the values files `pangeo-render values` writes
//! (`rendered/` by default, mode 0600) — rendering is deterministic, so that file is byte for byte
//! what apply rendered. With `--helm` apply runs helm itself, handing it the values on its stdin
//! (`--values -`), so that no copy of the secrets is ever written to a temporary file.

pub mod helm;

use std::io::Write;

use crate::error::Result;
use crate::kube::{ApplyMode, Cluster, ClusterError};
use crate::plan::{Action, Planned, takeover};
pub use helm::{helm_blockers, print_helm_commands, run_helm};

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub dry_run: bool,
    pub force_conflicts: bool,
    pub recreate: bool,
}

/// Why the plan cannot be applied as asked, listing every field; `None` when it can.
pub fn blockers(plan: &[Planned], opts: &Options) -> Option<String> {
    let mut lines = Vec::new();
    let conflicted: Vec<&Planned> =
        plan.iter().filter(|p| !p.conflicts.is_empty() && p.immutable.is_empty()).collect();
    if !conflicted.is_empty() && !opts.force_conflicts {
        lines.push(format!("{} object(s) have fields owned by other field managers:", conflicted.len()));
        for p in &conflicted {
            lines.push(format!("  {}:", p.object));
            for c in &p.conflicts {
                lines.push(format!("    {} (manager \"{}\")", c.field, c.manager));
            }
        }
        lines.push("  Re-run with --force-conflicts to take these fields over (the other managers lose them), or change the config to agree with them.".into());
    }
    let immutable: Vec<&Planned> = plan.iter().filter(|p| !p.immutable.is_empty()).collect();
    if !immutable.is_empty() && !opts.recreate {
        lines.push(format!(
            "{} object(s) would change fields the server does not allow to change in place:",
            immutable.len()
        ));
        for p in &immutable {
            lines.push(format!("  {}:", p.object));
            for m in &p.immutable {
                lines.push(format!("    {m}"));
            }
        }
        lines.push(
            "  Re-run with --recreate to delete and re-create them. For a StorageClass this is safe for existing volumes (they keep their class name); new volumes use the new settings."
                .into(),
        );
    }
    (!lines.is_empty()).then(|| format!("nothing was applied:\n{}", lines.join("\n")))
}

/// What happened to one object: `created`, `configured`, `unchanged`, `would be created`…
#[derive(Clone, Debug, serde::Serialize)]
pub struct Applied {
    pub object: String,
    pub result: &'static str,
}

/// Applies the plan in order, printing one line per object, and returns what happened to each.
/// On failure the error names the failed object and those applied before it.
pub async fn apply(
    cluster: &Cluster,
    plan: &[Planned],
    opts: &Options,
    out: &mut impl Write,
) -> Result<Vec<Applied>, Failure> {
    let suffix = if opts.dry_run { " (server dry run)" } else { "" };
    let mut done: Vec<String> = Vec::new();
    let mut applied = Vec::new();
    for (i, p) in plan.iter().enumerate() {
        let result = apply_one(cluster, p, opts).await;
        match result {
            Ok(word) => {
                let _ = writeln!(out, "{} {word}{suffix}", p.object);
                if word != "unchanged" {
                    done.push(p.object.to_string());
                }
                applied.push(Applied { object: p.object.to_string(), result: word });
            }
            Err(error) => {
                return Err(Failure {
                    applied: done,
                    failed: p.object.to_string(),
                    not_attempted: plan[i + 1..].iter().map(|p| p.object.to_string()).collect(),
                    error,
                    dry_run: opts.dry_run,
                });
            }
        }
    }
    Ok(applied)
}

async fn apply_one(cluster: &Cluster, p: &Planned, opts: &Options) -> Result<&'static str, ClusterError> {
    let force = opts.force_conflicts || p.handover;
    let mode = ApplyMode { manager: p.manager, dry_run: opts.dry_run, force };
    match p.action() {
        Action::Unchanged => Ok("unchanged"),
        Action::Recreate => {
            cluster.delete(&p.object, opts.dry_run).await?;
            if opts.dry_run {
                // The create cannot be tried while the object still exists.
                return Ok("would be re-created (deleted, then created)");
            }
            cluster.apply(&p.object, &p.body, mode).await?;
            Ok("re-created (deleted, then created)")
        }
        // The plan's dry run already ran these exact requests.
        action if opts.dry_run => Ok(match (action, p.handover) {
            (_, true) => "default annotation would be set to \"false\"",
            (Action::Create, _) => "would be created",
            _ if p.takes_over() => "would be taken over and configured",
            _ => "would be configured",
        }),
        action => {
            let taken = p.takes_over() && take_over(cluster, p).await?;
            cluster.apply(&p.object, &p.body, mode).await?;
            Ok(match (action, p.handover) {
                (_, true) => "default annotation set to \"false\"",
                (Action::Create, _) => "created",
                _ if taken => "taken over and configured",
                _ => "configured",
            })
        }
    }
}

/// Moves the walkthrough's kubectl managers' fields to our manager before the first apply
/// ([`crate::plan::takeover`]). The rewrite is tied to the object's resourceVersion; when the
/// object changes in between, it is read again and the move recomputed (as kubectl retries).
/// Returns whether anything was moved.
async fn take_over(cluster: &Cluster, p: &Planned) -> Result<bool, ClusterError> {
    let mut attempt = 0;
    loop {
        let Some(live) = cluster.get(&p.object).await? else { return Ok(false) };
        let Some(managed) = takeover::managed_fields(&live, p.manager, &p.object.api_version) else {
            return Ok(false);
        };
        let version = live.pointer("/metadata/resourceVersion").and_then(|v| v.as_str()).unwrap_or_default();
        match cluster.set_managed_fields(&p.object, version, managed).await {
            Ok(_) => return Ok(true),
            Err(e) if e.code() == 409 && attempt < 3 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// A partial apply: what was done, what failed, what was not tried.
#[derive(Debug)]
pub struct Failure {
    pub applied: Vec<String>,
    pub failed: String,
    pub not_attempted: Vec<String>,
    pub error: ClusterError,
    pub dry_run: bool,
}

impl Failure {
    /// The message, given the failing request's description (with identity when refused).
    pub fn message(&self, cause: &str) -> String {
        let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        let verb = if self.dry_run { "checked (server dry run)" } else { "applied" };
        let mut msg =
            format!("apply stopped at {}: {cause}\n  {verb} before it: {}", self.failed, list(&self.applied));
        msg.push_str(&format!("\n  not attempted: {}", list(&self.not_attempted)));
        if !self.dry_run {
            msg.push_str(
                "\n  Fix the cause and run apply again; objects already applied come out unchanged.",
            );
        }
        msg
    }
}
