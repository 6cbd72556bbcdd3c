//! A fake Firebase Cloud Messaging: the OAuth2 token URI (JWT-bearer grant, RS256 assertion checked
//! with the service account's public key) and the HTTP v1 `messages:send` API, answering with
//! Google's JSON error bodies.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::http::StatusCode;
use poem::web::Form;
use poem::{FromRequest, Request, RequestBody, Response};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

/// TEST-ONLY 2048-bit RSA key (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`),
/// standing in for a service account's `private_key`. Never use it for anything else.
pub const TEST_SERVICE_ACCOUNT_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDgUXmS1zQSqD87\n\
W2774OuIu4DG/vXmHYFhOxJ+eysPJZW/DLQYD6iEHlrGp8TvmrDVKqeVeOe2i+Ql\n\
UMxckGGs/AGTfmzblc4RwR4FG5lLPeZ8/55Lgg79YzHw9vgcLc8+GkOMkOBKcxB+\n\
EVK6gYzUmbDOLXBt3f16KKp3vxh/5yJ8cXjXPrFAiqvS8c9mGbSzXw4eAs1bM2Cp\n\
RP/gRwslu6NwdjcwK3as9+gW8b/LHF1e5RdldCPyzs5Q1NeL0j/8M3TpNP+wj2SC\n\
un+EPychEEvnd62TEsMPp+xc+uQltpjYSA9C2BVjIqBustmhxgDzgDK+NRzO5KYn\n\
feriybQHAgMBAAECggEAFO8q8DbFmnt5fIx3FOpJNkIAGHzWgwARlnrg/3fMLXDd\n\
rZjoZ8RyVB4nF5oJntjUvu1o+rdFXKZn3MmnwM23/TZUM/5yTKM0OjjybcSab54F\n\
GCOc6MFoV7e9retxJ+QTOWGnGIO0GDlDz+1wRzfsO4e6VeDXY2bPuepN+mNATJNJ\n\
7xZQY51HacwRal8Ga80rJgpFhq0tcIM0B2J04JJ6VIlC9wwc0wm8TCYkg/JMNnZS\n\
0Doca7+pcfDXXjSFzLxT7hjP1vNUSriY2gyP5r24rRTCiQnk6Sinp2zaKhl6qWd2\n\
7CZTEiRAWJBfOgD/eWo7/1oaL8K+gwgXkxayL2f3jQKBgQD47OUypR7mqo9jdtm5\n\
uWb0a3YgGXCoLBstHgTmAycrYQ55e1DGEvRYhw99swZq69lQQXip1J7vxEvbwoFP\n\
Lx5E1As17p8RvmsL9msdhB+OH+qFGuga0lFAtwoNVNThtStEUcSjb1Wnf517KYlc\n\
b6GePu/OnDrtK7bB3mb1BeMYCwKBgQDmsYu5XcmGPs19bdf4M3qME88i9EtRzwrX\n\
KdgujbOIf1EUfIGYBSxf42E73QKlUq3ZlnYMep/mEtUgWEQ6HWzKYiyBCbsGYX+P\n\
xz9RrYPRrBWWVoIVbRGIQiyqykzAIx5p1ubng1A1jtQoeGttdF73k9ljCxBZ/cz9\n\
cMdvmsaFdQKBgQDucyd/IzN9rObcVc5tHdAk1Qf76cLEJjQGPRpeJ6kO4dNWxazz\n\
gNa2MvLA64x7QeATBBSNQxLZBUXRhvoNm0o4jpMKn8Ga4rhyZiPny1fa8nHZ/ZNX\n\
lh6linFDof6nE8AVmupt0MnRQOrfP0PI21qLVyiq13ePF+/iuKQRlQkcTwKBgFdu\n\
VqwsNWJhjvPIm59/syQ/pbNzrtAUjeE6BKqwHajPx+ThwyPgYg79WC6d9pC9oxHi\n\
Cl90YgGKhae6jDESUdbqGj/VdkJW1UeilgbYoirm80+E/cwtCAYCPneEME5pgO9P\n\
+Tco9081EIc+DEjxX8SpDiyRVuMkY3pyMcPEfxS5AoGBAKf9YteHPhdBXoe++e5R\n\
llvcQzt6nvVig9evwN+fwbUrwUec6AH7ddTZg8JMn3KLB5SBA/Pk6p3n8MpVaqnR\n\
DD/4f7M5k0sd1Jtyz8ck/3S3qCFvDJBM2X/zr9y2a2h8Y180xoDGj/cA591CMQ6w\n\
KksV3/EIMxwvDtf2ZskGJYGD\n\
-----END PRIVATE KEY-----\n\
";

