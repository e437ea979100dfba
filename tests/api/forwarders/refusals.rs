//! Bad input to `forwarders create` and `replay`: a usage error (exit code 2) naming
//! what is wrong, or, for what only the database knows, exit code 1; nothing created,
//! no secret echoed.

use serde_json::json;

use super::{list, ok, refused, CLIENT_SECRET, NOWHERE, PASSWORD, WEBHOOK_SECRET};
use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_clear_message_and_nothing_created() {
    let app = spawn_app().await;
    let webhook = ["--kind", "webhook", "--url", "http://127.0.0.1:9/hook"];
    let xapi = ["--kind", "xapi", "--endpoint", NOWHERE];
    // Refused without being repeated: a URL's user:password@ part is a secret.
    let with_password = format!("https://source-lrs:{PASSWORD}@example.org/xapi");
    let ftp_with_password = format!("ftp://source-lrs:{PASSWORD}@example.org/xapi");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--kind", "xapi"], "--endpoint"),
        (webhook.to_vec(), "--secret"),
        (
            [&webhook[..], &["--secret", "too-short"]].concat(),
            "at least 16 characters",
        ),
        (
            [
                &webhook[..],
                &["--secret", WEBHOOK_SECRET, "--password", PASSWORD],
            ]
            .concat(),
            "--password is only for --kind xapi",
        ),
        (
            [&xapi[..], &["--secret", WEBHOOK_SECRET]].concat(),
            "--secret is only for --kind webhook",
        ),
        (
            vec!["--kind", "xapi", "--endpoint", "ftp://example.org/xapi"],
            "http:// or https://",
        ),
        (
            vec!["--kind", "xapi", "--endpoint", "not a url"],
            "not a URL",
        ),
        (
            vec![
                "--kind",
                "webhook",
                "--url",
                &with_password,
                "--secret",
                WEBHOOK_SECRET,
            ],
            "invalid value for '--url <URL>': must not hold credentials",
        ),
        (
            vec!["--kind", "xapi", "--endpoint", &with_password],
            "must not hold credentials",
        ),
        (
            vec!["--kind", "xapi", "--endpoint", &ftp_with_password],
            "http:// or https://",
        ),
        (
            [
                &xapi[..],
                &[
                    "--token-url",
                    &with_password,
                    "--client-id",
                    "x",
                    "--client-secret",
                    CLIENT_SECRET,
                ],
            ]
            .concat(),
            "invalid value for '--token-url <TOKEN_URL>': must not hold credentials",
        ),
        (
            vec![
                "--kind",
                "xapi",
                "--endpoint",
                "http://127.0.0.1:9/xapi?tenant=a",
            ],
            "must not have a ?query: Statements are POSTed to ENDPOINT/statements",
        ),
        (
            vec![
                "--kind",
                "xapi",
                "--endpoint",
                "http://127.0.0.1:9/xapi#top",
            ],
            "must not have a #fragment",
        ),
        (
            [&xapi[..], &["--username", "source-lrs"]].concat(),
            "--username needs --password",
        ),
        (
            [&xapi[..], &["--password", PASSWORD]].concat(),
            "--password needs --username",
        ),
        (
            [
                &xapi[..],
                &["--client-id", "x", "--client-secret", CLIENT_SECRET],
            ]
            .concat(),
            "only with --token-url",
        ),
        (
            [
                &xapi[..],
                &[
                    "--token-url",
                    "http://127.0.0.1:9/token",
                    "--client-id",
                    "x",
                ],
            ]
            .concat(),
            "--token-url needs --client-id and --client-secret",
        ),
        (
            [&xapi[..], &["--credential-tag", "sales"]].concat(),
            "must look like key=value",
        ),
        (
            [&xapi[..], &["--mode", "self-directed"]].concat(),
            "not a learning mode; one of directed, guided, self_planned, self_directed",
        ),
        (
            [&xapi[..], &["--verb", "completed"]].concat(),
            "not an absolute IRI",
        ),
        (
            [&xapi[..], &["--activity-prefix", "courses/"]].concat(),
            "not an absolute IRI",
        ),
        (
            [&xapi[..], &["--actor", "ada@example.org"]].concat(),
            "not an actor IFI",
        ),
        (
            [&xapi[..], &["--actor", r#"{"mbox": "ada@example.org"}"#]].concat(),
            "mbox",
        ),
        (
            [&xapi[..], &["--xapi-version", "1.0.2"]].concat(),
            "--xapi-version",
        ),
        ([&xapi[..], &["--batch-size", "0"]].concat(), "--batch-size"),
        (
            vec!["--kind", "smtp", "--endpoint", NOWHERE],
            "invalid value 'smtp' for '--kind",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["create", "--name", "refused"];
        args.extend(flags);
        let stderr = refused(&app, &args, 2).await;
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let stderr = refused(
        &app,
        &[
            "create",
            "--name",
            "two words",
            "--kind",
            "xapi",
            "--endpoint",
            NOWHERE,
        ],
        2,
    )
    .await;
    assert!(stderr.contains("forwarder name"), "{stderr}");
    let stderr = refused(&app, &["replay", "refused"], 2).await;
    assert!(stderr.contains("--dead-letters|--since"), "{stderr}");
    let stderr = refused(&app, &["replay", "refused", "--since", "yesterday"], 2).await;
    assert!(stderr.contains("RFC 3339"), "{stderr}");
    assert_eq!(list(&app).await, json!([]));

    // Refused by the database: an unknown store, a name taken.
    let stderr = refused(
        &app,
        &[
            &["create", "--name", "elsewhere", "--store", "nope"][..],
            &xapi,
        ]
        .concat(),
        1,
    )
    .await;
    assert!(stderr.contains("no store named 'nope'"), "{stderr}");
    ok(&app, &[&["create", "--name", "taken"][..], &xapi].concat()).await;
    let stderr = refused(
        &app,
        &[
            &["create", "--name", "taken"][..],
            &webhook,
            &["--secret", WEBHOOK_SECRET],
        ]
        .concat(),
        1,
    )
    .await;
    assert!(
        stderr.contains("a forwarder named 'taken' already exists"),
        "{stderr}"
    );
    let listed = list(&app).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["kind"], "xapi");
}
