//! Reading a create request's JSON body: 400 for what is not JSON, 413 for what is too large,
//! 422 listing every field that is missing, mistyped, unknown or breaks a rule.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use catalog::{NewItem, ValidationError};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::router::MAX_BODY_BYTES;

/// The fields a create body may have.
const KNOWN_FIELDS: [&str; 2] = ["name", "description"];

/// A create body that is well-formed JSON object; its fields are checked by [`ItemBody::into_new_item`].
pub struct ItemBody(Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for ItemBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        if !content_type.as_deref().is_some_and(is_json) {
            let got = content_type.map_or_else(
                || "no Content-Type".to_owned(),
                |c| format!("Content-Type {c:?}"),
            );
            return Err(ApiError::UnsupportedContentType(got));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        limit: MAX_BODY_BYTES,
                    }
                } else {
                    ApiError::BadRequest(format!("could not read the body: {rejection}"))
                }
            })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(fields)) => {
                serde_json::from_slice::<NoRepeatedKeys>(&bytes)
                    .map_err(|error| ApiError::MalformedJson(error.to_string()))?;
                Ok(ItemBody(fields))
            }
            Ok(other) => Err(ApiError::invalid_field(
                "body",
                format!("must be a JSON object, not {}", kind(&other)),
            )),
            Err(error) => Err(ApiError::MalformedJson(error.to_string())),
        }
    }
}

/// A JSON object read only to check that no key appears twice. serde_json keeps the last of two
/// (`{"name": "a", "name": "b"}` is `b`) where other parsers keep the first, so a body that a
/// proxy or a log reads one way would be stored the other way: it is refused instead.
struct NoRepeatedKeys;

impl<'de> serde::Deserialize<'de> for NoRepeatedKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = NoRepeatedKeys;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<NoRepeatedKeys, A::Error> {
                let mut seen = std::collections::HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "the key {key:?} appears more than once"
                        )));
                    }
                }
                Ok(NoRepeatedKeys)
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl ItemBody {
    /// Checks shape and rules together, so one 422 lists every problem.
    pub fn into_new_item(self, created_by: Option<String>) -> Result<NewItem, ApiError> {
        let mut errors = ValidationError::default();
        let name = match self.0.get("name") {
            Some(Value::String(name)) => Some(name.as_str()),
            None | Some(Value::Null) => {
                errors.push("name", "is required");
                None
            }
            Some(other) => {
                errors.push("name", format!("must be a string, not {}", kind(other)));
                None
            }
        };
        let description = match self.0.get("description") {
            Some(Value::String(description)) => Some(description.as_str()),
            None | Some(Value::Null) => None,
            Some(other) => {
                errors.push(
                    "description",
                    format!("must be a string, not {}", kind(other)),
                );
                None
            }
        };
        for field in self
            .0
            .keys()
            .filter(|key| !KNOWN_FIELDS.contains(&key.as_str()))
        {
            errors.push(
                field.as_str(),
                format!("is not a known field (known: {})", KNOWN_FIELDS.join(", ")),
            );
        }
        match NewItem::parse(name.unwrap_or(""), description, created_by) {
            Ok(item) if errors.is_empty() => Ok(item),
            Ok(_) => Err(errors.into()),
            Err(rules) => {
                // Keep one problem per field: a missing name is not also "empty".
                for broken in rules.fields {
                    if !errors.fields.iter().any(|e| e.field == broken.field) {
                        errors.fields.push(broken);
                    }
                }
                Err(errors.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: Value) -> Result<NewItem, Vec<String>> {
        let Value::Object(map) = body else { panic!() };
        ItemBody(map)
            .into_new_item(None)
            .map_err(|error| match error {
                ApiError::Validation(v) => v
                    .fields
                    .into_iter()
                    .map(|f| format!("{}: {}", f.field, f.problem))
                    .collect(),
                other => panic!("{other}"),
            })
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        assert!(
            serde_json::from_slice::<NoRepeatedKeys>(br#"{"name": "a", "name": "b"}"#).is_err()
        );
        assert!(
            serde_json::from_slice::<NoRepeatedKeys>(
                br#"{"name": "a", "description": {"x": 1, "x": 2}}"#
            )
            .is_ok(),
            "only the body's own keys are fields"
        );
        assert!(
            serde_json::from_slice::<NoRepeatedKeys>(br#"{"name": "a", "description": "b"}"#)
                .is_ok()
        );
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn every_field_problem_is_listed_once() {
        let problems = check(serde_json::json!({"description": 5, "owner": "x"})).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("name: is required"));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("description: must be a string, not a number"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("owner: is not a known field"))
        );
    }

    #[test]
    fn rule_problems_join_shape_problems() {
        let problems = check(serde_json::json!({"name": " ", "description": 1})).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p == "name: must not be empty"));
    }

    #[test]
    fn a_good_body_passes_and_null_description_is_empty() {
        let item = check(serde_json::json!({"name": "Atlas", "description": null})).unwrap();
        assert_eq!((item.name(), item.description()), ("Atlas", ""));
    }
}
