//! A forwarder gives way to the source's own API requests: while one runs it sends no
//! batch, new or taken up from a paused runner, until it has waited its patience (8 ms
//! per Statement of the batch), and then delivers everything once, as it would have.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::harness::{eventually, ids, statement, Source, EXPERIENCED};
use crate::receiver::{Fault, Receiver};
use crate::server::{KEY, SECRET as SOURCE_SECRET};

const SECRET: &str = "whsec-give-way-5d0c2b9e-forwarding-tests";

/// A `POST /xapi/statements` whose head is sent and whose body never comes: the source
/// handles it (waiting for the body) until the connection is dropped.
fn hold_a_request(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SOURCE_SECRET}"));
    write!(
        stream,
        "POST /xapi/statements HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Authorization: Basic {basic}\r\nX-Experience-API-Version: 2.0.0\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n["
    )
    .unwrap();
    stream.flush().unwrap();
    stream
}

/// Whether the source has not answered the held request (nor closed it).
fn still_held(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let held = matches!(stream.peek(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarder_gives_way_to_running_requests_until_its_patience_runs_out() {
    let source = Source::start().await;
    let receiver = Receiver::start(SECRET);
    let sent: Vec<Value> = (0..1000)
        .map(|i| {
            statement(
                &format!("learner{i}"),
                EXPERIENCED,
                &format!("http://example.com/pages/{i}"),
            )
        })
        .collect();
    for chunk in sent.chunks(500) {
        source.post(chunk).await;
    }

    // One batch of 1000: its patience is 8 s while a request runs.
    let held = hold_a_request(source.port());
    source
        .webhook(
            "hook",
            &receiver.url("/hook"),
            SECRET,
            &["--from-start", "--batch-size", "1000", "--linger-ms", "0"],
        )
        .await;
    // Time enough to claim the forwarder, read and send, were it not giving way.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(still_held(&held), "the held request was answered");
    assert!(
        receiver.deliveries().is_empty(),
        "the forwarder sent while a request ran, before its patience ran out"
    );
    assert_eq!(source.list().await["hook"]["delivered"], 0);

    // The request still runs, but patience runs out: everything goes, once.
    let delivered = source.until_caught_up("hook").await;
    assert!(still_held(&held), "the held request was answered");
    assert_eq!(delivered["delivered"], 1000);
    assert_eq!(receiver.received_once("/hook"), ids(&sent));
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_taken_up_after_a_pause_gives_way_too() {
    let source = Source::start().await;
    let receiver = Receiver::start(SECRET);
    let sent: Vec<Value> = (0..500)
        .map(|i| {
            statement(
                &format!("learner{i}"),
                EXPERIENCED,
                &format!("http://example.com/posts/{i}"),
            )
        })
        .collect();
    source.post(&sent).await;

    // The batch is taken but not answered; the forwarder is paused meanwhile, so its
    // runner stops with the batch recorded and not finished.
    receiver.script([Fault::Slow(Duration::from_secs(10))]);
    source
        .webhook(
            "hook",
            &receiver.url("/hook"),
            SECRET,
            &["--from-start", "--linger-ms", "0"],
        )
        .await;
    eventually("the batch at the receiver", || async {
        match receiver.requests().len() {
            0 => Err("no request yet".to_string()),
            _ => Ok(()),
        }
    })
    .await;
    source.forwarders(&["pause", "hook"]).await.unwrap();
    // The runner sees the pause at its lease renewal, within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Resumed while a request runs: the batch of 500 waits its 4 s of patience.
    let held = hold_a_request(source.port());
    source.forwarders(&["resume", "hook"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(still_held(&held), "the held request was answered");
    assert_eq!(
        receiver.requests().len(),
        1,
        "the batch taken up was sent again while a request ran, before its patience ran out"
    );

    let delivered = source.until_caught_up("hook").await;
    assert!(still_held(&held), "the held request was answered");
    assert_eq!(delivered["delivered"], 500);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        requests[0].delivery, requests[1].delivery,
        "the same delivery id"
    );
    assert_eq!(receiver.received_once("/hook"), ids(&sent));
    drop(held);
}
