//! The Result object and its Score (Data §2.4.5).

use serde_json::Value;

use super::error::{as_bool, as_number, as_object, as_str, check_properties, Invalid, Path};
use super::iri::check_extensions;
use super::time::check_duration;

const RESULT_PROPERTIES: &[&str] = &[
    "score",
    "success",
    "completion",
    "response",
    "duration",
    "extensions",
];

pub fn check_result(value: &Value, path: &Path) -> Result<(), Invalid> {
    let map = as_object(value, path)?;
    check_properties(map, RESULT_PROPERTIES, path)?;
    if let Some(score) = map.get("score") {
        check_score(score, &path.key("score"))?;
    }
    for key in ["success", "completion"] {
        if let Some(flag) = map.get(key) {
            as_bool(flag, &path.key(key))?;
        }
    }
    if let Some(response) = map.get("response") {
        as_str(response, &path.key("response"))?;
    }
    if let Some(duration) = map.get("duration") {
        check_duration(duration, &path.key("duration"))?;
    }
    if let Some(extensions) = map.get("extensions") {
        check_extensions(extensions, &path.key("extensions"))?;
    }
    Ok(())
}

/// `scaled` lies in [-1, 1]; `min` is less than `max`; `raw` lies between them.
fn check_score(value: &Value, path: &Path) -> Result<(), Invalid> {
    let map = as_object(value, path)?;
    check_properties(map, &["scaled", "raw", "min", "max"], path)?;
    let number = |key: &str| -> Result<Option<f64>, Invalid> {
        map.get(key)
            .map(|v| as_number(v, &path.key(key)))
            .transpose()
    };
    let (scaled, raw, min, max) = (
        number("scaled")?,
        number("raw")?,
        number("min")?,
        number("max")?,
    );
    if let Some(scaled) = scaled {
        if !(-1.0..=1.0).contains(&scaled) {
            return Err(path.key("scaled").invalid("must be between -1 and 1"));
        }
    }
    if let (Some(min), Some(max)) = (min, max) {
        if min >= max {
            return Err(path.key("min").invalid("must be less than max"));
        }
    }
    if let Some(raw) = raw {
        if min.is_some_and(|min| raw < min) {
            return Err(path.key("raw").invalid("must not be less than min"));
        }
        if max.is_some_and(|max| raw > max) {
            return Err(path.key("raw").invalid("must not be greater than max"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(value: Value) -> Result<(), Invalid> {
        check_result(&value, &Path::Root("result"))
    }

    #[test]
    fn accepts_full_result() {
        assert!(result(json!({
            "score": {"scaled": 0.95, "raw": 95, "min": 0, "max": 100},
            "success": true, "completion": false, "response": "We agreed",
            "duration": "PT1H0M0S", "extensions": {"http://x.org/e": "v"}
        }))
        .is_ok());
        assert!(result(json!({})).is_ok());
        assert!(result(json!({"score": {"scaled": -1}})).is_ok());
        assert!(result(json!({"score": {"raw": 5, "min": 5}})).is_ok());
        assert!(result(json!({"score": {"raw": -5}})).is_ok());
    }

    #[test]
    fn rejects_bad_scores() {
        assert!(result(json!({"score": {"scaled": 1.01}})).is_err());
        assert!(result(json!({"score": {"scaled": -1.5}})).is_err());
        assert!(result(json!({"score": {"scaled": "0.5"}})).is_err());
        assert!(result(json!({"score": {"min": 10, "max": 5}})).is_err());
        assert!(result(json!({"score": {"min": 5, "max": 5}})).is_err());
        assert!(result(json!({"score": {"raw": 11, "max": 10}})).is_err());
        let error = result(json!({"score": {"raw": 1, "min": 2}})).unwrap_err();
        assert_eq!(error.path, "result.score.raw");
        assert!(result(json!({"score": {"percent": 1}})).is_err());
        assert!(result(json!({"score": 1})).is_err());
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(result(json!({"success": "true"})).is_err());
        assert!(result(json!({"completion": 1})).is_err());
        assert!(result(json!({"response": 5})).is_err());
        assert!(result(json!({"duration": "1 hour"})).is_err());
        assert!(result(json!({"extensions": {"x": 1}})).is_err());
        assert!(result(json!({"Success": true})).is_err());
        assert!(result(json!({"success": null})).is_err());
    }
}
