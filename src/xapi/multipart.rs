//! `multipart/mixed` bodies for Statements with Attachments (xAPI 1.0.3
//! Communication §1.5.2, Data §2.4.11; xAPI 2.0 §4.1.1 / §4.2.5).
//!
//! Pure functions, no I/O:
//! - [`boundary_of`] reads the boundary out of a request's `Content-Type`;
//! - [`parse_mixed`] splits a body into [`Part`]s (RFC 2046 §5.1.1);
//! - [`split_statement_request`] applies the xAPI rules to a PUT/POST body:
//!   the first part is the Statement(s) as `application/json`, every later
//!   part is raw attachment data carrying `X-Experience-API-Hash` and
//!   `Content-Transfer-Encoding: binary`, and the declared hash must be the
//!   SHA-2 of the data;
//! - [`build_mixed`] / [`part_head`] / [`closing_delimiter`] write a body
//!   for `GET /statements?attachments=true`, with a [`new_boundary`].
//!
//! Matching attachment parts to the Statements' attachment objects by `sha2`
//! (missing or extra parts → 400) is the caller's job.

use std::fmt::Write as _;

use sha2::{Digest, Sha256, Sha384, Sha512};
use thiserror::Error;

/// Longest boundary accepted. RFC 2046 allows 70 characters; a little slack
/// is kept for clients that generate longer ones.
const MAX_BOUNDARY_LEN: usize = 200;

/// Why a multipart request was refused. Every variant maps to `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MultipartError {
    #[error("Content-Type {0:?} is not multipart/mixed")]
    NotMultipartMixed(String),
    #[error("multipart/form-data is not accepted for Statements; use multipart/mixed")]
    FormData,
    #[error("malformed Content-Type {content_type:?}: {reason}")]
    MalformedContentType {
        content_type: String,
        reason: String,
    },
    #[error("multipart/mixed Content-Type has no boundary parameter")]
    MissingBoundary,
    #[error("invalid multipart boundary {boundary:?}: {reason}")]
    InvalidBoundary { boundary: String, reason: String },
    #[error("multipart body does not contain the boundary line \"--{0}\"")]
    MissingOpeningDelimiter(String),
    #[error("multipart body does not end with the closing boundary \"--{0}--\"")]
    MissingClosingDelimiter(String),
    #[error("multipart body contains no parts")]
    NoParts,
    #[error("part {part}: {reason}")]
    MalformedPart { part: usize, reason: String },
    #[error("part 1 (the Statements) must have Content-Type application/json, found {}", .found.as_deref().map(|f| format!("{f:?}")).unwrap_or_else(|| "no Content-Type header".to_owned()))]
    StatementPartContentType { found: Option<String> },
    #[error("part {part}: missing {header} header")]
    MissingHeader { part: usize, header: &'static str },
    #[error("part {part}: Content-Transfer-Encoding must be binary, found {found:?}")]
    TransferEncoding { part: usize, found: String },
    #[error("part {part}: X-Experience-API-Hash {value:?} is not a hex SHA-256, SHA-384 or SHA-512 digest")]
    InvalidHash { part: usize, value: String },
    #[error("part {part}: X-Experience-API-Hash {declared} does not match the SHA-2 of the part's data ({actual})")]
    HashMismatch {
        part: usize,
        declared: String,
        actual: String,
    },
}

/// Header lines of a part: (name, value) pairs.
pub type Headers = Vec<(String, String)>;

/// One body part: its headers (names lowercased, values trimmed, in order)
/// and its raw octets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Part {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The part's media type without parameters, lowercased
    /// (`Application/JSON; charset=utf-8` → `application/json`).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(media_type_essence)
    }
}

/// One attachment's raw data from a Statement request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentPart {
    /// The part's `X-Experience-API-Hash`, trimmed, as sent (hex; 64, 96 or
    /// 128 digits). It equals the SHA-2 of `body`. Compare it with the
    /// attachment objects' `sha2` case-insensitively.
    pub sha2: String,
    /// The part's `Content-Type` header, or `application/octet-stream` when
    /// the part has none.
    pub content_type: String,
    /// The attachment's octets.
    pub body: Vec<u8>,
}

