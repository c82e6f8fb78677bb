//! Reading spec files.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// Reads an OpenAPI document, JSON or YAML by extension, into a JSON value.
pub fn load(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text, path)
}

/// Parses spec text; `path` decides the format and names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Value> {
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    if yaml {
        serde_norway::from_str(text)
            .with_context(|| format!("{} is not valid YAML", path.display()))
    } else {
        serde_json::from_str(text).with_context(|| format!("{} is not valid JSON", path.display()))
    }
}

/// Deserialises the (down-converted) document into progenitor's input type. A failure
/// names the JSON pointer of the value that did not fit.
pub fn to_openapiv3(spec: &Value) -> Result<openapiv3::OpenAPI> {
    serde_path_to_error::deserialize(spec).map_err(|err| {
        let pointer: String = err
            .path()
            .iter()
            .map(|segment| format!("/{}", crate::pointer::escape(&segment.to_string())))
            .collect();
        anyhow::anyhow!(
            "{pointer}: not a valid OpenAPI 3.0 value after down-conversion: {}",
            err.inner()
        )
    })
}

/// The operation keys of a path item.
pub fn is_http_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

/// True for the status keys progenitor treats as errors.
pub fn is_error_status(status: &str) -> bool {
    status == "default" || status.starts_with('4') || status.starts_with('5')
}
