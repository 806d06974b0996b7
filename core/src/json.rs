//! Reading fields out of parsed JSON, with errors that name the field.
//!
//! Every document the app reads is parsed once into serde_json's `Value`;
//! the ones read into types (config.json, discovery documents, the pending
//! record, FHIR resources) go through [`Object`] and [`FromJson`]. serde's
//! derived deserializers for the same types were several times larger in
//! the wasm (measured: bench/README.md); these readers are small, and their
//! messages say which field was wrong.

use serde_json::{Map, Value};

use crate::url::HttpUrl;

/// Parses JSON text into a `Value`. The error says where the text stops
/// being JSON ("line 3, column 7"). serde_json's own message is not shown:
/// displaying it links its message table and std::io's error texts into the
/// wasm. Every document goes through here, as bytes, so the wasm holds one
/// copy of the parser.
pub fn parse(text: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(text).map_err(|e| {
        let what = if e.is_eof() { "ends before the JSON value is complete" } else { "is not valid JSON" };
        format!("{what} (line {}, column {})", e.line(), e.column())
    })
}

/// `text` as a JSON string, quoted and escaped by serde_json's writer. The
/// app's one written document (the pending authorization) is put together
/// from these, numbers and `null`: serializing a whole `Value` instead
/// linked serde_json's `Value` serializer and its float formatting, which
/// nothing else in the wasm uses.
pub fn quoted(text: &str) -> String {
    // Writing a string into a String cannot fail.
    serde_json::to_string(text).unwrap_or_default()
}

/// A JSON object, read field by field. `null` counts as absent.
#[derive(Clone, Copy)]
pub struct Object<'a>(pub &'a Map<String, Value>);

/// What is wrong, and where: `path` is like `name[0].given[1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub path: String,
    pub problem: String,
}

impl JsonError {
    pub fn new(path: &str, problem: impl Into<String>) -> Self {
        JsonError { path: path.to_string(), problem: problem.into() }
    }

    /// The same problem, seen from the object that holds `outer`.
    fn within(mut self, outer: &str) -> Self {
        self.path = if self.path.is_empty() {
            outer.to_string()
        } else if self.path.starts_with('[') {
            format!("{outer}{}", self.path)
        } else {
            format!("{outer}.{}", self.path)
        };
        self
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.path, self.problem)
    }
}

/// A type read from a JSON object.
pub trait FromJson: Sized {
    /// Reads `Self`; the error says which field is wrong and how.
    fn read(object: Object<'_>) -> Result<Self, JsonError>;
}

/// Reads a whole value as `T`.
pub fn read<T: FromJson>(value: &Value) -> Result<T, JsonError> {
    match value {
        Value::Object(map) => T::read(Object(map)),
        _ => Err(JsonError::new("", "is not an object")),
    }
}

/// A field that must be present.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, JsonError> {
    value.ok_or_else(|| JsonError::new(field, "is missing"))
}

fn shape<T>(field: &str, value: Option<T>, problem: &str) -> Result<Option<T>, JsonError> {
    value.map(Some).ok_or_else(|| JsonError::new(field, problem))
}

impl<'a> Object<'a> {
    /// The object `value` is, if it is one.
    pub fn of(value: &'a Value) -> Option<Self> {
        value.as_object().map(Object)
    }

