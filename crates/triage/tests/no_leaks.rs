//! Secrets, bodies and addresses never reach logs or output: a full replay
//! of the sample events with debug logging, every line captured.

use std::process::Command;

use triage_testkit::repo_root;

#[test]
fn full_replay_logs_no_body_address_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "inbox-triage-test-secret";
    for json in [false, true] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
        cmd.arg("--db")
            .arg(dir.path().join(format!("leak-{json}.db")))
            .args(if json { vec!["--json"] } else { vec![] })
            .arg("replay")
            .arg(repo_root().join("events"))
            .env("NYLAS_WEBHOOK_SECRET", secret)
            .env("RUST_LOG", "debug")
            .env_remove("NYLAS_API_KEY");
        let out = cmd.output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The run did real work: tickets, a skip, refusals.
        assert!(all.contains("created"), "{all}");
        assert!(all.contains("signature"), "{all}");
        for forbidden in [
            secret,
            // Bodies and subjects of the sample messages.
            "nobody on our team can load the dashboard",
            "Production dashboard is down",
            "charged twice",
            "export reports straight to Sheets",
            "We are on it",
            // Addresses.
            "priya@bigcorp.com",
            "tom.becker@example.org",
            "support@example.com",
            "sam@example.net",
            "@",
        ] {
            assert!(
                !all.contains(forbidden),
                "output contains {forbidden:?}:\n{all}"
            );
        }
    }
}