/// `a/b; x=y` → `a/b`, trimmed and lowercased.
fn media_type_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Splits `type/subtype; name=value; name="quoted value"` into the lowercased
/// media type and its parameters (names lowercased, quotes and escapes removed).
fn parse_content_type(
    content_type: &str,
) -> Result<(String, Vec<(String, String)>), MultipartError> {
    let malformed = |reason: &str| MultipartError::MalformedContentType {
        content_type: content_type.to_owned(),
        reason: reason.to_owned(),
    };
    let (essence, mut rest) = match content_type.find(';') {
        Some(i) => (&content_type[..i], &content_type[i + 1..]),
        None => (content_type, ""),
    };
    let essence = essence.trim().to_ascii_lowercase();
    if essence.is_empty() {
        return Err(malformed("no media type"));
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ';' || c.is_ascii_whitespace());
        if rest.is_empty() {
            break;
        }
        let name_end = rest.find(['=', ';']).unwrap_or(rest.len());
        let name = rest[..name_end].trim().to_ascii_lowercase();
        if !rest[name_end..].starts_with('=') {
            // A parameter without a value: ignore it.
            rest = &rest[name_end..];
            continue;
        }
        if name.is_empty() {
            return Err(malformed("parameter without a name"));
        }
        rest = rest[name_end + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e)) => v.push(e),
                        None => break,
                    },
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => v.push(c),
                }
            }
            let end = end.ok_or_else(|| {
                malformed(&format!("unterminated quoted value for parameter {name:?}"))
            })?;
            value = v;
            rest = &quoted[end + 1..];
            let after = rest.trim_start();
            if !(after.is_empty() || after.starts_with(';')) {
                return Err(malformed(&format!(
                    "unexpected text after the quoted value of parameter {name:?}"
                )));
            }
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            value = rest[..end].trim_end().to_owned();
            rest = &rest[end..];
        }
        params.push((name, value));
    }
    Ok((essence, params))
}

fn check_boundary(boundary: &str) -> Result<(), MultipartError> {
    let invalid = |reason: &str| MultipartError::InvalidBoundary {
        boundary: boundary.to_owned(),
        reason: reason.to_owned(),
    };
    if boundary.is_empty() {
        return Err(invalid("it is empty"));
    }
    if boundary.len() > MAX_BOUNDARY_LEN {
        return Err(invalid(&format!(
            "it is longer than {MAX_BOUNDARY_LEN} characters"
        )));
    }
    if !boundary.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(invalid("it contains characters other than printable ASCII"));
    }
    if boundary.ends_with(' ') {
        return Err(invalid("it ends with a space"));
    }
    Ok(())
}

/// The boundary of a `multipart/mixed` Content-Type (media type and parameter
/// name case-insensitive; value quoted or not).
///
/// `multipart/form-data` gets [`MultipartError::FormData`]; any other media
/// type [`MultipartError::NotMultipartMixed`].
pub fn boundary_of(content_type: &str) -> Result<String, MultipartError> {
    let (essence, params) = parse_content_type(content_type)?;
    match essence.as_str() {
        "multipart/mixed" => {}
        "multipart/form-data" => return Err(MultipartError::FormData),
        _ => return Err(MultipartError::NotMultipartMixed(content_type.to_owned())),
    }
    let boundary = params
        .into_iter()
        .find(|(n, _)| n == "boundary")
        .map(|(_, v)| v)
        .ok_or(MultipartError::MissingBoundary)?;
    check_boundary(&boundary)?;
    Ok(boundary)
}

/// What follows a `--boundary` found in the body.
enum Delim {
    /// `--boundary` + optional blanks + line break; `next` is where the part starts.
    Part { next: usize },
    /// `--boundary--`: the close delimiter.
    Close,
}

/// Classifies the text after a dash-boundary that ends at `after`.
fn delimiter_kind(body: &[u8], after: usize) -> Option<Delim> {
    let rest = &body[after..];
    if rest.starts_with(b"--") {
        return Some(Delim::Close);
    }
    let blanks = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let rest = &rest[blanks..];
    if rest.starts_with(b"\r\n") {
        Some(Delim::Part {
            next: after + blanks + 2,
        })
    } else if rest.starts_with(b"\n") {
        Some(Delim::Part {
            next: after + blanks + 1,
        })
    } else {
        None
    }
}

