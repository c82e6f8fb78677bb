//! Visits every schema object in an OpenAPI document, wherever it sits.

use serde_json::Value;

use crate::pointer::push;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Calls `visit` on every schema in the document, children before parents, with the
/// schema's JSON pointer.
pub fn walk_schemas(doc: &mut Value, visit: &mut dyn FnMut(&mut Value, &str)) {
    if let Some(components) = doc.get_mut("components") {
        for (section, pointer) in [
            ("schemas", "/components/schemas"),
            ("parameters", "/components/parameters"),
            ("headers", "/components/headers"),
            ("responses", "/components/responses"),
            ("requestBodies", "/components/requestBodies"),
        ] {
            let Some(Value::Object(items)) = components.get_mut(section) else {
                continue;
            };
            for (name, item) in items.iter_mut() {
                let here = push(pointer, name);
                match section {
                    "schemas" => walk_schema(item, &here, visit),
                    "parameters" | "headers" => walk_parameter(item, &here, visit),
                    "responses" => walk_response(item, &here, visit),
                    _ => walk_content(item, &here, visit),
                }
            }
        }
    }
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let path_ptr = push("/paths", path);
        walk_parameters(item, &path_ptr, visit);
        for method in METHODS {
            let Some(operation) = item.get_mut(method) else {
                continue;
            };
            let op_ptr = push(&path_ptr, method);
            walk_parameters(operation, &op_ptr, visit);
            if let Some(body) = operation.get_mut("requestBody") {
                walk_content(body, &push(&op_ptr, "requestBody"), visit);
            }
            if let Some(Value::Object(responses)) = operation.get_mut("responses") {
                for (status, response) in responses.iter_mut() {
                    let here = push(&push(&op_ptr, "responses"), status);
                    walk_response(response, &here, visit);
                }
            }
        }
    }
}

fn walk_parameters(holder: &mut Value, pointer: &str, visit: &mut dyn FnMut(&mut Value, &str)) {
    if let Some(Value::Array(parameters)) = holder.get_mut("parameters") {
        for (index, parameter) in parameters.iter_mut().enumerate() {
            let here = push(&push(pointer, "parameters"), &index.to_string());
            walk_parameter(parameter, &here, visit);
        }
    }
}

fn walk_parameter(parameter: &mut Value, pointer: &str, visit: &mut dyn FnMut(&mut Value, &str)) {
    if let Some(schema) = parameter.get_mut("schema") {
        walk_schema(schema, &push(pointer, "schema"), visit);
    }
    walk_content(parameter, pointer, visit);
}

fn walk_response(response: &mut Value, pointer: &str, visit: &mut dyn FnMut(&mut Value, &str)) {
    walk_content(response, pointer, visit);
    if let Some(Value::Object(headers)) = response.get_mut("headers") {
        for (name, header) in headers.iter_mut() {
            walk_parameter(header, &push(&push(pointer, "headers"), name), visit);
        }
    }
}

fn walk_content(holder: &mut Value, pointer: &str, visit: &mut dyn FnMut(&mut Value, &str)) {
    if let Some(Value::Object(content)) = holder.get_mut("content") {
        for (media_type, media) in content.iter_mut() {
            if let Some(schema) = media.get_mut("schema") {
                let here = push(&push(&push(pointer, "content"), media_type), "schema");
                walk_schema(schema, &here, visit);
            }
        }
    }
}

/// Walks one schema and everything nested in it, children first.
pub fn walk_schema(schema: &mut Value, pointer: &str, visit: &mut dyn FnMut(&mut Value, &str)) {
    let Value::Object(map) = schema else {
        return;
    };
    for key in [
        "items",
        "additionalProperties",
        "not",
        "contains",
        "if",
        "then",
        "else",
    ] {
        if let Some(child @ Value::Object(_)) = map.get_mut(key) {
            walk_schema(child, &push(pointer, key), visit);
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems", "items"] {
        if let Some(Value::Array(children)) = map.get_mut(key) {
            for (index, child) in children.iter_mut().enumerate() {
                walk_schema(child, &push(&push(pointer, key), &index.to_string()), visit);
            }
        }
    }
    for key in [
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
    ] {
        if let Some(Value::Object(children)) = map.get_mut(key) {
            for (name, child) in children.iter_mut() {
                walk_schema(child, &push(&push(pointer, key), name), visit);
            }
        }
    }
    visit(schema, pointer);
}
