//! Output directories that appear whole or not at all.
//!
//! A command writes everything into a staging directory next to its target
//! (`.<name>.tmp-<pid>`, same parent, so the final rename stays on one file
//! system) and renames it into place at the end. Killed half-way (Ctrl-C,
//! `kill`, a crash), it leaves the previous results untouched and at most a
//! staging directory, which the next write to the same target removes.
//!
//! Replacing an existing directory takes two renames: the old one to
//! `.<name>.old-<pid>`, the new one into place, then the old one is deleted.
//! Between the two renames (microseconds) the target does not exist; a
//! process killed exactly there leaves the old results in `.<name>.old-<pid>`,
//! and the next write to the target puts them back first.
//!
//! A directory is dirsim's when it holds the [`MARKER`] file (written with
//! every output), or holds nothing but dirsim's own file names and such
//! directories (outputs of versions before the marker, and `output/<name>/`
//! holding only a `compare/`). Anything else is replaced only with
//! `--force`. Nested dirsim directories (a `compare/` inside a run's
//! directory) are carried over into the replacement, so `run` and `compare`
//! never delete each other's results.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The marker file in every output directory; it holds the version.
pub const MARKER: &str = ".dirsim";

/// File names dirsim writes, to recognise directories from before the
/// marker.
const KNOWN_FILES: &[&str] = &[
    "steps.txt",
    "steps.csv",
    "timeseries.csv",
    "summary.csv",
    "stats.csv",
    "report.html",
    "plan.html",
    "plan.txt",
    "users.png",
    "users.svg",
    "connections.png",
    "connections.svg",
    "steps.png",
    "steps.svg",
    "imbalance.png",
    "imbalance.svg",
    "moves.png",
    "moves.svg",
    "compare.txt",
    "compare.csv",
    "compare-summary.csv",
    "compare-timeseries.csv",
    "compare-study.txt",
    "compare-shard.txt",
    "compare-imbalance.png",
    "compare-imbalance.svg",
    "compare-moved.png",
    "compare-moved.svg",
    "compare.html",
];

/// Why an output directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// The target is unusable as given (bad input: exit 2).
    #[error("{0}")]
    Refused(String),
    /// The file system failed (exit 1).
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The error.
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> OutDirError {
    let what = what.into();
    move |source| OutDirError::Io { what, source }
}

/// A checked output target; nothing is created until [`OutDir::stage`].
#[derive(Clone, Debug)]
pub struct OutDir {
    target: PathBuf,
    parent: PathBuf,
    name: String,
}

impl OutDir {
    /// Checks `target` before any work: it must be absent, empty, or
    /// dirsim's own, unless `force`. `label` names it in messages (`-o
    /// DIR`, or `output directory output/x`).
    pub fn prepare(target: &Path, force: bool, label: &str) -> Result<OutDir, OutDirError> {
        let name = match target.file_name().and_then(|n| n.to_str()) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => {
                return Err(OutDirError::Refused(format!(
                    "{label}: expected a directory name (dirsim replaces the whole directory, so not . or ..)"
                )));
            }
        };
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match fs::symlink_metadata(target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(label)(e)),
            Ok(m) if !m.is_dir() => {
                return Err(OutDirError::Refused(format!(
                    "{label}: exists and is not a directory; give a directory name"
                )));
            }
            Ok(_) if force || is_dirsim_dir(target) => {}
            Ok(_) => {
                return Err(OutDirError::Refused(format!(
                    "{label}: the directory exists and was not written by dirsim (no {MARKER} file); give a \
                     new directory, or --force to replace it and everything in it"
                )));
            }
        }
        Ok(OutDir {
            target: target.to_path_buf(),
            parent,
            name,
        })
    }

    /// The target directory.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Creates the staging directory (and the target's parents), after
    /// removing leftovers of killed writers to the same target.
    pub fn stage(&self) -> Result<Staging, OutDirError> {
        fs::create_dir_all(&self.parent).map_err(io_err(format!("creating {}", self.parent.display())))?;
        self.clean_leftovers()?;
        let tmp = self.sibling("tmp", std::process::id());
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(format!("removing {}", tmp.display())))?;
        }
        fs::create_dir(&tmp).map_err(io_err(format!("creating {}", tmp.display())))?;
        Ok(Staging {
            out: self.clone(),
            tmp,
            committed: false,
        })
    }

    fn sibling(&self, kind: &str, pid: u32) -> PathBuf {
        self.parent.join(format!(".{}.{kind}-{pid}", self.name))
    }

    /// Staging directories of dead processes are removed; an old directory
    /// left between the two renames of a replacement is put back (or, if
    /// the new one made it into place, its nested outputs carried over).
    fn clean_leftovers(&self) -> Result<(), OutDirError> {
        let Ok(entries) = fs::read_dir(&self.parent) else {
            return Ok(());
        };
        let prefix = format!(".{}.", self.name);
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
                continue;
            };
            let Some((kind, pid)) = rest.split_once('-') else {
                continue;
            };
            let Ok(pid) = pid.parse::<u32>() else { continue };
            if (kind == "tmp" || kind == "old") && pid != std::process::id() && !alive(pid) {
                found.push((kind.to_string(), entry.path()));
            }
        }
        // Old directories first: a staging one may hold nothing worth keeping.
        found.sort_by_key(|(kind, _)| kind != "old");
        for (kind, path) in found {
            if kind == "old" && !self.target.exists() {
                fs::rename(&path, &self.target).map_err(io_err(format!("restoring {}", path.display())))?;
                continue;
            }
            if kind == "old" {
                carry_over(&path, &self.target)?;
            }
            fs::remove_dir_all(&path).map_err(io_err(format!("removing {}", path.display())))?;
        }
        Ok(())
    }
}