/// Splits a `multipart/mixed` body (RFC 2046 §5.1.1) into its parts.
///
/// Lines may end in CRLF or in a bare LF. The preamble before the first
/// boundary line and the epilogue after `--boundary--` are ignored. The line
/// break before each boundary line belongs to the boundary, not to the data.
pub fn parse_mixed(body: &[u8], boundary: &str) -> Result<Vec<Part>, MultipartError> {
    check_boundary(boundary)?;
    let dash = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(dash.as_bytes());

    // Opening delimiter: at the start of the body or of a line.
    let mut from = 0;
    let mut cursor = loop {
        let Some(i) = finder.find(&body[from..]).map(|i| i + from) else {
            return Err(MultipartError::MissingOpeningDelimiter(boundary.to_owned()));
        };
        from = i + 1;
        if i > 0 && body[i - 1] != b'\n' {
            continue;
        }
        match delimiter_kind(body, i + dash.len()) {
            Some(Delim::Part { next }) => break next,
            Some(Delim::Close) => return Err(MultipartError::NoParts),
            None => continue,
        }
    };

    let mut parts = Vec::new();
    loop {
        let number = parts.len() + 1;
        // The next delimiter: "\n--boundary" (optionally "\r\n--boundary"),
        // where the line break may be the one that ended the previous
        // delimiter line (an empty part).
        let mut from = cursor;
        let (content_end, kind) = loop {
            let Some(i) = finder.find(&body[from..]).map(|i| i + from) else {
                return Err(MultipartError::MissingClosingDelimiter(boundary.to_owned()));
            };
            from = i + 1;
            if body[i - 1] != b'\n' {
                continue;
            }
            let Some(kind) = delimiter_kind(body, i + dash.len()) else {
                continue;
            };
            let mut end = i - 1;
            if end > cursor && body[end - 1] == b'\r' {
                end -= 1;
            }
            break (end.max(cursor), kind);
        };
        parts.push(parse_part(&body[cursor..content_end], number)?);
        match kind {
            Delim::Close => return Ok(parts),
            Delim::Part { next } => cursor = next,
        }
    }
}

/// Headers, an empty line, then the data.
fn parse_part(content: &[u8], number: usize) -> Result<Part, MultipartError> {
    let malformed = |reason: String| MultipartError::MalformedPart {
        part: number,
        reason,
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let (line, next) = match memchr::memchr(b'\n', &content[pos..]) {
            Some(nl) => (&content[pos..pos + nl], pos + nl + 1),
            None => (&content[pos..], content.len()),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(Part {
                headers,
                body: content[next..].to_vec(),
            });
        }
        let text = std::str::from_utf8(line)
            .map_err(|_| malformed("a header line is not valid UTF-8".to_owned()))?;
        if text.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous header's value.
            let Some((_, value)) = headers.last_mut() else {
                return Err(malformed(format!(
                    "header block starts with a continuation line {text:?}"
                )));
            };
            value.push(' ');
            value.push_str(text.trim());
        } else {
            let Some((name, value)) = text.split_once(':') else {
                return Err(malformed(format!(
                    "malformed header line {text:?} (expected \"Name: value\"; is the empty line between headers and data missing?)"
                )));
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(malformed(format!("invalid header name {name:?}")));
            }
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        pos = next;
    }
    // Headers only (or nothing at all): the data is empty.
    Ok(Part {
        headers,
        body: Vec::new(),
    })
}

