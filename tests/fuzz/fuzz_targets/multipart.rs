//! multipart/mixed Statement requests. Input: the Content-Type header, a newline, the body.
#![no_main]

use commonplace::xapi::multipart::split_statement_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default();
    if let Ok((json, parts)) = split_statement_request(content_type, body) {
        assert!(json.len() <= body.len());
        for part in parts {
            assert!(part.body.len() <= body.len());
        }
    }
});
