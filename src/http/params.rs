//! Query-string rules shared by the resources.

use super::error::ApiError;

/// The query as name/value pairs; a parameter given twice is refused.
pub fn query_pairs(query_string: &str) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
        .map_err(|e| ApiError::InvalidParameter(format!("malformed query string: {e}")))?;
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(ApiError::InvalidParameter(format!(
                "{name}: given more than once"
            )));
        }
    }
    Ok(pairs)
}

/// The value of the one parameter a resource takes; missing or anything else is 400.
pub fn single_parameter(query_string: &str, name: &str) -> Result<String, ApiError> {
    let mut value = None;
    for (key, v) in query_pairs(query_string)? {
        if key == name {
            value = Some(v);
        } else {
            return Err(ApiError::InvalidParameter(format!(
                "{key}: not a parameter of this resource"
            )));
        }
    }
    value.ok_or_else(|| ApiError::InvalidParameter(format!("{name}: required")))
}