fn sanitize_header_text(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// The bytes that open a part: `--boundary CRLF`, the headers, an empty line.
/// Follow it with the part's data, then either the next `part_head` or
/// [`closing_delimiter`]; both start with the CRLF that ends the data.
/// Use `first = true` for the first part (no leading CRLF).
///
/// CR and LF inside header names or values are replaced by spaces.
pub fn part_head(boundary: &str, headers: &[(String, String)], first: bool) -> Vec<u8> {
    let mut s = String::new();
    if !first {
        s.push_str("\r\n");
    }
    let _ = write!(s, "--{boundary}\r\n");
    for (name, value) in headers {
        let _ = write!(
            s,
            "{}: {}\r\n",
            sanitize_header_text(name),
            sanitize_header_text(value)
        );
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// The bytes that end a multipart body: `CRLF --boundary-- CRLF`.
pub fn closing_delimiter(boundary: &str) -> Vec<u8> {
    format!("\r\n--{boundary}--\r\n").into_bytes()
}

/// A whole `multipart/mixed` body: each part's headers and data, in order.
/// The response's Content-Type is `multipart/mixed; boundary=<boundary>`.
///
/// The boundary must not occur in any part's data; [`new_boundary`] makes
/// that practically certain.
pub fn build_mixed(boundary: &str, parts: &[(Headers, &[u8])]) -> Vec<u8> {
    let size: usize = parts
        .iter()
        .map(|(h, b)| {
            b.len()
                + 64
                + boundary.len()
                + h.iter().map(|(n, v)| n.len() + v.len() + 4).sum::<usize>()
        })
        .sum();
    let mut out = Vec::with_capacity(size + boundary.len() + 8);
    if parts.is_empty() {
        // RFC 2046 wants at least one part; an empty first part keeps the body well formed.
        out.extend(part_head(boundary, &[], true));
    }
    for (i, (headers, data)) in parts.iter().enumerate() {
        out.extend(part_head(boundary, headers, i == 0));
        out.extend_from_slice(data);
    }
    out.extend(closing_delimiter(boundary));
    out
}

/// A fresh random boundary: 40 ASCII letters and digits, safe unquoted in a
/// Content-Type header and in naive client-side parsers.
pub fn new_boundary() -> String {
    use rand::{distributions::Alphanumeric, Rng};
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("xapiBoundary{tail}")
}

/// Hex SHA-2 of `data` with the digest size implied by a hex digest's length
/// (64 → SHA-256, 96 → SHA-384, 128 → SHA-512).
fn sha2_hex_for(len: usize, data: &[u8]) -> Option<String> {
    Some(match len {
        64 => hex::encode(Sha256::digest(data)),
        96 => hex::encode(Sha384::digest(data)),
        128 => hex::encode(Sha512::digest(data)),
        _ => return None,
    })
}

/// A client that reads a binary file as Latin-1 text and sends that text as
/// UTF-8 turns each octet >= 0x80 into two. If `data` is valid UTF-8 whose
/// characters are all <= U+00FF and some is >= U+0080, returns the octets the
/// client started from.
fn undo_latin1_as_utf8(data: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(data).ok()?;
    if text.is_ascii() {
        return None;
    }
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// Splits a Statement PUT/POST body sent as `multipart/mixed` into the
/// Statement JSON (the first part's data, not parsed here) and the
/// attachment parts, applying Communication §1.5.2:
///
/// - the Content-Type must be `multipart/mixed` with a boundary
///   (`multipart/form-data` is refused);
/// - part 1 must have `Content-Type: application/json` (parameters allowed);
/// - every later part must have an `X-Experience-API-Hash` header (a hex
///   SHA-256/384/512 digest) and `Content-Transfer-Encoding: binary`, and the
///   hash must equal the SHA-2 of the part's data.
///
/// If the data's hash does not match but the data is the UTF-8 encoding of
/// Latin-1 text whose octets do match (a client that read a binary file as
/// Latin-1 text), those octets are returned as the attachment's body.
pub fn split_statement_request(
    content_type: &str,
    body: &[u8],
) -> Result<(Vec<u8>, Vec<AttachmentPart>), MultipartError> {
    let boundary = boundary_of(content_type)?;
    let mut parts = parse_mixed(body, &boundary)?.into_iter();
    let first = parts.next().ok_or(MultipartError::NoParts)?;

    let found = first.header("content-type").map(str::to_owned);
    if first.media_type().as_deref() != Some("application/json") {
        return Err(MultipartError::StatementPartContentType { found });
    }
    if let Some(cte) = first.header("content-transfer-encoding") {
        if !["binary", "8bit", "7bit"]
            .iter()
            .any(|ok| cte.eq_ignore_ascii_case(ok))
        {
            return Err(MultipartError::TransferEncoding {
                part: 1,
                found: cte.to_owned(),
            });
        }
    }

    let mut attachments = Vec::new();
    for (i, part) in parts.enumerate() {
        let number = i + 2;
        let hash = part
            .header("x-experience-api-hash")
            .ok_or(MultipartError::MissingHeader {
                part: number,
                header: "X-Experience-API-Hash",
            })?
            .to_owned();
        let cte =
            part.header("content-transfer-encoding")
                .ok_or(MultipartError::MissingHeader {
                    part: number,
                    header: "Content-Transfer-Encoding",
                })?;
        if !cte.eq_ignore_ascii_case("binary") {
            return Err(MultipartError::TransferEncoding {
                part: number,
                found: cte.to_owned(),
            });
        }
        if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MultipartError::InvalidHash {
                part: number,
                value: hash,
            });
        }
        let Some(actual) = sha2_hex_for(hash.len(), &part.body) else {
            return Err(MultipartError::InvalidHash {
                part: number,
                value: hash,
            });
        };
        let content_type = part
            .header("content-type")
            .filter(|v| !v.is_empty())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let data = if actual.eq_ignore_ascii_case(&hash) {
            part.body
        } else {
            match undo_latin1_as_utf8(&part.body) {
                Some(original)
                    if sha2_hex_for(hash.len(), &original)
                        .is_some_and(|h| h.eq_ignore_ascii_case(&hash)) =>
                {
                    original
                }
                _ => {
                    return Err(MultipartError::HashMismatch {
                        part: number,
                        declared: hash,
                        actual,
                    })
                }
            }
        };
        attachments.push(AttachmentPart {
            sha2: hash,
            content_type,
            body: data,
        });
    }
    Ok((first.body, attachments))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"here is a simple attachment";
    const TEXT_SHA: &str = "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a";

    fn crlf(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    #[test]
    fn text_sha_constant_is_right() {
        assert_eq!(hex::encode(Sha256::digest(TEXT)), TEXT_SHA);
    }

    // ---- boundary_of ----

    #[test]
    fn boundary_unquoted() {
        assert_eq!(
            boundary_of("multipart/mixed; boundary=-------314159265358979323846").unwrap(),
            "-------314159265358979323846"
        );
    }

    #[test]
    fn boundary_quoted_with_special_characters() {
        assert_eq!(
            boundary_of("multipart/mixed; boundary=\"abcABC0123'()+_,-./:=?\"").unwrap(),
            "abcABC0123'()+_,-./:=?"
        );
    }

    #[test]
    fn boundary_case_insensitive_and_other_params() {
        assert_eq!(
            boundary_of("Multipart/Mixed ; charset=utf-8;BOUNDARY=abc ; foo=\"a;b\"").unwrap(),
            "abc"
        );
        assert_eq!(
            boundary_of("multipart/mixed;boundary=\"a\\\"b\"").unwrap(),
            "a\"b"
        );
        assert_eq!(
            boundary_of("multipart/mixed; x; boundary=zz;").unwrap(),
            "zz"
        );
    }

    #[test]
    fn boundary_errors() {
        assert_eq!(
            boundary_of("multipart/mixed;"),
            Err(MultipartError::MissingBoundary)
        );
        assert_eq!(
            boundary_of("multipart/mixed"),
            Err(MultipartError::MissingBoundary)
        );
        assert_eq!(
            boundary_of("multipart/form-data; boundary=abc"),
            Err(MultipartError::FormData)
        );
        assert!(matches!(
            boundary_of("application/json"),
            Err(MultipartError::NotMultipartMixed(_))
        ));
        assert!(matches!(
            boundary_of("multipart/mixed; boundary="),
            Err(MultipartError::InvalidBoundary { .. })
        ));
        assert!(matches!(
            boundary_of("multipart/mixed; boundary=\"abc"),
            Err(MultipartError::MalformedContentType { .. })
        ));
        assert!(matches!(
            boundary_of("multipart/mixed; boundary=\"abc\"x"),
            Err(MultipartError::MalformedContentType { .. })
        ));
        let long = "a".repeat(MAX_BOUNDARY_LEN + 1);
        assert!(matches!(
            boundary_of(&format!("multipart/mixed; boundary={long}")),
            Err(MultipartError::InvalidBoundary { .. })
        ));
        assert!(matches!(
            boundary_of(""),
            Err(MultipartError::MalformedContentType { .. })
        ));
    }

    // ---- parse_mixed ----

    #[test]
    fn parses_spec_example_crlf() {
        let body = crlf(
            "--abcABC0123'()+_,-./:=?\nContent-Type:application/json\n\n{\"a\":1}\n--abcABC0123'()+_,-./:=?\nContent-Type:text/plain\nContent-Transfer-Encoding:binary\nX-Experience-API-Hash:495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a\n\nhere is a simple attachment\n--abcABC0123'()+_,-./:=?--",
        );
        let parts = parse_mixed(&body, "abcABC0123'()+_,-./:=?").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].header("Content-Type"), Some("application/json"));
        assert_eq!(parts[0].body, b"{\"a\":1}");
        assert_eq!(parts[1].header("x-experience-api-hash"), Some(TEXT_SHA));
        assert_eq!(parts[1].headers[0].0, "content-type");
        assert_eq!(parts[1].body, TEXT);
    }

    #[test]
    fn parses_bare_lf_preamble_epilogue_and_blank_padding() {
        let body = b"preamble text\n--b  \nContent-Type: application/json\n\n{}\n--b\t\nA: 1\n\nx\n\n--b--\nepilogue --b\n";
        let parts = parse_mixed(body, "b").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"{}");
        assert_eq!(parts[1].header("a"), Some("1"));
        assert_eq!(parts[1].body, b"x\n");
    }

    #[test]
    fn leading_crlf_before_first_boundary() {
        // As the ADL test suite's signStatement() writes it.
        let body = b"\r\n--bb\r\nContent-Type:application/json\r\n\r\n{}\r\n--bb--";
        let parts = parse_mixed(body, "bb").unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body, b"{}");
    }

    #[test]
    fn binary_data_kept_exactly() {
        let data: Vec<u8> = (0..=255u8)
            .chain([b'\r', b'\n', b'-', b'-', b'x'])
            .collect();
        let mut body = b"--q\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
        body.extend(&data);
        body.extend(b"\r\n--q--\r\n");
        let parts = parse_mixed(&body, "q").unwrap();
        assert_eq!(parts[0].body, data);
    }

    #[test]
    fn data_ending_in_cr_lf_is_preserved_except_delimiter_break() {
        let body = b"--q\r\n\r\nline\r\n\r\n--q--";
        let parts = parse_mixed(body, "q").unwrap();
        assert_eq!(parts[0].headers, vec![]);
        assert_eq!(parts[0].body, b"line\r\n");
    }

    #[test]
    fn boundary_prefix_inside_data_is_not_a_delimiter() {
        let body = b"--abc\r\nA: b\r\n\r\nx\r\n--abcdef\r\n--abc-- \r\ny\r\n--abc--";
        let parts = parse_mixed(body, "abc").unwrap();
        // "--abcdef" is not a delimiter; "--abc-- " is the close delimiter.
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body, b"x\r\n--abcdef");
    }

    #[test]
    fn delimiter_must_start_a_line() {
        let body = b"--b\r\n\r\nx --b\r\n--b--";
        let parts = parse_mixed(body, "b").unwrap();
        assert_eq!(parts[0].body, b"x --b");
    }

    #[test]
    fn folded_header_and_empty_part() {
        let body = b"--b\r\nX-Long: one\r\n two\r\n\r\n\r\n--b\r\n--b--";
        let parts = parse_mixed(body, "b").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].header("x-long"), Some("one two"));
        assert_eq!(parts[0].body, b"");
        assert_eq!(parts[1], Part::default());
    }

    #[test]
    fn headers_only_part_has_empty_body() {
        let body = b"--b\r\nContent-Type: text/plain\r\n\r\n--b--";
        let parts = parse_mixed(body, "b").unwrap();
        assert_eq!(parts[0].header("content-type"), Some("text/plain"));
        assert!(parts[0].body.is_empty());
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            parse_mixed(b"no boundary here", "b"),
            Err(MultipartError::MissingOpeningDelimiter("b".into()))
        );
        assert_eq!(
            parse_mixed(b"--b\r\nA: 1\r\n\r\nx\r\n", "b"),
            Err(MultipartError::MissingClosingDelimiter("b".into()))
        );
        assert_eq!(
            parse_mixed(b"--b\r\nA: 1\r\n\r\nx\r\n--b", "b"),
            Err(MultipartError::MissingClosingDelimiter("b".into()))
        );
        assert_eq!(parse_mixed(b"--b--\r\n", "b"), Err(MultipartError::NoParts));
        let e = parse_mixed(
            b"--b\r\nA: 1\r\n\r\nx\r\n--b\r\nnot a header\r\n\r\ny\r\n--b--",
            "b",
        )
        .unwrap_err();
        assert!(
            matches!(e, MultipartError::MalformedPart { part: 2, .. }),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("part 2: malformed header line"),
            "{e}"
        );
        let e = parse_mixed(b"--b\r\n folded\r\n\r\nx\r\n--b--", "b").unwrap_err();
        assert!(matches!(e, MultipartError::MalformedPart { part: 1, .. }));
        let e = parse_mixed(b"--b\r\nBad Name: x\r\n\r\nx\r\n--b--", "b").unwrap_err();
        assert!(matches!(e, MultipartError::MalformedPart { part: 1, .. }));
        let e = parse_mixed(b"--b\r\nA: \xff\r\n\r\nx\r\n--b--", "b").unwrap_err();
        assert!(matches!(e, MultipartError::MalformedPart { part: 1, .. }));
    }

    // ---- build_mixed ----

    #[test]
    fn build_then_parse_roundtrip() {
        let boundary = new_boundary();
        let json = br#"{"statements":[],"more":""}"#;
        let bin: Vec<u8> = (0..=255u8).collect();
        let body = build_mixed(
            &boundary,
            &[
                (
                    vec![("Content-Type".into(), "application/json".into())],
                    json,
                ),
                (
                    vec![
                        ("Content-Type".into(), "image/png".into()),
                        ("Content-Transfer-Encoding".into(), "binary".into()),
                        (
                            "X-Experience-API-Hash".into(),
                            hex::encode(Sha256::digest(&bin)),
                        ),
                    ],
                    &bin,
                ),
            ],
        );
        assert!(body.starts_with(
            format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n").as_bytes()
        ));
        assert!(body.ends_with(format!("\r\n--{boundary}--\r\n").as_bytes()));
        let parts = parse_mixed(&body, &boundary).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, json);
        assert_eq!(parts[1].body, bin);
        let ct = format!("multipart/mixed; boundary={boundary}");
        let (stmt, atts) = split_statement_request(&ct, &body).unwrap();
        assert_eq!(stmt, json);
        assert_eq!(atts[0].content_type, "image/png");
    }

    #[test]
    fn build_exact_bytes_and_header_injection() {
        let body = build_mixed(
            "B",
            &[
                (
                    vec![("Content-Type".into(), "application/json".into())],
                    b"{}",
                ),
                (
                    vec![("Content-Type".into(), "text/plain\r\nEvil: 1".into())],
                    b"x",
                ),
            ],
        );
        assert_eq!(
            body,
            b"--B\r\nContent-Type: application/json\r\n\r\n{}\r\n--B\r\nContent-Type: text/plain  Evil: 1\r\n\r\nx\r\n--B--\r\n"
        );
        assert_eq!(build_mixed("B", &[]), b"--B\r\n\r\n\r\n--B--\r\n");
    }

    #[test]
    fn new_boundary_is_random_and_valid() {
        let a = new_boundary();
        let b = new_boundary();
        assert_ne!(a, b);
        assert!(a.len() <= 70 && a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(
            boundary_of(&format!("multipart/mixed; boundary={a}")).unwrap(),
            a
        );
    }

    // ---- split_statement_request ----

    const CT: &str = "multipart/mixed; boundary=-------314159265358979323846";

    fn request(statement_headers: &str, attachment_headers: &[&str], data: &[u8]) -> Vec<u8> {
        let mut body =
            format!("---------314159265358979323846\n{statement_headers}\n{{\"id\":1}}\n")
                .into_bytes();
        for h in attachment_headers {
            body.extend(format!("---------314159265358979323846\n{h}\n").into_bytes());
            body.extend(data);
            body.push(b'\n');
        }
        body.extend(b"---------314159265358979323846--\n");
        body
    }

    fn good_attachment_headers() -> String {
        format!(
            "Content-Disposition: attachment; filename=\"text_data.txt\"\nContent-Type: text/plain\nContent-Transfer-Encoding: binary\nX-Experience-API-Hash: {TEXT_SHA}\n"
        )
    }

    #[test]
    fn split_valid_lf_request_like_conformance_suite() {
        let h = good_attachment_headers();
        let body = request("Content-Type: application/json\n", &[&h, &h], TEXT);
        let (stmt, atts) = split_statement_request(CT, &body).unwrap();
        assert_eq!(stmt, b"{\"id\":1}");
        assert_eq!(atts.len(), 2);
        assert_eq!(
            atts[0],
            AttachmentPart {
                sha2: TEXT_SHA.into(),
                content_type: "text/plain".into(),
                body: TEXT.to_vec()
            }
        );
    }

    #[test]
    fn split_statement_only_multipart_is_fine() {
        let body = request("Content-Type: application/json; charset=UTF-8\n", &[], b"");
        let (stmt, atts) = split_statement_request(CT, &body).unwrap();
        assert_eq!(stmt, b"{\"id\":1}");
        assert!(atts.is_empty());
    }

    #[test]
    fn split_sha384_sha512_and_uppercase() {
        for hash in [
            hex::encode(Sha384::digest(TEXT)),
            hex::encode(Sha512::digest(TEXT)),
            TEXT_SHA.to_uppercase(),
        ] {
            let h = format!("Content-Transfer-Encoding: BINARY\nX-Experience-API-Hash: {hash}\n");
            let body = request("Content-Type: application/json\n", &[&h], TEXT);
            let (_, atts) = split_statement_request(CT, &body).unwrap();
            assert_eq!(atts[0].sha2, hash);
            assert_eq!(atts[0].content_type, "application/octet-stream");
        }
    }

    #[test]
    fn split_first_part_must_be_json() {
        let h = good_attachment_headers();
        let body = request("Content-Type: text/plain\n", &[&h], TEXT);
        let e = split_statement_request(CT, &body).unwrap_err();
        assert_eq!(
            e,
            MultipartError::StatementPartContentType {
                found: Some("text/plain".into())
            }
        );
        assert!(e.to_string().contains("part 1"), "{e}");
        let body = request("X-Other: 1\n", &[&h], TEXT);
        let e = split_statement_request(CT, &body).unwrap_err();
        assert_eq!(e, MultipartError::StatementPartContentType { found: None });
        assert!(e.to_string().contains("no Content-Type header"));
        let body = request(
            "Content-Type: application/json\nContent-Transfer-Encoding: base64\n",
            &[&h],
            TEXT,
        );
        assert!(matches!(
            split_statement_request(CT, &body),
            Err(MultipartError::TransferEncoding { part: 1, .. })
        ));
    }

    #[test]
    fn split_first_part_missing_boundary_line() {
        // The conformance suite's "first part no boundary": the Statement
        // part ends up in the preamble and part 1 is the attachment.
        let h = good_attachment_headers();
        let mut body = b"Content-Type: application/json\n\n{}\n".to_vec();
        body.extend(b"---------314159265358979323846\n");
        body.extend(h.as_bytes());
        body.extend(b"\nhere is a simple attachment\n---------314159265358979323846--\n");
        assert!(matches!(
            split_statement_request(CT, &body),
            Err(MultipartError::StatementPartContentType { .. })
        ));
    }

    #[test]
    fn split_two_statement_parts_rejected() {
        let body = request(
            "Content-Type: application/json\n",
            &["Content-Type: application/json\n"],
            b"{}",
        );
        let e = split_statement_request(CT, &body).unwrap_err();
        assert_eq!(
            e,
            MultipartError::MissingHeader {
                part: 2,
                header: "X-Experience-API-Hash"
            }
        );
        assert_eq!(
            e.to_string(),
            "part 2: missing X-Experience-API-Hash header"
        );
    }

    #[test]
    fn split_requires_binary_transfer_encoding() {
        let h = format!("Content-Type: text/plain\nX-Experience-API-Hash: {TEXT_SHA}\n");
        let body = request("Content-Type: application/json\n", &[&h], TEXT);
        let e = split_statement_request(CT, &body).unwrap_err();
        assert_eq!(
            e.to_string(),
            "part 2: missing Content-Transfer-Encoding header"
        );
        let h = format!("Content-Transfer-Encoding: base64\nX-Experience-API-Hash: {TEXT_SHA}\n");
        let body = request("Content-Type: application/json\n", &[&h], TEXT);
        assert_eq!(
            split_statement_request(CT, &body),
            Err(MultipartError::TransferEncoding {
                part: 2,
                found: "base64".into()
            })
        );
    }

    #[test]
    fn split_hash_checks() {
        let good = good_attachment_headers();
        let wrong = format!(
            "Content-Transfer-Encoding: binary\nX-Experience-API-Hash: {}\n",
            "0".repeat(64)
        );
        let body = request("Content-Type: application/json\n", &[&good, &wrong], TEXT);
        let e = split_statement_request(CT, &body).unwrap_err();
        assert!(
            matches!(e, MultipartError::HashMismatch { part: 3, .. }),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("part 3: X-Experience-API-Hash 000"),
            "{e}"
        );
        for bad in ["xyz", "abcd", &"g".repeat(64)] {
            let h = format!("Content-Transfer-Encoding: binary\nX-Experience-API-Hash: {bad}\n");
            let body = request("Content-Type: application/json\n", &[&h], TEXT);
            assert!(matches!(
                split_statement_request(CT, &body),
                Err(MultipartError::InvalidHash { part: 2, .. })
            ));
        }
    }

    #[test]
    fn split_recovers_latin1_sent_as_utf8() {
        let original: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x00, 0xff, 0x80];
        let sha = hex::encode(Sha256::digest(&original));
        let mangled: String = original.iter().map(|&b| char::from(b)).collect();
        let h = format!("Content-Type: image/png\nContent-Transfer-Encoding: binary\nX-Experience-API-Hash: {sha}\n");
        let body = request(
            "Content-Type: application/json\n",
            &[&h],
            mangled.as_bytes(),
        );
        let (_, atts) = split_statement_request(CT, &body).unwrap();
        assert_eq!(atts[0].body, original);
        assert_eq!(atts[0].sha2, sha);
    }

    #[test]
    fn split_rejects_form_data_and_bad_content_type() {
        let h = good_attachment_headers();
        let body = request("Content-Type: application/json\n", &[&h], TEXT);
        assert_eq!(
            split_statement_request(
                "multipart/form-data; boundary=-------314159265358979323846",
                &body
            ),
            Err(MultipartError::FormData)
        );
        assert_eq!(
            split_statement_request("multipart/mixed;", &body),
            Err(MultipartError::MissingBoundary)
        );
        assert!(matches!(
            split_statement_request("multipart/mixed; boundary=other", &body),
            Err(MultipartError::MissingOpeningDelimiter(_))
        ));
    }
}
