//! The extension package: every file of `src/capture/extension/` (its tests and
//! dotfiles aside), embedded in the binary at build time and zipped with
//! `manifest.json` at the root, as browsers load it. `commonplace capture package` and
//! `GET /capture/extension.zip` serve the same bytes and need no files at run time.

use std::io::{Cursor, Write};

use include_dir::{include_dir, Dir, DirEntry};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

static EXTENSION: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/src/capture/extension");

/// The extension's files as `(path inside the package, contents)`, in path order.
pub fn files() -> Vec<(String, &'static [u8])> {
    let mut out = Vec::new();
    collect(&EXTENSION, &mut out);
    out.sort();
    out
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static [u8])>) {
    for entry in dir.entries() {
        let path = entry.path();
        let left_out = path.components().any(|part| {
            let name = part.as_os_str().to_string_lossy();
            name.starts_with('.') || name == "tests" || name == "node_modules"
        });
        if left_out {
            continue;
        }
        match entry {
            DirEntry::Dir(inner) => collect(inner, out),
            DirEntry::File(file) => out.push((
                // Zip paths use `/` whatever the build machine uses.
                path.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/"),
                file.contents(),
            )),
        }
    }
}

/// The zip. Entries carry the zip format's earliest date, so the same extension
/// always gives the same bytes.
pub fn zip() -> Result<Vec<u8>, String> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (path, contents) in files() {
        writer
            .start_file(path.as_str(), options)
            .and_then(|()| writer.write_all(contents).map_err(Into::into))
            .map_err(|e| format!("zipping {path}: {e}"))?;
    }
    let cursor = writer.finish().map_err(|e| e.to_string())?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_at_the_root_and_nothing_hidden_is_packaged() {
        let files = files();
        assert!(files.iter().any(|(path, _)| path == "manifest.json"));
        assert!(files
            .iter()
            .all(|(path, _)| !path.split('/').any(|p| p.starts_with('.') || p == "tests")));
        let bytes = zip().unwrap();
        assert!(bytes.starts_with(b"PK\x03\x04"));
        assert_eq!(zip().unwrap(), bytes, "the same files give the same zip");
    }
}
