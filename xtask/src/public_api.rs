//! The public Rust API of a generated client, read from its source with syn: what a
//! downstream crate can name and call. Types are compared by their normalised token text.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{Fields, GenericArgument, ImplItem, Item, PathArguments, ReturnType, Type, Visibility};

/// What a generated client offers downstream code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicApi {
    /// `Client` methods that start an operation, by method name.
    pub operations: BTreeMap<String, Operation>,
    /// Items of the `types` module (not its nested `builder`/`defaults`/`error`), by name.
    pub types: BTreeMap<String, TypeShape>,
}

/// One operation: `client.name()` returns a builder whose setters are the parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operation {
    /// The builder `client.name()` returns (`builder::Name`).
    pub builder: String,
    /// The return type of the builder's `send()`.
    pub response: String,
    /// The builder's parameters (setter names).
    pub parameters: BTreeMap<String, Parameter>,
}

/// One builder parameter. progenitor holds a required one as `Result<T, String>` and an
/// optional one as `Result<Option<T>, String>`; `ty` is `T` either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub ty: String,
    pub required: bool,
}

/// The shape of one item of the `types` module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeShape {
    /// A struct with named fields.
    Struct { fields: BTreeMap<String, Field> },
    /// A tuple struct (newtype): its fields with their visibility, e.g. `(pub String)`.
    Tuple { fields: String },
    /// An enum; `variants` maps each name to its payload text (empty for a unit variant).
    Enum {
        non_exhaustive: bool,
        variants: BTreeMap<String, String>,
    },
    /// `pub type Name = Target;`
    Alias { target: String },
}

impl TypeShape {
    /// `struct`, `tuple`, `enum` or `type`: the keyword the snapshot writes.
    pub fn kind(&self) -> &'static str {
        match self {
            TypeShape::Struct { .. } => "struct",
            TypeShape::Tuple { .. } => "tuple",
            TypeShape::Enum { .. } => "enum",
            TypeShape::Alias { .. } => "type",
        }
    }
}

/// One public field of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub ty: String,
    /// Absent on the wire decodes: an `Option` or a `#[serde(default)]` field. A new
    /// field that is not optional must be set through the type's builder.
    pub optional: bool,
}

impl PublicApi {
    /// Reads the public API from the source of a generated `src/generated.rs`.
    pub fn from_source(source: &str) -> Result<Self> {
        let file = syn::parse_file(source).context("the generated client does not parse")?;
        Ok(Self::from_file(&file))
    }

    /// Reads the public API from a parsed generated client.
    pub fn from_file(file: &syn::File) -> Self {
        let mut api = PublicApi::default();
        let mut builders: BTreeMap<String, Operation> = BTreeMap::new();
        let mut methods: Vec<(String, String)> = Vec::new();
        for item in &file.items {
            match item {
                Item::Mod(module) if module.ident == "types" => {
                    for item in module_items(module) {
                        if let Some((name, shape)) = type_shape(item) {
                            api.types.insert(name, shape);
                        }
                    }
                }
                Item::Mod(module) if module.ident == "builder" => {
                    read_operation_builders(module_items(module), &mut builders);
                }
                Item::Impl(block)
                    if block.trait_.is_none() && is_named(&block.self_ty, "Client") =>
                {
                    methods.extend(operation_methods(block));
                }
                _ => {}
            }
        }
        for (method, builder) in methods {
            let mut operation = builders.get(&builder).cloned().unwrap_or_default();
            operation.builder = builder;
            api.operations.insert(method, operation);
        }
        api
    }
}

fn module_items(module: &syn::ItemMod) -> &[Item] {
    module.content.as_ref().map_or(&[], |(_, items)| items)
}

fn is_public(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn is_named(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none() && path.path.is_ident(name))
}

fn type_shape(item: &Item) -> Option<(String, TypeShape)> {
    match item {
        Item::Struct(item) if is_public(&item.vis) => {
            let shape = match &item.fields {
                Fields::Named(named) => TypeShape::Struct {
                    fields: named
                        .named
                        .iter()
                        .filter(|field| is_public(&field.vis))
                        .filter_map(|field| {
                            let name = field.ident.as_ref()?.to_string();
                            let ty = type_text(&field.ty);
                            let optional = ty.starts_with("Option<") || has_serde_default(field);
                            Some((name, Field { ty, optional }))
                        })
                        .collect(),
                },
                fields => TypeShape::Tuple {
                    fields: fields_text(fields),
                },
            };
            Some((item.ident.to_string(), shape))
        }
        Item::Enum(item) if is_public(&item.vis) => Some((
            item.ident.to_string(),
            TypeShape::Enum {
                non_exhaustive: item
                    .attrs
                    .iter()
                    .any(|attr| attr.path().is_ident("non_exhaustive")),
                variants: item
                    .variants
                    .iter()
                    .map(|variant| (variant.ident.to_string(), fields_text(&variant.fields)))
                    .collect(),
            },
        )),
        Item::Type(item) if is_public(&item.vis) => Some((
            item.ident.to_string(),
            TypeShape::Alias {
                target: type_text(&item.ty),
            },
        )),
        _ => None,
    }
}