/// A second TEST-ONLY 2048-bit RSA key: a service account key the fake does not know.
pub const OTHER_TEST_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDPXfIp37oJulNe\n\
ChnS+wd81GmZ2YQVSykvIOnUY9WGo4o4lgnCBmgdlacA8i86Vx0OXOWabXe6iWkq\n\
f4BbW9e9SzaAGb9gy2ug396ltmzqkdW054DH2xAmtnDZ9Xy/bp5Hqxs+halItqCf\n\
MyPVU7KCgkeHhFasnWOqdyehq0wYxAzanLVg7YMiK9VOnQQxv6uWjc7JN93xCY9a\n\
r6gArt+/dM/0igYJnX+MV/tQdYQ6iIXvst9pJFfbRkm8DM9rDwi8SKlxqQeo1mWE\n\
xqW1I/7fkLI6AkfzZ9n+4Wx1llpCBxkdT0Pia25PTHlsFIncOZh0GklsaT+ZYipT\n\
00ezkzSlAgMBAAECggEAHuT8Q0jVysU7znLqzgggYXS0FvvVNebwx9i7fa0yDtEm\n\
sq+H3KRftqipLPboGmUIKy+j9ZIBmIUIahB86x+P0N/3yrYLUTx9WIaCAWZga8I2\n\
eLFU+nGkwl/ECHUOlObCJiNT98iqI+8xlwZjfFDv84m9Zm9NCoKYark96lQ/DiFC\n\
pWBmHj3qqWjBLSsV2O98ExpV/wwJxYdYmk4n6tU9LiiMh7heSXle4zEpXbIgsHmq\n\
JutU+HNaRPFXybLIPGWt46Tx5sGN+LJv82a1GLp5UZ1K9EcSJl2cxl3+03OowO4+\n\
DteIpHm7lTXudegoKjHtVpJBXv5wxEdO2qMMfgpqAQKBgQDvH29twyeA8EqUovQw\n\
iYSHjPHEvLf50lRUazPXplGvzD42cGqHKGmF/SRBGL16IT2QXYNaLqpo/NYzKXAR\n\
ook5YCIj+J3+lnxBQEuNKpnfzal8evtQFMX8bsYLMTBVw1/PeROYn+ZymeNzmNfM\n\
hvcJzGvwv5ZT374Rm60mZZ+FoQKBgQDeALvsTkb7L5aDh8kMmo/1TOBIulQ92hcg\n\
rGVqztmRmsIeLQ2dPsKzR0GpQgKLBuDBv1kNyAyU+7VJW3xIw6XyWoDHPMEUVtMm\n\
hswL3bd6hMcacADSZD/UcHeIqYmrcLs9jW73Zh1detmqzD8zx7qL6kmQHwmr/qWW\n\
ady9ii3IhQKBgGR2YoxM53Xmfo7//3O88u84KgMr/md5FHD7MSay+7LOLn0Usczj\n\
D6J5fhfTWxfKi2DxyNPEs1e0khGgoTLnhJuUZgOS2l4xvzZy2ssOUOOUNlbUHG3C\n\
rIOnzpC5M8N0d/ZkufTviRQwzzyrxE5rjbKSLe9RrsjCQcqICzEMlP7BAoGASko+\n\
mL49HJN5L7zBt7kFUZYPO+c2h5gywxlNuudLgWEjcourEaLN7sZ6n5RaW4HKtqs8\n\
ttLp+vUcXlcCCSuHnclRbNrU1eSUNkFHiPUCEDrckelHLSClB4c3SQFK85b+4YMx\n\
zhJa40xYCMLep4o/z9BwG413ZBoL+YClgLv7xC0CgYAREDs8dnpHPA6yVJzXKCpa\n\
zIKZvslx79azS0I4S2dxpN4FwcnwCDMK5yC2JZmuV6GccwbW/JndjkZPIEanz6++\n\
OQawxL+gBx3VWGp7DzwvM10Mz7sZoLMt/nEuW3nEG7mRvrJTu4pcfsfarR4VdwZd\n\
3JPq0MOEt9PkAWbRLmRpQg==\n\
-----END PRIVATE KEY-----\n\
";

