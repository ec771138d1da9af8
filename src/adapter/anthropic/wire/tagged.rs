//! How the wire types read a JSON object whose `type` field names its
//! variant (content blocks, sources, tool choices, stream events), and a
//! value that is a string or a list of blocks.
//!
//! Serde's derived internally tagged enums buffer every object into an
//! intermediate tree before reading it, which costs an allocation per field
//! on the stream's hot path and hides where inside the object an error is.
//! [`deserialize`] reads the tag first when the object starts with it (as
//! Anthropic, its SDKs and the gateway write it) and then the variant's
//! fields straight from the input, borrowing strings; only an object whose
//! `type` comes later (a `serde_json::Value` keeps its keys sorted) is
//! buffered. A tag that no variant has is not an error: each enum keeps it
//! in an `Unknown` variant, so that readers tolerate what the API adds.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// An enum read from an object with a `type` field.
pub trait Tagged<'de>: Sized {
    /// Reads the variant named `tag` from `fields`, the object's other
    /// fields (a `type` among them is ignored). An unknown `tag` gives the
    /// enum's `Unknown` variant.
    fn from_tag<D: Deserializer<'de>>(tag: &str, fields: D) -> Result<Self, D::Error>;
}

/// Reads a [`Tagged`] enum from an object.
pub fn deserialize<'de, T: Tagged<'de>, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged<'de>> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let Some(Str(first)) = map.next_key::<Str>()? else {
            return Err(de::Error::missing_field("type"));
        };
        if first == "type" {
            let Str(tag) = map.next_value::<Str>()?;
            return T::from_tag(&tag, MapAccessDeserializer::new(map));
        }
        // The tag comes later: buffer the object, then read the variant.
        let mut fields = serde_json::Map::new();
        fields.insert(first.into_owned(), map.next_value::<Value>()?);
        while let Some((Str(key), value)) = map.next_entry::<Str, Value>()? {
            fields.insert(key.into_owned(), value);
        }
        let tag = match fields.remove("type") {
            Some(Value::String(tag)) => tag,
            None | Some(Value::Null) => return Err(de::Error::missing_field("type")),
            Some(other) => {
                return Err(de::Error::custom(format_args!(
                    "type: invalid type: {}, expected a string",
                    unexpected(&other)
                )))
            }
        };
        from_buffered(&tag, Value::Object(fields))
    }
}

/// Reads the variant from a buffered object. An error names where inside
/// the object it is (`source: missing field \`data\``), as the path of the
/// outer input stops at the object.
fn from_buffered<'de, T: Tagged<'de>, E: de::Error>(tag: &str, fields: Value) -> Result<T, E> {
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(fields, &mut track);
    T::from_tag(tag, tracked).map_err(|e| {
        let path = track.path();
        if path.iter().next().is_some() {
            E::custom(format_args!("{path}: {e}"))
        } else {
            E::custom(e)
        }
    })
}

/// What serde's messages call a JSON value of the wrong type.
fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => de::Unexpected::Signed(i),
            (None, Some(f)) => de::Unexpected::Float(f),
            (None, None) => de::Unexpected::Other("number"),
        },
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

/// A string, borrowed from the input when it has no escapes (serde's own
/// `Cow<str>` is always owned outside a struct field).
pub struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(PhantomData))
    }
}

struct StrVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
    type Value = Str<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Str<'a>, E> {
        Ok(Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Str<'a>, E> {
        Ok(Str(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Str<'a>, E> {
        Ok(Str(Cow::Owned(s)))
    }
}

/// A string or a list of `B`, read in one pass so that an error inside
/// the list keeps its path.
pub enum TextOrList<'a, B> {
    Text(Cow<'a, str>),
    List(Vec<B>),
}

impl<'de: 'a, 'a, B: Deserialize<'de>> TextOrList<'a, B> {
    /// Reads one; `expecting` says what for error messages
    /// ("a valid string or a list of content blocks").
    pub fn deserialize<D: Deserializer<'de>>(
        d: D,
        expecting: &'static str,
    ) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrListVisitor {
            expecting,
            marker: PhantomData,
        })
    }
}

struct TextOrListVisitor<'a, B> {
    expecting: &'static str,
    marker: PhantomData<(&'a (), B)>,
}

impl<'de: 'a, 'a, B: Deserialize<'de>> Visitor<'de> for TextOrListVisitor<'a, B> {
    type Value = TextOrList<'a, B>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(TextOrList::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(TextOrList::Text(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(TextOrList::Text(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::<B>::deserialize(SeqAccessDeserializer::new(seq)).map(TextOrList::List)
    }
}
