//! Strict JSON parsing: duplicate object keys and excessive nesting are errors
//! (xAPI 2.0 §4.2.1 requires detecting duplicates; we apply it to 1.0.3 as well).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::error::{Invalid, Path};

/// Parses `bytes` as one JSON value. Errors name the JSON path (`$.actor.member[0]`)
/// of a duplicate key or of the value nested deeper than `max_depth` arrays/objects.
/// serde_json's own recursion limit (128) still applies on top of `max_depth`.
pub fn parse_json(bytes: &[u8], max_depth: usize) -> Result<Value, Invalid> {
    let failure = RefCell::new(None);
    let root = Path::Root("$");
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let seed = StrictValue {
        path: &root,
        depth: 0,
        max_depth,
        failure: &failure,
    };
    let parsed = seed
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(error) => Err(failure
            .into_inner()
            .unwrap_or_else(|| Invalid::new("$", format!("invalid JSON: {error}")))),
    }
}

/// Deserializes one value at `path`, recording the first structural failure in `failure`
/// so the caller gets the path rather than serde's line/column text.
struct StrictValue<'p, 'f> {
    path: &'p Path<'p>,
    depth: usize,
    max_depth: usize,
    failure: &'f RefCell<Option<Invalid>>,
}

impl StrictValue<'_, '_> {
    fn fail<E: de::Error>(&self, path: &Path, message: String) -> E {
        let mut failure = self.failure.borrow_mut();
        if failure.is_none() {
            *failure = Some(path.invalid(message));
        }
        E::custom("rejected")
    }

    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth >= self.max_depth {
            return Err(self.fail(
                self.path,
                format!("nested deeper than {} levels", self.max_depth),
            ));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| self.fail(self.path, "number is not finite".to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let path = self.path.index(items.len());
            let seed = StrictValue {
                path: &path,
                depth: self.depth + 1,
                max_depth: self.max_depth,
                failure: self.failure,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let path = self.path.key(&key);
            if map.contains_key(&key) {
                return Err(self.fail(self.path, format!("duplicate key '{key}'")));
            }
            let seed = StrictValue {
                path: &path,
                depth: self.depth + 1,
                max_depth: self.max_depth,
                failure: self.failure,
            };
            let value = access.next_value_seed(seed)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_ordinary_json_keeping_key_order() {
        let value = parse_json(br#"{"b": 1, "a": [true, null, 1.5, -2, "x"]}"#, 32).unwrap();
        assert_eq!(value, json!({"b": 1, "a": [true, null, 1.5, -2, "x"]}));
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn rejects_duplicate_keys_with_their_path() {
        let error = parse_json(
            br#"{"actor": {"member": [{"name": "a", "name": "b"}]}}"#,
            32,
        )
        .unwrap_err();
        assert_eq!(error.path, "$.actor.member[0]");
        assert_eq!(error.message, "duplicate key 'name'");
        assert!(parse_json(br#"{"id": 1, "id": 1}"#, 32).is_err());
    }

    #[test]
    fn rejects_nesting_beyond_the_limit() {
        assert!(parse_json(b"[[[1]]]", 3).is_ok());
        let error = parse_json(b"[[[[1]]]]", 3).unwrap_err();
        assert_eq!(error.path, "$[0][0][0]");
        assert!(error.message.contains("nested deeper than 3"));
    }

    #[test]
    fn rejects_syntax_errors_and_trailing_data() {
        let error = parse_json(b"{\"a\": ", 32).unwrap_err();
        assert_eq!(error.path, "$");
        assert!(error.message.starts_with("invalid JSON"));
        assert!(parse_json(b"{} {}", 32).is_err());
        assert!(parse_json(b"", 32).is_err());
    }

    #[test]
    fn escaped_keys_are_compared_after_unescaping() {
        assert!(parse_json(br#"{"a": 1, "\u0061": 2}"#, 32).is_err());
    }
}