    /// The field's value, `None` when absent or `null`.
    pub fn get(self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// Refuses a field not in `known`, for documents where a misspelt field
    /// must not pass silently.
    pub fn only(self, known: &[&str]) -> Result<(), JsonError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(field) => {
                Err(JsonError::new(field, format!("is not a known field (expected one of: {})", known.join(", "))))
            }
            None => Ok(()),
        }
    }

    pub fn text(self, field: &str) -> Result<Option<String>, JsonError> {
        self.get(field).map_or(Ok(None), |v| shape(field, v.as_str().map(str::to_string), "is not a string"))
    }

    pub fn number(self, field: &str) -> Result<Option<f64>, JsonError> {
        self.get(field).map_or(Ok(None), |v| shape(field, v.as_f64(), "is not a number"))
    }

    pub fn whole_number(self, field: &str) -> Result<Option<u64>, JsonError> {
        self.get(field).map_or(Ok(None), |v| shape(field, v.as_u64(), "is not a whole number of 0 or more"))
    }

    pub fn boolean(self, field: &str) -> Result<Option<bool>, JsonError> {
        self.get(field).map_or(Ok(None), |v| shape(field, v.as_bool(), "is not true or false"))
    }

    /// An absolute http(s) URL.
    pub fn url(self, field: &str) -> Result<Option<HttpUrl>, JsonError> {
        match self.text(field)? {
            Some(text) => {
                HttpUrl::parse(&text).map(Some).map_err(|e| JsonError::new(field, format!("is not a usable URL: {e}")))
            }
            None => Ok(None),
        }
    }

    /// A list of strings; `None` when the field is absent.
    pub fn texts(self, field: &str) -> Result<Option<Vec<String>>, JsonError> {
        self.list(field, |item| item.as_str().map(str::to_string).ok_or_else(|| JsonError::new("", "is not a string")))
    }

    /// A nested object read as `T`.
    pub fn one<T: FromJson>(self, field: &str) -> Result<Option<T>, JsonError> {
        self.get(field).map_or(Ok(None), |v| read(v).map(Some).map_err(|e| e.within(field)))
    }

    /// A list of objects read as `T`; empty when the field is absent.
    pub fn many<T: FromJson>(self, field: &str) -> Result<Vec<T>, JsonError> {
        Ok(self.list(field, read)?.unwrap_or_default())
    }

    /// A list whose items are read by `read`; `None` when absent.
    pub fn list<T>(
        self,
        field: &str,
        read: impl Fn(&Value) -> Result<T, JsonError>,
    ) -> Result<Option<Vec<T>>, JsonError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                // A plain loop: `collect::<Result<..>>` is a larger
                // instantiation per item type.
                let mut read_items = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    read_items.push(read(item).map_err(|e| e.within(&format!("{field}[{i}]")))?);
                }
                Ok(Some(read_items))
            }
            Some(_) => Err(JsonError::new(field, "is not a list")),
        }
    }
}

/// An object read field by field without an early return per field: the
/// first problem is kept, a field with a problem reads as empty, and
/// [`Fields::finish`] gives the problem back. (With a `?` per field, each
/// one compiled into drop code for every field read before it: several KB
/// of wasm across the readers, bench/README.md.)
pub struct Fields<'a> {
    object: Object<'a>,
    problem: std::cell::Cell<Option<JsonError>>,
}

impl<'a> Fields<'a> {
    pub fn new(object: Object<'a>) -> Self {
        Fields { object, problem: std::cell::Cell::new(None) }
    }

    fn keep<T: Default>(&self, read: Result<T, JsonError>) -> T {
        read.unwrap_or_else(|problem| {
            let first = self.problem.take();
            self.problem.set(first.or(Some(problem)));
            T::default()
        })
    }

    pub fn text(&self, field: &str) -> Option<String> {
        self.keep(self.object.text(field))
    }

    /// A list of strings; empty when the field is absent.
    pub fn texts(&self, field: &str) -> Vec<String> {
        self.keep(self.object.texts(field)).unwrap_or_default()
    }

    pub fn number(&self, field: &str) -> Option<f64> {
        self.keep(self.object.number(field))
    }

    pub fn whole_number(&self, field: &str) -> Option<u64> {
        self.keep(self.object.whole_number(field))
    }

    pub fn one<T: FromJson>(&self, field: &str) -> Option<T> {
        self.keep(self.object.one(field))
    }

    pub fn many<T: FromJson>(&self, field: &str) -> Vec<T> {
        self.keep(self.object.many(field))
    }