/// Whether process `pid` exists. Without /proc (not Linux) every process
/// counts as alive, so leftovers are ignored rather than risked.
fn alive(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new("/proc").join(pid.to_string()).exists()
}

/// Whether `dir` is dirsim's: the marker, or only dirsim's files and
/// directories (and leftovers of its atomic writes).
pub fn is_dirsim_dir(dir: &Path) -> bool {
    if dir.join(MARKER).is_file() {
        return true;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            is_dirsim_dir(&e.path()) || name.starts_with('.') && name.contains(".tmp-")
        } else {
            KNOWN_FILES.contains(&name.as_ref()) || name.starts_with('.') && name.contains(".tmp")
        }
    })
}

/// Moves dirsim directories nested in `old` (a `compare/` in a run's
/// directory) into `new` when `new` has nothing of that name.
fn carry_over(old: &Path, new: &Path) -> Result<(), OutDirError> {
    let Ok(entries) = fs::read_dir(old) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let keep = e.file_type().is_ok_and(|t| t.is_dir())
            && !name.to_string_lossy().starts_with('.')
            && is_dirsim_dir(&e.path());
        let to = new.join(&name);
        if keep && !to.exists() {
            fs::rename(e.path(), &to).map_err(io_err(format!("keeping {}", e.path().display())))?;
        }
    }
    Ok(())
}

/// A directory being written; [`Staging::commit`] puts it in place, and
/// dropping it uncommitted removes it.
#[derive(Debug)]
pub struct Staging {
    out: OutDir,
    tmp: PathBuf,
    committed: bool,
}

impl Staging {
    /// Where to write the files.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Writes the marker and renames the directory into place, replacing
    /// the target (whose nested dirsim directories are carried over).
    pub fn commit(mut self) -> Result<(), OutDirError> {
        let marker = self.tmp.join(MARKER);
        super::write_atomic(&marker, marker_text().as_bytes())
            .map_err(io_err(format!("writing {}", marker.display())))?;
        let target = self.out.target.clone();
        if fs::symlink_metadata(&target).is_err() {
            fs::rename(&self.tmp, &target).map_err(io_err(format!("renaming into {}", target.display())))?;
            self.committed = true;
            return Ok(());
        }
        let old = self.out.sibling("old", std::process::id());
        fs::rename(&target, &old).map_err(io_err(format!("moving {} aside", target.display())))?;
        if let Err(e) = fs::rename(&self.tmp, &target) {
            let _ = fs::rename(&old, &target);
            return Err(io_err(format!("renaming into {}", target.display()))(e));
        }
        self.committed = true;
        carry_over(&old, &target)?;
        fs::remove_dir_all(&old).map_err(io_err(format!("removing {}", old.display())))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// What the marker file holds.
pub fn marker_text() -> String {
    format!("dirsim {}\n", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(name), text).unwrap();
    }

    fn commit(target: &Path, files: &[(&str, &str)]) {
        let out = OutDir::prepare(target, false, "-o").unwrap();
        let s = out.stage().unwrap();
        for (n, t) in files {
            write(s.path(), n, t);
        }
        s.commit().unwrap();
    }

    #[test]
    fn replaces_whole_directories_and_keeps_nested_outputs() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("run");
        commit(&target, &[("steps.txt", "one"), ("stats.csv", "x")]);
        assert_eq!(fs::read_to_string(target.join(MARKER)).unwrap(), marker_text());
        commit(&target.join("compare"), &[("compare.txt", "c")]);
        commit(&target, &[("steps.txt", "two")]);
        assert_eq!(fs::read_to_string(target.join("steps.txt")).unwrap(), "two");
        assert!(
            !target.join("stats.csv").exists(),
            "no stale files from the old run"
        );
        assert_eq!(
            fs::read_to_string(target.join("compare/compare.txt")).unwrap(),
            "c"
        );
        let names: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["run"], "no staging or old directories left");
    }

    #[test]
    fn foreign_directories_need_force() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("mine");
        write(&target, "thesis.tex", "precious");
        let e = OutDir::prepare(&target, false, "-o mine").unwrap_err();
        assert!(matches!(e, OutDirError::Refused(_)), "{e}");
        assert!(e.to_string().contains("--force"), "{e}");
        assert!(OutDir::prepare(&target, true, "-o").is_ok());
        // Empty, missing and pre-marker dirsim directories are fine.
        fs::remove_file(target.join("thesis.tex")).unwrap();
        assert!(OutDir::prepare(&target, false, "-o").is_ok());
        write(&target, "summary.csv", "");
        write(&target.join("compare"), "compare.csv", "");
        assert!(OutDir::prepare(&target, false, "-o").is_ok());
        write(t.path(), "file", "");
        assert!(OutDir::prepare(&t.path().join("file"), true, "-o").is_err());
        assert!(OutDir::prepare(Path::new("."), true, "-o").is_err());
    }

    #[test]
    fn leftovers_of_dead_writers_are_cleaned_or_restored() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("r");
        // pid 0 is never a process that /proc lists
        write(&t.path().join(".r.tmp-0"), "steps.txt", "half");
        write(&t.path().join(".r.old-0"), "steps.txt", "previous");
        let out = OutDir::prepare(&target, false, "-o").unwrap();
        let s = out.stage().unwrap();
        assert_eq!(fs::read_to_string(target.join("steps.txt")).unwrap(), "previous");
        assert!(!t.path().join(".r.tmp-0").exists());
        drop(s);
        let names: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["r"], "an uncommitted staging directory is removed");
    }
}
