//! [`EndUser`]: who a Cryptorefills request is made for.

use std::net::IpAddr;

use reqwest::header::HeaderValue;

use crate::error::Error;
use crate::model::SupplierId;

/// The end user a request is made for: Cryptorefills applies identity checks and
/// spending limits per end user, recognised by the IP address and `User-Agent` it is
/// sent (`X-Forwarded-For` and `User-Agent`). Without one, Cryptorefills requests carry
/// this SDK's own [`crate::USER_AGENT`] and no `X-Forwarded-For`. FoxReload and
/// MousaCard ignore it.
///
/// Pass it per purchase ([`crate::BuyRequest::end_user`]), per catalog walk
/// ([`crate::CatalogQuery::end_user`]), or for every call of a scoped facade
/// ([`crate::Suppliers::for_end_user`]: orders, quotes, waits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndUser {
    ip: IpAddr,
    user_agent: String,
}

impl EndUser {
    /// The end user at `ip` with the agent (browser or app) they use. An agent that is
    /// empty or cannot be an HTTP header value is refused before anything is sent.
    pub fn new(ip: IpAddr, user_agent: impl Into<String>) -> Result<Self, Error> {
        let user_agent = user_agent.into();
        if user_agent.trim().is_empty() || HeaderValue::from_str(&user_agent).is_err() {
            return Err(Error::rejected(
                SupplierId::Cryptorefills,
                "end_user_agent",
                "the end user's agent is a non-empty line of printable characters",
            ));
        }
        Ok(Self { ip, user_agent })
    }

    /// Like [`Self::new`] with the IP address as text: anything but an IPv4 or IPv6
    /// address (`203.0.113.7`, `2001:db8::7`) is refused before anything is sent.
    pub fn parse(ip: &str, user_agent: impl Into<String>) -> Result<Self, Error> {
        let ip = ip.trim().parse().map_err(|_| {
            Error::rejected(
                SupplierId::Cryptorefills,
                "end_user_ip",
                format!("{ip:?} is not an IPv4 or IPv6 address"),
            )
        })?;
        Self::new(ip, user_agent)
    }

    /// The end user's IP address (`X-Forwarded-For`).
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The end user's agent (`User-Agent`).
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }
}
