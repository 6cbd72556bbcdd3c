//! Where a request comes from: the peer address (the limit key for codes and logins) and the
//! user agent (shown in the owner's session list).

use poem::Request;

use super::sessions::ClientInfo;

impl ClientInfo {
    pub fn from_request(request: &Request) -> ClientInfo {
        // The peer address, not X-Forwarded-For: a client can write any header, and trusting it
        // would let anyone pick a fresh rate-limit key per request. Behind a proxy, configure it
        // to connect from a distinct address per client or limit at the proxy.
        let ip = request
            .remote_addr()
            .as_socket_addr()
            .map(|addr| addr.ip().to_string());
        let user_agent = request
            .headers()
            .get(poem::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        ClientInfo { ip, user_agent }
    }
}
