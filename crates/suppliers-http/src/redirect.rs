//! Redirects stay within the origin a request was sent to.

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// Redirect hops followed at most (FastAPI's trailing-slash 307 needs one).
pub const MAX_REDIRECTS: usize = 5;

/// Why a redirect was not followed. The location is shown without user info, query or
/// fragment, which may carry credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefusedRedirect {
    /// The location is on another scheme, host or port.
    #[error("refused a redirect to another origin: {location}")]
    OtherOrigin {
        /// Where the server pointed.
        location: String,
    },
    /// More than [`MAX_REDIRECTS`] hops.
    #[error("refused a redirect after {MAX_REDIRECTS} hops: {location}")]
    TooMany {
        /// Where the server pointed last.
        location: String,
    },
}

/// Whether a redirect from a request first sent to `origin` may go to `location`, after
/// `hops` redirects already followed.
pub fn check_redirect(origin: &Url, location: &Url, hops: usize) -> Result<(), RefusedRedirect> {
    if origin.origin() != location.origin() {
        return Err(RefusedRedirect::OtherOrigin {
            location: shown(location),
        });
    }
    if hops >= MAX_REDIRECTS {
        return Err(RefusedRedirect::TooMany {
            location: shown(location),
        });
    }
    Ok(())
}

/// The reqwest policy applying [`check_redirect`].
pub fn redirect_policy() -> Policy {
    Policy::custom(|attempt: Attempt<'_>| {
        let Some(origin) = attempt.previous().first() else {
            return attempt.stop();
        };
        let hops = attempt.previous().len() - 1;
        match check_redirect(origin, attempt.url(), hops) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}

/// Scheme, host, port and path: nothing that can hold a secret.
fn shown(url: &Url) -> String {
    match url.host_str() {
        Some(host) => {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}{}", url.scheme(), url.path())
        }
        None => url.scheme().to_owned() + ":",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn same_origin_is_followed_a_few_hops() {
        let origin = url("http://127.0.0.1:8080/foxreload/api/products?x=1");
        let slash = url("http://127.0.0.1:8080/foxreload/api/products/?x=1");
        assert_eq!(check_redirect(&origin, &slash, 0), Ok(()));
        assert_eq!(check_redirect(&origin, &slash, MAX_REDIRECTS - 1), Ok(()));
        assert!(matches!(
            check_redirect(&origin, &slash, MAX_REDIRECTS),
            Err(RefusedRedirect::TooMany { .. })
        ));
    }

    #[test]
    fn another_port_host_or_scheme_is_refused() {
        let origin = url("https://api.example.com/v5/orders");
        for other in [
            "https://api.example.com:8443/v5/orders",
            "https://evil.example.com/v5/orders",
            "http://api.example.com/v5/orders",
            "http://localhost:9/collect",
        ] {
            assert!(
                matches!(
                    check_redirect(&origin, &url(other), 0),
                    Err(RefusedRedirect::OtherOrigin { .. })
                ),
                "{other}"
            );
        }
    }

    #[test]
    fn the_refused_location_carries_no_credentials() {
        let origin = url("https://api.example.com/");
        let location = url("https://user:secret@evil.example.com:444/p?token=secret#secret");
        let err = check_redirect(&origin, &location, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused a redirect to another origin: https://evil.example.com:444/p"
        );
    }
}
