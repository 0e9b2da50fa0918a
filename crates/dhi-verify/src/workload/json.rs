//! [`Node`] for parsed JSON: an admission request's object. No positions.

use std::ops::Range;

use serde_json::Value;

use super::walk::Node;

impl Node for Value {
    fn get(&self, key: &str) -> Option<&Self> {
        self.as_object().and_then(|m| m.get(key))
    }

    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }

    fn items(&self) -> Option<Vec<&Self>> {
        self.as_array().map(|a| a.iter().collect())
    }

    fn entries(&self) -> Option<Vec<(&str, &Self)>> {
        self.as_object()
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
    }

    fn is_null(&self) -> bool {
        Value::is_null(self)
    }

    fn shape(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "a mapping",
        }
    }

    fn line(&self) -> Option<usize> {
        None
    }

    fn span(&self) -> Option<Range<usize>> {
        None
    }
}
