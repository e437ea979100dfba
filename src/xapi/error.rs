//! The one error type of the data-model layer, and the cheap path it names.

use std::fmt;

use serde_json::{Map, Value};

/// Why a piece of xAPI JSON was refused: where (`statement[3].actor.mbox`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

impl Invalid {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A location inside the JSON being validated, built on the stack as validation descends.
/// It costs nothing until an error turns it into text, which keeps the valid path fast.
#[derive(Debug, Clone, Copy)]
pub enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    pub fn invalid(&self, message: impl Into<String>) -> Invalid {
        Invalid::new(self.to_string(), message)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(root) => f.write_str(root),
            Path::Key(parent, key) => {
                if matches!(parent, Path::Root(root) if root.is_empty()) {
                    f.write_str(key)
                } else {
                    write!(f, "{parent}.{key}")
                }
            }
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// The JSON type name used in messages such as `must be a string, not a number`.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn as_object<'v>(value: &'v Value, path: &Path) -> Result<&'v Map<String, Value>, Invalid> {
    value
        .as_object()
        .ok_or_else(|| path.invalid(format!("must be an object, not {}", type_name(value))))
}

pub fn as_array<'v>(value: &'v Value, path: &Path) -> Result<&'v Vec<Value>, Invalid> {
    value
        .as_array()
        .ok_or_else(|| path.invalid(format!("must be an array, not {}", type_name(value))))
}

pub fn as_str<'v>(value: &'v Value, path: &Path) -> Result<&'v str, Invalid> {
    value
        .as_str()
        .ok_or_else(|| path.invalid(format!("must be a string, not {}", type_name(value))))
}

pub fn as_bool(value: &Value, path: &Path) -> Result<bool, Invalid> {
    value
        .as_bool()
        .ok_or_else(|| path.invalid(format!("must be a boolean, not {}", type_name(value))))
}

pub fn as_number(value: &Value, path: &Path) -> Result<f64, Invalid> {
    value
        .as_f64()
        .ok_or_else(|| path.invalid(format!("must be a number, not {}", type_name(value))))
}

/// Rejects every key outside `allowed` (names are case-sensitive) and every `null` value:
/// the spec fixes the property set of each object and forbids nulls outside extensions.
pub fn check_properties(
    map: &Map<String, Value>,
    allowed: &[&str],
    path: &Path,
) -> Result<(), Invalid> {
    for (key, value) in map {
        if !allowed.contains(&key.as_str()) {
            return Err(path.invalid(format!("unknown property '{key}'")));
        }
        if value.is_null() {
            return Err(path.key(key).invalid("null is not allowed"));
        }
    }
    Ok(())
}

pub fn required<'v>(
    map: &'v Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<&'v Value, Invalid> {
    map.get(key)
        .ok_or_else(|| path.invalid(format!("missing required property '{key}'")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_render_keys_and_indexes() {
        let root = Path::Root("statement[3]");
        let context = root.key("context");
        let parents = context.key("contextActivities");
        let parent = parents.key("parent");
        let first = parent.index(0);
        let id = first.key("id");
        assert_eq!(
            id.to_string(),
            "statement[3].context.contextActivities.parent[0].id"
        );
        let empty = Path::Root("");
        assert_eq!(empty.key("agent").to_string(), "agent");
    }

    #[test]
    fn invalid_displays_path_then_message() {
        let error = Invalid::new("statement.verb", "not an IRI");
        assert_eq!(error.to_string(), "statement.verb: not an IRI");
    }

    #[test]
    fn check_properties_rejects_unknown_and_null() {
        let root = Path::Root("x");
        let ok = json!({"a": 1, "b": "c"});
        assert!(check_properties(ok.as_object().unwrap(), &["a", "b"], &root).is_ok());
        let unknown = json!({"a": 1, "B": 2});
        let error = check_properties(unknown.as_object().unwrap(), &["a", "b"], &root).unwrap_err();
        assert_eq!(error.message, "unknown property 'B'");
        let null = json!({"a": null});
        let error = check_properties(null.as_object().unwrap(), &["a"], &root).unwrap_err();
        assert_eq!(error.to_string(), "x.a: null is not allowed");
    }

    #[test]
    fn type_errors_name_the_type() {
        let root = Path::Root("x");
        assert_eq!(
            as_str(&json!(1), &root).unwrap_err().message,
            "must be a string, not a number"
        );
        assert!(as_object(&json!([]), &root).is_err());
        assert!(as_array(&json!({}), &root).is_err());
        assert!(as_bool(&json!("true"), &root).is_err());
        assert!(as_number(&json!("1"), &root).is_err());
    }
}