/// The DER `RSAPublicKey` of a PKCS#8 PEM RSA key (what the fake verifies assertions with).
pub fn public_key_of(pem: &str) -> Vec<u8> {
    let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    key.public().as_ref().to_vec()
}

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub device_token: String,
    /// The whole `message` object.
    pub message: Value,
    pub access_token: String,
}

struct State {
    public_key: Vec<u8>,
    project_id: String,
    client_email: String,
    token_uri: String,
    issued: HashSet<String>,
    unregistered: HashSet<String>,
    failures: VecDeque<u16>,
    received: Vec<ReceivedMessage>,
    token_requests: usize,
    send_requests: usize,
}

pub struct FakeFcm {
    /// `http://127.0.0.1:<port>`, the `FcmConfig::endpoint`.
    pub endpoint: String,
    /// `{endpoint}/token`, the `FcmConfig::token_uri`.
    pub token_uri: String,
    state: Arc<Mutex<State>>,
}

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

impl FakeFcm {
    /// Serves on 127.0.0.1:0 for the service account `client_email` whose RSA public key (DER
    /// `RSAPublicKey`) is given, and the Firebase project `project_id`.
    pub async fn start(public_key: &[u8], client_email: &str, project_id: &str) -> FakeFcm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let endpoint = format!("http://{address}");
        let token_uri = format!("{endpoint}/token");
        let state = Arc::new(Mutex::new(State {
            public_key: public_key.to_vec(),
            project_id: project_id.to_owned(),
            client_email: client_email.to_owned(),
            token_uri: token_uri.clone(),
            issued: HashSet::new(),
            unregistered: HashSet::new(),
            failures: VecDeque::new(),
            received: Vec::new(),
            token_requests: 0,
            send_requests: 0,
        }));
        let ep = {
            let state = state.clone();
            poem::endpoint::make(move |req| {
                let state = state.clone();
                async move { handle(req, &state).await }
            })
        };
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(ep));
        FakeFcm {
            endpoint,
            token_uri,
            state,
        }
    }

    /// Later sends to `device_token` get 404 NOT_FOUND / UNREGISTERED.
    pub fn unregister(&self, device_token: &str) {
        self.lock().unregistered.insert(device_token.to_owned());
    }

    /// The next `n` sends fail with `status` (500 INTERNAL, 503 UNAVAILABLE, 429 QUOTA_EXCEEDED).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.lock().failures.extend(std::iter::repeat_n(status, n));
    }

    /// Access tokens issued so far stop being accepted (401 UNAUTHENTICATED).
    pub fn revoke_access_tokens(&self) {
        self.lock().issued.clear();
    }

    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.lock().received.clone()
    }

    /// Requests to the token URI, granted or not.
    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    pub fn send_requests(&self) -> usize {
        self.lock().send_requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .content_type("application/json; charset=UTF-8")
        .body(body.to_string())
}

fn oauth_error(error: &str, description: &str) -> Response {
    json_response(
        400,
        json!({"error": error, "error_description": description}),
    )
}

fn fcm_error(status: u16, grpc_status: &str, message: &str, fcm_code: Option<&str>) -> Response {
    let mut error = json!({"code": status, "message": message, "status": grpc_status});
    if let Some(code) = fcm_code {
        error["details"] = json!([{
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": code,
        }]);
    }
    json_response(status, json!({"error": error}))
}

