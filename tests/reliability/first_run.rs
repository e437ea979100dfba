//! What a newcomer sees on a restart: a log without PostgreSQL's NOTICEs and, in a
//! pipe, without colour codes; and how to get a credential once the first is lost.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::server::start;

#[test]
fn a_restart_logs_plainly_and_says_how_to_create_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir_arg = data_dir.to_str().unwrap();
    let envs = [("RUST_LOG", "info")];
    let mut first = start(&["--data-dir", data_dir_arg], &envs);
    first.signal(Signal::SIGTERM);
    assert!(first.wait(Duration::from_secs(30)).success());

    let mut again = start(&["--data-dir", data_dir_arg], &envs);
    // The hint is printed after the line `start` waits for.
    let log = again.until_line(
        |line| line.contains("credentials create"),
        Duration::from_secs(10),
    );
    assert!(!log.contains("NOTICE"), "{log}");
    assert!(!log.contains('\x1b'), "colour codes in a pipe: {log:?}");
    assert!(!log.contains("secret:"), "{log}");
    let hint = log
        .lines()
        .skip_while(|line| !line.starts_with("No credential is printed on later starts"))
        .nth(1)
        .unwrap_or_else(|| panic!("no credential hint: {log}"));

    // The command as printed works, against the running server's database.
    let words = shlex::split(hint.trim()).unwrap();
    assert_eq!(
        words[1..],
        [
            "credentials",
            "create",
            "--name",
            "NAME",
            "--scope",
            "all",
            "--data-dir",
            data_dir_arg
        ]
    );
    let created = std::process::Command::new(&words[0])
        .args(&words[1..])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(stdout.contains("secret"), "{stdout}");
    again.signal(Signal::SIGINT);
    assert!(again.wait(Duration::from_secs(30)).success());
}
