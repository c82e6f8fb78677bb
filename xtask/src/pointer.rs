//! JSON pointers (RFC 6901), used to say exactly where a spec problem is.

/// Escapes one reference token: `~` becomes `~0`, `/` becomes `~1`.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Appends one token to a pointer.
pub fn push(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape(token))
}

/// Turns a local `$ref` (`#/components/schemas/X`) into a pointer, if it is local.
pub fn from_ref(reference: &str) -> Option<&str> {
    reference.strip_prefix('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_slashes_and_tildes() {
        assert_eq!(
            push("/paths", "/api/orders/{id}"),
            "/paths/~1api~1orders~1{id}"
        );
        assert_eq!(escape("a~b"), "a~0b");
    }
}