async fn handle(mut req: Request, state: &Mutex<State>) -> Response {
    let path = req.uri().path().to_owned();
    if req.method() != poem::http::Method::POST {
        return json_response(405, json!({"error": "method not allowed"}));
    }
    if path == "/token" {
        let mut body = RequestBody::new(req.take_body());
        let form = Form::<HashMap<String, String>>::from_request(&req, &mut body).await;
        let mut state = state.lock().unwrap();
        state.token_requests += 1;
        return match form {
            Ok(Form(form)) => token(&mut state, &form),
            Err(_) => oauth_error("invalid_request", "Bad Request"),
        };
    }
    let bytes = req.take_body().into_bytes().await.unwrap_or_default();
    let mut state = state.lock().unwrap();
    state.send_requests += 1;
    let expected = format!("/v1/projects/{}/messages:send", state.project_id);
    if path != expected {
        return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", None);
    }
    let bearer = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "));
    let Some(access_token) = bearer
        .filter(|t| state.issued.contains(*t))
        .map(str::to_owned)
    else {
        return fcm_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
            None,
        );
    };
    if let Some(status) = state.failures.pop_front() {
        return match status {
            429 => fcm_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded.",
                Some("QUOTA_EXCEEDED"),
            ),
            503 => fcm_error(
                503,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                None,
            ),
            _ => fcm_error(
                500,
                "INTERNAL",
                "Internal error encountered.",
                Some("INTERNAL"),
            ),
        };
    }
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        return fcm_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
            None,
        );
    };
    let message = &body["message"];
    let Some(device_token) = message["token"].as_str().map(str::to_owned) else {
        return fcm_error(
            400,
            "INVALID_ARGUMENT",
            "Recipient of the message is not set.",
            Some("INVALID_ARGUMENT"),
        );
    };
    if let Some(priority) = message["android"]["priority"].as_str()
        && !matches!(priority, "high" | "normal" | "HIGH" | "NORMAL")
    {
        return fcm_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid value at 'message.android.priority'",
            Some("INVALID_ARGUMENT"),
        );
    }
    if state.unregistered.contains(&device_token) {
        return fcm_error(
            404,
            "NOT_FOUND",
            "Requested entity was not found.",
            Some("UNREGISTERED"),
        );
    }
    let n = state.received.len();
    state.received.push(ReceivedMessage {
        device_token,
        message: message.clone(),
        access_token,
    });
    let name = format!("projects/{}/messages/0:{:016}%fa1ce", state.project_id, n);
    json_response(200, json!({"name": name}))
}

/// The JWT-bearer grant (RFC 7523) as Google's token endpoint checks it.
fn token(state: &mut State, form: &HashMap<String, String>) -> Response {
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error("unsupported_grant_type", "Invalid grant_type: ");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return oauth_error("invalid_grant", "Invalid JWT: wrong number of segments");
    };
    let decode = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    let (Some(header), Some(claims), Ok(signature)) = (
        decode(header),
        decode(claims),
        URL_SAFE_NO_PAD.decode(signature),
    ) else {
        return oauth_error("invalid_grant", "Invalid JWT: malformed");
    };
    if header["alg"] != "RS256" {
        return oauth_error("invalid_grant", "Invalid JWT: unsupported algorithm");
    }
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    if UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &state.public_key)
        .verify(signing_input.as_bytes(), &signature)
        .is_err()
    {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    }
    if claims["iss"] != state.client_email.as_str() {
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: iss is not a known service account",
        );
    }
    if claims["aud"] != state.token_uri.as_str() {
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: aud does not match the token URI",
        );
    }
    let scopes = claims["scope"].as_str().unwrap_or("");
    if !scopes.split(' ').any(|s| s == SCOPE) {
        return oauth_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let now = fingertip::clock::system_time().timestamp();
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return oauth_error("invalid_grant", "Invalid JWT: iat and exp are required");
    };
    if exp - iat > 3600 || exp <= now || iat > now + 300 {
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    let access_token = format!(
        "ya29.fake-{}-{}",
        state.token_requests,
        uuid::Uuid::new_v4()
    );
    state.issued.insert(access_token.clone());
    json_response(
        200,
        json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}),
    )
}
