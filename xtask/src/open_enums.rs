//! Open enums: every component string enum becomes a Rust enum with an
//! `Unknown(String)` variant, so a value the spec did not list decodes instead of
//! failing the whole response. progenitor is told (via typify's replacement) to use
//! these types instead of generating closed ones.

use anyhow::{Result, bail};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

/// One component enum.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenEnum {
    /// Rust type name, as typify would name the component.
    pub rust_name: String,
    /// The component's description, if any.
    pub description: Option<String>,
    /// `(wire value, Rust variant name)` in spec order.
    pub variants: Vec<(String, String)>,
}

/// Finds every component schema that is a string enum.
pub fn collect(doc: &Value) -> Result<Vec<OpenEnum>> {
    let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, schema) in schemas {
        let Some(values) = schema.get("enum").and_then(Value::as_array) else {
            continue;
        };
        let is_string = schema.get("type").is_none_or(|t| t == "string");
        if !is_string || schema.get("nullable") == Some(&Value::Bool(true)) {
            continue;
        }
        let pointer = crate::pointer::push("/components/schemas", name);
        let mut variants: Vec<(String, String)> = Vec::new();
        for value in values {
            let Some(value) = value.as_str() else {
                bail!("{pointer}/enum: a string enum holds the non-string value {value}");
            };
            let variant = sanitize_pascal(value);
            if variant == "Unknown" {
                bail!(
                    "{pointer}/enum: the value {value:?} would be the variant `Unknown`, \
                     which open enums keep for values the spec does not list"
                );
            }
            if let Some((other, _)) = variants.iter().find(|(_, v)| *v == variant) {
                bail!(
                    "{pointer}/enum: the values {other:?} and {value:?} both become the \
                     Rust variant `{variant}`"
                );
            }
            variants.push((value.to_owned(), variant));
        }
        out.push(OpenEnum {
            rust_name: sanitize_pascal(name),
            description: schema
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            variants,
        });
    }
    Ok(out)
}

/// The Rust path progenitor is told to use for an open enum.
pub fn rust_path(open_enum: &OpenEnum) -> String {
    format!("crate::types::{}", open_enum.rust_name)
}

/// Emits the enum, its `as_str`, `Display`, `FromStr`, `From<String>` and serde impls.
pub fn tokens(open_enum: &OpenEnum) -> TokenStream {
    let name = format_ident!("{}", open_enum.rust_name);
    let doc = open_enum
        .description
        .clone()
        .unwrap_or_else(|| format!("`{}` values.", open_enum.rust_name));
    let values: Vec<&str> = open_enum.variants.iter().map(|(v, _)| v.as_str()).collect();
    let variants: Vec<_> = open_enum
        .variants
        .iter()
        .map(|(_, v)| format_ident!("{}", v))
        .collect();
    let variant_docs: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    let expecting = format!("a {} string", open_enum.rust_name);
    quote! {
        #[doc = #doc]
        ///
        /// Open: a value this client does not know decodes as `Unknown` with the raw string.
        /// Non-exhaustive: a value the spec adds later becomes a new variant, and a match
        /// outside this crate needs a `_` arm so that is not a breaking change.
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #name {
            #( #[doc = #variant_docs] #variants, )*
            /// A value the spec does not list, kept as sent.
            Unknown(::std::string::String),
        }

        impl #name {
            /// Every value the spec lists, in spec order.
            pub const KNOWN: &'static [&'static str] = &[#(#values),*];

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #( Self::#variants => #values, )*
                    Self::Unknown(value) => value.as_str(),
                }
            }

            /// True for a value the spec does not list.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::Unknown(_))
            }

            fn from_known(value: &str) -> ::std::option::Option<Self> {
                match value {
                    #( #values => ::std::option::Option::Some(Self::#variants), )*
                    _ => ::std::option::Option::None,
                }
            }
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for #name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                ::std::result::Result::Ok(Self::from(value))
            }
        }

        impl ::std::convert::From<&str> for #name {
            fn from(value: &str) -> Self {
                Self::from_known(value).unwrap_or_else(|| Self::Unknown(value.to_owned()))
            }
        }

        impl ::std::convert::From<::std::string::String> for #name {
            fn from(value: ::std::string::String) -> Self {
                Self::from_known(&value).unwrap_or(Self::Unknown(value))
            }
        }

        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                struct Visitor;
                impl ::serde::de::Visitor<'_> for Visitor {
                    type Value = #name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    fn visit_str<E: ::serde::de::Error>(
                        self,
                        value: &str,
                    ) -> ::std::result::Result<#name, E> {
                        ::std::result::Result::Ok(#name::from(value))
                    }
                    fn visit_string<E: ::serde::de::Error>(
                        self,
                        value: ::std::string::String,
                    ) -> ::std::result::Result<#name, E> {
                        ::std::result::Result::Ok(#name::from(value))
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    }
}

/// typify's name sanitiser (typify-impl `util::sanitize`, Pascal case), so the names
/// here match the ones progenitor looks up for replacement.
pub fn sanitize_pascal(input: &str) -> String {
    sanitize(input, heck::ToPascalCase::to_pascal_case)
}

/// typify's name sanitiser in snake case (method and parameter names).
pub fn sanitize_snake(input: &str) -> String {
    sanitize(input, heck::ToSnakeCase::to_snake_case)
}

fn sanitize(input: &str, to_case: fn(&str) -> String) -> String {
    let out = match input {
        "+1" => "plus1".to_owned(),
        "-1" => "minus1".to_owned(),
        _ => to_case(
            &input
                .replace('\'', "")
                .replace(|c| !unicode_ident::is_xid_continue(c), "-"),
        ),
    };
    let out = match out.chars().next() {
        None => to_case("x"),
        Some(c) if unicode_ident::is_xid_start(c) => out,
        Some(_) => format!("{}{}", to_case("x"), out),
    };
    if syn::parse_str::<syn::Ident>(&out).is_ok() {
        out
    } else {
        format!("{out}_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_match_typify() {
        assert_eq!(sanitize_pascal("WaitingForPayment"), "WaitingForPayment");
        assert_eq!(sanitize_pascal("not_found"), "NotFound");
        assert_eq!(
            sanitize_pascal("AMOUNT_LESS_THEN_MINIMUM_ALLOWED"),
            "AmountLessThenMinimumAllowed"
        );
        assert_eq!(
            sanitize_pascal("HTTPValidationError"),
            "HttpValidationError"
        );
        assert_eq!(sanitize_snake("get_order"), "get_order");
        assert_eq!(sanitize_snake("type"), "type_");
    }

    #[test]
    fn collects_string_enums_and_rejects_collisions() {
        let doc = json!({"components": {"schemas": {
            "Status": {"type": "string", "enum": ["a_b", "c"]},
            "Other": {"type": "object"}
        }}});
        let found = collect(&doc).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].variants[0], ("a_b".into(), "AB".into()));

        let clash = json!({"components": {"schemas": {
            "Status": {"type": "string", "enum": ["done", "DONE"]}
        }}});
        let err = collect(&clash).unwrap_err().to_string();
        assert!(err.contains("/components/schemas/Status/enum"), "{err}");
    }
}
