//! Request body limit: bodies over the limit are refused with 413 before anything reads them.
//! (poem's `SizeLimit` also refuses bodiless requests without `Content-Length`, which would break
//! every GET.)
//!
//! A few routes take files far larger than any JSON body (material uploads, 20 MiB by default)
//! and read their body as a stream under their own limit, answering with their own problem code.
//! They are named exactly ([`BodyLimit::own_limit`]): every other request, including any spelling
//! of a path that is not exactly the named one, keeps the global limit.

use poem::error::ReadBodyError;
use poem::http::{Method, header};
use poem::{Endpoint, Middleware, Request, Result};

pub struct BodyLimit {
    limit: usize,
    own_limit: Vec<(Method, &'static str)>,
}

impl BodyLimit {
    pub fn new(limit: usize) -> BodyLimit {
        BodyLimit {
            limit,
            own_limit: Vec::new(),
        }
    }

    /// Lets `method path` through unchecked: its handler must read the body under a limit of its
    /// own (it is the only thing between the client and memory for that route).
    pub fn own_limit(mut self, method: Method, path: &'static str) -> BodyLimit {
        self.own_limit.push((method, path));
        self
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint {
            inner: ep,
            limit: self.limit,
            own_limit: self.own_limit.clone(),
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    limit: usize,
    own_limit: Vec<(Method, &'static str)>,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let path = req.uri().path();
        if self
            .own_limit
            .iter()
            .any(|(method, own)| method == req.method() && *own == path)
        {
            return self.inner.call(req).await;
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(length) if length > self.limit as u64 => {
                return Err(ReadBodyError::PayloadTooLarge.into());
            }
            Some(_) => {}
            None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
                // A streamed body of unknown length: read at most the limit.
                let bytes = req.take_body().into_bytes_limit(self.limit).await?;
                req.set_body(bytes);
            }
            None => {}
        }
        self.inner.call(req).await
    }
}