fn has_serde_default(field: &syn::Field) -> bool {
    field
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("serde"))
        .any(|attr| {
            let mut found = false;
            // Other keys (`rename = "..."`, `skip_serializing_if = ...`) carry a value to skip.
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("default") {
                    found = true;
                }
                if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<syn::Expr>()?;
                }
                Ok(())
            });
            found
        })
}

/// Each operation builder's parameters and `send()` return type, by builder name.
fn read_operation_builders(items: &[Item], builders: &mut BTreeMap<String, Operation>) {
    for item in items {
        match item {
            Item::Struct(item) if is_public(&item.vis) => {
                let operation = builders.entry(item.ident.to_string()).or_default();
                for field in &item.fields {
                    let Some(name) = field.ident.as_ref().map(ToString::to_string) else {
                        continue;
                    };
                    if let Some(parameter) = parameter(&field.ty) {
                        operation.parameters.insert(name, parameter);
                    }
                }
            }
            Item::Impl(block) if block.trait_.is_none() => {
                let Type::Path(path) = &*block.self_ty else {
                    continue;
                };
                let Some(segment) = path.path.segments.last() else {
                    continue;
                };
                for item in &block.items {
                    if let ImplItem::Fn(function) = item
                        && function.sig.ident == "send"
                        && let ReturnType::Type(_, ty) = &function.sig.output
                    {
                        builders
                            .entry(segment.ident.to_string())
                            .or_default()
                            .response = type_text(ty);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `Result<T, String>` is a required parameter, `Result<Option<T>, String>` an optional
/// one; anything else (the `client` field) is not a parameter.
fn parameter(ty: &Type) -> Option<Parameter> {
    let held = single_type_argument(ty, "Result")?;
    Some(match single_type_argument(held, "Option") {
        Some(inner) => Parameter {
            ty: type_text(inner),
            required: false,
        },
        None => Parameter {
            ty: type_text(held),
            required: true,
        },
    })
}

/// The first type argument of a path type whose last segment is `name`: `T` in
/// `Option<T>` or `Result<T, E>`.
fn single_type_argument<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    arguments.args.iter().find_map(|argument| match argument {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// `pub fn name(&self) -> builder::Name<'_>`: (method, builder) pairs.
fn operation_methods(block: &syn::ItemImpl) -> Vec<(String, String)> {
    block
        .items
        .iter()
        .filter_map(|item| {
            let ImplItem::Fn(function) = item else {
                return None;
            };
            if !is_public(&function.vis) {
                return None;
            }
            let ReturnType::Type(_, ty) = &function.sig.output else {
                return None;
            };
            let Type::Path(path) = &**ty else { return None };
            let segments: Vec<_> = path.path.segments.iter().collect();
            match segments.as_slice() {
                [module, builder] if module.ident == "builder" => {
                    Some((function.sig.ident.to_string(), builder.ident.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

fn fields_text(fields: &Fields) -> String {
    let mut fields = fields.clone();
    for field in fields.iter_mut() {
        field.attrs.clear();
        ShortPaths.visit_type_mut(&mut field.ty);
    }
    squeeze(&fields.to_token_stream().to_string())
}

/// A type as comparable text: paths to the standard library and to the crate's own
/// `types` shortened (`::std::option::Option<crate::types::X>` is `Option<X>`), and
/// spaces kept only between two words.
pub fn type_text(ty: &Type) -> String {
    let mut ty = ty.clone();
    ShortPaths.visit_type_mut(&mut ty);
    squeeze(&ty.to_token_stream().to_string())
}

/// Leading path segments that name where a type lives, not which type it is; longest
/// first.
const PREFIXES: &[&[&str]] = &[
    &["crate", "types", "builder"],
    &["super", "types", "builder"],
    &["types", "builder"],
    &["crate", "types"],
    &["super", "types"],
    &["std", "string"],
    &["std", "option"],
    &["std", "vec"],
    &["std", "collections"],
    &["std", "num"],
    &["std", "boxed"],
    &["std", "result"],
    &["types"],
    &["super"],
];

struct ShortPaths;

impl VisitMut for ShortPaths {
    fn visit_type_path_mut(&mut self, node: &mut syn::TypePath) {
        if node.qself.is_none() {
            let names: Vec<String> = node
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let prefix = PREFIXES.iter().find(|prefix| {
                prefix.len() < names.len() && prefix.iter().zip(&names).all(|(p, n)| p == n)
            });
            if let Some(prefix) = prefix {
                node.path.leading_colon = None;
                node.path.segments = node
                    .path
                    .segments
                    .iter()
                    .skip(prefix.len())
                    .cloned()
                    .collect();
            }
        }
        visit_mut::visit_type_path_mut(self, node);
    }
}

/// Drops the spaces proc-macro2 puts between tokens, except between two words
/// (`dyn Trait`, `&'a str`), and trailing commas, which rustfmt adds or not depending
/// on line length.
fn squeeze(text: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let after = chars[i + 1..].iter().copied().find(|c| *c != ' ');
        match c {
            ' ' => {
                if let (Some(before), Some(after)) = (out.chars().last(), after)
                    && (is_word(before) || before == '\'')
                    && is_word(after)
                {
                    out.push(' ');
                }
            }
            ',' if matches!(after, Some('>' | ')' | ']' | '}')) => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ty: &str) -> String {
        type_text(&syn::parse_str(ty).unwrap())
    }

    #[test]
    fn type_text_is_normalised() {
        assert_eq!(
            text("::std::option::Option<::std::vec::Vec<crate::types::OrderStatus>>"),
            "Option<Vec<OrderStatus>>"
        );
        assert_eq!(
            text("::std::option::Option < ::rust_decimal::Decimal >"),
            "Option<::rust_decimal::Decimal>"
        );
        assert_eq!(
            text("types::builder::CreateOrderRequest"),
            "CreateOrderRequest"
        );
        assert_eq!(text("&'a dyn Fn(u8) -> u8"), "&'a dyn Fn(u8)->u8");
        assert_eq!(
            text("HashMap<::std::string::String, Vec<u8>,>"),
            "HashMap<String,Vec<u8>>",
            "a trailing comma is formatting"
        );
    }

    #[test]
    fn reads_operations_parameters_types_and_variants() {
        let source = r#"
            pub mod types {
                pub struct Product {
                    pub price: ::rust_decimal::Decimal,
                    #[serde(rename = "x", skip_serializing_if = "::std::option::Option::is_none")]
                    pub note: ::std::option::Option<::std::string::String>,
                    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
                    pub tags: ::std::vec::Vec<::std::string::String>,
                    hidden: u8,
                }
                #[non_exhaustive]
                pub enum Status { Active, Unknown(::std::string::String) }
                pub struct Code(::std::string::String);
                pub mod builder { pub struct Product { price: Result<u8, String> } }
            }
            pub struct Client { baseurl: String }
            impl Client {
                pub fn new(baseurl: &str) -> Self { todo!() }
                pub fn get_product(&self) -> builder::GetProduct<'_> { todo!() }
            }
            pub mod builder {
                pub struct GetProduct<'a> {
                    client: &'a super::Client,
                    id: Result<::std::string::String, String>,
                    currency: Result<Option<::std::string::String>, String>,
                }
                impl<'a> GetProduct<'a> {
                    pub async fn send(self) -> Result<ResponseValue<types::Product>, Error<()>> { todo!() }
                }
            }
        "#;
        let api = PublicApi::from_source(source).unwrap();
        let operation = &api.operations["get_product"];
        assert_eq!(
            operation.response,
            "Result<ResponseValue<Product>,Error<()>>"
        );
        assert_eq!(
            operation.parameters["id"],
            Parameter {
                ty: "String".into(),
                required: true
            }
        );
        assert!(!operation.parameters["currency"].required);
        assert_eq!(operation.parameters.len(), 2, "client is not a parameter");
        assert_eq!(api.operations.len(), 1, "new() is not an operation");

        let TypeShape::Struct { fields } = &api.types["Product"] else {
            panic!("{:?}", api.types["Product"]);
        };
        assert_eq!(fields.len(), 3, "private fields are not API");
        assert!(!fields["price"].optional);
        assert!(fields["note"].optional);
        assert!(
            fields["tags"].optional,
            "serde(default) decodes when absent"
        );
        assert_eq!(
            api.types["Status"],
            TypeShape::Enum {
                non_exhaustive: true,
                variants: [
                    ("Active".to_owned(), String::new()),
                    ("Unknown".to_owned(), "(String)".to_owned())
                ]
                .into()
            }
        );
        assert_eq!(
            api.types["Code"],
            TypeShape::Tuple {
                fields: "(String)".into()
            }
        );
        assert_eq!(api.types.len(), 3, "types::builder is not listed");
    }
}