    /// `value`, or the first problem met while reading it.
    pub fn finish<T>(&self, value: T) -> Result<T, JsonError> {
        match self.problem.take() {
            None => Ok(value),
            Some(problem) => Err(problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Pair {
        name: Option<String>,
        tags: Vec<String>,
    }

    impl FromJson for Pair {
        fn read(o: Object<'_>) -> Result<Self, JsonError> {
            Ok(Pair { name: o.text("name")?, tags: o.texts("tags")?.unwrap_or_default() })
        }
    }

    #[test]
    fn parse_says_where_the_text_stops_being_json() {
        assert_eq!(parse(br#"{"a": [1, 2]}"#).unwrap(), json!({"a": [1, 2]}));
        assert_eq!(parse(b"{\"a\": 1,\n  \"b\" 2}").unwrap_err(), "is not valid JSON (line 2, column 7)");
        assert_eq!(parse(br#"{"a": [1, 2"#).unwrap_err(), "ends before the JSON value is complete (line 1, column 11)");
        assert_eq!(parse(b"").unwrap_err(), "ends before the JSON value is complete (line 1, column 0)");
        assert_eq!(parse(b"<html>").unwrap_err(), "is not valid JSON (line 1, column 1)");
        // A number beyond f64 cannot be held either.
        assert_eq!(parse(b"1e999").unwrap_err(), "is not valid JSON (line 1, column 5)");
        assert!(parse(b"\xff").unwrap_err().starts_with("is not valid JSON"));
    }

    #[test]
    fn reads_present_absent_and_null_fields() {
        let v = json!({"s": "x", "n": 1.5, "w": 7, "b": true, "z": null, "l": ["a", "b"]});
        let o = Object::of(&v).unwrap();
        assert_eq!(o.text("s").unwrap().as_deref(), Some("x"));
        assert_eq!(o.text("z").unwrap(), None);
        assert_eq!(o.text("missing").unwrap(), None);
        assert_eq!(o.number("n").unwrap(), Some(1.5));
        assert_eq!(o.whole_number("w").unwrap(), Some(7));
        assert_eq!(o.boolean("b").unwrap(), Some(true));
        assert_eq!(o.texts("l").unwrap().unwrap(), ["a", "b"]);
        assert!(o.only(&["s", "n", "w", "b", "z", "l"]).is_ok());
    }

    #[test]
    fn names_the_field_of_the_wrong_shape() {
        let v = json!({"s": 1, "n": "1", "w": -1, "b": "yes", "l": ["a", 2], "o": [], "m": [{"name": 3}]});
        let o = Object::of(&v).unwrap();
        let message = |e: JsonError| e.to_string();
        assert_eq!(message(o.text("s").unwrap_err()), "s is not a string");
        assert_eq!(message(o.number("n").unwrap_err()), "n is not a number");
        assert!(message(o.whole_number("w").unwrap_err()).starts_with("w is not a whole number"));
        assert_eq!(message(o.boolean("b").unwrap_err()), "b is not true or false");
        assert_eq!(message(o.texts("l").unwrap_err()), "l[1] is not a string");
        assert_eq!(message(o.one::<Pair>("o").err().unwrap()), "o is not an object");
        assert_eq!(message(o.many::<Pair>("m").err().unwrap()), "m[0].name is not a string");
        assert_eq!(message(o.many::<Pair>("s").err().unwrap()), "s is not a list");
        let e = o.only(&["s", "n", "w", "b", "l", "o"]).unwrap_err();
        assert_eq!(e.path, "m");
        assert!(e.problem.starts_with("is not a known field"), "{e}");
    }

    #[test]
    fn reads_urls_and_required_fields() {
        let v = json!({"u": "https://ehr.example.org/fhir", "bad": "fhir", "n": 3});
        let o = Object::of(&v).unwrap();
        assert_eq!(o.url("u").unwrap().unwrap().to_string(), "https://ehr.example.org/fhir");
        assert_eq!(o.url("absent").unwrap(), None);
        assert!(o.url("bad").unwrap_err().to_string().starts_with("bad is not a usable URL: "));
        assert!(o.url("n").unwrap_err().to_string().starts_with("n is not a string"));
        assert_eq!(required(o.whole_number("n").unwrap(), "n").unwrap(), 3);
        assert_eq!(required(o.text("absent").unwrap(), "absent").unwrap_err().to_string(), "absent is missing");
    }

    #[test]
    fn reads_nested_objects() {
        let v = json!({"one": {"name": "a", "tags": ["t"]}, "many": [{"name": "b"}, {}]});
        let o = Object::of(&v).unwrap();
        let one: Pair = o.one("one").unwrap().unwrap();
        assert_eq!((one.name.as_deref(), one.tags.len()), (Some("a"), 1));
        let many: Vec<Pair> = o.many("many").unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many[1].name, None);
        assert!(o.many::<Pair>("absent").unwrap().is_empty());
    }
}
