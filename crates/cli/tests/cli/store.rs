//! `gatehouse store init` and the start-up checks of the store, with the real binary: a
//! damaged or missing store stops `serve` with a clear message and a non-zero exit.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{example, gatehouse};

/// Runs `gatehouse serve` until it exits (it must refuse to start) or 10 s pass.
fn serve_refused(config: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("GATEHOUSE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return (status.code(), stderr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("gatehouse serve started on a damaged or missing store");
}

#[test]
fn a_damaged_or_missing_store_stops_start_up_until_store_init() {
    let (_dir, example) = example();
    let config = example.join("gatehouse.toml");
    let config_arg = config.to_str().unwrap();
    let created = gatehouse(&["store", "init", "--config", config_arg]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("created a new store"));
    let store = example.join("data/gatehouse.db");
    assert!(store.exists());
    // Truncated to 0 bytes: starting would forget every revocation.
    std::fs::write(&store, b"").unwrap();
    let (code, stderr) = serve_refused(&config);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("is damaged: the file is empty (0 bytes)"),
        "{stderr}"
    );
    assert!(stderr.contains("gatehouse store init"), "{stderr}");
    let replaced = gatehouse(&["store", "init", "--config", config_arg]);
    let said = String::from_utf8_lossy(&replaced.stdout);
    assert!(said.contains("moved the damaged store"), "{said}");
    let kept = gatehouse(&["store", "init", "--config", config_arg]);
    assert!(String::from_utf8_lossy(&kept.stdout).contains("is sound; kept it"));
    // Deleted where Gatehouse ran before (its segment keys are there).
    std::fs::create_dir_all(example.join("data/keys")).unwrap();
    std::fs::remove_file(&store).unwrap();
    let (code, stderr) = serve_refused(&config);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("is missing, but this data directory was used before"),
        "{stderr}"
    );
}
