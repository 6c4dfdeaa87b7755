//! The `gatehouse` binary as a user runs it: exit codes, and error messages that name
//! the file, field and line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly at the first surprise"
)]

mod audit;
mod config_errors;
mod crash;
mod evidence;
mod forensics;
mod inventory;
mod lifecycle;
mod logs;
mod playbook;
mod policy_lifecycle;
mod probe;
mod quarantine;
mod quickstart;
mod replay;
mod replicas;
mod store;
mod tail;
mod verbs;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with `args`.
pub(crate) fn gatehouse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .unwrap()
}

/// A fresh quickstart example, written without serving.
pub(crate) fn example() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let example = dir.path().join("example");
    let output = gatehouse(&[
        "quickstart",
        "--dir",
        example.to_str().unwrap(),
        "--no-serve",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (dir, example)
}

/// `policy check` on the example after `edit` rewrote one of its files.
pub(crate) fn check_after(file: &str, edit: impl FnOnce(String) -> String) -> (i32, String) {
    let (_dir, example) = example();
    rewrite(&example.join(file), edit);
    let config = example.join("gatehouse.toml");
    let output = gatehouse(&["policy", "check", "--config", config.to_str().unwrap()]);
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub(crate) fn rewrite(path: &Path, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(
        text,
        edited,
        "the edit changed nothing in {}",
        path.display()
    );
    std::fs::write(path, edited).unwrap();
}
